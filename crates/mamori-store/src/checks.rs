//! The one read a code check starts with: the bank's user, their live binding and its
//! credential, brought together in a single round trip.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use mamori_domain::CredentialKind;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement};
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Iterable, Statement, Value,
};

use crate::account_mac::AccountMac;
use crate::audit::NewAuditEvent;
use crate::batch;
use crate::db::{Database, Engine};

use crate::bindings::{BindingRow, LIVE};
use crate::credentials::CredentialRow;
use crate::entities::{bindings, credentials, users};
use crate::error::StoreError;
use crate::users::UserRow;

/// What a code check reads before it decides.
#[derive(Debug, Clone)]
pub struct CheckTarget {
    /// The bank's user.
    pub user: UserRow,
    /// Their live (active or locked) binding at this bank, with its credential.
    pub registered: Option<(BindingRow, CredentialRow)>,
}

/// The user `user_id` of `tenant_id` with their live binding and its credential, in one query
/// (on PostgreSQL together with the other checks' reads that arrive meanwhile, see
/// [`crate::queue`]). `None`: no such user at this bank. A binding whose MAC does not check is
/// absent (the user reads as unregistered), checked here in memory: no extra round trip.
pub async fn find_check_target(
    db: &Database,
    mac: &AccountMac,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<CheckTarget>, StoreError> {
    let row = match db.engine() {
        Engine::Postgres => db.read_queued(tenant_id, user_id).await?,
        Engine::Sqlite => {
            let statement = check_target_statement(db.get_database_backend(), tenant_id, user_id);
            db.query_one_raw(statement).await?
        }
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let user = UserRow::from_query_result(&row, "u_")?;
    let binding = BindingRow::from_query_result_optional(&row, "b_")?
        .filter(|binding| mac.binding_holds(binding));
    let credential = CredentialRow::from_query_result_optional(&row, "c_")?;
    let registered = match (binding, credential) {
        (Some(binding), Some(credential)) => Some((binding, credential)),
        (None, _) => None,
        (Some(binding), None) => {
            return Err(StoreError::Corrupt(format!(
                "binding {} without its credential",
                binding.id
            )));
        }
    };
    Ok(Some(CheckTarget { user, registered }))
}

/// The check target's query for `tenant_id` and `user_id`. Its SQL text is the same for every
/// check, so it is built once per engine (building it was about 8% of a check's CPU in the
/// server); only the values change.
fn check_target_statement(backend: DbBackend, tenant_id: &str, user_id: &str) -> Statement {
    static POSTGRES: OnceLock<(String, Vec<Value>)> = OnceLock::new();
    static SQLITE: OnceLock<(String, Vec<Value>)> = OnceLock::new();
    let cell = match backend {
        DbBackend::Postgres => &POSTGRES,
        DbBackend::Sqlite => &SQLITE,
        // Engines Mamori does not run on: built every time.
        _ => return backend.build(&check_target_query(tenant_id, user_id)),
    };
    let (sql, template) = cell.get_or_init(|| {
        let statement = backend.build(&check_target_query(TENANT_SLOT, USER_SLOT));
        let values = statement.values.map(|values| values.0).unwrap_or_default();
        (statement.sql, values)
    });
    let values = template
        .iter()
        .map(|value| match value {
            Value::String(Some(slot)) if slot.as_str() == TENANT_SLOT => tenant_id.into(),
            Value::String(Some(slot)) if slot.as_str() == USER_SLOT => user_id.into(),
            other => other.clone(),
        })
        .collect::<Vec<Value>>();
    Statement::from_sql_and_values(backend, sql.clone(), values)
}

/// Stand-ins for the two values while the query is built once; no bank or user id holds a NUL.
const TENANT_SLOT: &str = "\u{0}tenant";
const USER_SLOT: &str = "\u{0}user";

fn check_target_query(tenant_id: &str, user_id: &str) -> SelectStatement {
    let (u, b, c) = (Alias::new("u"), Alias::new("b"), Alias::new("c"));
    let mut query = Query::select();
    prefixed_columns::<users::Entity>(&mut query, &u, "u_");
    prefixed_columns::<bindings::Entity>(&mut query, &b, "b_");
    prefixed_columns::<credentials::Entity>(&mut query, &c, "c_");
    query
        .from_as(users::Entity, u.clone())
        .join_as(
            JoinType::LeftJoin,
            bindings::Entity,
            b.clone(),
            Expr::col((b.clone(), bindings::Column::TenantId))
                .equals((u.clone(), users::Column::TenantId))
                .and(
                    Expr::col((b.clone(), bindings::Column::UserId))
                        .equals((u.clone(), users::Column::Id)),
                )
                .and(Expr::col((b.clone(), bindings::Column::State)).is_in(LIVE)),
        )
        .join_as(
            JoinType::LeftJoin,
            credentials::Entity,
            c.clone(),
            Expr::col((c.clone(), credentials::Column::Id))
                .equals((b.clone(), bindings::Column::CredentialId)),
        )
        .and_where(Expr::col((u.clone(), users::Column::TenantId)).eq(tenant_id))
        .and_where(Expr::col((u, users::Column::Id)).eq(user_id))
        .limit(1);
    query
}

/// Selects every column of `E` from `table` as `<prefix><column>`, as sea-orm's own
/// multi-entity selects do, so each model reads back with `from_query_result(row, prefix)`.
fn prefixed_columns<E: EntityTrait>(query: &mut SelectStatement, table: &Alias, prefix: &str) {
    use sea_orm::IdenStatic;
    for column in E::Column::iter() {
        query.expr_as(
            Expr::col((table.clone(), column)),
            Alias::new(format!("{prefix}{}", column.as_str())),
        );
    }
}

/// A code check's acceptance: the step or counter to spend on the credential, the binding whose
/// count starts again, and the audit entry that records it.
#[derive(Debug, Clone)]
pub struct Acceptance<'a> {
    /// The user's live binding at this bank.
    pub binding_id: &'a str,
    /// The bank's lock threshold: a binding with this many failures reserved checks nothing.
    pub limit: i32,
    /// The credential that produced the code.
    pub credential_id: &'a str,
    /// Time or event based.
    pub kind: CredentialKind,
    /// The TOTP step or HOTP counter to spend.
    pub at: i64,
    /// The drift learned (resync).
    pub drift: Option<i64>,
    /// When.
    pub now: DateTime<Utc>,
}

/// PostgreSQL: accepts a code in one statement, together with the other checks that arrive
/// meanwhile (see [`crate::batch`]), so the common case of a check holds its rows for one round
/// trip instead of a transaction's five. Under the binding's row lock (taken first, as the
/// transaction path's reservation does) and only while it is active and under the limit, it
/// spends the step (conditional on it being newer than the last spent, on a credential not
/// suspended), starts the binding's count again, and inserts the audit entry — all of it or
/// nothing. Returns `false` when any condition failed: nothing was written, and the caller
/// settles the check on the transaction path, which names the refusal exactly. Always `false`
/// on SQLite, whose single writer gains nothing from it.
///
/// The caller holds no connection of the pool while it waits: its workers take one.
pub async fn accept_at_once(
    db: &Database,
    acceptance: &Acceptance<'_>,
    event: NewAuditEvent,
) -> Result<bool, StoreError> {
    if db.engine() != Engine::Postgres {
        return Ok(false);
    }
    let Acceptance {
        binding_id,
        limit,
        credential_id,
        kind,
        at,
        drift,
        now,
    } = *acceptance;
    let (hotp, value) = match kind {
        CredentialKind::Totp => (false, at),
        CredentialKind::Hotp => {
            // The counter is spent when the next one expected is not beyond it.
            let Some(next) = at.checked_add(1) else {
                return Ok(false);
            };
            (true, next)
        }
    };
    let accepted = db
        .write_queued(batch::Write::Accept(batch::Acceptance {
            binding_id: binding_id.to_owned(),
            limit,
            credential_id: credential_id.to_owned(),
            hotp,
            value,
            drift,
            at: now,
            audit: batch::PendingEntry::of(db.audit_key()?, event.clone(), now),
        }))
        .await?
        .is_some();
    if accepted {
        db.tell_observer(std::slice::from_ref(&event));
    }
    Ok(accepted)
}

/// A wrong code to count: on its binding at this bank, and platform-wide on its credential.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    /// The user's live binding at this bank.
    pub binding_id: &'a str,
    /// The bank's lock threshold: the failure that reaches it locks the binding.
    pub limit: i32,
    /// The credential the code was checked against.
    pub credential_id: &'a str,
    /// Platform-wide consecutive failures at which the credential is suspended everywhere.
    pub budget: i32,
    /// When.
    pub now: DateTime<Utc>,
}

pub use crate::batch::FailureCount;

/// PostgreSQL: counts a wrong code in one statement, together with the other wrong codes that
/// arrive meanwhile (see [`crate::batch`]): under the binding's row lock and only while it is
/// active and under the limit, on a credential not suspended, it adds the failure to both
/// counts, locks the binding at the limit, suspends the credential at the budget, and inserts
/// the audit entry of what it did — `events[FailureCount::variant(locked, suspended)]` — all of
/// it or nothing. `None` when a condition failed: nothing was written, and the caller settles
/// the check on the transaction path. Always `None` on SQLite.
pub async fn count_failure_at_once(
    db: &Database,
    failure: &Failure<'_>,
    events: [NewAuditEvent; 4],
) -> Result<Option<FailureCount>, StoreError> {
    if db.engine() != Engine::Postgres {
        return Ok(None);
    }
    let key = db.audit_key()?;
    let Failure {
        binding_id,
        limit,
        credential_id,
        budget,
        now,
    } = *failure;
    let counted = db
        .write_queued(batch::Write::Fail(batch::Failure {
            binding_id: binding_id.to_owned(),
            limit,
            credential_id: credential_id.to_owned(),
            budget,
            at: now,
            audits: events
                .clone()
                .map(|event| batch::PendingEntry::of(key, event, now)),
        }))
        .await?;
    if let Some(count) = counted {
        let event = &events[FailureCount::variant(count.locked, count.suspended)];
        db.tell_observer(std::slice::from_ref(event));
    }
    Ok(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_built_once_is_the_statement_built_for_these_values() {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            for (tenant, user) in [("bank-a", "u-1"), ("bank-b", "ユーザー2"), ("", "")] {
                let fresh = backend.build(&check_target_query(tenant, user));
                let reused = check_target_statement(backend, tenant, user);
                assert_eq!(reused.sql, fresh.sql, "{backend:?}");
                assert_eq!(reused.values, fresh.values, "{backend:?} {tenant} {user}");
            }
        }
    }
}
