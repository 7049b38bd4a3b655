//! The spiped daemon: start-up in upstream's order, the accept loop with
//! its connection limit, target re-resolution and graceful shutdown.
//!
//! Start-up order matters to scripts: options are checked first; then (with
//! `-D`) daemonize; resolve `-s`, `-t`, `-b`; read the key; bind and listen;
//! daemonize (without `-D`), so the parent exits 0 only once the socket
//! listens; drop privileges; only then start the runtime and its threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use daemon::addr::{AddrError, ResolvedAddr, SockAddrSpec};
use daemon::daemonize::{daemonize, strerror};
use daemon::privs::UserGroup;
use daemon::warn;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, Semaphore};

use crate::cli::SpipedConfig;
use crate::conn::{ConnParams, serve};
use crate::dhpool::DhPool;
use crate::keyfile::read_key;
use crate::net::{Listener, StdListener, listen};

/// Ready DH values kept by the pool (each ~0.5 ms of CPU to make).
const DH_POOL_SIZE: usize = 16;

/// A start-up failure: the lines to print (already in upstream's words).
#[derive(Debug)]
pub struct Fatal(pub Vec<String>);

impl Fatal {
    fn new<S: Into<String>>(lines: impl IntoIterator<Item = S>) -> Self {
        Fatal(lines.into_iter().map(Into::into).collect())
    }
}

/// Resolve an address, retrying every second for ever with `-D`.
fn resolve(
    text: &str,
    parse: fn(&str) -> Result<SockAddrSpec, AddrError>,
    retry: bool,
) -> Result<Vec<ResolvedAddr>, Fatal> {
    loop {
        let r = parse(text).and_then(|spec| {
            let v = spec.resolve()?;
            if v.is_empty() {
                Err(AddrError::NoAddresses(text.to_string()))
            } else {
                Ok(v)
            }
        });
        match r {
            Ok(v) => return Ok(v),
            Err(e) if retry && !matches!(e, AddrError::Lookup { .. }) => {
                return Err(Fatal::new([
                    e.to_string(),
                    format!("Error resolving socket address: {text}"),
                ]));
            }
            Err(e) if retry => {
                warn!("{e}");
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => {
                return Err(Fatal::new([
                    e.to_string(),
                    format!("Error resolving socket address: {text}"),
                ]));
            }
        }
    }
}

/// Everything set up before the runtime starts.
struct Prepared {
    listener: StdListener,
    targets: Vec<ResolvedAddr>,
    params: ConnParams,
}

fn prepare(cfg: &SpipedConfig) -> Result<Prepared, Fatal> {
    if std::process::id() == 1 {
        warn!("WARNING: Applying workaround for Docker signal-handling bug");
        install_pid1_sigint();
    }
    let daemonizing = !cfg.foreground;
    if cfg.wait_dns && daemonizing {
        daemonize(std::path::Path::new(&cfg.pidfile));
        if cfg.syslog {
            daemon::log::use_syslog();
        }
    }
    let sources = resolve(&cfg.source, SockAddrSpec::parse, cfg.wait_dns)?;
    if sources.len() > 1 {
        warn!(
            "Using the first of multiple addresses found for {}",
            cfg.source
        );
    }
    let targets = resolve(&cfg.target, SockAddrSpec::parse, cfg.wait_dns)?;
    let bind = match &cfg.bind {
        Some(b) => Some(resolve(b, SockAddrSpec::parse_bind, cfg.wait_dns)?.remove(0)),
        None => None,
    };
    let key = read_key(&cfg.keyfile)
        .map_err(|e| Fatal::new([e.to_string(), "Error reading shared secret".into()]))?;
    let listener = listen(&sources[0])
        .map_err(|e| Fatal::new([format!("Error binding socket: {}", strerror(&e))]))?;
    if daemonizing && !cfg.wait_dns {
        daemonize(std::path::Path::new(&cfg.pidfile));
        if cfg.syslog {
            daemon::log::use_syslog();
        }
    }
    if let Some(u) = &cfg.user {
        UserGroup::parse(u)
            .and_then(|ug| ug.drop_privileges())
            .map_err(|e| Fatal::new([e.to_string(), "Failed to drop privileges".into()]))?;
    }
    Ok(Prepared {
        listener,
        targets,
        params: ConnParams {
            mode: cfg.mode,
            key,
            pfs: cfg.pfs,
            timeout: cfg.timeout,
            keepalive: !cfg.no_keepalive,
            bind,
            pool: None,
        },
    })
}

/// As PID 1 (a container's entry point) SIGINT would be ignored; upstream
/// makes it exit at once, and so do we.
fn install_pid1_sigint() {
    extern "C" fn on_sigint(_: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: installing a handler that only calls _exit.
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
}

/// Run spiped to its end. Returns the process exit code.
pub fn run(cfg: SpipedConfig) -> Result<(), Fatal> {
    let mut prep = prepare(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("spiped")
        .build()
        .map_err(|e| Fatal::new([format!("Error starting event loop: {e}")]))?;
    rt.block_on(async move {
        if !cfg.pfs.no_pfs {
            prep.params.pool = Some(
                DhPool::start(DH_POOL_SIZE)
                    .map_err(|e| Fatal::new([format!("Error starting DH thread: {e}")]))?,
            );
        }
        let listener = prep
            .listener
            .into_tokio()
            .map_err(|e| Fatal::new([format!("Error binding socket: {}", strerror(&e))]))?;
        serve_forever(listener, prep.targets, Arc::new(prep.params), &cfg).await
    })
}

/// Counts open connections and wakes the shutdown when it reaches zero.
#[derive(Default)]
struct OpenConns {
    n: AtomicUsize,
    zero: Notify,
}

struct ConnGuard(Arc<OpenConns>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.0.n.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}

async fn serve_forever(
    listener: Listener,
    targets: Vec<ResolvedAddr>,
    params: Arc<ConnParams>,
    cfg: &SpipedConfig,
) -> Result<(), Fatal> {
    let mut sigterm = signal(SignalKind::terminate())
        .map_err(|e| Fatal::new([format!("Error installing SIGTERM handler: {e}")]))?;
    let targets = Arc::new(RwLock::new(Arc::new(targets)));
    if let Some(period) = cfg.rtime {
        tokio::spawn(reresolve(cfg.target.clone(), period, Arc::clone(&targets)));
    }
    let limit = cfg
        .max_conns
        .map(|n| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS as u64) as usize)));
    let open = Arc::new(OpenConns::default());

    loop {
        let permit = match &limit {
            Some(sem) => tokio::select! {
                p = Arc::clone(sem).acquire_owned() => Some(p.expect("never closed")),
                _ = sigterm.recv() => break,
            },
            None => None,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = sigterm.recv() => break,
        };
        let stream = match accepted {
            Ok(s) => s,
            Err(e) => {
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::ECONNABORTED) | Some(libc::EINTR) => {}
                    // Upstream exits on EMFILE and friends; we say so and
                    // keep serving once descriptors free up.
                    _ => {
                        warn!("network_accept failed: {}", strerror(&e));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                continue;
            }
        };
        if let (Some(sem), Some(n)) = (&limit, cfg.max_conns)
            && sem.available_permits() == 0
        {
            warn!("Maximum number of connections ({n}) reached");
        }
        open.n.fetch_add(1, Ordering::SeqCst);
        let guard = ConnGuard(Arc::clone(&open));
        let snapshot = Arc::clone(&targets.read().unwrap_or_else(|e| e.into_inner()));
        let params = Arc::clone(&params);
        tokio::spawn(async move {
            let _ = serve(stream, snapshot, params).await;
            drop(permit);
            drop(guard);
        });
    }

    // Graceful stop: accept nothing more (the listener closes, so new
    // clients are refused at once rather than left in the backlog), let
    // open connections finish. A second SIGTERM kills, as upstream.
    drop(listener);
    loop {
        let zero = open.zero.notified();
        if open.n.load(Ordering::SeqCst) == 0 {
            return Ok(());
        }
        tokio::select! {
            _ = zero => {}
            _ = sigterm.recv() => die_by_sigterm(),
        }
    }
}

fn die_by_sigterm() -> ! {
    // SAFETY: restore the default action and deliver the signal to
    // ourselves: the exit status is "killed by SIGTERM", as upstream.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::raise(libc::SIGTERM);
        libc::_exit(143)
    }
}

/// Re-resolve the target every `period`; new connections use the new list,
/// open ones are unaffected. On failure keep the old list and warn.
async fn reresolve(text: String, period: Duration, targets: Arc<RwLock<Arc<Vec<ResolvedAddr>>>>) {
    let Ok(spec) = SockAddrSpec::parse(&text) else {
        return;
    };
    if !spec.needs_lookup() {
        return;
    }
    loop {
        tokio::time::sleep(period).await;
        let s = spec.clone();
        match tokio::task::spawn_blocking(move || s.resolve()).await {
            Ok(Ok(list)) if !list.is_empty() => {
                *targets.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(list);
            }
            Ok(Ok(_)) => warn!("No addresses found for {text}"),
            Ok(Err(e)) => warn!("{e}"),
            Err(_) => {}
        }
    }
}
