//! PostgreSQL: the two statements of a code check's common case, each run for many checks at
//! once (see [`crate::queue`]): the read of user, binding and credential, and the write of the
//! decision — a fresh code accepted, a wrong code counted, or a refusal's audit entry. The
//! writes that arrive meanwhile, of all three kinds, go in one statement: each keeps its own
//! conditions (binding active and under the limit, step newer than the last spent, credential
//! not suspended) and its own outcome, all of it or nothing of it, and the statement commits
//! once for all. One statement for the three kinds rather than one each: what a statement costs
//! PostgreSQL whatever it does was most of a check's cost, and a mix of 10% wrong codes and 10%
//! replays in statements of their own ran at two thirds of the rate of correct codes alone.
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

/// A fresh code to accept at an active binding.
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

/// A wrong code to count: at its binding (locking it at the bank's limit) and platform-wide
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

/// One check's write.
#[derive(Debug)]
pub(crate) enum Write {
    // Boxed: an acceptance is some 370 bytes and a wrong code's four entries 1,200; the queue
    // moves pointers.
    Accept(Box<Acceptance>),
    Fail(Box<Failure>),
    /// The audit entries of a refusal that changed nothing else, all or none.
    Append(Vec<PendingEntry>),
}

/// What a [`Write`] did; nothing of it was written when it says no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Whether the code was accepted.
    Accepted(bool),
    /// What the wrong code did, or `None`: not counted here.
    Counted(Option<FailureCount>),
    /// Whether the entries were written.
    Appended(bool),
}

impl Write {
    /// The answer of a write that was not made.
    fn not_written(&self) -> Written {
        match self {
            Write::Accept(_) => Written::Accepted(false),
            Write::Fail(_) => Written::Counted(None),
            Write::Append(_) => Written::Appended(false),
        }
    }
}

/// Checks' writes, together.
#[derive(Debug)]
pub(crate) struct WriteAll;

impl Batch for WriteAll {
    type Item = Write;
    type Answer = Written;
    const WHAT: &'static str = "code checks' writes";

    async fn run(pool: &PgPool, batch: &[Write]) -> Result<Vec<Written>, DbErr> {
        let done = run(pool, batch).await?;
        Ok(batch
            .iter()
            .enumerate()
            .map(|(i, write)| {
                let row = done.iter().find(|row| row.n == i as i64 + 1);
                match write {
                    Write::Accept(_) => Written::Accepted(row.is_some()),
                    Write::Fail(_) => Written::Counted(row.and_then(|row| row.count)),
                    Write::Append(_) => Written::Appended(true),
                }
            })
            .collect())
    }

    fn alone(err: &DbErr, item: &Write) -> Option<Written> {
        passing_refusal(err).map(|_| item.not_written())
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

/// A write the statement made: its item (numbered from 1) and, for a wrong code, what it did.
struct Done {
    n: i64,
    count: Option<FailureCount>,
}

/// The columns of [`WRITE_ALL`]'s items, one element per acceptance or wrong code (a refusal's
/// entries need none).
#[derive(Default)]
struct Items {
    n: Vec<i64>,
    fail: Vec<bool>,
    binding_id: Vec<String>,
    limit: Vec<i32>,
    credential_id: Vec<String>,
    hotp: Vec<bool>,
    value: Vec<Option<i64>>,
    drift: Vec<Option<i64>>,
    budget: Vec<Option<i32>>,
    at: Vec<DateTime<Utc>>,
}

impl Items {
    fn push(
        &mut self,
        n: i64,
        binding_id: &str,
        limit: i32,
        credential_id: &str,
        at: DateTime<Utc>,
    ) {
        self.n.push(n);
        self.binding_id.push(binding_id.to_owned());
        self.limit.push(limit);
        self.credential_id.push(credential_id.to_owned());
        self.at.push(at);
    }
}

/// Each audit entry of the batch with the item it belongs to and its variant: a wrong code's
/// outcome, 0 for an acceptance, or -1 for a refusal's entry, written whatever else happens.
struct Entries<'a> {
    owner: Vec<i64>,
    variant: Vec<i32>,
    entries: Vec<&'a PendingEntry>,
}

impl<'a> Entries<'a> {
    fn push(&mut self, n: i64, variant: i32, entry: &'a PendingEntry) {
        self.owner.push(n);
        self.variant.push(variant);
        self.entries.push(entry);
    }
}

/// The statement: the writes of `batch` it made.
async fn run(pool: &PgPool, batch: &[Write]) -> Result<Vec<Done>, DbErr> {
    let mut items = Items::default();
    let mut entries = Entries {
        owner: Vec::new(),
        variant: Vec::new(),
        entries: Vec::new(),
    };
    for (n, write) in (1..).zip(batch) {
        match write {
            Write::Accept(a) => {
                items.push(n, &a.binding_id, a.limit, &a.credential_id, a.at);
                items.fail.push(false);
                items.hotp.push(a.hotp);
                items.value.push(Some(a.value));
                items.drift.push(a.drift);
                items.budget.push(None);
                entries.push(n, 0, &a.audit);
            }
            Write::Fail(f) => {
                items.push(n, &f.binding_id, f.limit, &f.credential_id, f.at);
                items.fail.push(true);
                items.hotp.push(false);
                items.value.push(None);
                items.drift.push(None);
                items.budget.push(Some(f.budget));
                for (variant, entry) in (0..).zip(&f.audits) {
                    entries.push(n, variant, entry);
                }
            }
            Write::Append(appended) => {
                for entry in appended {
                    entries.push(n, -1, entry);
                }
            }
        }
    }
    let query = sqlx::query(sqlx::AssertSqlSafe(WRITE_ALL.as_str()))
        .bind(items.n)
        .bind(items.fail)
        .bind(items.binding_id)
        .bind(items.limit)
        .bind(items.credential_id)
        .bind(items.hotp)
        .bind(items.value)
        .bind(items.drift)
        .bind(items.budget)
        .bind(items.at)
        .bind(entries.owner)
        .bind(entries.variant);
    let rows = bind_entries(query, entries.entries.iter().copied())
        .fetch_all(pool)
        .await
        .map_err(exec_err)?;
    rows.iter()
        .map(|row| {
            let n: i64 = row.try_get("n").map_err(exec_err)?;
            let failures: Option<i32> = row.try_get("failures").map_err(exec_err)?;
            let count = match failures {
                None => None,
                Some(failures) => Some(FailureCount {
                    failures,
                    locked: row.try_get("locked").map_err(exec_err)?,
                    suspended: row.try_get("suspended").map_err(exec_err)?,
                }),
            };
            Ok(Done { n, count })
        })
        .collect()
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e.into()))
}

/// Binds the twelve arrays of an `audit_pending` row's columns, one element per entry.
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

/// Every write of the batch under the conditions of the transaction path.
///
/// `i` holds the acceptances and wrong codes, each under its number in the batch; `b` and `c`
/// lock their rows. An acceptance (`sa`, `ra`) spends the step and starts both counts again; a
/// wrong code (`sf`, `rf`) adds to both, locks the binding at the limit and suspends the
/// credential at the budget. A statement changes a row once, for one of the items that name it,
/// so a credential named twice (one token at two banks, one user's two checks) is changed for
/// one of them, and a wrong code is never counted on a credential an acceptance of the same
/// batch names; the others are settled on the transaction path, which names the refusal (or
/// accepts a later step). The entries inserted are those of what was done — an acceptance's,
/// the variant of a wrong code's outcome — and every refusal's.
static WRITE_ALL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
WITH i AS (
    SELECT * FROM unnest($1::int8[], $2::bool[], $3::text[], $4::int4[], $5::text[], $6::bool[],
                         $7::int8[], $8::int8[], $9::int4[], $10::timestamptz[])
        AS t(n, fail, binding_id, lim, credential_id, hotp, value, drift, budget, at)
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
), sa AS (
    UPDATE credentials AS cr
    SET last_used_step = CASE WHEN i.hotp THEN cr.last_used_step ELSE i.value END,
        hotp_next_counter = CASE WHEN i.hotp THEN i.value ELSE cr.hotp_next_counter END,
        drift_steps = COALESCE(i.drift, cr.drift_steps),
        failures = 0,
        updated_at = i.at
    FROM i
    WHERE NOT i.fail AND {counted}
      AND CASE WHEN i.hotp THEN cr.hotp_next_counter < i.value
               ELSE (cr.last_used_step IS NULL OR cr.last_used_step < i.value) END
    RETURNING i.n
), ra AS (
    UPDATE bindings SET failures = 0, last_success_at = i.at, updated_at = i.at
    FROM i
    WHERE bindings.id = i.binding_id AND i.n IN (SELECT n FROM sa)
    RETURNING i.n
), sf AS (
    UPDATE credentials AS cr
    SET failures = cr.failures + 1,
        suspended_at = CASE WHEN cr.failures + 1 >= i.budget THEN i.at END,
        updated_at = i.at
    FROM i
    WHERE i.fail AND {counted}
      AND cr.id NOT IN (SELECT credential_id FROM i WHERE NOT fail)
    RETURNING i.n, cr.suspended_at IS NOT NULL AS suspended
), rf AS (
    UPDATE bindings
    SET failures = bindings.failures + 1,
        state = CASE WHEN bindings.failures + 1 >= i.lim THEN '{locked}' ELSE bindings.state END,
        updated_at = i.at
    FROM i JOIN sf ON sf.n = i.n
    WHERE bindings.id = i.binding_id
    RETURNING i.n, bindings.failures, bindings.state = '{locked}' AS locked, sf.suspended
), done AS (
    SELECT n, 0 AS variant, NULL::int4 AS failures, NULL::bool AS locked, NULL::bool AS suspended
    FROM ra
    UNION ALL
    SELECT n, CASE WHEN locked THEN 1 ELSE 0 END + CASE WHEN suspended THEN 2 ELSE 0 END,
        failures, locked, suspended
    FROM rf
), ins AS (
    INSERT INTO audit_pending (tenant_id, occurred_at, actor, operation, outcome, error_code,
        user_id, credential_id, request_id, client_addr, details, mac)
    SELECT a.tenant_id, a.occurred_at, a.actor, a.operation, a.outcome, a.error_code,
        a.user_id, a.credential_id, a.request_id, a.client_addr, a.details, a.mac
    FROM unnest($11::int8[], $12::int4[], $13::text[], $14::timestamptz[], $15::text[],
                $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[],
                $22::text[], $23::text[], $24::text[])
        WITH ORDINALITY AS a(owner, variant, tenant_id, occurred_at, actor, operation, outcome,
            error_code, user_id, credential_id, request_id, client_addr, details, mac, k)
    WHERE a.variant < 0 OR (a.owner, a.variant) IN (SELECT n, variant FROM done)
    ORDER BY a.k
)
SELECT n, failures, locked, suspended FROM done",
        active = BindingState::Active.as_str(),
        locked = BindingState::Locked.as_str(),
        counted = COUNTED,
    )
});

/// The condition under which an item of `i` changes the credential `cr` (locked in `c`): its
/// binding active and under the limit, the credential not suspended.
const COUNTED: &str = "cr.id = i.credential_id
      AND cr.id IN (SELECT id FROM c)
      AND EXISTS (SELECT 1 FROM b WHERE b.id = i.binding_id AND b.failures < i.lim)
      AND cr.suspended_at IS NULL";

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

    fn alone(_: &DbErr, _: &Self::Item) -> Option<Self::Answer> {
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
