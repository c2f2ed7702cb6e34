//! Hot reload: rebuild the gateway when its config file changes or on SIGHUP, and swap it in
//! atomically; a config that does not load or build is rejected with its reasons logged, and
//! the running one keeps serving.
//!
//! Changes are found by reading the file every [`POLL`] and comparing its bytes with the last
//! ones loaded, rather than with inotify: editors and config managers replace files by
//! renaming (which a watch on the old inode misses), mounted Kubernetes ConfigMaps swap a
//! symlink, and network filesystems send no events at all. Reading a few kilobytes four times
//! a second costs nothing measurable.
//!
//! What a reload cannot change: the listen address (the socket is bound once) and the
//! `[server]` connection limits; a change to them is logged and takes effect on restart.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::build::{Carry, from_config_carrying};
use crate::config::Config;
use crate::gateway::Gateway;
use crate::serve::LiveRouter;

/// How often the file is read to look for changes.
pub const POLL: Duration = Duration::from_millis(250);

/// Watch `path` and replace what `live` serves whenever it changes to a valid config, or on
/// SIGHUP (Unix). `config` and `gateway` are what is served now; `router` turns a gateway into
/// what is served (e.g. [`Gateway::service_with_metrics`]). Runs until the task is dropped.
///
/// A new gateway takes over the old one's rate-limit counters when `[limits]` is unchanged,
/// and its cached answers when `[cache]` is unchanged.
pub async fn watch_config<S>(
    path: PathBuf,
    live: LiveRouter<S>,
    config: Config,
    gateway: Gateway,
    router: impl Fn(&Gateway) -> S + Send + 'static,
) {
    let mut current = Current {
        fingerprint: fingerprint(&path),
        config,
        gateway,
    };
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(e) => {
            tracing::warn!(
                "cannot install the SIGHUP handler ({e}); reloading on file change only"
            );
            None
        }
    };
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            } => true,
        };
        #[cfg(not(unix))]
        let forced = {
            tick.tick().await;
            false
        };
        let seen = fingerprint(&path);
        if forced || seen != current.fingerprint {
            current.fingerprint = seen;
            reload(&path, &live, &mut current, &router, forced);
        }
    }
}

struct Current {
    fingerprint: Option<u64>,
    config: Config,
    gateway: Gateway,
}

/// Load, build and swap in the config at `path`; on any failure keep what is running.
fn reload<S>(
    path: &Path,
    live: &LiveRouter<S>,
    running: &mut Current,
    router: &dyn Fn(&Gateway) -> S,
    forced: bool,
) {
    let why = if forced { "SIGHUP" } else { "file changed" };
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(
                "config reload ({why}) rejected; still serving the previous config:\n{e}"
            );
            return;
        }
    };
    if config == running.config {
        return;
    }
    let carry = Carry {
        config: &running.config,
        gateway: &running.gateway,
    };
    let gateway = match from_config_carrying(&config, Some(carry)) {
        Ok(gateway) => gateway,
        Err(e) => {
            tracing::error!(
                "config reload ({why}) rejected; still serving the previous config:\n{e}"
            );
            return;
        }
    };
    if config.server != running.config.server {
        tracing::warn!(
            "[server] settings changed; they take effect on restart (the socket and its limits are set once)"
        );
    }
    live.replace(router(&gateway));
    tracing::info!(
        "config reloaded from {} ({why}); serving models [{}]",
        path.display(),
        gateway.model_names().collect::<Vec<_>>().join(", ")
    );
    running.config = config;
    running.gateway = gateway;
}

/// A hash of the file's bytes; `None` while it cannot be read (mid-replace, deleted).
fn fingerprint(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some(hasher.finish())
}
