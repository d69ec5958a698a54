//! A fixed set of threads, each owning one component instance, that run
//! component calls for the async routes: no thread per request, and an
//! instance is never shared between threads.

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use glbridge_host::Session;

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The pool is shutting down.
    #[error("the component workers have stopped")]
    Stopped,
}

/// A pool of component workers.
pub struct Workers {
    jobs: crossbeam_channel::Sender<Job>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` workers named `name-N`, each with a session made by `make`.
    pub fn start(
        name: &str,
        count: usize,
        make: Arc<dyn Fn() -> Result<Session> + Send + Sync>,
    ) -> Result<Workers> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let mut threads = Vec::with_capacity(count);
        for n in 0..count.max(1) {
            let queue = queue.clone();
            let mut session = make().context("starting a component worker")?;
            let thread = std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    for job in queue.iter() {
                        job(&mut session);
                    }
                })?;
            threads.push(thread);
        }
        Ok(Workers { jobs, threads })
    }

    /// Runs `f` on a worker and awaits its result.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> R + Send + 'static,
    ) -> Result<R, PoolError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |s: &mut Session| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| PoolError::Stopped)?;
        rx.await.map_err(|_| PoolError::Stopped)
    }

    /// Calls waiting for a worker.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Closing the channel ends each worker's loop once the queue is empty.
        let (closed, _) = crossbeam_channel::bounded(0);
        drop(std::mem::replace(&mut self.jobs, closed));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
