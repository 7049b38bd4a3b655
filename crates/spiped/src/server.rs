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
use tokio::sync::{Notify, Semaphore, watch};

use crate::Fatal;
use crate::cli::SpipedConfig;
use crate::conn::{ConnParams, serve};
use crate::dhpool::DhPool;
use crate::keyfile::read_key;
use crate::net::{Listener, StdListener, listen};

/// Ready DH values kept by the pool (each ~0.5 ms of CPU to make).
const DH_POOL_SIZE: usize = 16;

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

/// Run spiped to its end.
///
/// One event loop per core, each a single-threaded runtime with its own
/// accept loop on the shared listening socket: a connection lives on the
/// thread that accepted it, so its events never wake another thread (a
/// work-stealing runtime spent more CPU on parking and waking its threads
/// than on short connections themselves), while many connections still
/// use every core.
pub fn run(cfg: SpipedConfig) -> Result<(), Fatal> {
    let mut prep = prepare(&cfg)?;
    if !cfg.pfs.no_pfs {
        prep.params.pool = Some(
            DhPool::start(DH_POOL_SIZE)
                .map_err(|e| Fatal::new([format!("Error starting DH thread: {e}")]))?,
        );
    }
    let loops = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        params: Arc::new(prep.params),
        targets: RwLock::new(Arc::new(prep.targets)),
        limit: cfg
            .max_conns
            .map(|n| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS as u64) as usize))),
        max_conns: cfg.max_conns,
        open: OpenConns::default(),
    });
    let fatal_io = |e: std::io::Error| Fatal::new([format!("Error starting event loop: {e}")]);
    let mut threads = Vec::new();
    for i in 1..loops {
        let listener = prep.listener.try_clone().map_err(fatal_io)?;
        let (shared, stop) = (Arc::clone(&shared), stop_rx.clone());
        let t = std::thread::Builder::new()
            .name(format!("spiped-{i}"))
            .spawn(move || -> Result<(), Fatal> {
                let rt = runtime()?;
                rt.block_on(async move {
                    let listener = register(listener)?;
                    accept_loop(listener, &shared, stop).await;
                    shared.open.wait_zero().await;
                    Ok(())
                })
            })
            .map_err(fatal_io)?;
        threads.push(t);
    }
    let rt = runtime()?;
    rt.block_on(async move {
        let mut sigterm = signal(SignalKind::terminate())
            .map_err(|e| Fatal::new([format!("Error installing SIGTERM handler: {e}")]))?;
        if let Some(period) = cfg.rtime {
            tokio::spawn(reresolve(cfg.target.clone(), period, Arc::clone(&shared)));
        }
        let listener = register(prep.listener)?;
        tokio::select! {
            _ = accept_loop(listener, &shared, stop_rx) => {}
            _ = sigterm.recv() => {}
        }
        // Graceful stop: every loop stops accepting and closes its handle
        // on the listening socket (so new clients are refused at once
        // rather than left in the backlog); open connections finish. A
        // second SIGTERM kills, as upstream.
        let _ = stop_tx.send(true);
        tokio::select! {
            _ = shared.open.wait_zero() => {}
            _ = sigterm.recv() => die_by_sigterm(),
        }
        Ok::<(), Fatal>(())
    })?;
    for t in threads {
        if let Ok(Err(f)) = t.join() {
            return Err(f);
        }
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, Fatal> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal::new([format!("Error starting event loop: {e}")]))
}

fn register(l: StdListener) -> Result<Listener, Fatal> {
    l.into_tokio()
        .map_err(|e| Fatal::new([format!("Error binding socket: {}", strerror(&e))]))
}

/// What the event loops share.
struct Shared {
    params: Arc<ConnParams>,
    /// The target's addresses, replaced by re-resolution.
    targets: RwLock<Arc<Vec<ResolvedAddr>>>,
    /// `-n`: permits for open connections.
    limit: Option<Arc<Semaphore>>,
    max_conns: Option<u64>,
    open: OpenConns,
}

/// Counts open connections and wakes the shutdown when it reaches zero.
#[derive(Default)]
struct OpenConns {
    n: AtomicUsize,
    zero: Notify,
}

impl OpenConns {
    async fn wait_zero(&self) {
        loop {
            let zero = self.zero.notified();
            if self.n.load(Ordering::SeqCst) == 0 {
                return;
            }
            zero.await;
        }
    }
}

struct ConnGuard(Arc<Shared>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.0.open.n.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.open.zero.notify_waiters();
        }
    }
}

/// Accept connections until told to stop; each is served on this loop.
async fn accept_loop(listener: Listener, shared: &Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        // Take a slot before accepting: beyond -n, clients wait in the
        // listen backlog, as upstream.
        let permit = match &shared.limit {
            Some(sem) => tokio::select! {
                p = Arc::clone(sem).acquire_owned() => Some(p.expect("never closed")),
                _ = stop.wait_for(|s| *s) => return,
            },
            None => None,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => return,
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
        let now_open = shared.open.n.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(n) = shared.max_conns
            && now_open as u64 >= n
        {
            warn!("Maximum number of connections ({n}) reached");
        }
        let guard = ConnGuard(Arc::clone(shared));
        let snapshot = Arc::clone(&shared.targets.read().unwrap_or_else(|e| e.into_inner()));
        let params = Arc::clone(&shared.params);
        tokio::spawn(async move {
            let _ = serve(stream, snapshot, params).await;
            drop(permit);
            drop(guard);
        });
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
async fn reresolve(text: String, period: Duration, shared: Arc<Shared>) {
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
                *shared.targets.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(list);
            }
            Ok(Ok(_)) => warn!("No addresses found for {text}"),
            Ok(Err(e)) => warn!("{e}"),
            Err(_) => {}
        }
    }
}
