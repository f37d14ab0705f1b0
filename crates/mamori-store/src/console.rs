//! The admin console's reads: customers found by contract number, user ID or credential ID and
//! listed in pages; everything about one user at a bank; a bank's trail filtered; and what is
//! locked or pending right now. Every query is bounded and served by an index, so a page stays
//! fast at a million users.

use chrono::{DateTime, Utc};
use mamori_domain::{ApprovalState, AuditOutcome, BindingState, Operation};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::audit::AuditEvent;
use crate::entities::{audit_events, bindings, login_sessions, push_approvals, users};
use crate::error::StoreError;

pub use crate::bindings::BindingRow;
pub use crate::passwords::LoginSessionRow;
pub use crate::push::PushApprovalRow;
pub use crate::users::UserRow;

/// What to look for among a bank's users. Every given field must match exactly; none given
/// lists them all, in pages.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// 契約者番号.
    pub contract_number: Option<String>,
    /// 利用者ID.
    pub user_code: Option<String>,
    /// A credential bound (in any state) to the user at this bank.
    pub credential_id: Option<String>,
}

/// A page of a bank's users matching `query`, by Mamori ID, after `after_id`.
pub async fn search_users<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    query: &UserQuery,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<UserRow>, StoreError> {
    let mut select = users::Entity::find()
        .filter(users::Column::TenantId.eq(tenant_id))
        .order_by_asc(users::Column::Id)
        .limit(limit);
    if let Some(number) = &query.contract_number {
        select = select.filter(users::Column::ContractNumber.eq(number.as_str()));
    }
    if let Some(code) = &query.user_code {
        select = select.filter(users::Column::UserCode.eq(code.as_str()));
    }
    if let Some(credential) = &query.credential_id {
        select = select.filter(
            users::Column::Id.in_subquery(
                Query::select()
                    .column(bindings::Column::UserId)
                    .from(bindings::Entity)
                    .and_where(bindings::Column::TenantId.eq(tenant_id))
                    .and_where(bindings::Column::CredentialId.eq(credential.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(after) = after_id {
        select = select.filter(users::Column::Id.gt(after));
    }
    Ok(select.all(conn).await?)
}

/// Every binding of a user at a bank (live and ended), newest first.
pub async fn bindings_of_user<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<BindingRow>, StoreError> {
    Ok(bindings::Entity::find()
        .filter(bindings::Column::TenantId.eq(tenant_id))
        .filter(bindings::Column::UserId.eq(user_id))
        .order_by_desc(bindings::Column::CreatedAt)
        .order_by_desc(bindings::Column::Id)
        .limit(50)
        .all(conn)
        .await?)
}

/// A user's logins still waiting for their next step.
pub async fn open_logins_of_user<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<LoginSessionRow>, StoreError> {
    Ok(login_sessions::Entity::find()
        .filter(login_sessions::Column::TenantId.eq(tenant_id))
        .filter(login_sessions::Column::UserId.eq(user_id))
        .filter(login_sessions::Column::UsedAt.is_null())
        .filter(login_sessions::Column::ExpiresAt.gt(now))
        .limit(10)
        .all(conn)
        .await?)
}

/// The figures of "now" on a bank's front page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankNow {
    /// Tokens locked at the bank after too many wrong codes.
    pub locked_tokens: u64,
    /// Users whose login password is locked.
    pub locked_passwords: u64,
    /// Push approvals waiting for an answer.
    pub pending_approvals: u64,
}

/// What is locked or pending at a bank right now.
pub async fn bank_now<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<BankNow, StoreError> {
    let locked_tokens = bindings::Entity::find()
        .filter(bindings::Column::TenantId.eq(tenant_id))
        .filter(bindings::Column::State.eq(BindingState::Locked))
        .count(conn)
        .await?;
    let locked_passwords = users::Entity::find()
        .filter(users::Column::TenantId.eq(tenant_id))
        .filter(users::Column::PasswordLockedAt.is_not_null())
        .count(conn)
        .await?;
    let pending_approvals = push_approvals::Entity::find()
        .filter(push_approvals::Column::TenantId.eq(tenant_id))
        .filter(push_approvals::Column::State.eq(ApprovalState::Pending))
        .filter(push_approvals::Column::ExpiresAt.gt(now))
        .count(conn)
        .await?;
    Ok(BankNow {
        locked_tokens,
        locked_passwords,
        pending_approvals,
    })
}

/// Which of a bank's audit entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Entries about this user.
    pub user_id: Option<String>,
    /// Entries about this credential.
    pub credential_id: Option<String>,
    /// Entries of this operation.
    pub operation: Option<Operation>,
    /// Entries with this outcome.
    pub outcome: Option<AuditOutcome>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
}

/// A page of a bank's trail matching `query`, newest first, before sequence number `before`.
pub async fn audit_page<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    query: &AuditQuery,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut condition = Condition::all().add(audit_events::Column::TenantId.eq(tenant_id));
    if let Some(user) = &query.user_id {
        condition = condition.add(audit_events::Column::UserId.eq(user.as_str()));
    }
    if let Some(credential) = &query.credential_id {
        condition = condition.add(audit_events::Column::CredentialId.eq(credential.as_str()));
    }
    if let Some(operation) = query.operation {
        condition = condition.add(audit_events::Column::Operation.eq(operation));
    }
    if let Some(outcome) = query.outcome {
        condition = condition.add(audit_events::Column::Outcome.eq(outcome));
    }
    if let Some(from) = query.from {
        condition = condition.add(audit_events::Column::OccurredAt.gte(from));
    }
    if let Some(to) = query.to {
        condition = condition.add(audit_events::Column::OccurredAt.lt(to));
    }
    if let Some(seq) = before {
        condition = condition.add(audit_events::Column::Seq.lt(seq));
    }
    Ok(audit_events::Entity::find()
        .filter(condition)
        .order_by_desc(audit_events::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(AuditEvent::from)
        .collect())
}
