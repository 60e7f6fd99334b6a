//! The loop of a pipeline's background task, shared by the metric and log pipelines: take
//! queued jobs in order, save state on a timer, and at shutdown close the queue, finish what
//! was queued and save a last time.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::Result;

/// A pipeline whose background task [`drive`] runs.
pub(crate) trait Worker: Sync {
    /// One queued batch.
    type Job: Send;
    /// What the task owns (detector states...).
    type State: Send;
    /// Processes one batch.
    fn process(
        &self,
        state: &mut Self::State,
        job: Self::Job,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Whether `job` takes more queued jobs before it is processed ([`Worker::absorb`]); the
    /// default: no, every job is processed alone.
    fn wants_more(&self, _job: &Self::Job) -> bool {
        false
    }
    /// Appends the queued job `next` to `job`, so that both are processed as one batch with
    /// the outcome of processing `job`, then `next`. Called only when
    /// [`Worker::wants_more`] says so.
    fn absorb(&self, _job: &mut Self::Job, _next: Self::Job) {}
    /// Saves the state: all of it when `last` (at shutdown), else as much as the pipeline's
    /// time budget for one periodic save allows.
    fn save(&self, state: &mut Self::State, last: bool) -> impl Future<Output = Result<()>> + Send;
}

/// Runs `w` on each job of `rx` and saves every `every`, until `shutdown` resolves (then the
/// jobs already queued are processed) or every sender is gone; ends with a save. Jobs queued
/// behind the one received join it while [`Worker::wants_more`] says so: one batch for all
/// of them when the worker fell behind.
pub(crate) async fn drive<W: Worker>(
    w: &W,
    rx: &mut mpsc::Receiver<W::Job>,
    state: &mut W::State,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            job = rx.recv() => match job {
                Some(job) => w.process(state, gather(w, rx, job)).await?,
                None => break,
            },
            _ = tick.tick() => w.save(state, false).await?,
            _ = &mut shutdown => {
                rx.close();
                while let Some(job) = rx.recv().await {
                    w.process(state, gather(w, rx, job)).await?;
                }
                break;
            }
        }
    }
    w.save(state, true).await
}

/// `job` with the jobs queued behind it that it takes ([`Worker::wants_more`]), in order.
fn gather<W: Worker>(w: &W, rx: &mut mpsc::Receiver<W::Job>, mut job: W::Job) -> W::Job {
    while w.wants_more(&job) {
        match rx.try_recv() {
            Ok(next) => w.absorb(&mut job, next),
            Err(_) => break,
        }
    }
    job
}
