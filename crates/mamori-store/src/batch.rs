//! PostgreSQL: the common case of many code checks, accepted together in one statement.
//!
//! A fresh code at an active binding is accepted by one conditional statement (see
//! [`crate::checks::accept_at_once`]). Measured with `bench/profile.py --perf-postgres`, most of
//! PostgreSQL's time for it went to what every statement costs whatever it does — waking the
//! backend, starting the executor over four tables, committing — not to the rows it writes.
//! So the acceptances that arrive while one is in flight wait for the next statement and go in
//! it together: each keeps its own conditions (binding active and under the limit, step newer
//! than the last spent, credential not suspended) and its own outcome, all of it or nothing of
//! it, and the statement commits once for all. A check's answer still waits for its commit.
//!
//! Rows are locked in one order — every binding of the statement by id, then every credential
//! by id — so two statements (on two nodes, say) wait for each other rather than deadlock, and a
//! check's transaction path (its binding, then its credential) never closes a cycle with them.
//! The locks are `FOR NO KEY UPDATE`, what an UPDATE takes anyway, so a binding inserted
//! meanwhile (its foreign key shares the credential's key) is not held up. A transaction that
//! updates two credentials in another order (replacing a customer's token) can still meet a
//! statement in a cycle; PostgreSQL then aborts one of the two after `deadlock_timeout`. If it
//! is the statement — or it met a lock timeout or a serialization failure — nothing of it was
//! written and each of its checks is settled on the transaction path, as when a condition no
//! longer held; if it is the replacement, the bank gets 503 with `Retry-After` and retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use mamori_domain::BindingState;
use sea_orm::sqlx::{self, PgPool};
use sea_orm::{DbErr, RuntimeErr};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::reach::Reachability;

/// Statements in flight at once per node: while they run, the next acceptances queue. Two
/// did as well as four on two cores (bench/profile.py, 32 clients: PostgreSQL 0.35 against
/// 0.40 ms of CPU per check) with larger batches.
const WORKERS: usize = 2;

/// Acceptances one statement takes at most.
const MAX_BATCH: usize = 64;

/// One acceptance: what its conditional statement would bind, and its audit entry's fields.
#[derive(Debug)]
pub(crate) struct Acceptance {
    pub binding_id: String,
    pub limit: i32,
    pub credential_id: String,
    pub hotp: bool,
    /// The TOTP step to spend, or the HOTP counter expected next once it is spent.
    pub value: i64,
    pub drift: Option<i64>,
    pub at: DateTime<Utc>,
    pub audit: PendingEntry,
}

/// The columns of an `audit_pending` row.
#[derive(Debug)]
pub(crate) struct PendingEntry {
    pub tenant_id: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub operation: String,
    pub outcome: String,
    pub error_code: Option<String>,
    pub user_id: Option<String>,
    pub credential_id: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub details: Option<String>,
    pub mac: String,
}

struct Job {
    acceptance: Acceptance,
    accepted: oneshot::Sender<Result<bool, DbErr>>,
}

/// The queue of one pool's acceptances and the workers that run them. The workers hold the
/// pool, never the [`crate::Database`], so they end when the last handle to the queue goes.
#[derive(Debug)]
pub(crate) struct Acceptances {
    queue: mpsc::UnboundedSender<Job>,
    counts: Arc<Counts>,
}

/// How many checks went through the queue, in how many statements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcceptBatches {
    /// Acceptances run (accepted or not).
    pub checks: u64,
    /// Statements they took.
    pub statements: u64,
}

#[derive(Debug, Default)]
struct Counts {
    checks: AtomicU64,
    statements: AtomicU64,
}

impl Acceptances {
    pub(crate) fn start(pool: PgPool, reach: Arc<Reachability>) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        let jobs = Arc::new(Mutex::new(jobs));
        let counts = Arc::new(Counts::default());
        for _ in 0..WORKERS {
            tokio::spawn(work(
                jobs.clone(),
                pool.clone(),
                reach.clone(),
                counts.clone(),
            ));
        }
        Self { queue, counts }
    }

    pub(crate) fn counts(&self) -> AcceptBatches {
        AcceptBatches {
            checks: self.counts.checks.load(Ordering::Relaxed),
            statements: self.counts.statements.load(Ordering::Relaxed),
        }
    }

    /// Whether `acceptance` was accepted (and its audit entry written); `false` when any of its
    /// conditions failed, when nothing of it was written.
    pub(crate) async fn accept(&self, acceptance: Acceptance) -> Result<bool, DbErr> {
        let (accepted, answer) = oneshot::channel();
        self.queue
            .send(Job {
                acceptance,
                accepted,
            })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn gone() -> DbErr {
    DbErr::Custom("the acceptance workers stopped".into())
}

/// Takes what waits (at least one, at most [`MAX_BATCH`]) and runs it as one statement, until
/// the queue closes.
async fn work(
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    pool: PgPool,
    reach: Arc<Reachability>,
    counts: Arc<Counts>,
) {
    loop {
        let mut batch = Vec::new();
        {
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        // A check whose request went away while it waited is not accepted behind its back:
        // no step spent, no success in the trail that nobody was told of.
        batch.retain(|job| !job.accepted.is_closed());
        if batch.is_empty() {
            continue;
        }
        let result = run(&pool, &batch).await;
        counts.statements.fetch_add(1, Ordering::Relaxed);
        counts
            .checks
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        reach.observe(&result, Instant::now());
        match result {
            Ok(accepted) => {
                for (n, job) in batch.into_iter().enumerate() {
                    let _ = job.accepted.send(Ok(accepted.contains(&(n as i64 + 1))));
                }
            }
            Err(err) => {
                let passing = passing_refusal(&err);
                if let Some(code) = passing {
                    tracing::warn!(
                        checks = batch.len(),
                        sqlstate = code,
                        "acceptances refused together; each is settled on its own"
                    );
                }
                for job in batch {
                    let _ = job.accepted.send(match passing {
                        Some(_) => Ok(false),
                        None => Err(err.clone()),
                    });
                }
            }
        }
    }
}

/// The SQLSTATE of a refusal that says nothing about any one check and wrote nothing — a
/// deadlock, a lock timeout, a serialization failure — after which each is settled alone.
fn passing_refusal(err: &DbErr) -> Option<&'static str> {
    let DbErr::Exec(RuntimeErr::SqlxError(e)) = err else {
        return None;
    };
    let code = e.as_database_error()?.code()?;
    ["40P01", "55P03", "40001"]
        .into_iter()
        .find(|passing| *passing == code)
}

/// The statement: which acceptances of `batch` (numbered from 1) were accepted.
async fn run(pool: &PgPool, batch: &[Job]) -> Result<Vec<i64>, DbErr> {
    let items = || batch.iter().map(|job| &job.acceptance);
    let audits = || items().map(|a| &a.audit);
    let query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(ACCEPT_ALL.as_str()))
        .bind(items().map(|a| a.binding_id.clone()).collect::<Vec<_>>())
        .bind(items().map(|a| a.limit).collect::<Vec<_>>())
        .bind(items().map(|a| a.credential_id.clone()).collect::<Vec<_>>())
        .bind(items().map(|a| a.hotp).collect::<Vec<_>>())
        .bind(items().map(|a| a.value).collect::<Vec<_>>())
        .bind(items().map(|a| a.drift).collect::<Vec<_>>())
        .bind(items().map(|a| a.at).collect::<Vec<_>>())
        .bind(audits().map(|e| e.tenant_id.clone()).collect::<Vec<_>>())
        .bind(audits().map(|e| e.occurred_at).collect::<Vec<_>>())
        .bind(audits().map(|e| e.actor.clone()).collect::<Vec<_>>())
        .bind(audits().map(|e| e.operation.clone()).collect::<Vec<_>>())
        .bind(audits().map(|e| e.outcome.clone()).collect::<Vec<_>>())
        .bind(audits().map(|e| e.error_code.clone()).collect::<Vec<_>>())
        .bind(audits().map(|e| e.user_id.clone()).collect::<Vec<_>>())
        .bind(
            audits()
                .map(|e| e.credential_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(audits().map(|e| e.request_id.clone()).collect::<Vec<_>>())
        .bind(audits().map(|e| e.client_addr.clone()).collect::<Vec<_>>())
        .bind(audits().map(|e| e.details.clone()).collect::<Vec<_>>())
        .bind(audits().map(|e| e.mac.clone()).collect::<Vec<_>>());
    query
        .fetch_all(pool)
        .await
        .map_err(|e| DbErr::Exec(RuntimeErr::SqlxError(e.into())))
}

/// Every acceptance of the batch under the conditions of the one-statement path, numbered by
/// its place in the arrays. A credential named twice (one token at two banks, or one user's
/// two checks) is updated once, by one of them: the other is not accepted here and is settled
/// on the transaction path, which names its refusal (or accepts a later step).
static ACCEPT_ALL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
WITH i AS (
    SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::bool[], $5::int8[], $6::int8[],
                         $7::timestamptz[])
        WITH ORDINALITY AS t(binding_id, lim, credential_id, hotp, value, drift, at, n)
), b AS (
    SELECT id, failures FROM bindings
    WHERE id IN (SELECT binding_id FROM i) AND state = '{active}'
    ORDER BY id
    FOR NO KEY UPDATE
), c AS (
    SELECT id FROM credentials
    WHERE id IN (SELECT i.credential_id FROM i JOIN b ON b.id = i.binding_id AND b.failures < i.lim)
    ORDER BY id
    FOR NO KEY UPDATE
), s AS (
    UPDATE credentials AS cr
    SET last_used_step = CASE WHEN i.hotp THEN cr.last_used_step ELSE i.value END,
        hotp_next_counter = CASE WHEN i.hotp THEN i.value ELSE cr.hotp_next_counter END,
        drift_steps = COALESCE(i.drift, cr.drift_steps),
        failures = 0,
        updated_at = i.at
    FROM i
    WHERE cr.id = i.credential_id
      AND cr.id IN (SELECT id FROM c)
      AND EXISTS (SELECT 1 FROM b WHERE b.id = i.binding_id AND b.failures < i.lim)
      AND cr.suspended_at IS NULL
      AND CASE WHEN i.hotp THEN cr.hotp_next_counter < i.value
               ELSE (cr.last_used_step IS NULL OR cr.last_used_step < i.value) END
    RETURNING i.n
), r AS (
    UPDATE bindings SET failures = 0, last_success_at = i.at, updated_at = i.at
    FROM i
    WHERE bindings.id = i.binding_id AND i.n IN (SELECT n FROM s)
    RETURNING i.n
), ins AS (
    INSERT INTO audit_pending (tenant_id, occurred_at, actor, operation, outcome, error_code,
        user_id, credential_id, request_id, client_addr, details, mac)
    SELECT a.tenant_id, a.occurred_at, a.actor, a.operation, a.outcome, a.error_code,
        a.user_id, a.credential_id, a.request_id, a.client_addr, a.details, a.mac
    FROM unnest($8::text[], $9::timestamptz[], $10::text[], $11::text[], $12::text[],
                $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
                $19::text[])
        WITH ORDINALITY AS a(tenant_id, occurred_at, actor, operation, outcome, error_code,
            user_id, credential_id, request_id, client_addr, details, mac, n)
    WHERE a.n IN (SELECT n FROM r)
    ORDER BY a.n
)
SELECT n FROM r",
        active = BindingState::Active.as_str()
    )
});
