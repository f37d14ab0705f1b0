//! Push approvals (プッシュ通知認証): inserts, reads, and the conditional writes that move an
//! approval out of `pending`. Every move is `UPDATE … WHERE state = 'pending' AND …` checked by
//! `rows_affected`, so an answer, a timeout and a newer approval can never both win.

use chrono::{DateTime, Utc};
use mamori_domain::ApprovalState;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::push_approvals;
use crate::error::StoreError;

pub use crate::entities::push_approvals::Model as PushApprovalRow;

/// How far back the push-bombing streak looks: far more than any alert needs.
const STREAK_HISTORY: u64 = 300;

/// Inserts a pending approval; a second pending one for the same user at the same bank is a
/// `Conflict` (the partial unique index decides between concurrent creates).
pub async fn insert_approval<C: ConnectionTrait>(
    conn: &C,
    row: PushApprovalRow,
) -> Result<(), StoreError> {
    push_approvals::Entity::insert(push_approvals::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        user_id: Set(row.user_id),
        binding_id: Set(row.binding_id),
        credential_id: Set(row.credential_id),
        transaction_kind: Set(row.transaction_kind),
        transaction_json: Set(row.transaction_json),
        transaction_hash: Set(row.transaction_hash),
        display_ja: Set(row.display_ja),
        display_en: Set(row.display_en),
        challenge_number: Set(row.challenge_number),
        state: Set(row.state),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
        answered_at: Set(row.answered_at),
        answer_signature: Set(row.answer_signature),
        updated_at: Set(row.updated_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// An approval by its ID, whatever its bank (the device side knows no bank).
pub async fn find_approval<C: ConnectionTrait>(
    conn: &C,
    approval_id: &str,
) -> Result<Option<PushApprovalRow>, StoreError> {
    Ok(push_approvals::Entity::find_by_id(approval_id.to_owned())
        .one(conn)
        .await?)
}

/// An approval of this bank. Another bank's approval is `None`, exactly like a missing one.
pub async fn find_approval_at<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    approval_id: &str,
) -> Result<Option<PushApprovalRow>, StoreError> {
    Ok(push_approvals::Entity::find_by_id(approval_id.to_owned())
        .filter(push_approvals::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?)
}

/// The user's pending approvals at this bank (at most one, by the unique index).
pub async fn pending_of_user<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<PushApprovalRow>, StoreError> {
    Ok(push_approvals::Entity::find()
        .filter(push_approvals::Column::TenantId.eq(tenant_id))
        .filter(push_approvals::Column::UserId.eq(user_id))
        .filter(push_approvals::Column::State.eq(ApprovalState::Pending))
        .all(conn)
        .await?)
}

/// A credential's pending approvals at every bank, oldest first, expired ones included (the
/// caller materialises those).
pub async fn pending_of_credential<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
) -> Result<Vec<PushApprovalRow>, StoreError> {
    Ok(push_approvals::Entity::find()
        .filter(push_approvals::Column::CredentialId.eq(credential_id))
        .filter(push_approvals::Column::State.eq(ApprovalState::Pending))
        .order_by_asc(push_approvals::Column::CreatedAt)
        .order_by_asc(push_approvals::Column::Id)
        .all(conn)
        .await?)
}

/// Moves a pending approval whose time is up to `expired`; returns whether it moved (only one
/// caller ever sees `true`, so the expiry is audited once).
pub async fn expire_if_due<C: ConnectionTrait>(
    conn: &C,
    approval_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = push_approvals::Entity::update_many()
        .col_expr(
            push_approvals::Column::State,
            Expr::value(ApprovalState::Expired),
        )
        .col_expr(push_approvals::Column::UpdatedAt, Expr::value(now))
        .filter(push_approvals::Column::Id.eq(approval_id))
        .filter(push_approvals::Column::State.eq(ApprovalState::Pending))
        .filter(push_approvals::Column::ExpiresAt.lte(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Moves a pending, unexpired approval to `cancelled` (a newer one replaces it); returns
/// whether it moved.
pub async fn cancel_if_pending<C: ConnectionTrait>(
    conn: &C,
    approval_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = push_approvals::Entity::update_many()
        .col_expr(
            push_approvals::Column::State,
            Expr::value(ApprovalState::Cancelled),
        )
        .col_expr(push_approvals::Column::UpdatedAt, Expr::value(now))
        .filter(push_approvals::Column::Id.eq(approval_id))
        .filter(push_approvals::Column::State.eq(ApprovalState::Pending))
        .filter(push_approvals::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records the device's answer: `pending` → `to` with the answer time and the signature (the
/// bank's evidence of consent), only while pending and unexpired. Returns whether it moved.
pub async fn record_answer<C: ConnectionTrait>(
    conn: &C,
    approval_id: &str,
    to: ApprovalState,
    signature: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = push_approvals::Entity::update_many()
        .col_expr(push_approvals::Column::State, Expr::value(to))
        .col_expr(push_approvals::Column::AnsweredAt, Expr::value(now))
        .col_expr(
            push_approvals::Column::AnswerSignature,
            Expr::value(signature),
        )
        .col_expr(push_approvals::Column::UpdatedAt, Expr::value(now))
        .filter(push_approvals::Column::Id.eq(approval_id))
        .filter(push_approvals::Column::State.eq(ApprovalState::Pending))
        .filter(push_approvals::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The states of the user's latest approvals at this bank, newest first (for the push-bombing
/// streak). IDs are time-ordered, so approvals created in the same instant keep their order.
pub async fn recent_states_of_user<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<ApprovalState>, StoreError> {
    Ok(push_approvals::Entity::find()
        .select_only()
        .column(push_approvals::Column::State)
        .filter(push_approvals::Column::TenantId.eq(tenant_id))
        .filter(push_approvals::Column::UserId.eq(user_id))
        .order_by_desc(push_approvals::Column::CreatedAt)
        .order_by_desc(push_approvals::Column::Id)
        .limit(STREAK_HISTORY)
        .into_tuple::<ApprovalState>()
        .all(conn)
        .await?)
}
