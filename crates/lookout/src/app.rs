//! Putting the daemon together: history, engine, HTTP server. `main` uses
//! it with the system clock; tests with a manual one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use daemon::addr::{ResolvedAddr, SockAddrSpec};
use lookout_core::config::{self, Config};
use lookout_core::monitor::Input;

use crate::clock::Clock;
use crate::engine::{Engine, EngineHandle, Loaded};
use crate::store::Store;
use crate::web::AppState;

/// Read and validate a config file (what `check-config` and SIGHUP do).
pub fn load_config(path: &std::path::Path) -> anyhow::Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The address of the HTTP server in the config, resolved.
pub fn listen_addr(cfg: &Config) -> anyhow::Result<Option<SocketAddr>> {
    let Some(l) = &cfg.monitor.listen else {
        return Ok(None);
    };
    let spec = SockAddrSpec::parse_bind(l).map_err(|e| anyhow::anyhow!("monitor.listen: {e}"))?;
    for a in spec
        .resolve()
        .map_err(|e| anyhow::anyhow!("monitor.listen: {e}"))?
    {
        if let ResolvedAddr::Inet(sa) = a {
            return Ok(Some(sa));
        }
    }
    anyhow::bail!("monitor.listen must be an IP address and port")
}

pub fn db_path(cfg: &Config) -> PathBuf {
    PathBuf::from(&cfg.monitor.state_dir).join("lookout.db")
}

pub struct Running {
    pub engine: EngineHandle,
    pub store: Store,
    pub addr: Option<SocketAddr>,
    engine_task: tokio::task::JoinHandle<()>,
    web_task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stop as a crash would: no clean-stop record (tests of the
    /// unclean-stop alert).
    pub fn crash(self) {
        self.engine_task.abort();
        if let Some(w) = self.web_task {
            w.abort();
        }
    }

    /// Stop cleanly: record the clean stop and end the tasks.
    pub async fn stop(self) {
        self.engine.stop().await;
        let _ = self.engine_task.await;
        if let Some(w) = self.web_task {
            w.abort();
        }
    }
}

/// Start the monitor. `listener` is the already-bound status-page socket
/// (bound before daemonizing, or on port 0 by tests).
pub async fn start(
    loaded: Loaded,
    clock: Arc<dyn Clock>,
    listener: Option<std::net::TcpListener>,
    seed: u64,
) -> anyhow::Result<Running> {
    let now = clock.now();
    let (store, info) = Store::open(&db_path(&loaded.cfg), loaded.cfg.monitor.retention, now)?;
    let ack_token = loaded
        .cfg
        .monitor
        .ack_token
        .as_ref()
        .and_then(|r| loaded.secrets.get(r))
        .cloned();
    let (mut engine, handle) = Engine::new(loaded, clock, store.clone(), &info, seed);
    if info.unclean {
        daemon::log::warn("the previous run did not stop cleanly");
        engine.input(Input::UncleanStart {
            last_seen: info.last_alive,
        });
    }
    let engine_task = tokio::spawn(engine.run());
    let (addr, web_task) = match listener {
        Some(l) => {
            l.set_nonblocking(true)?;
            let l = tokio::net::TcpListener::from_std(l)?;
            let addr = l.local_addr()?;
            let state = AppState {
                engine: handle.clone(),
                store: store.clone(),
                ack_token,
            };
            (Some(addr), Some(tokio::spawn(crate::web::serve(l, state))))
        }
        None => (None, None),
    };
    Ok(Running {
        engine: handle,
        store,
        addr,
        engine_task,
        web_task,
    })
}
