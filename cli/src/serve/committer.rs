//! Group commit for the webhook route: component calls run with their
//! commits deferred, and one thread commits whatever has queued up meanwhile
//! in one store transaction — so worker threads never wait for the disk, and
//! a burst of webhooks costs one WAL write instead of one each. A webhook is
//! acknowledged only once its call's writes are committed.

use std::sync::mpsc;

use glbridge_host::store::CommitError;
use glbridge_host::Uncommitted;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::oneshot;

/// Calls waiting for the next group, and where to say how each went.
type Job = (
    Vec<Uncommitted>,
    oneshot::Sender<Vec<Result<(), CommitError>>>,
);

/// Most calls committed in one group.
const MAX_GROUP: usize = 512;

/// The committing thread; it stops when the last handle is dropped.
pub struct Committer {
    queue: mpsc::Sender<Job>,
}

/// Why a group commit did not report back.
#[derive(Debug, thiserror::Error)]
#[error("the committer has stopped")]
pub struct Stopped;

impl Committer {
    /// Starts the thread; it records the calls of each group in `groups`.
    pub fn start(groups: Histogram) -> std::io::Result<Committer> {
        let (queue, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("glbridge-commit".into())
            .spawn(move || {
                while let Ok(first) = jobs.recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match jobs.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    let mut calls = Vec::new();
                    let mut replies = Vec::with_capacity(group.len());
                    for (pending, reply) in group {
                        replies.push((pending.len(), reply));
                        calls.extend(pending);
                    }
                    groups.observe(calls.len() as f64);
                    let mut results = Uncommitted::commit_all(calls).into_iter();
                    for (n, reply) in replies {
                        let _ = reply.send(results.by_ref().take(n).collect());
                    }
                }
            })?;
        Ok(Committer { queue })
    }

    /// Commits `pending` with the next group; `Ok` once all of it is durable.
    pub async fn commit(
        &self,
        pending: Vec<Uncommitted>,
    ) -> Result<Result<(), CommitError>, Stopped> {
        if pending.is_empty() {
            return Ok(Ok(()));
        }
        let (reply, done) = oneshot::channel();
        self.queue.send((pending, reply)).map_err(|_| Stopped)?;
        let results = done.await.map_err(|_| Stopped)?;
        Ok(results.into_iter().find(Result::is_err).unwrap_or(Ok(())))
    }
}
