//! The Grafana dashboard in `examples/` charts every metric this crate emits, by its real name.

use bulkhead_observability::names;

const DASHBOARD: &str = include_str!("../../../examples/grafana-dashboard.json");

#[test]
fn the_dashboard_charts_every_metric_of_this_crate() {
    let dashboard: serde_json::Value =
        serde_json::from_str(DASHBOARD).expect("the dashboard is valid JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|target| target["expr"].as_str().map(str::to_owned))
        .collect();
    for metric in [
        names::OPERATION_DURATION,
        names::TOKEN_USAGE,
        names::TIME_TO_FIRST_CHUNK,
        names::TIME_PER_OUTPUT_CHUNK,
        names::REQUESTS_TOTAL,
        names::COST_USD_TOTAL,
        names::IN_FLIGHT_REQUESTS,
        names::GATEWAY_OVERHEAD,
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(metric)),
            "no panel charts {metric}"
        );
    }
}
