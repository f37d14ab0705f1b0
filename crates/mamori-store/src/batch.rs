//! PostgreSQL: the two statements of a code check's common case, each run for many checks at
//! once (see [`crate::queue`]): the read of user, binding and credential, and the write of the
//! decision — a fresh code accepted, a wrong code counted, or a refusal's audit entry. The writes
//! that arrive meanwhile, of all three kinds, go in one statement: each keeps its own conditions
//! (binding active and under the limit, step newer than the last spent, credential not
//! suspended) and its own outcome, all of it or nothing of it, and the statement commits once
//! for all. One statement rather than one per kind: what a statement costs PostgreSQL whatever
//! it does is most of a check's cost, and wrong codes and replays in statements of their own,
//! in batches of one or two, made a mix of 10% of each run at 0.85 of correct codes alone.
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
//! longer held (a refusal's entries are then inserted alone); if it is the replacement, the
//! bank gets 503 with `Retry-After` and retries.

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

/// One code check's write: the statement's items are of three kinds.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "moved once, into the queue; boxing would add an allocation per check to save none"
)]
pub(crate) enum Write {
    /// A fresh code to accept.
    Accept(Acceptance),
    /// A wrong code to count.
    Fail(Failure),
    /// The audit entries of a check refused before it changed anything: written whatever the
    /// statement's other items do.
    Record(Vec<PendingEntry>),
}

/// The writes of code checks, together.
#[derive(Debug)]
pub(crate) struct WriteAll;

impl Batch for WriteAll {
    type Item = Write;
    /// What it did, with its audit entry written (an acceptance: no failures, no lock, no
    /// suspension); `None` when a condition failed, when nothing of it was written.
    type Answer = Option<FailureCount>;
    const WHAT: &'static str = "code checks' writes";

    async fn run(pool: &PgPool, batch: &[Write]) -> Result<Vec<Self::Answer>, DbErr> {
        let rows = bind_items(batch).fetch_all(pool).await.map_err(exec_err)?;
        let mut answers: Vec<Self::Answer> = batch
            .iter()
            .map(|write| matches!(write, Write::Record(_)).then_some(FailureCount::NONE))
            .collect();
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

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e.into()))
}

/// One item of [`WRITE_ALL`]'s `i`: a refusal's record names no rows.
struct Item<'a> {
    binding_id: Option<&'a str>,
    limit: i32,
    credential_id: Option<&'a str>,
    wrong: bool,
    hotp: bool,
    value: i64,
    drift: Option<i64>,
    budget: i32,
    at: Option<DateTime<Utc>>,
}

impl<'a> Item<'a> {
    fn of(write: &'a Write) -> Self {
        let none = Item {
            binding_id: None,
            limit: 0,
            credential_id: None,
            wrong: false,
            hotp: false,
            value: 0,
            drift: None,
            budget: 0,
            at: None,
        };
        match write {
            Write::Accept(a) => Item {
                binding_id: Some(&a.binding_id),
                limit: a.limit,
                credential_id: Some(&a.credential_id),
                hotp: a.hotp,
                value: a.value,
                drift: a.drift,
                at: Some(a.at),
                ..none
            },
            Write::Fail(f) => Item {
                binding_id: Some(&f.binding_id),
                limit: f.limit,
                credential_id: Some(&f.credential_id),
                wrong: true,
                budget: f.budget,
                at: Some(f.at),
                ..none
            },
            Write::Record(_) => none,
        }
    }
}

/// The audit entries of `write` (numbered `n` in the batch), each with the outcome it records
/// ([`FailureCount::variant`]).
fn entries_of(n: i64, write: &Write) -> impl Iterator<Item = (i64, i32, &PendingEntry)> {
    let entries: &[PendingEntry] = match write {
        Write::Accept(a) => std::slice::from_ref(&a.audit),
        Write::Fail(f) => &f.audits,
        Write::Record(entries) => entries,
    };
    let variants = matches!(write, Write::Fail(_));
    entries
        .iter()
        .zip(0..)
        .map(move |(entry, v)| (n, if variants { v } else { 0 }, entry))
}

/// [`WRITE_ALL`] with the batch bound: nine arrays of items, then fourteen of audit entries.
fn bind_items(
    batch: &[Write],
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let items: Vec<Item> = batch.iter().map(Item::of).collect();
    let column = |field: fn(&Item) -> Option<String>| items.iter().map(field).collect::<Vec<_>>();
    let query = sqlx::query(sqlx::AssertSqlSafe(WRITE_ALL.as_str()))
        .bind(column(|r| r.binding_id.map(str::to_owned)))
        .bind(items.iter().map(|r| r.limit).collect::<Vec<_>>())
        .bind(column(|r| r.credential_id.map(str::to_owned)))
        .bind(items.iter().map(|r| r.wrong).collect::<Vec<_>>())
        .bind(items.iter().map(|r| r.hotp).collect::<Vec<_>>())
        .bind(items.iter().map(|r| r.value).collect::<Vec<_>>())
        .bind(items.iter().map(|r| r.drift).collect::<Vec<_>>())
        .bind(items.iter().map(|r| r.budget).collect::<Vec<_>>())
        .bind(items.iter().map(|r| r.at).collect::<Vec<_>>());
    let entries: Vec<_> = batch
        .iter()
        .zip(1..)
        .flat_map(|(write, n)| entries_of(n, write))
        .collect();
    let entry = |field: fn(&PendingEntry) -> Option<String>| {
        entries.iter().map(|(_, _, e)| field(e)).collect::<Vec<_>>()
    };
    let event = |field: fn(&NewAuditEvent) -> Option<String>| {
        entries
            .iter()
            .map(|(_, _, e)| field(&e.event))
            .collect::<Vec<_>>()
    };
    query
        .bind(event(|e| Some(e.tenant_id.clone())))
        .bind(
            entries
                .iter()
                .map(|(_, _, e)| e.occurred_at)
                .collect::<Vec<_>>(),
        )
        .bind(event(|e| Some(e.actor.clone())))
        .bind(event(|e| Some(e.operation.as_str().to_owned())))
        .bind(event(|e| Some(e.outcome.as_str().to_owned())))
        .bind(event(|e| e.error_code.clone()))
        .bind(event(|e| e.user_id.clone()))
        .bind(event(|e| e.credential_id.clone()))
        .bind(event(|e| e.request_id.clone()))
        .bind(event(|e| e.client_addr.clone()))
        .bind(entry(|e| e.details.clone()))
        .bind(entry(|e| Some(e.mac.clone())))
        .bind(entries.iter().map(|(n, _, _)| *n).collect::<Vec<_>>())
        .bind(entries.iter().map(|(_, v, _)| *v).collect::<Vec<_>>())
}

/// Every write of the batch under the conditions of the transaction path, numbered by its place
/// in the arrays. Acceptances and wrong codes share one UPDATE of each table, each row's new
/// values chosen by the item's kind: one statement the size of an acceptance's alone, since
/// what PostgreSQL spends on a statement grows with its parts (nine parts, one per kind, made
/// the tail twice as long; see commit 138539d). A credential named twice (one token at two
/// banks, or one user's two checks) is changed once, by one of its items: the other is not
/// written here and is settled on the transaction path, which names its refusal (or accepts a
/// later step). Each item's audit entry records what it did — a wrong code's is chosen among
/// the four MAC'd in advance — and a refusal's entries are written whatever else happens.
static WRITE_ALL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
WITH i AS (
    SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::bool[], $5::bool[], $6::int8[],
                         $7::int8[], $8::int4[], $9::timestamptz[])
        WITH ORDINALITY AS t(binding_id, lim, credential_id, wrong, hotp, value, drift, budget,
                             at, n)
), {locks}, s AS (
    UPDATE credentials AS cr
    SET last_used_step = CASE WHEN i.wrong OR i.hotp THEN cr.last_used_step ELSE i.value END,
        hotp_next_counter = CASE WHEN i.hotp AND NOT i.wrong THEN i.value
                                 ELSE cr.hotp_next_counter END,
        drift_steps = CASE WHEN i.wrong THEN cr.drift_steps
                           ELSE COALESCE(i.drift, cr.drift_steps) END,
        failures = CASE WHEN i.wrong THEN cr.failures + 1 ELSE 0 END,
        suspended_at = CASE WHEN i.wrong AND cr.failures + 1 >= i.budget THEN i.at END,
        updated_at = i.at
    FROM i
    WHERE {counted}
      AND (i.wrong OR CASE WHEN i.hotp THEN cr.hotp_next_counter < i.value
                           ELSE (cr.last_used_step IS NULL OR cr.last_used_step < i.value) END)
    RETURNING i.n, cr.suspended_at IS NOT NULL AS suspended
), r AS (
    UPDATE bindings
    SET failures = CASE WHEN i.wrong THEN bindings.failures + 1 ELSE 0 END,
        state = CASE WHEN i.wrong AND bindings.failures + 1 >= i.lim THEN '{locked}'
                     ELSE bindings.state END,
        last_success_at = CASE WHEN i.wrong THEN bindings.last_success_at ELSE i.at END,
        updated_at = i.at
    FROM i JOIN s ON s.n = i.n
    WHERE bindings.id = i.binding_id
    RETURNING i.n, bindings.failures, bindings.state = '{locked}' AS locked, s.suspended
), ins AS (
    INSERT INTO audit_pending (tenant_id, occurred_at, actor, operation, outcome, error_code,
        user_id, credential_id, request_id, client_addr, details, mac)
    SELECT a.tenant_id, a.occurred_at, a.actor, a.operation, a.outcome, a.error_code,
        a.user_id, a.credential_id, a.request_id, a.client_addr, a.details, a.mac
    FROM unnest($10::text[], $11::timestamptz[], $12::text[], $13::text[], $14::text[],
                $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
                $21::text[], $22::int8[], $23::int4[])
        WITH ORDINALITY AS a(tenant_id, occurred_at, actor, operation, outcome, error_code,
            user_id, credential_id, request_id, client_addr, details, mac, owner, variant, k)
    WHERE (a.owner, a.variant) IN (
            SELECT n, CASE WHEN locked THEN 1 ELSE 0 END + CASE WHEN suspended THEN 2 ELSE 0 END
            FROM r)
       OR a.owner IN (SELECT n FROM i WHERE i.binding_id IS NULL)
    ORDER BY a.k
)
SELECT n, failures, locked, suspended FROM r",
        locks = LOCK_ROWS.as_str(),
        counted = COUNTED,
        locked = BindingState::Locked.as_str(),
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
    /// What an acceptance, or a refusal's record, leaves: nothing counted.
    pub const NONE: Self = Self {
        failures: 0,
        locked: false,
        suspended: false,
    };

    /// Which of a [`Failure`]'s entries records it: none, the lock, the suspension, both.
    pub fn variant(locked: bool, suspended: bool) -> usize {
        usize::from(locked) + 2 * usize::from(suspended)
    }
}

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
