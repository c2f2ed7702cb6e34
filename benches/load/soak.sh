#!/usr/bin/env bash
#: The gateway's memory under sustained load, against the benchmarks issue's target for the
#: release `bulkhead-server` process: RSS ≤ 40 MiB after 100,000 requests; flat across a
#: 10-minute run of 200 concurrent streams.
#:
#: Run (from anywhere; about 11 minutes with the defaults):
#:   bash benches/load/soak.sh
#: A short trial (about 1.5 minutes):
#:   BENCH_SOAK_SECS=60 BENCH_REQUESTS=20000 bash benches/load/soak.sh
#: Env: BENCH_REQUESTS (JSON requests first, default 100000, at most 1000000; 0 skips them),
#: BENCH_SOAK_SECS (the soak, default 600, at most 900; 0 skips it), BENCH_STREAMS (streams in
#: flight, 200), BENCH_SAMPLE_SECS (30), BENCH_CONCURRENCY (JSON requests in flight, 32),
#: BENCH_CHUNKS (20) and BENCH_CHUNK_INTERVAL_MS (50): the upstream's pacing.
#:
#: Starts `bulkhead-bench-upstream` pacing its streamed answers (20 chunks, 50 ms apart: each
#: stream stays open about a second, so 200 of them overlap) and `bulkhead-server --config`
#: (one `openai` provider pointing at it) on free 127.0.0.1 ports, then runs
#: `bulkhead-bench-soak` against the gateway and its pid; that prints progress, the markdown
#: tables and a last `verdict: ...` line (its doc comment states the rules). Every process it
#: starts is stopped on exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

requests=${BENCH_REQUESTS:-100000}
soak_secs=${BENCH_SOAK_SECS:-600}
streams=${BENCH_STREAMS:-200}
sample_secs=${BENCH_SAMPLE_SECS:-30}
conc=${BENCH_CONCURRENCY:-32}
chunks=${BENCH_CHUNKS:-20}
interval_ms=${BENCH_CHUNK_INTERVAL_MS:-50}

bounded() { # name value max
  [[ $2 =~ ^[0-9]+$ ]] && (($2 <= $3)) && return
  echo "$1=$2: expected a whole number, at most $3" >&2
  exit 2
}
bounded BENCH_REQUESTS "$requests" 1000000
bounded BENCH_SOAK_SECS "$soak_secs" 900
bounded BENCH_STREAMS "$streams" 2000
bounded BENCH_SAMPLE_SECS "$sample_secs" 900
bounded BENCH_CONCURRENCY "$conc" 1024
bounded BENCH_CHUNKS "$chunks" 1000
bounded BENCH_CHUNK_INTERVAL_MS "$interval_ms" 1000

# Each stream holds a socket at the load generator and two at the gateway.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

build_release

up_port=$(free_port)
start upstream "$up_port" "$bin/bulkhead-bench-upstream" --listen "127.0.0.1:$up_port" \
  --chunks "$chunks" --chunk-interval-ms "$interval_ms"
gw_port=$(free_port)
gateway_config "$work/gateway.toml" "http://127.0.0.1:$up_port/v1"
start gateway "$gw_port" "$bin/bulkhead-server" --config "$work/gateway.toml" --listen "127.0.0.1:$gw_port"
gw_pid=$started

echo "upstream: $chunks chunks ${interval_ms} ms apart; gateway pid $gw_pid on port $gw_port" >&2
"$bin/bulkhead-bench-soak" --gateway "http://127.0.0.1:$gw_port/v1" --pid "$gw_pid" \
  --requests "$requests" --concurrency "$conc" \
  --soak-secs "$soak_secs" --streams "$streams" --sample-secs "$sample_secs"
