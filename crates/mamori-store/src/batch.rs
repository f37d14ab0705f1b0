//! PostgreSQL: the two statements of a code check's common case, each run for many checks at
//! once (see [`crate::queue`]): the read of user, binding and credential, and the acceptance of
//! a fresh code at an active binding. Acceptances that arrive meanwhile go in one statement: each
//! keeps its own conditions (binding active and under the limit, step newer than the last
//! spent, credential not suspended) and its own outcome, all of it or nothing of it, and the
//! statement commits once for all.
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

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use mamori_domain::BindingState;
use sea_orm::sqlx::Row;
use sea_orm::sqlx::{self, PgPool};
use sea_orm::{DbErr, EntityTrait, Iterable, QueryResult, RuntimeErr};

use crate::audit::{AuditKey, NewAuditEvent, PendingFields, stored_time};
use crate::bindings::LIVE;
use crate::entities::{bindings, credentials, users};
use crate::queue::Batch;

/// Statements in flight at once per node. Two did as well as four on two cores
/// (bench/profile.py, 32 clients: PostgreSQL 0.35 against 0.40 ms of CPU per check) with larger
/// batches.
pub(crate) const WORKERS: usize = 2;

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

/// An `audit_pending` row: the event with what the store adds when it writes one.
#[derive(Debug)]
pub(crate) struct PendingEntry {
    pub event: NewAuditEvent,
    pub occurred_at: DateTime<Utc>,
    pub details: Option<String>,
    pub mac: String,
}

impl PendingEntry {
    /// `event` as it waits for the sealer, written at `now` and MAC'd with `key`.
    pub(crate) fn of(key: &AuditKey, event: NewAuditEvent, now: DateTime<Utc>) -> Self {
        let occurred_at = stored_time(now);
        let details = event.details.as_ref().map(serde_json::Value::to_string);
        let mac = key.pending_mac(&PendingFields::of_event(
            &event,
            occurred_at,
            details.as_deref(),
        ));
        Self {
            event,
            occurred_at,
            details,
            mac,
        }
    }
}

/// Acceptances of checks, together.
#[derive(Debug)]
pub(crate) struct AcceptAll;

impl Batch for AcceptAll {
    type Item = Acceptance;
    /// Whether it was accepted (and its audit entry written); `false` when any of its
    /// conditions failed, when nothing of it was written.
    type Answer = bool;
    const WHAT: &'static str = "code acceptances";

    async fn run(pool: &PgPool, items: &[Acceptance]) -> Result<Vec<bool>, DbErr> {
        let accepted = run(pool, items).await?;
        Ok((1..=items.len() as i64)
            .map(|n| accepted.contains(&n))
            .collect())
    }

    fn alone(err: &DbErr) -> Option<bool> {
        passing_refusal(err).map(|_| false)
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
async fn run(pool: &PgPool, batch: &[Acceptance]) -> Result<Vec<i64>, DbErr> {
    let items = || batch.iter();
    let query = sqlx::query(sqlx::AssertSqlSafe(ACCEPT_ALL.as_str()))
        .bind(items().map(|a| a.binding_id.clone()).collect::<Vec<_>>())
        .bind(items().map(|a| a.limit).collect::<Vec<_>>())
        .bind(items().map(|a| a.credential_id.clone()).collect::<Vec<_>>())
        .bind(items().map(|a| a.hotp).collect::<Vec<_>>())
        .bind(items().map(|a| a.value).collect::<Vec<_>>())
        .bind(items().map(|a| a.drift).collect::<Vec<_>>())
        .bind(items().map(|a| a.at).collect::<Vec<_>>());
    let rows = bind_entries(query, items().map(|a| &a.audit))
        .fetch_all(pool)
        .await
        .map_err(exec_err)?;
    rows.iter()
        .map(|row| row.try_get::<i64, _>(0).map_err(exec_err))
        .collect()
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e.into()))
}

/// Binds the twelve arrays of [`insert_entries`]'s columns, one element per entry.
fn bind_entries<'q, 'e>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    entries: impl Iterator<Item = &'e PendingEntry> + Clone,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let column =
        |field: fn(&PendingEntry) -> Option<String>| entries.clone().map(field).collect::<Vec<_>>();
    let event = |field: fn(&NewAuditEvent) -> Option<String>| {
        entries.clone().map(|e| field(&e.event)).collect::<Vec<_>>()
    };
    query
        .bind(event(|e| Some(e.tenant_id.clone())))
        .bind(entries.clone().map(|e| e.occurred_at).collect::<Vec<_>>())
        .bind(event(|e| Some(e.actor.clone())))
        .bind(event(|e| Some(e.operation.as_str().to_owned())))
        .bind(event(|e| Some(e.outcome.as_str().to_owned())))
        .bind(event(|e| e.error_code.clone()))
        .bind(event(|e| e.user_id.clone()))
        .bind(event(|e| e.credential_id.clone()))
        .bind(event(|e| e.request_id.clone()))
        .bind(event(|e| e.client_addr.clone()))
        .bind(column(|e| e.details.clone()))
        .bind(column(|e| Some(e.mac.clone())))
}

/// The part of a statement that inserts the waiting entries bound from parameter `$first` on
/// (see [`bind_entries`]): those numbered (from 1, in the order bound) by `chosen`, a query of
/// one column, or all of them.
fn insert_entries(first: usize, chosen: Option<&str>) -> String {
    let chosen = chosen
        .map(|k| format!("WHERE a.k IN ({k})"))
        .unwrap_or_default();
    let p: Vec<String> = (first..first + 12).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO audit_pending (tenant_id, occurred_at, actor, operation, outcome, error_code,
        user_id, credential_id, request_id, client_addr, details, mac)
    SELECT a.tenant_id, a.occurred_at, a.actor, a.operation, a.outcome, a.error_code,
        a.user_id, a.credential_id, a.request_id, a.client_addr, a.details, a.mac
    FROM unnest({}::text[], {}::timestamptz[], {}::text[], {}::text[], {}::text[],
                {}::text[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[],
                {}::text[])
        WITH ORDINALITY AS a(tenant_id, occurred_at, actor, operation, outcome, error_code,
            user_id, credential_id, request_id, client_addr, details, mac, k)
    {chosen}
    ORDER BY a.k",
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]
    )
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
), {locks}, s AS (
    UPDATE credentials AS cr
    SET last_used_step = CASE WHEN i.hotp THEN cr.last_used_step ELSE i.value END,
        hotp_next_counter = CASE WHEN i.hotp THEN i.value ELSE cr.hotp_next_counter END,
        drift_steps = COALESCE(i.drift, cr.drift_steps),
        failures = 0,
        updated_at = i.at
    FROM i
    WHERE {counted}
      AND CASE WHEN i.hotp THEN cr.hotp_next_counter < i.value
               ELSE (cr.last_used_step IS NULL OR cr.last_used_step < i.value) END
    RETURNING i.n
), r AS (
    UPDATE bindings SET failures = 0, last_success_at = i.at, updated_at = i.at
    FROM i
    WHERE bindings.id = i.binding_id AND i.n IN (SELECT n FROM s)
    RETURNING i.n
), ins AS (
    {insert}
)
SELECT n FROM r",
        locks = LOCK_ROWS.as_str(),
        counted = COUNTED,
        insert = insert_entries(8, Some("SELECT n FROM r")),
    )
});

/// The CTEs `b` and `c` that lock the rows a batch of checks (CTE `i`: `binding_id`, `lim`,
/// `credential_id`) may change: every active binding named, by id, then the credential of each
/// binding under its limit, by id.
static LOCK_ROWS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "b AS (
    SELECT id, failures FROM bindings
    WHERE id IN (SELECT binding_id FROM i) AND state = '{active}'
    ORDER BY id
    FOR NO KEY UPDATE
), c AS (
    SELECT id FROM credentials
    WHERE id IN (SELECT i.credential_id FROM i JOIN b ON b.id = i.binding_id AND b.failures < i.lim)
    ORDER BY id
    FOR NO KEY UPDATE
)",
        active = BindingState::Active.as_str()
    )
});

/// The condition under which an item of `i` changes the credential `cr` (locked in `c`): its
/// binding active and under the limit, the credential not suspended. An UPDATE changes a row
/// once, for one of the items that name it; the others are settled on the transaction path.
const COUNTED: &str = "cr.id = i.credential_id
      AND cr.id IN (SELECT id FROM c)
      AND EXISTS (SELECT 1 FROM b WHERE b.id = i.binding_id AND b.failures < i.lim)
      AND cr.suspended_at IS NULL";

/// One wrong code to count: at its binding (locking it at the bank's limit) and platform-wide
/// on its credential (suspending it at the budget), with the audit entry of each outcome.
#[derive(Debug)]
pub(crate) struct Failure {
    pub binding_id: String,
    pub limit: i32,
    pub credential_id: String,
    pub budget: i32,
    pub at: DateTime<Utc>,
    /// The entry of each outcome, by [`FailureCount::variant`].
    pub audits: [PendingEntry; 4],
}

/// What counting a wrong code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// The binding's consecutive failures, this one included.
    pub failures: i32,
    /// Whether this failure locked the binding (it reached the bank's limit).
    pub locked: bool,
    /// Whether this failure suspended the credential at every bank.
    pub suspended: bool,
}

impl FailureCount {
    /// Which of a [`Failure`]'s entries records it: none, the lock, the suspension, both.
    pub fn variant(locked: bool, suspended: bool) -> usize {
        usize::from(locked) + 2 * usize::from(suspended)
    }
}

/// Wrong codes, counted together.
#[derive(Debug)]
pub(crate) struct FailAll;

impl Batch for FailAll {
    type Item = Failure;
    /// What it did; `None` when a condition failed (nothing of it was written).
    type Answer = Option<FailureCount>;
    const WHAT: &'static str = "wrong codes";

    async fn run(pool: &PgPool, batch: &[Failure]) -> Result<Vec<Self::Answer>, DbErr> {
        let items = || batch.iter();
        let query = sqlx::query(sqlx::AssertSqlSafe(FAIL_ALL.as_str()))
            .bind(items().map(|f| f.binding_id.clone()).collect::<Vec<_>>())
            .bind(items().map(|f| f.limit).collect::<Vec<_>>())
            .bind(items().map(|f| f.credential_id.clone()).collect::<Vec<_>>())
            .bind(items().map(|f| f.budget).collect::<Vec<_>>())
            .bind(items().map(|f| f.at).collect::<Vec<_>>());
        let rows = bind_entries(query, items().flat_map(|f| f.audits.iter()))
            .fetch_all(pool)
            .await
            .map_err(exec_err)?;
        let mut answers: Vec<Self::Answer> = items().map(|_| None).collect();
        for row in rows {
            let n: i64 = row.try_get(0).map_err(exec_err)?;
            let count = FailureCount {
                failures: row.try_get(1).map_err(exec_err)?,
                locked: row.try_get(2).map_err(exec_err)?,
                suspended: row.try_get(3).map_err(exec_err)?,
            };
            if let Some(answer) = usize::try_from(n - 1).ok().and_then(|i| answers.get_mut(i)) {
                *answer = Some(count);
            }
        }
        Ok(answers)
    }

    fn alone(err: &DbErr) -> Option<Self::Answer> {
        passing_refusal(err).map(|_| None)
    }
}

/// Every wrong code of the batch counted under the conditions of the transaction path, each
/// with the audit entry of what it did (the entries are bound four to an item, in the order of
/// [`FailureCount::variant`]).
static FAIL_ALL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
WITH i AS (
    SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::int4[], $5::timestamptz[])
        WITH ORDINALITY AS t(binding_id, lim, credential_id, budget, at, n)
), {locks}, s AS (
    UPDATE credentials AS cr
    SET failures = cr.failures + 1,
        suspended_at = CASE WHEN cr.failures + 1 >= i.budget THEN i.at END,
        updated_at = i.at
    FROM i
    WHERE {counted}
    RETURNING i.n, cr.suspended_at IS NOT NULL AS suspended
), r AS (
    UPDATE bindings
    SET failures = bindings.failures + 1,
        state = CASE WHEN bindings.failures + 1 >= i.lim THEN '{locked}' ELSE bindings.state END,
        updated_at = i.at
    FROM i JOIN s ON s.n = i.n
    WHERE bindings.id = i.binding_id
    RETURNING i.n, bindings.failures, bindings.state = '{locked}' AS locked, s.suspended
), ins AS (
    {insert}
)
SELECT n, failures, locked, suspended FROM r",
        locks = LOCK_ROWS.as_str(),
        counted = COUNTED,
        locked = BindingState::Locked.as_str(),
        insert = insert_entries(
            6,
            Some(
                "SELECT (n - 1) * 4 + CASE WHEN locked THEN 1 ELSE 0 END \
             + CASE WHEN suspended THEN 2 ELSE 0 END + 1 FROM r"
            )
        ),
    )
});

/// Audit entries of checks refused before they changed anything, inserted together; each
/// item's entries all or none.
#[derive(Debug)]
pub(crate) struct AppendAll;

impl Batch for AppendAll {
    type Item = Vec<PendingEntry>;
    type Answer = ();
    const WHAT: &'static str = "audit entries";

    async fn run(pool: &PgPool, batch: &[Vec<PendingEntry>]) -> Result<Vec<()>, DbErr> {
        let query = sqlx::query(sqlx::AssertSqlSafe(APPEND_ALL.as_str()));
        bind_entries(query, batch.iter().flatten())
            .execute(pool)
            .await
            .map_err(exec_err)?;
        Ok(batch.iter().map(|_| ()).collect())
    }

    fn alone(_: &DbErr) -> Option<()> {
        None
    }
}

static APPEND_ALL: LazyLock<String> = LazyLock::new(|| insert_entries(1, None));

/// PostgreSQL: the reads of many checks in one statement, each row numbered by the place of
/// its (bank, user) in the arrays.
#[derive(Debug)]
pub(crate) struct ReadAll;

impl Batch for ReadAll {
    type Item = (String, String);
    type Answer = Option<QueryResult>;
    const WHAT: &'static str = "code checks' reads";

    async fn run(pool: &PgPool, items: &[(String, String)]) -> Result<Vec<Self::Answer>, DbErr> {
        let (tenants, users): (Vec<&str>, Vec<&str>) = items
            .iter()
            .map(|(tenant, user)| (tenant.as_str(), user.as_str()))
            .unzip();
        let rows = sqlx::query(sqlx::AssertSqlSafe(READ_ALL.as_str()))
            .bind(tenants)
            .bind(users)
            .fetch_all(pool)
            .await
            .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))?;
        let mut answers: Vec<Self::Answer> = items.iter().map(|_| None).collect();
        for row in rows {
            let row = QueryResult::from(row);
            let n: i64 = row.try_get("", "k_n")?;
            // At most one live binding per user (a partial unique index): one row per item.
            if let Some(answer) = usize::try_from(n - 1).ok().and_then(|i| answers.get_mut(i)) {
                answer.get_or_insert(row);
            }
        }
        Ok(answers)
    }

    fn alone(_: &DbErr) -> Option<Self::Answer> {
        None
    }
}

/// [`crate::checks::find_check_target`]'s columns and joins, over arrays of banks and users.
static READ_ALL: LazyLock<String> = LazyLock::new(|| {
    let mut columns = vec!["k.n AS k_n".to_owned()];
    columns.extend(column_list::<users::Entity>("u"));
    columns.extend(column_list::<bindings::Entity>("b"));
    columns.extend(column_list::<credentials::Entity>("c"));
    let live = LIVE
        .iter()
        .map(|state| format!("'{}'", state.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}
        FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(tenant_id, user_id, n)
        JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id
        LEFT JOIN bindings b ON b.tenant_id = u.tenant_id AND b.user_id = u.id
            AND b.state IN ({live})
        LEFT JOIN credentials c ON c.id = b.credential_id",
        columns = columns.join(", ")
    )
});

/// `"t"."column" AS "t_column"` for every column of `E`.
fn column_list<E: EntityTrait>(table: &str) -> Vec<String> {
    use sea_orm::IdenStatic;
    E::Column::iter()
        .map(|column| {
            let name = column.as_str();
            format!("\"{table}\".\"{name}\" AS \"{table}_{name}\"")
        })
        .collect()
}
