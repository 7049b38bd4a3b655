//! A plain HTTP server to point http checks and webhooks at:
//!
//! * `GET /ok`: 200, `hello from the target, build 1234`
//! * `GET /status/{code}`: that status
//! * `GET /slow/{ms}`: 200 after a delay
//! * `POST /hook`: 200, and the body is recorded
//! * `GET /beat`: 200, and counted (an outside dead-man's switch)

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};

pub struct HttpTarget {
    pub addr: SocketAddr,
    hooks: Arc<Mutex<Vec<String>>>,
    beats: Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpTarget {
    pub async fn start() -> anyhow::Result<HttpTarget> {
        let hooks = Arc::new(Mutex::new(Vec::new()));
        let h = hooks.clone();
        let beats = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let b = beats.clone();
        let app = Router::new()
            .route(
                "/beat",
                get(move || {
                    b.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    async { "OK" }
                }),
            )
            .route(
                "/ok",
                get(|| async { "hello from the target, build 1234\n" }),
            )
            .route(
                "/status/{code}",
                get(|Path(code): Path<u16>| async move {
                    (
                        StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
                        "status\n",
                    )
                }),
            )
            .route(
                "/slow/{ms}",
                get(|Path(ms): Path<u64>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "finally\n"
                }),
            )
            .route(
                "/hook",
                post(move |b: Bytes| {
                    let h = h.clone();
                    async move {
                        h.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(String::from_utf8_lossy(&b).into_owned());
                        "ok"
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(HttpTarget {
            addr,
            hooks,
            beats,
            task,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many times `/beat` was fetched.
    pub fn beats(&self) -> u64 {
        self.beats.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Bodies POSTed to `/hook`, in order.
    pub fn hooks(&self) -> Vec<String> {
        self.hooks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for HttpTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}
