//! Tokens issued by mail (トークン発行, seed 003): the conditional writes of an issue's life.
//! Every move between states is one `UPDATE … WHERE state = …` whose `rows_affected` says
//! whether it happened, so concurrent activations, reissues and releases never both win.

use chrono::{DateTime, Utc};
use mamori_domain::IssueState;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
};

use crate::db::WriteTx;
use crate::entities::token_issues;
use crate::error::StoreError;

pub use crate::entities::token_issues::Model as TokenIssueRow;

const OPEN: [IssueState; 2] = [IssueState::Issued, IssueState::Activated];

/// Inserts a new issue. A `Conflict` is either a drawn activation user ID that the bank already
/// uses, or a concurrent open issue of the same user (the partial unique index decides).
pub async fn insert_issue<C: ConnectionTrait>(
    conn: &C,
    row: TokenIssueRow,
) -> Result<(), StoreError> {
    token_issues::Entity::insert(token_issues::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        user_id: Set(row.user_id),
        activation_user_id: Set(row.activation_user_id),
        mail_address: Set(row.mail_address),
        password_hash: Set(row.password_hash),
        state: Set(row.state),
        failures: Set(row.failures),
        credential_id: Set(row.credential_id),
        expires_at: Set(row.expires_at),
        activated_at: Set(row.activated_at),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Inserts a new issue inside `tx` in a savepoint; `false` on a `Conflict` (see
/// [`insert_issue`]), leaving `tx` usable so the caller can tell which index refused it.
pub async fn insert_unless_taken(tx: &WriteTx, row: TokenIssueRow) -> Result<bool, StoreError> {
    let attempt = tx.savepoint().await?;
    match insert_issue(&attempt, row).await {
        Ok(()) => {
            attempt.commit().await?;
            Ok(true)
        }
        Err(StoreError::Conflict(_)) => {
            attempt.rollback().await?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The user's open (issued or activated) issue at this bank.
pub async fn find_open_issue<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<TokenIssueRow>, StoreError> {
    Ok(token_issues::Entity::find()
        .filter(token_issues::Column::TenantId.eq(tenant_id))
        .filter(token_issues::Column::UserId.eq(user_id))
        .filter(token_issues::Column::State.is_in(OPEN))
        .one(conn)
        .await?)
}

/// An issue by the bank and the ユーザID from the mail.
pub async fn find_by_activation_user<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    activation_user_id: &str,
) -> Result<Option<TokenIssueRow>, StoreError> {
    Ok(token_issues::Entity::find()
        .filter(token_issues::Column::TenantId.eq(tenant_id))
        .filter(token_issues::Column::ActivationUserId.eq(activation_user_id))
        .one(conn)
        .await?)
}

/// An issue by its ID.
pub async fn find_issue<C: ConnectionTrait>(
    conn: &C,
    issue_id: &str,
) -> Result<Option<TokenIssueRow>, StoreError> {
    Ok(token_issues::Entity::find_by_id(issue_id.to_owned())
        .one(conn)
        .await?)
}

/// Cancels the user's open issues at this bank (reissue, 利用解除). Returns how many.
pub async fn cancel_open_issues<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let result = token_issues::Entity::update_many()
        .col_expr(
            token_issues::Column::State,
            Expr::value(IssueState::Cancelled),
        )
        .col_expr(token_issues::Column::UpdatedAt, Expr::value(now))
        .filter(token_issues::Column::TenantId.eq(tenant_id))
        .filter(token_issues::Column::UserId.eq(user_id))
        .filter(token_issues::Column::State.is_in(OPEN))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Reserves one activation attempt before the password is checked: `failures + 1`, only while
/// the issue is `issued` and under `max`. Returns whether the attempt was granted.
pub async fn reserve_activation_attempt<C: ConnectionTrait>(
    conn: &C,
    issue_id: &str,
    max: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = token_issues::Entity::update_many()
        .col_expr(
            token_issues::Column::Failures,
            Expr::col(token_issues::Column::Failures).add(1),
        )
        .col_expr(token_issues::Column::UpdatedAt, Expr::value(now))
        .filter(token_issues::Column::Id.eq(issue_id))
        .filter(token_issues::Column::State.eq(IssueState::Issued))
        .filter(token_issues::Column::Failures.lt(max))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// After a wrong password: invalidates the issue once the reserved count reached `max`.
/// Returns whether this call invalidated it.
pub async fn invalidate_if_at_limit<C: ConnectionTrait>(
    conn: &C,
    issue_id: &str,
    max: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let at_limit = Condition::all().add(token_issues::Column::Failures.gte(max));
    move_issue(
        conn,
        issue_id,
        IssueState::Issued,
        IssueState::Invalidated,
        at_limit,
        now,
    )
    .await
}

/// Moves an `issued` issue whose time ran out to `expired`. Returns whether it moved.
pub async fn expire_issue<C: ConnectionTrait>(
    conn: &C,
    issue_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let due = Condition::all().add(token_issues::Column::ExpiresAt.lte(now));
    move_issue(
        conn,
        issue_id,
        IssueState::Issued,
        IssueState::Expired,
        due,
        now,
    )
    .await
}

/// Claims an `issued`, unexpired issue for the one activation that wins: `issued → activated`,
/// the count reset. The credential is attached in the same transaction by
/// [`attach_credential`]. Returns whether this call claimed it.
pub async fn claim_activation<C: ConnectionTrait>(
    conn: &C,
    issue_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = token_issues::Entity::update_many()
        .col_expr(
            token_issues::Column::State,
            Expr::value(IssueState::Activated),
        )
        .col_expr(token_issues::Column::Failures, Expr::value(0))
        .col_expr(token_issues::Column::ActivatedAt, Expr::value(now))
        .col_expr(token_issues::Column::UpdatedAt, Expr::value(now))
        .filter(token_issues::Column::Id.eq(issue_id))
        .filter(token_issues::Column::State.eq(IssueState::Issued))
        .filter(token_issues::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records the credential an activation created (inside the claiming transaction).
pub async fn attach_credential<C: ConnectionTrait>(
    conn: &C,
    issue_id: &str,
    credential_id: &str,
) -> Result<(), StoreError> {
    token_issues::Entity::update_many()
        .col_expr(
            token_issues::Column::CredentialId,
            Expr::value(credential_id.to_owned()),
        )
        .filter(token_issues::Column::Id.eq(issue_id))
        .filter(token_issues::Column::State.eq(IssueState::Activated))
        .exec(conn)
        .await?;
    Ok(())
}

/// OTP use started with the issue's credential: `activated → used`. Returns whether it moved.
pub async fn mark_used<C: ConnectionTrait>(
    conn: &C,
    issue_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let always = Condition::all();
    move_issue(
        conn,
        issue_id,
        IssueState::Activated,
        IssueState::Used,
        always,
        now,
    )
    .await
}

/// One conditional move of an issue, `from → to`, only while `guard` also holds. Returns
/// whether this call moved it (a concurrent mover sees `false`).
async fn move_issue<C: ConnectionTrait>(
    conn: &C,
    issue_id: &str,
    from: IssueState,
    to: IssueState,
    guard: Condition,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = token_issues::Entity::update_many()
        .col_expr(token_issues::Column::State, Expr::value(to))
        .col_expr(token_issues::Column::UpdatedAt, Expr::value(now))
        .filter(token_issues::Column::Id.eq(issue_id))
        .filter(token_issues::Column::State.eq(from))
        .filter(guard)
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}
