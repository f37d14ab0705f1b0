//! PostgreSQL: like statements of many code checks, run together.
//!
//! Measured with `bench/profile.py --perf-postgres`, most of PostgreSQL's time for a code check
//! went to what every statement costs whatever it does — waking the backend, starting the
//! executor over three or four tables, committing — not to the rows it reads or writes. So the
//! checks that need the same statement while one is in flight wait for the next and go in it
//! together, each keeping its own conditions and its own answer (see [`crate::batch`] for the
//! write of the decision, [`crate::checks`] for the read). A check's answer still waits for its
//! statement.
//!
//! The workers hold the pool, never the [`crate::Database`], so they end when the last handle to
//! the queue goes.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sea_orm::DbErr;
use sea_orm::sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::reach::Reachability;

/// Items one statement takes at most.
const MAX_BATCH: usize = 64;

/// A statement that serves many items at once.
pub(crate) trait Batch: Send + Sync + 'static {
    type Item: Send + 'static;
    type Answer: Send + 'static;
    /// What the log calls it.
    const WHAT: &'static str;

    /// The answer of each item, in their order.
    fn run(
        pool: &PgPool,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Self::Answer>, DbErr>> + Send;

    /// The answer each item gets when the statement met `err` (which wrote nothing), or `None`
    /// to pass the error on to every item.
    fn alone(err: &DbErr) -> Option<Self::Answer>;
}

/// How many items went through a queue, in how many statements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Batches {
    /// Items run (one per code check).
    pub checks: u64,
    /// Statements they took.
    pub statements: u64,
}

#[derive(Debug, Default)]
struct Counts {
    checks: AtomicU64,
    statements: AtomicU64,
}

struct Job<B: Batch> {
    item: B::Item,
    answer: oneshot::Sender<Result<B::Answer, DbErr>>,
}

/// The queue of one pool's items of `B` and the workers that run them.
#[derive(Debug)]
pub(crate) struct Queue<B: Batch> {
    jobs: mpsc::UnboundedSender<Job<B>>,
    counts: Arc<Counts>,
    batch: PhantomData<B>,
}

impl<B: Batch> Queue<B> {
    /// Starts `workers` workers: that many statements of `B` in flight at once; while they
    /// run, the next items queue.
    pub(crate) fn start(pool: PgPool, reach: Arc<Reachability>, workers: usize) -> Self {
        let (jobs, waiting) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(waiting));
        let counts = Arc::new(Counts::default());
        for _ in 0..workers {
            tokio::spawn(work::<B>(
                waiting.clone(),
                pool.clone(),
                reach.clone(),
                counts.clone(),
            ));
        }
        Self {
            jobs,
            counts,
            batch: PhantomData,
        }
    }

    /// `item`'s answer, once the statement it went in has run.
    pub(crate) async fn submit(&self, item: B::Item) -> Result<B::Answer, DbErr> {
        let (answer, answered) = oneshot::channel();
        self.jobs.send(Job { item, answer }).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }

    pub(crate) fn counts(&self) -> Batches {
        Batches {
            checks: self.counts.checks.load(Ordering::Relaxed),
            statements: self.counts.statements.load(Ordering::Relaxed),
        }
    }
}

fn gone() -> DbErr {
    DbErr::Custom("the statement workers stopped".into())
}

/// Takes what waits (at least one, at most [`MAX_BATCH`]) and runs it as one statement, until
/// the queue closes.
async fn work<B: Batch>(
    waiting: Arc<Mutex<mpsc::UnboundedReceiver<Job<B>>>>,
    pool: PgPool,
    reach: Arc<Reachability>,
    counts: Arc<Counts>,
) {
    loop {
        let mut batch = Vec::new();
        {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match waiting.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        // An item whose request went away while it waited is not run behind its back: no step
        // spent, no success in the trail that nobody was told of.
        batch.retain(|job| !job.answer.is_closed());
        if batch.is_empty() {
            continue;
        }
        let (items, answers): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|job| (job.item, job.answer)).unzip();
        let result = B::run(&pool, &items).await;
        counts.statements.fetch_add(1, Ordering::Relaxed);
        counts
            .checks
            .fetch_add(items.len() as u64, Ordering::Relaxed);
        reach.observe(&result, Instant::now());
        match result {
            Ok(answered) if answered.len() == items.len() => {
                for (answer, value) in answers.into_iter().zip(answered) {
                    let _ = answer.send(Ok(value));
                }
            }
            Ok(answered) => {
                let err = DbErr::Custom(format!(
                    "{}: {} answers for {} items",
                    B::WHAT,
                    answered.len(),
                    items.len()
                ));
                for answer in answers {
                    let _ = answer.send(Err(err.clone()));
                }
            }
            Err(err) => {
                if B::alone(&err).is_some() {
                    tracing::warn!(items = items.len(), error = %err, "{} refused together; each is settled alone", B::WHAT);
                }
                for answer in answers {
                    let _ = answer.send(B::alone(&err).map_or_else(|| Err(err.clone()), Ok));
                }
            }
        }
    }
}
