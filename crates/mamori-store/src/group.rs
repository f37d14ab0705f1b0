//! Group commit for SQLite, the embedded default: every write goes through one writer
//! connection, and the units of work that queue for it while one runs join that one's
//! transaction, each in a savepoint of its own, so many decisions share one fsync.
//!
//! SQLite has one writer at a time. Without this, each unit of work took the write lock with
//! `BEGIN IMMEDIATE` and paid an fsync at `COMMIT` (`synchronous=FULL`), and the units waiting
//! for the lock slept in SQLite's busy handler. Here they queue in order on an async mutex, and
//! a unit that finishes while others wait hands the open transaction to the next instead of
//! committing it; the last unit of the group commits for all. No unit's `commit` returns before
//! the group's `COMMIT` is durable, so no answer is sent for a decision that could still be
//! lost. A unit that fails is rolled back to its savepoint and leaves the others untouched; if
//! the group's `COMMIT` fails, every unit in it gets the error (and none of them happened).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sea_orm::{DatabaseTransaction, TransactionTrait};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::error::StoreError;

/// Units of work one `COMMIT` makes durable at most: a bound on how long the first of them
/// waits for its answer.
const MAX_GROUP: usize = 64;

/// How often a unit that handed the group on checks that someone still carries it.
const HAND_ON_CHECK: Duration = Duration::from_millis(5);

/// How long a unit waits for the writer, as SQLite's busy timeout did before.
const WAIT_FOR_WRITER: Duration = Duration::from_secs(10);

/// The one writer of a SQLite database.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    group: Arc<Mutex<Group>>,
    /// Units queued for the writer right now: while any wait, a finished unit hands the open
    /// transaction on instead of committing it.
    waiting: AtomicUsize,
    /// Units committed, and the `COMMIT`s that made them durable.
    units: AtomicU64,
    commits: AtomicU64,
}

/// How many units of work the writer committed, in how many `COMMIT`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommits {
    /// Units of work committed.
    pub units: u64,
    /// `COMMIT`s (fsyncs) it took.
    pub commits: u64,
}

/// The transaction the current group's units share.
#[derive(Debug, Default)]
pub(crate) struct Group {
    outer: Option<DatabaseTransaction>,
    members: usize,
    done: Arc<Done>,
}

/// How a group's `COMMIT` ended, for every unit waiting on it.
#[derive(Debug, Default)]
struct Done {
    result: OnceLock<Result<(), String>>,
    notify: Notify,
}

impl Done {
    async fn wait(&self) -> Result<(), StoreError> {
        loop {
            // Created before the check, so a notification between the two is not missed.
            let notified = self.notify.notified();
            if let Some(result) = self.result.get() {
                return result.clone().map_err(|e| unavailable(&e));
            }
            notified.await;
        }
    }
}

/// A unit's place in its group: held from `begin` until the unit commits or is dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    writer: Arc<Writer>,
    guard: Option<OwnedMutexGuard<Group>>,
}

impl Writer {
    /// No unit queues for the writer: nobody would carry an open group on.
    fn idle(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) == 0
    }

    /// What the writer did so far.
    pub(crate) fn stats(&self) -> GroupCommits {
        GroupCommits {
            units: self.units.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
        }
    }

    /// Waits for the writer and opens the unit's savepoint in the group's transaction, opening
    /// the transaction with `begin` if no group is open.
    pub(crate) async fn join<F>(
        self: &Arc<Self>,
        begin: F,
    ) -> Result<(DatabaseTransaction, Slot), StoreError>
    where
        F: AsyncFnOnce() -> Result<DatabaseTransaction, StoreError>,
    {
        let locked = {
            let _queued = Queued::new(&self.waiting);
            tokio::time::timeout(WAIT_FOR_WRITER, self.group.clone().lock_owned()).await
        };
        let mut guard = locked.map_err(|_| unavailable("the SQLite writer stayed busy"))?;
        let savepoint = match open_savepoint(&mut guard, begin).await {
            Ok(savepoint) => savepoint,
            Err(err) => {
                // The units before this one in the group still need their COMMIT.
                if self.idle() {
                    flush(&mut guard, self).await;
                }
                return Err(err);
            }
        };
        guard.members += 1;
        let slot = Slot {
            writer: self.clone(),
            guard: Some(guard),
        };
        Ok((savepoint, slot))
    }
}

/// The unit's savepoint in the group's transaction, opened with `begin` if none is open.
async fn open_savepoint<F>(
    guard: &mut OwnedMutexGuard<Group>,
    begin: F,
) -> Result<DatabaseTransaction, StoreError>
where
    F: AsyncFnOnce() -> Result<DatabaseTransaction, StoreError>,
{
    if guard.outer.is_none() {
        guard.outer = Some(begin().await?);
        guard.members = 0;
        guard.done = Arc::default();
    }
    match &guard.outer {
        Some(outer) => Ok(outer.begin().await?),
        None => Err(unavailable("no group transaction")),
    }
}

/// Counts a unit queued for the writer for as long as it waits, even if its request is
/// cancelled meanwhile (a count left behind would keep every group open).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Self(waiting)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn unavailable(why: &str) -> StoreError {
    StoreError::Unavailable(sea_orm::DbErr::Custom(why.to_owned()))
}

impl Slot {
    /// After the unit's savepoint is released: commits the group now if no unit waits (or the
    /// group is full), else hands the transaction to the next unit; either way returns once the
    /// group's `COMMIT` is durable.
    pub(crate) async fn finish(mut self) -> Result<(), StoreError> {
        let Some(mut guard) = self.guard.take() else {
            return Ok(());
        };
        self.writer.units.fetch_add(1, Ordering::Relaxed);
        let done = guard.done.clone();
        if self.writer.idle() || guard.members >= MAX_GROUP {
            flush(&mut guard, &self.writer).await;
            drop(guard);
            return done.wait().await;
        }
        drop(guard);
        loop {
            if let Ok(result) = tokio::time::timeout(HAND_ON_CHECK, done.wait()).await {
                return result;
            }
            // The unit it was handed to may have been cancelled while it queued: if the
            // writer is free and the group still open, this unit commits it after all.
            if let Ok(mut guard) = self.writer.group.clone().try_lock_owned()
                && Arc::ptr_eq(&guard.done, &done)
                && self.writer.idle()
            {
                flush(&mut guard, &self.writer).await;
            }
        }
    }
}

impl Drop for Slot {
    /// A unit dropped without committing (its savepoint is rolled back by its own drop,
    /// which came first): the units before it in the group still need their `COMMIT` if no
    /// unit waits to carry the group on.
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        let writer = self.writer.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if writer.idle() {
                    flush(&mut guard, &writer).await;
                }
            });
        }
    }
}

/// Commits the group's transaction and tells its units how it ended.
async fn flush(guard: &mut OwnedMutexGuard<Group>, writer: &Writer) {
    let Some(outer) = guard.outer.take() else {
        return;
    };
    let result = outer.commit().await.map_err(|e| e.to_string());
    match &result {
        Ok(()) => {
            writer.commits.fetch_add(1, Ordering::Relaxed);
        }
        Err(err) => tracing::warn!(error = %err, "group commit failed: its units report the error"),
    }
    let _ = guard.done.result.set(result);
    guard.done.notify.notify_waiters();
}
