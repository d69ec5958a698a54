//! An axum server on its own runtime thread, stopped gracefully: how both
//! the sandbox and `glbridge serve` run when embedded in a synchronous caller.

use std::future::Future;
use std::time::Duration;

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
    /// Serves `app` on `listener` inside `runtime`, with `alongside` spawned
    /// next to it (and aborted when serving ends). On stop, requests in
    /// flight finish; other tasks get `grace` to wind down.
    pub fn spawn(
        name: &str,
        runtime: tokio::runtime::Runtime,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        alongside: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> std::io::Result<Background> {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let label = name.to_owned();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let task = tokio::spawn(alongside);
                    let served = axum::serve(listener, app).with_graceful_shutdown(async move {
                        let _ = rx.await;
                    });
                    if let Err(e) = served.await {
                        tracing::error!("{label}: {e}");
                    }
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
