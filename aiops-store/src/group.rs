//! Group commit of sample blocks: concurrent [`Store::append_samples`] calls share one
//! transaction, so one commit (one fsync with SQLite's `synchronous=FULL`, one WAL flush on
//! PostgreSQL) serves every request that was waiting when it started.
//!
//! A call queues its block and waits for the outcome of the transaction that writes it. One
//! committer task per store runs while blocks are queued: it takes every queued block (at most
//! [`GROUP_BLOCKS`] blocks and [`GROUP_BYTES`] bytes, at least one), writes them in one
//! transaction, in the order they were queued, and answers each caller with the outcome of
//! that commit; then it takes the blocks queued meanwhile, and ends when none is. There is no
//! timer: a lone call is written at once, as without grouping, and a group forms only from
//! the calls that arrived while the previous commit ran. Nothing is answered before its
//! commit returned, and an error fails every call of the group (none of its blocks is stored).
//! The committer is a task of its own, so a caller that gives up waiting (a dropped request)
//! neither stops the writes of the others nor leaves them waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::{Result, StoreError};
use crate::sql::Sql;
use crate::store::Store;

/// Blocks one transaction writes at most.
pub(crate) const GROUP_BLOCKS: usize = 64;
/// Bytes of block data one transaction writes at most (a block of 2,000 samples is 48 kB).
pub(crate) const GROUP_BYTES: usize = 16 << 20;

/// One block waiting for its commit.
struct Pending {
    t_min: i64,
    t_max: i64,
    n: i64,
    data: Vec<u8>,
    done: oneshot::Sender<Result<()>>,
}

#[derive(Default)]
struct Queue {
    blocks: VecDeque<Pending>,
    /// A committer task runs (it takes queued blocks until none is left).
    running: bool,
}

/// The blocks waiting for a commit, shared by the clones of a [`Store`].
#[derive(Default)]
pub(crate) struct Appender {
    queue: Mutex<Queue>,
    /// Transactions written and blocks they held (for tests and figures).
    commits: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = self.lock();
        f.debug_struct("Appender")
            .field("queued", &q.blocks.len())
            .field("running", &q.running)
            .finish()
    }
}

impl Appender {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // The queue is consistent at every await-free step; a panic elsewhere leaves it usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks queued and not yet taken by a transaction, and whether a committer runs.
    #[cfg(test)]
    fn state(&self) -> (usize, bool) {
        let q = self.lock();
        (q.blocks.len(), q.running)
    }

    /// Transactions written so far.
    #[cfg(test)]
    fn commits(&self) -> u64 {
        self.commits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Ends a committer: on any exit but the normal one (a panic, a runtime shutting down while
/// it waits), the queue is released and its callers get an error instead of waiting forever.
struct Running {
    store: Store,
    armed: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.armed {
            let mut q = self.store.appender.lock();
            q.running = false;
            // Dropping the senders answers their callers (see `Store::append_block`).
            q.blocks.clear();
        }
    }
}

impl Store {
    /// Queues a block for the next group commit and waits for that commit's outcome.
    pub(crate) async fn append_block(
        &self,
        t_min: i64,
        t_max: i64,
        n: i64,
        data: Vec<u8>,
    ) -> Result<()> {
        let (done, outcome) = oneshot::channel();
        let start = {
            let mut q = self.appender.lock();
            q.blocks.push_back(Pending {
                t_min,
                t_max,
                n,
                data,
                done,
            });
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            let store = self.clone();
            tokio::spawn(async move {
                let mut running = Running { store, armed: true };
                running.store.commit_groups(&mut running.armed).await;
            });
        }
        // A dropped sender: the committer ended without writing this block's transaction.
        outcome
            .await
            .unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    /// Writes queued blocks, a group per transaction, until none is queued.
    async fn commit_groups(&self, armed: &mut bool) {
        loop {
            let mut group = {
                let mut q = self.appender.lock();
                if q.blocks.is_empty() {
                    q.running = false;
                    *armed = false;
                    return;
                }
                let (mut count, mut bytes) = (0, 0);
                for p in &q.blocks {
                    if count > 0 && (count == GROUP_BLOCKS || bytes + p.data.len() > GROUP_BYTES) {
                        break;
                    }
                    count += 1;
                    bytes += p.data.len();
                }
                q.blocks.drain(..count).collect::<Vec<_>>()
            };
            let outcome = self.write_group(&mut group).await;
            self.appender
                .commits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match outcome {
                Ok(()) => {
                    for p in group {
                        // A caller that stopped waiting needs no answer.
                        let _ = p.done.send(Ok(()));
                    }
                }
                Err(e) => {
                    let (n, e) = (group.len(), Arc::new(e));
                    for p in group {
                        let _ = p.done.send(Err(StoreError::Shared(e.clone(), n)));
                    }
                }
            }
        }
    }

    /// Inserts the blocks in one transaction (one statement, no transaction, for one block).
    async fn write_group(&self, group: &mut [Pending]) -> Result<()> {
        let insert = |p: &mut Pending| {
            let mut q = Sql::new("INSERT INTO sample_blocks (t_min, t_max, n, data) VALUES ");
            q.row([
                p.t_min.into(),
                p.t_max.into(),
                p.n.into(),
                std::mem::take(&mut p.data).into(),
            ]);
            q
        };
        if let [one] = group {
            insert(one).query().execute(&self.write).await?;
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        for p in group.iter_mut() {
            insert(p).query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Polls until `cond` holds (5 s at most).
    async fn until(what: &str, cond: impl Fn() -> bool) {
        for _ in 0..5_000 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("timed out waiting for {what}");
    }

    fn append(s: &Store, series: i64, n: i64) -> tokio::task::JoinHandle<Result<()>> {
        let s = s.clone();
        tokio::spawn(async move {
            let rows: Vec<_> = (0..n).map(|t| (series, t, t as f64)).collect();
            s.append_samples(&rows).await
        })
    }

    async fn stored(s: &Store, series: i64) -> usize {
        s.samples(series, 0, i64::MAX, 1_000).await.unwrap().len()
    }

    /// The calls that queue while a commit runs share the next one; when its transaction
    /// fails, every one of them gets the error and none of their samples is stored, while the
    /// commit before and the calls after are unaffected. Nothing is answered before its commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_error_fails_every_call_of_its_group_and_stores_none_of_them() {
        let s = crate::testing::memory().await;
        // A block of 13 samples is refused by the database.
        sqlx::raw_sql(
            "CREATE TRIGGER refuse_13 BEFORE INSERT ON sample_blocks WHEN NEW.n = 13 \
             BEGIN SELECT RAISE(ABORT, 'refused in a test'); END",
        )
        .execute(&s.write)
        .await
        .unwrap();
        // The writer is busy (held here): the first call's commit waits for it.
        let held = s.write.acquire().await.unwrap();
        let first = append(&s, 1, 5);
        until("the first commit to start", || {
            s.appender.state() == (0, true)
        })
        .await;
        let group = [append(&s, 2, 4), append(&s, 3, 13), append(&s, 4, 6)];
        until("three calls to queue", || s.appender.state() == (3, true)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!first.is_finished() && group.iter().all(|g| !g.is_finished()));
        drop(held);
        first.await.unwrap().unwrap();
        for g in group {
            let e = g.await.unwrap().unwrap_err();
            assert!(matches!(e, StoreError::Shared(_, 3)), "{e:?}");
            assert!(e.to_string().contains("refused in a test"), "{e}");
            assert!(!e.is_transient(), "{e}");
        }
        assert_eq!(s.appender.commits(), 2);
        assert_eq!(stored(&s, 1).await, 5);
        for series in 2..=4 {
            assert_eq!(stored(&s, series).await, 0, "series {series}");
        }
        // The committer ended; the next call starts another and succeeds.
        until("the committer to end", || s.appender.state() == (0, false)).await;
        append(&s, 2, 7).await.unwrap().unwrap();
        assert_eq!(stored(&s, 2).await, 7);
        assert_eq!(s.appender.commits(), 3);
    }

    /// Groups are bounded: more calls than a group holds take several commits, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_hold_at_most_their_bound_of_blocks() {
        let s = crate::testing::memory().await;
        let held = s.write.acquire().await.unwrap();
        let first = append(&s, 0, 1);
        until("the first commit to start", || {
            s.appender.state() == (0, true)
        })
        .await;
        let calls: Vec<_> = (1..=GROUP_BLOCKS as i64 + 1)
            .map(|i| append(&s, i, 2))
            .collect();
        until("every call to queue", || {
            s.appender.state() == (GROUP_BLOCKS + 1, true)
        })
        .await;
        drop(held);
        first.await.unwrap().unwrap();
        for c in calls {
            c.await.unwrap().unwrap();
        }
        // One lone block, a full group, and the one block left over.
        assert_eq!(s.appender.commits(), 3);
        for series in 0..=GROUP_BLOCKS as i64 + 1 {
            assert_eq!(stored(&s, series).await, if series == 0 { 1 } else { 2 });
        }
    }
}
