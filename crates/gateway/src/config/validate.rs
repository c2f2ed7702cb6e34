//! Checks across entries: unique names, targets that name defined providers, one target per
//! model. Run on every config, whether it came from a file (problems are placed at their
//! line and column) or was built in code (problems have no place).

use std::collections::HashSet;
use std::ops::Range;

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
        if model.targets.len() > 1 {
            report(
                target_place(i, 1),
                format!(
                    "model `{}` has {} targets, but this version serves each model from exactly one \
                     (balancing between targets arrives with routing); keep one target",
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
}
