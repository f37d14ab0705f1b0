//! Platform operators and their admin sessions. Every security decision — a password or code
//! attempt, a lock, a spent TOTP step, a session's end — is one conditional write, exact across
//! nodes, like a bank user's.

use chrono::{DateTime, Utc};
use mamori_domain::SessionStage;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};

use crate::entities::{operator_sessions, operators};
use crate::error::StoreError;

pub use crate::entities::operator_sessions::Model as SessionRow;
pub use crate::entities::operators::Model as OperatorRow;

/// Inserts an operator; a taken login name is a `Conflict`.
pub async fn insert_operator<C: ConnectionTrait>(
    conn: &C,
    row: OperatorRow,
) -> Result<(), StoreError> {
    operators::Entity::insert(operators::ActiveModel {
        id: Set(row.id),
        login_name: Set(row.login_name),
        display_name: Set(row.display_name),
        role: Set(row.role),
        tenant_id: Set(row.tenant_id),
        password_hash: Set(row.password_hash),
        password_changed_at: Set(row.password_changed_at),
        password_must_change: Set(row.password_must_change),
        password_failures: Set(row.password_failures),
        code_failures: Set(row.code_failures),
        locked_at: Set(row.locked_at),
        totp_ciphertext: Set(row.totp_ciphertext),
        totp_key_id: Set(row.totp_key_id),
        totp_enrolled_at: Set(row.totp_enrolled_at),
        totp_last_step: Set(row.totp_last_step),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        disabled_at: Set(row.disabled_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// An operator by login name.
pub async fn find_by_login<C: ConnectionTrait>(
    conn: &C,
    login_name: &str,
) -> Result<Option<OperatorRow>, StoreError> {
    Ok(operators::Entity::find()
        .filter(operators::Column::LoginName.eq(login_name))
        .one(conn)
        .await?)
}

/// An operator by ID.
pub async fn find_operator<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<OperatorRow>, StoreError> {
    Ok(operators::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?)
}

/// How many operators exist (the first start creates one when there is none).
pub async fn count_operators<C: ConnectionTrait>(conn: &C) -> Result<u64, StoreError> {
    Ok(operators::Entity::find().count(conn).await?)
}

/// Every operator, by login name.
pub async fn list_operators<C: ConnectionTrait>(conn: &C) -> Result<Vec<OperatorRow>, StoreError> {
    Ok(operators::Entity::find()
        .order_by_asc(operators::Column::LoginName)
        .all(conn)
        .await?)
}

/// Reserves one password attempt (`failures + 1` while unlocked, enabled and under `limit`)
/// before the password is checked. Returns whether it was granted.
pub async fn reserve_password_attempt<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    limit: i32,
) -> Result<bool, StoreError> {
    reserve(conn, id, operators::Column::PasswordFailures, limit).await
}

/// Reserves one code attempt, like [`reserve_password_attempt`].
pub async fn reserve_code_attempt<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    limit: i32,
) -> Result<bool, StoreError> {
    reserve(conn, id, operators::Column::CodeFailures, limit).await
}

async fn reserve<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    counter: operators::Column,
    limit: i32,
) -> Result<bool, StoreError> {
    let result = operators::Entity::update_many()
        .col_expr(counter, Expr::col(counter).add(1))
        .filter(operators::Column::Id.eq(id))
        .filter(operators::Column::LockedAt.is_null())
        .filter(operators::Column::DisabledAt.is_null())
        .filter(counter.lt(limit))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Locks the operator when either count reached `limit`; returns whether this call locked.
pub async fn lock_if_at_limit<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    limit: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = operators::Entity::update_many()
        .col_expr(operators::Column::LockedAt, Expr::value(now))
        .col_expr(operators::Column::UpdatedAt, Expr::value(now))
        .filter(operators::Column::Id.eq(id))
        .filter(operators::Column::LockedAt.is_null())
        .filter(
            Condition::any()
                .add(operators::Column::PasswordFailures.gte(limit))
                .add(operators::Column::CodeFailures.gte(limit)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A right password: the password count starts again.
pub async fn password_succeeded<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), StoreError> {
    operators::Entity::update_many()
        .col_expr(operators::Column::PasswordFailures, Expr::value(0))
        .filter(operators::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Spends TOTP step `step` of an enrolled operator: succeeds only if no step at or after it was
/// spent (a code works once) and the operator is not locked; the code count starts again.
pub async fn spend_code_step<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    step: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = operators::Entity::update_many()
        .col_expr(operators::Column::TotpLastStep, Expr::value(step))
        .col_expr(operators::Column::CodeFailures, Expr::value(0))
        .col_expr(operators::Column::UpdatedAt, Expr::value(now))
        .filter(operators::Column::Id.eq(id))
        .filter(operators::Column::LockedAt.is_null())
        .filter(
            Condition::any()
                .add(operators::Column::TotpLastStep.is_null())
                .add(operators::Column::TotpLastStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Sets a new password (`must_change`: a one-time password the next login must replace).
pub async fn set_password<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    hash: &str,
    must_change: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    operators::Entity::update_many()
        .col_expr(
            operators::Column::PasswordHash,
            Expr::value(hash.to_owned()),
        )
        .col_expr(
            operators::Column::PasswordMustChange,
            Expr::value(must_change),
        )
        .col_expr(operators::Column::PasswordChangedAt, Expr::value(now))
        .col_expr(operators::Column::PasswordFailures, Expr::value(0))
        .col_expr(operators::Column::UpdatedAt, Expr::value(now))
        .filter(operators::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// After a right password whose hash is re-made (wrapped, or at another cost): the new hash
/// replaces the checked one, only if it is still stored. Returns whether it was replaced.
pub async fn replace_password_hash<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    checked: &str,
    fresh: &str,
) -> Result<bool, StoreError> {
    let checked = crate::hashes::StoredHash {
        id: crate::hashes::RowId::Text(id.to_owned()),
        hash: checked.to_owned(),
    };
    crate::hashes::replace_hash(conn, crate::hashes::OPERATORS, &checked, fresh).await
}

/// Stores a new, not yet confirmed TOTP secret (sealed) of an operator who has none enrolled.
pub async fn set_pending_totp<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    ciphertext: Vec<u8>,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = operators::Entity::update_many()
        .col_expr(operators::Column::TotpCiphertext, Expr::value(ciphertext))
        .col_expr(operators::Column::TotpKeyId, Expr::value(key_id.to_owned()))
        .col_expr(operators::Column::UpdatedAt, Expr::value(now))
        .filter(operators::Column::Id.eq(id))
        .filter(operators::Column::TotpEnrolledAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Confirms the pending TOTP secret with a code of step `step`; only once.
pub async fn enroll_totp<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    step: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = operators::Entity::update_many()
        .col_expr(operators::Column::TotpEnrolledAt, Expr::value(now))
        .col_expr(operators::Column::TotpLastStep, Expr::value(step))
        .col_expr(operators::Column::CodeFailures, Expr::value(0))
        .col_expr(operators::Column::UpdatedAt, Expr::value(now))
        .filter(operators::Column::Id.eq(id))
        .filter(operators::Column::TotpEnrolledAt.is_null())
        .filter(operators::Column::TotpCiphertext.is_not_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Unlocks a locked operator; returns whether one was locked.
pub async fn unlock_operator<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = operators::Entity::update_many()
        .col_expr(
            operators::Column::LockedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(operators::Column::PasswordFailures, Expr::value(0))
        .col_expr(operators::Column::CodeFailures, Expr::value(0))
        .col_expr(operators::Column::UpdatedAt, Expr::value(now))
        .filter(operators::Column::Id.eq(id))
        .filter(operators::Column::LockedAt.is_not_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

// ---- sessions ----

/// Inserts a session.
pub async fn insert_session<C: ConnectionTrait>(
    conn: &C,
    row: SessionRow,
) -> Result<(), StoreError> {
    operator_sessions::Entity::insert(operator_sessions::ActiveModel {
        id: Set(row.id),
        operator_id: Set(row.operator_id),
        stage: Set(row.stage),
        client_addr: Set(row.client_addr),
        created_at: Set(row.created_at),
        last_seen_at: Set(row.last_seen_at),
        ended_at: Set(row.ended_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A session that has not ended and was used after `idle_since`.
pub async fn find_live_session<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    idle_since: DateTime<Utc>,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(operator_sessions::Entity::find_by_id(id.to_owned())
        .filter(operator_sessions::Column::EndedAt.is_null())
        .filter(operator_sessions::Column::LastSeenAt.gt(idle_since))
        .one(conn)
        .await?)
}

/// Marks a live session used now; `false` if it ended or idled out meanwhile.
pub async fn touch_session<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    idle_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = operator_sessions::Entity::update_many()
        .col_expr(operator_sessions::Column::LastSeenAt, Expr::value(now))
        .filter(operator_sessions::Column::Id.eq(id))
        .filter(operator_sessions::Column::EndedAt.is_null())
        .filter(operator_sessions::Column::LastSeenAt.gt(idle_since))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Moves a live session to `stage` (setup → active once the operator enrolled).
pub async fn set_session_stage<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    stage: SessionStage,
) -> Result<bool, StoreError> {
    let result = operator_sessions::Entity::update_many()
        .col_expr(operator_sessions::Column::Stage, Expr::value(stage))
        .filter(operator_sessions::Column::Id.eq(id))
        .filter(operator_sessions::Column::EndedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends a session (logout); returns whether it was live.
pub async fn end_session<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = operator_sessions::Entity::update_many()
        .col_expr(operator_sessions::Column::EndedAt, Expr::value(now))
        .filter(operator_sessions::Column::Id.eq(id))
        .filter(operator_sessions::Column::EndedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends every session of an operator (a lock, a reset); returns how many were live.
pub async fn end_sessions_of<C: ConnectionTrait>(
    conn: &C,
    operator_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let result = operator_sessions::Entity::update_many()
        .col_expr(operator_sessions::Column::EndedAt, Expr::value(now))
        .filter(operator_sessions::Column::OperatorId.eq(operator_id))
        .filter(operator_sessions::Column::EndedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
