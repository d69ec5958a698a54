//! The wake-up listener: one connection of its own that `LISTEN`s on the
//! wake channel, is pinged, and reconnects with back-off. Whenever it
//! (re)connects it says so, since notifications sent while it was away are
//! gone: every waiter should look again then.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::poll_fn;
use tokio_postgres::{AsyncMessage, NoTls};

use super::WAKE_CHANNEL;

/// How often the connection is pinged.
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long a ping may take before the connection counts as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// First and longest wait between reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// What the listener reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal<'a> {
    /// A commit woke this conversation.
    Wake(&'a str),
    /// Listening (again): wake-ups may have been missed meanwhile.
    Reconnected,
    /// The connection was lost; reconnecting.
    Lost,
}

/// The running listener; it stops when dropped.
pub struct Listener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type OnSignal = Arc<dyn Fn(Signal<'_>) + Send + Sync>;

pub(super) fn start(
    handle: &tokio::runtime::Handle,
    config: tokio_postgres::Config,
    on: OnSignal,
) -> Listener {
    let task = handle.spawn(async move {
        let mut backoff = BACKOFF.0;
        loop {
            let (listened, e) = listen_once(&config, &on).await;
            if listened {
                backoff = BACKOFF.0;
            }
            tracing::warn!(
                "PostgreSQL wake-up listener: {e}; reconnecting in {} ms",
                backoff.as_millis()
            );
            on(Signal::Lost);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF.1);
        }
    });
    Listener { task }
}

/// Connects, listens and reports until the connection fails: whether it
/// was listening before it failed (then the back-off starts over), and why.
async fn listen_once(config: &tokio_postgres::Config, on: &OnSignal) -> (bool, String) {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(c) => c,
        Err(e) => return (false, e.to_string()),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<String, String>>();
    // Drives the connection and hands over its notifications.
    let pump = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(Ok(n.payload().to_owned())).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
                None => {
                    let _ = tx.send(Err("the server closed the connection".into()));
                    return;
                }
            }
        }
    });
    let mut listened = false;
    let why = async {
        if let Err(e) = client.batch_execute(&format!("LISTEN {WAKE_CHANNEL}")).await {
            return e.to_string();
        }
        listened = true;
        on(Signal::Reconnected);
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Ok(conversation)) => on(Signal::Wake(&conversation)),
                    Some(Err(e)) => return e,
                    None => return "the connection ended".to_owned(),
                },
                _ = ping.tick() => {
                    match tokio::time::timeout(PING_TIMEOUT, client.simple_query("SELECT 1")).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return e.to_string(),
                        Err(_) => return format!("no answer to a ping within {} ms", PING_TIMEOUT.as_millis()),
                    }
                }
            }
        }
    }
    .await;
    pump.abort();
    (listened, why)
}
