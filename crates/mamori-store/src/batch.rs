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
use sea_orm::sqlx::{self, PgPool};
use sea_orm::{DbErr, EntityTrait, Iterable, QueryResult, RuntimeErr};

use crate::audit::NewAuditEvent;
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
    let audits = || items().map(|a| &a.audit);
    let query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(ACCEPT_ALL.as_str()))
        .bind(items().map(|a| a.binding_id.clone()).collect::<Vec<_>>())
        .bind(items().map(|a| a.limit).collect::<Vec<_>>())
        .bind(items().map(|a| a.credential_id.clone()).collect::<Vec<_>>())
        .bind(items().map(|a| a.hotp).collect::<Vec<_>>())
        .bind(items().map(|a| a.value).collect::<Vec<_>>())
        .bind(items().map(|a| a.drift).collect::<Vec<_>>())
        .bind(items().map(|a| a.at).collect::<Vec<_>>())
        .bind(
            audits()
                .map(|e| e.event.tenant_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(audits().map(|e| e.occurred_at).collect::<Vec<_>>())
        .bind(audits().map(|e| e.event.actor.clone()).collect::<Vec<_>>())
        .bind(
            audits()
                .map(|e| e.event.operation.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            audits()
                .map(|e| e.event.outcome.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            audits()
                .map(|e| e.event.error_code.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            audits()
                .map(|e| e.event.user_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            audits()
                .map(|e| e.event.credential_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            audits()
                .map(|e| e.event.request_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            audits()
                .map(|e| e.event.client_addr.clone())
                .collect::<Vec<_>>(),
        )
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
