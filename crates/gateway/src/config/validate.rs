//! Checks across entries: unique names, targets that name defined providers, fallbacks that
//! name defined models and never lead back to where they started. Run on every config,
//! whether it came from a file (problems are placed at their line and column) or was built in
//! code (problems have no place).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use bulkhead_orchestration::MAX_TARGETS;

use super::resolve::Places;
use super::types::Config;

/// Report every cross-entry problem of `config` through `report(place, message)`.
pub(crate) fn cross_check(
    config: &Config,
    places: Option<&Places>,
    report: &mut dyn FnMut(Option<Range<usize>>, String),
) {
    let provider_place = |i: usize| places.and_then(|p| p.providers.get(i).cloned());
    let model_place = |i: usize| places.and_then(|p| p.models.get(i)).map(|m| m.0.clone());
    let target_place = |i: usize, j: usize| {
        places
            .and_then(|p| p.models.get(i))
            .and_then(|m| m.1.get(j).cloned())
    };

    let mut providers = HashSet::with_capacity(config.providers.len());
    for (i, provider) in config.providers.iter().enumerate() {
        if !providers.insert(provider.name.as_str()) {
            report(
                provider_place(i),
                format!(
                    "provider `{}` is defined more than once; provider names must be unique",
                    provider.name
                ),
            );
        }
    }

    let mut models = HashSet::with_capacity(config.models.len());
    for (i, model) in config.models.iter().enumerate() {
        if !models.insert(model.name.as_str()) {
            report(
                model_place(i),
                format!(
                    "model `{}` is defined more than once; model names must be unique",
                    model.name
                ),
            );
        }
        if model.targets.is_empty() {
            report(
                model_place(i),
                format!(
                    "model `{}` has no targets; add `targets = [{{ provider = \"...\", model = \"...\" }}]`",
                    model.name
                ),
            );
        }
        if model.targets.len() > MAX_TARGETS {
            report(
                target_place(i, MAX_TARGETS),
                format!(
                    "model `{}` has {} targets; at most {MAX_TARGETS} are supported",
                    model.name,
                    model.targets.len()
                ),
            );
        }
        for (j, target) in model.targets.iter().enumerate() {
            if !providers.contains(target.provider.as_str()) {
                let mut known: Vec<&str> = providers.iter().copied().collect();
                known.sort_unstable();
                let known = if known.is_empty() {
                    "none are defined".to_owned()
                } else {
                    format!("defined providers: {}", known.join(", "))
                };
                report(
                    target_place(i, j),
                    format!(
                        "model `{}` targets provider `{}`, which is not defined ({known})",
                        model.name, target.provider
                    ),
                );
            }
        }
    }
    check_links(config, places, report);
    if places.is_none() {
        check_resilience(config, report);
    }
}

/// The ranges `resolve` enforces for a file, for a config built in code. (A file's values were
/// checked at their places.)
fn check_resilience(config: &Config, report: &mut dyn FnMut(Option<Range<usize>>, String)) {
    let sections = std::iter::once(("[retry]".to_owned(), Some(&config.retry), None)).chain(
        config.providers.iter().map(|p| {
            (
                format!("provider `{}`", p.name),
                p.retry.as_ref(),
                p.circuit_breaker.as_ref(),
            )
        }),
    );
    let global = (
        "[circuit_breaker]".to_owned(),
        None,
        Some(&config.circuit_breaker),
    );
    for (what, retry, breaker) in sections.chain(std::iter::once(global)) {
        if let Some(r) = retry {
            let ok = r.max_attempts >= 1
                && !r.initial_backoff.is_zero()
                && r.max_backoff >= r.initial_backoff
                && !r.retry_after_cap.is_zero()
                && (0.0..=1.0).contains(&r.budget_ratio)
                && r.budget_min_per_sec.is_finite()
                && r.budget_min_per_sec >= 0.0;
            if !ok {
                report(
                    None,
                    format!(
                        "{what}: retry settings out of range (max_attempts >= 1, positive backoffs with max >= initial, budget_ratio in 0..=1, budget_min_per_sec >= 0)"
                    ),
                );
            }
        }
        if let Some(c) = breaker {
            let ok = c.failure_ratio > 0.0
                && c.failure_ratio <= 1.0
                && c.min_requests >= 1
                && !c.window.is_zero()
                && !c.open.is_zero();
            if !ok {
                report(
                    None,
                    format!(
                        "{what}: circuit breaker settings out of range (failure_ratio in (0, 1], min_requests >= 1, positive window and open time)"
                    ),
                );
            }
        }
    }
}

/// A link to another model, and where it was written.
type Link = (usize, Option<Range<usize>>);

/// Fallbacks and `on_context_window_exceeded` name defined models, not the model itself, and
/// never form a cycle.
fn check_links(
    config: &Config,
    places: Option<&Places>,
    report: &mut dyn FnMut(Option<Range<usize>>, String),
) {
    let fallback_place = |i: usize, j: usize| {
        places
            .and_then(|p| p.links.get(i))
            .and_then(|l| l.0.get(j).cloned())
    };
    let jump_place = |i: usize| {
        places
            .and_then(|p| p.links.get(i))
            .and_then(|l| l.1.clone())
    };
    let index: HashMap<&str, usize> = config
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.as_str(), i))
        .rev()
        .collect();
    // edges[i]: (target model, place) for every link of model i that resolves.
    let mut edges: Vec<Vec<Link>> = vec![Vec::new(); config.models.len()];
    for (i, model) in config.models.iter().enumerate() {
        let links = model
            .fallbacks
            .iter()
            .enumerate()
            .map(|(j, to)| (to, fallback_place(i, j), "falls back to"))
            .chain(
                model
                    .on_context_window_exceeded
                    .iter()
                    .map(|to| (to, jump_place(i), "sends long prompts to")),
            );
        for (to, place, verb) in links {
            match index.get(to.as_str()) {
                Some(&j) if j == i => {
                    report(place, format!("model `{}` {verb} itself", model.name))
                }
                Some(&j) => edges[i].push((j, place)),
                None => report(
                    place,
                    format!(
                        "model `{}` {verb} `{to}`, which is not a defined model",
                        model.name
                    ),
                ),
            }
        }
    }
    // A cycle is reported once, at the link that closes it.
    let mut state = vec![0u8; edges.len()]; // 0 new, 1 on the path, 2 done
    let mut path = Vec::new();
    for start in 0..edges.len() {
        if state[start] == 0 {
            find_cycles(start, &edges, &mut state, &mut path, config, report);
        }
    }
}

fn find_cycles(
    i: usize,
    edges: &[Vec<Link>],
    state: &mut [u8],
    path: &mut Vec<usize>,
    config: &Config,
    report: &mut dyn FnMut(Option<Range<usize>>, String),
) {
    state[i] = 1;
    path.push(i);
    for (j, place) in &edges[i] {
        match state[*j] {
            0 => find_cycles(*j, edges, state, path, config, report),
            1 => {
                let from = path.iter().position(|p| p == j).unwrap_or(0);
                let names: Vec<&str> = path[from..]
                    .iter()
                    .chain(std::iter::once(j))
                    .map(|&k| config.models[k].name.as_str())
                    .collect();
                report(
                    place.clone(),
                    format!(
                        "fallbacks form a cycle: {}; a fallback chain must end",
                        names.join(" -> ")
                    ),
                );
            }
            _ => {}
        }
    }
    path.pop();
    state[i] = 2;
}
