//! Why a [`Router`](crate::Router) or [`Routes`](crate::Routes) could not be built.

use std::fmt;

/// A problem in the shape of the routes, found when they are built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// An alias with no targets.
    NoTargets {
        /// The alias.
        alias: String,
    },
    /// An alias with more targets than [`MAX_TARGETS`](crate::MAX_TARGETS).
    TooManyTargets {
        /// The alias.
        alias: String,
        /// How many it has.
        count: usize,
    },
    /// A target with weight 0.
    ZeroWeight {
        /// The alias.
        alias: String,
        /// `provider/model` of the target.
        deployment: String,
    },
    /// Two routes with the same alias.
    DuplicateAlias {
        /// The alias.
        alias: String,
    },
    /// A fallback or context-window alias that no route serves.
    UnknownAlias {
        /// The alias that refers to it.
        alias: String,
        /// The name it refers to.
        refers_to: String,
    },
    /// Fallbacks (or context-window jumps) that lead back to where they started.
    Cycle {
        /// The aliases along the cycle, the first repeated at the end.
        path: Vec<String>,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoTargets { alias } => write!(f, "model `{alias}` has no targets"),
            BuildError::TooManyTargets { alias, count } => write!(
                f,
                "model `{alias}` has {count} targets; at most {} are supported",
                crate::MAX_TARGETS
            ),
            BuildError::ZeroWeight { alias, deployment } => write!(
                f,
                "model `{alias}`: target `{deployment}` has weight 0; weights must be at least 1"
            ),
            BuildError::DuplicateAlias { alias } => {
                write!(f, "model `{alias}` is defined more than once")
            }
            BuildError::UnknownAlias { alias, refers_to } => write!(
                f,
                "model `{alias}` falls back to `{refers_to}`, which is not a defined model"
            ),
            BuildError::Cycle { path } => write!(
                f,
                "fallbacks form a cycle: {}; a fallback chain must end",
                path.join(" -> ")
            ),
        }
    }
}

impl std::error::Error for BuildError {}
