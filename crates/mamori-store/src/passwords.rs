//! Login passwords and login IDs: the conditional writes of the password → OTP login.

use chrono::{DateTime, Utc};
use mamori_domain::LoginStep;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{login_sessions, password_history, users};
use crate::error::StoreError;

pub use crate::entities::login_sessions::Model as LoginSessionRow;

/// Reserves one password attempt before the password is checked: `failures + 1` while the user
/// is not locked and under `limit`. Returns whether the attempt was granted.
pub async fn reserve_password_attempt<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    limit: i32,
) -> Result<bool, StoreError> {
    let result = users::Entity::update_many()
        .col_expr(
            users::Column::PasswordFailures,
            Expr::col(users::Column::PasswordFailures).add(1),
        )
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::PasswordLockedAt.is_null())
        .filter(users::Column::PasswordFailures.lt(limit))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// After a right password: the count starts again.
pub async fn password_succeeded<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
) -> Result<(), StoreError> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordFailures, Expr::value(0))
        .filter(users::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// After a wrong password: locks the user once the reserved count reached `limit`. Returns
/// whether this call locked the user.
pub async fn lock_if_at_limit<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    limit: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = users::Entity::update_many()
        .col_expr(users::Column::PasswordLockedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::PasswordLockedAt.is_null())
        .filter(users::Column::PasswordFailures.gte(limit))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Unlocks a user (support desk, or the tenant's timed auto-unlock). With `seen_locked_at`, only
/// the lock that was seen is lifted, so two nodes never both audit one auto-unlock.
pub async fn unlock_password<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    seen_locked_at: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::PasswordFailures, Expr::value(0))
        .col_expr(
            users::Column::PasswordLockedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(users::Column::Id.eq(user_id));
    if let Some(seen) = seen_locked_at {
        update = update.filter(users::Column::PasswordLockedAt.eq(seen));
    }
    Ok(update.exec(conn).await?.rows_affected == 1)
}

/// Sets a new password hash, remembers it in the history, and keeps only the newest `keep`
/// entries (the new one among them).
pub async fn set_password<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    hash: &str,
    must_change: bool,
    keep: u32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash.to_owned()))
        .col_expr(users::Column::PasswordChangedAt, Expr::value(now))
        .col_expr(users::Column::PasswordMustChange, Expr::value(must_change))
        .col_expr(users::Column::PasswordFailures, Expr::value(0))
        .col_expr(
            users::Column::PasswordLockedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    password_history::Entity::insert(password_history::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        user_id: Set(user_id.to_owned()),
        hash: Set(hash.to_owned()),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    let stale: Vec<i64> = password_history::Entity::find()
        .filter(password_history::Column::UserId.eq(user_id))
        .order_by_desc(password_history::Column::Id)
        // SQLite accepts OFFSET only after a LIMIT.
        .limit(1_000_000)
        .offset(u64::from(Ord::max(keep, 1)))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect();
    if !stale.is_empty() {
        password_history::Entity::delete_many()
            .filter(password_history::Column::Id.is_in(stale))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// After a right password whose hash is re-made (wrapped, or at another cost): the new hash
/// replaces the checked one, only if it is still stored. Returns whether it was replaced.
pub async fn replace_password_hash<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    checked: &str,
    fresh: &str,
) -> Result<bool, StoreError> {
    let checked = crate::hashes::StoredHash {
        id: crate::hashes::RowId::Text(user_id.to_owned()),
        hash: checked.to_owned(),
    };
    crate::hashes::replace_hash(conn, crate::hashes::USERS, &checked, fresh).await
}

/// The last `n` password hashes of a user, newest first.
pub async fn recent_password_hashes<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    n: u32,
) -> Result<Vec<String>, StoreError> {
    Ok(password_history::Entity::find()
        .filter(password_history::Column::UserId.eq(user_id))
        .order_by_desc(password_history::Column::Id)
        .limit(u64::from(n))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| row.hash)
        .collect())
}

/// Stores a new login ID.
pub async fn insert_login_session<C: ConnectionTrait>(
    conn: &C,
    row: LoginSessionRow,
) -> Result<(), StoreError> {
    login_sessions::Entity::insert(login_sessions::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        user_id: Set(row.user_id),
        stage: Set(row.stage),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
        used_at: Set(row.used_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A login ID of this bank that is unused and unexpired.
pub async fn find_open_login<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    login_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<LoginSessionRow>, StoreError> {
    Ok(login_sessions::Entity::find_by_id(login_id.to_owned())
        .filter(login_sessions::Column::TenantId.eq(tenant_id))
        .filter(login_sessions::Column::UsedAt.is_null())
        .filter(login_sessions::Column::ExpiresAt.gt(now))
        .one(conn)
        .await?)
}

/// Moves a login from `from` stage to `to`; with `finish`, uses it up. Succeeds only once.
pub async fn advance_login<C: ConnectionTrait>(
    conn: &C,
    login_id: &str,
    from: LoginStep,
    to: LoginStep,
    finish: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut update = login_sessions::Entity::update_many()
        .col_expr(login_sessions::Column::Stage, Expr::value(to));
    if finish {
        update = update.col_expr(login_sessions::Column::UsedAt, Expr::value(now));
    }
    let result = update
        .filter(login_sessions::Column::Id.eq(login_id))
        .filter(login_sessions::Column::Stage.eq(from))
        .filter(login_sessions::Column::UsedAt.is_null())
        .filter(login_sessions::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}
