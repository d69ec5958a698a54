//! An axum router served by hyper on its own runtime thread, with limits a
//! slow or hostile client cannot outlast, stopped gracefully: how both the
//! sandbox and `glbridge serve` run when embedded in a synchronous caller.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

/// What one connection may take of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's header must have arrived this long after the connection
    /// became ready for it; the same clock closes a keep-alive connection
    /// that stays idle this long between requests.
    pub header_read_timeout: Duration,
    /// Most connections open at once. Beyond it, new connections wait in
    /// the listen backlog until one closes, so the process never runs out
    /// of descriptors ([`ConnectionLimits::fit_descriptors`]).
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1_024,
        }
    }
}

/// Descriptors kept for everything but client connections (store files,
/// outgoing HTTP, the runtime's own).
const SPARE_DESCRIPTORS: u64 = 64;

impl ConnectionLimits {
    /// The limits with `max_connections` lowered, if need be, below the
    /// process's open-file limit (less what the rest of the process needs).
    pub fn fit_descriptors(mut self) -> Self {
        if let Some(open_files) = open_file_limit() {
            let room = usize::try_from(open_files.saturating_sub(SPARE_DESCRIPTORS))
                .unwrap_or(usize::MAX)
                .max(1);
            if room < self.max_connections {
                tracing::warn!(
                    "at most {room} connections at once (not {}): the open-file limit is {open_files}",
                    self.max_connections
                );
                self.max_connections = room;
            }
        }
        self
    }
}

/// The soft open-file limit (`ulimit -n`), where the platform says.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A budget of request-body bytes held in memory at once, over all requests
/// of a server: a request holds its share (the size it announces, else its
/// route's limit) while its body is read and handled, and one that would
/// pass the budget waits for room. Many slow uploads then cost at most the
/// budget, not their number times the body limit.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<tokio::sync::Semaphore>,
    max: usize,
}

/// The room a request holds in a [`BodyBudget`] (given back on drop).
#[derive(Debug)]
pub struct BodyRoom(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl BodyBudget {
    /// A budget of `max` bytes (at least 1, at most 4 GiB).
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, u32::MAX as usize);
        BodyBudget {
            bytes: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
        }
    }

    /// Waits until there is room for a request with `headers` on a route
    /// that reads at most `limit` bytes; `None` if there is none by
    /// `deadline`.
    pub async fn hold(
        &self,
        headers: &axum::http::HeaderMap,
        limit: usize,
        deadline: tokio::time::Instant,
    ) -> Option<BodyRoom> {
        // What is read is at most `limit` (more is refused as it arrives).
        let size = announced_length(headers)
            .map_or(limit, |n| {
                usize::try_from(n).unwrap_or(usize::MAX).min(limit)
            })
            .clamp(1, self.max);
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        match tokio::time::timeout_at(deadline, self.bytes.clone().acquire_many_owned(permits))
            .await
        {
            Ok(Ok(permit)) => Some(BodyRoom(permit)),
            _ => None,
        }
    }

    /// Middleware for a router whose bodies are at most `limit` bytes and
    /// may wait for room at most `wait`: the request holds its room until
    /// its response is ready, and gets `refuse()` when there is none in time.
    pub fn layer(
        &self,
        limit: usize,
        wait: Duration,
        refuse: fn() -> axum::response::Response,
    ) -> impl Fn(
        axum::extract::Request,
        axum::middleware::Next,
    ) -> std::pin::Pin<Box<dyn Future<Output = axum::response::Response> + Send>>
           + Clone
           + Send
           + Sync
           + 'static {
        let budget = self.clone();
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let budget = budget.clone();
            Box::pin(async move {
                let bodiless = announced_length(request.headers()) == Some(0)
                    || matches!(
                        *request.method(),
                        axum::http::Method::GET
                            | axum::http::Method::HEAD
                            | axum::http::Method::DELETE
                            | axum::http::Method::OPTIONS
                    ) && announced_length(request.headers()).is_none();
                if bodiless {
                    return next.run(request).await;
                }
                let deadline = tokio::time::Instant::now() + wait;
                let Some(_room) = budget.hold(request.headers(), limit, deadline).await else {
                    return refuse();
                };
                next.run(request).await
            })
        }
    }
}

/// The body size a request announces (`Content-Length`), if it does.
pub fn announced_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Serves `app` on `listener` until `shutdown` completes, within `limits`.
/// On shutdown it stops accepting, lets requests in flight finish for up to
/// `grace`, then closes what is left.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A slot first: at the cap, connections wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was
                    // accepted: wait a little rather than spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after {grace:?} are closed");
    }
}

/// A server running on a background thread until [`Background::stop`] or drop.
pub struct Background {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl Background {
    /// Serves `app` on `listener` inside `runtime` within `limits`, with
    /// `alongside` spawned next to it (and aborted when serving ends). On
    /// stop, requests in flight get `grace` to finish.
    pub fn spawn(
        name: &str,
        runtime: tokio::runtime::Runtime,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        limits: ConnectionLimits,
        alongside: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> std::io::Result<Background> {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let task = tokio::spawn(alongside);
                    let stop = async move {
                        let _ = rx.await;
                    };
                    serve(listener, app, limits, stop, grace).await;
                    task.abort();
                });
                runtime.shutdown_timeout(grace);
            })?;
        Ok(Background {
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Stops serving and waits for the thread.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}
