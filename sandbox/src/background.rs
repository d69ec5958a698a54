//! An axum router served by hyper on its own runtime thread, with limits a
//! slow or hostile client cannot outlast, stopped gracefully: how both the
//! sandbox and `glbridge serve` run when embedded in a synchronous caller.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;

use crate::connections::{Busy, Connection, Connections};

/// What one connection may take of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's header must have arrived this long after the connection
    /// became ready for it; the same clock closes a keep-alive connection
    /// that stays idle this long between requests.
    pub header_read_timeout: Duration,
    /// Most connections open at once ([`ConnectionLimits::FOLLOW_OPEN_FILES`]:
    /// as many as the open-file limit allows). At the cap the oldest idle
    /// connection is closed for a newcomer; with none idle, newcomers wait
    /// in the listen backlog until one closes. Never more than the process
    /// has descriptors for ([`ConnectionLimits::fit_descriptors`]).
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

/// The cap when the open-file limit cannot be read.
const CAP_WITHOUT_OPEN_FILE_LIMIT: usize = 1_024;

impl ConnectionLimits {
    /// A `max_connections` that follows the open-file limit.
    pub const FOLLOW_OPEN_FILES: usize = usize::MAX;

    /// The limits with `max_connections` lowered, if need be, below the
    /// process's open-file limit (less what the rest of the process needs).
    pub fn fit_descriptors(mut self) -> Self {
        let follow = self.max_connections == Self::FOLLOW_OPEN_FILES;
        match open_file_limit() {
            Some(open_files) => {
                let room = usize::try_from(open_files.saturating_sub(SPARE_DESCRIPTORS))
                    .unwrap_or(usize::MAX)
                    .max(1);
                if follow {
                    tracing::debug!("at most {room} connections at once (ulimit -n {open_files})");
                    self.max_connections = room;
                } else if room < self.max_connections {
                    tracing::warn!(
                        "at most {room} connections at once (not {}): the open-file limit is {open_files}",
                        self.max_connections
                    );
                    self.max_connections = room;
                }
            }
            None if follow => self.max_connections = CAP_WITHOUT_OPEN_FILE_LIMIT,
            None => {}
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
/// At the cap a newcomer is still taken in, and the oldest idle connection
/// (one with no request in progress: a keep-alive connection between
/// requests, or a client still short of a request head) is closed to make
/// room for it; only when every connection is busy does it wait for one to
/// close. On shutdown it stops accepting, lets requests in flight finish
/// for up to `grace`, then closes what is left.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let open = Arc::new(Connections::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(tokio::sync::TryAcquireError::Closed) => break,
            Err(tokio::sync::TryAcquireError::NoPermits) => None,
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
        let slot = match slot {
            Some(slot) => slot,
            // At the cap: one descriptor over it while room is made.
            None => tokio::select! {
                slot = make_room(&open, &slots) => match slot {
                    Some(slot) => slot,
                    None => break,
                },
                () = &mut shutdown => break,
            },
        };
        let _ = stream.set_nodelay(true);
        let (id, connection) = open.add();
        let service = tracked(app.clone(), connection.clone());
        let io = Watched {
            io: TokioIo::new(stream),
            connection: connection.clone(),
        };
        let serving = graceful.watch(http.serve_connection(io, service));
        let open = open.clone();
        tokio::spawn(async move {
            tokio::select! {
                served = serving => if let Err(e) = served {
                    tracing::debug!("connection: {e}");
                },
                // Dropping it closes the socket: it had no request in progress.
                () = connection.shed() => tracing::debug!("an idle connection was closed to make room"),
            }
            open.remove(id);
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

/// A slot for one more connection, once the oldest idle one has gone (or,
/// when none is idle, once any closes); `None` if the server is closing.
async fn make_room(
    open: &Connections,
    slots: &Arc<tokio::sync::Semaphore>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    loop {
        open.shed_oldest_idle();
        tokio::select! {
            slot = slots.clone().acquire_owned() => return slot.ok(),
            // A busy connection may have become idle meanwhile.
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
}

/// `app` as the service of one connection, which it marks busy from a
/// request's start until its response's body is written.
fn tracked(
    app: axum::Router,
    connection: Arc<Connection>,
) -> impl hyper::service::Service<
    axum::http::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: axum::http::Request<hyper::body::Incoming>| {
        let mut app = app.clone();
        let busy = connection.begin();
        async move {
            let Some(busy) = busy else {
                // Shed between its head and now: it is being closed.
                return Ok(refuse_on_closing());
            };
            let response = tower::Service::call(&mut app, request).await?;
            Ok(response.map(|body| axum::body::Body::new(Written { body, _busy: busy })))
        }
    })
}

fn refuse_on_closing() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::CONNECTION, "close")],
        "the connection is closing\n",
    )
        .into_response()
}

/// A connection's socket, whose reads tell its [`Connection`] whether the
/// server waits on the client.
struct Watched {
    io: TokioIo<tokio::net::TcpStream>,
    connection: Arc<Connection>,
}

impl hyper::rt::Read for Watched {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let read = std::pin::Pin::new(&mut this.io).poll_read(cx, buf);
        this.connection.read_found_nothing(read.is_pending());
        read
    }
}

impl hyper::rt::Write for Watched {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

/// A response body that keeps its connection busy until it has been
/// written (hyper drops it then).
struct Written {
    body: axum::body::Body,
    _busy: Busy,
}

impl hyper::body::Body for Written {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
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
