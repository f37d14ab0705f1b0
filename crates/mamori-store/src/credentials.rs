//! Credentials (トークン): platform-wide, shared by every bank a token is registered at. The
//! spent step, the platform-wide failure count and the suspension are decided here, each by one
//! conditional write.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect,
};

use crate::db::WriteTx;
use crate::entities::credentials;
use crate::error::StoreError;

pub use crate::entities::credentials::Model as CredentialRow;

/// Inserts a new credential.
pub async fn insert_credential<C: ConnectionTrait>(
    conn: &C,
    row: CredentialRow,
) -> Result<(), StoreError> {
    credentials::Entity::insert(active(row))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Inserts every row inside `tx`, or fails with [`StoreError::Conflict`] if any ID is taken
/// (the transaction must then be abandoned: PostgreSQL refuses further statements in it).
pub async fn insert_credentials(tx: &WriteTx, rows: Vec<CredentialRow>) -> Result<(), StoreError> {
    // 14 values a row: 500 rows stay far below either engine's limit on bound parameters.
    for chunk in rows.chunks(500) {
        credentials::Entity::insert_many(chunk.iter().cloned().map(active))
            .exec_without_returning(tx)
            .await?;
    }
    Ok(())
}

/// Which of `ids` are taken by existing credentials.
pub async fn taken_ids<C: ConnectionTrait>(
    conn: &C,
    ids: &[&str],
) -> Result<Vec<String>, StoreError> {
    let mut taken = Vec::new();
    for chunk in ids.chunks(500) {
        let found: Vec<String> = credentials::Entity::find()
            .select_only()
            .column(credentials::Column::Id)
            .filter(credentials::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        taken.extend(found);
    }
    Ok(taken)
}

fn active(row: CredentialRow) -> credentials::ActiveModel {
    credentials::ActiveModel {
        id: Set(row.id),
        kind: Set(row.kind),
        algorithm: Set(row.algorithm),
        digits: Set(row.digits),
        period: Set(row.period),
        secret_ciphertext: Set(row.secret_ciphertext),
        secret_key_id: Set(row.secret_key_id),
        drift_steps: Set(row.drift_steps),
        last_used_step: Set(row.last_used_step),
        hotp_next_counter: Set(row.hotp_next_counter),
        failures: Set(row.failures),
        suspended_at: Set(row.suspended_at),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    }
}

/// Inserts a new credential inside `tx` unless its ID is taken (returns `false` then, and `tx`
/// stays usable: the insert runs in a savepoint).
pub async fn insert_unless_taken(tx: &WriteTx, row: CredentialRow) -> Result<bool, StoreError> {
    let attempt = tx.savepoint().await?;
    match insert_credential(&attempt, row).await {
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

/// A credential by its ID (credentials are platform-wide, shared by banks).
pub async fn find_credential<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
) -> Result<Option<CredentialRow>, StoreError> {
    Ok(credentials::Entity::find_by_id(credential_id.to_owned())
        .one(conn)
        .await?)
}

/// A credential, read with a shared row lock (PostgreSQL) so a concurrent suspension either
/// commits first and is seen, or waits for this transaction.
pub async fn find_credential_locked<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
) -> Result<Option<CredentialRow>, StoreError> {
    Ok(credentials::Entity::find_by_id(credential_id.to_owned())
        .lock_shared()
        .one(conn)
        .await?)
}

/// Spends TOTP step `step`: succeeds only if no step at or after it was spent before and the
/// credential is not suspended. Resets the platform-wide failure count. With `drift`, also
/// records the newly learned drift (resync).
pub async fn spend_totp_step<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
    step: i64,
    drift: Option<i64>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut update = credentials::Entity::update_many()
        .col_expr(credentials::Column::LastUsedStep, Expr::value(step))
        .col_expr(credentials::Column::Failures, Expr::value(0))
        .col_expr(credentials::Column::UpdatedAt, Expr::value(now));
    if let Some(drift) = drift {
        update = update.col_expr(credentials::Column::DriftSteps, Expr::value(drift));
    }
    let result = update
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_null())
        .filter(
            Condition::any()
                .add(credentials::Column::LastUsedStep.is_null())
                .add(credentials::Column::LastUsedStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Spends HOTP counter `counter`: succeeds only if it is not below the next expected counter
/// and has a next counter to store (`i64::MAX` has none: nothing is spent).
pub async fn spend_hotp_counter<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
    counter: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(next) = counter.checked_add(1) else {
        return Ok(false);
    };
    let result = credentials::Entity::update_many()
        .col_expr(credentials::Column::HotpNextCounter, Expr::value(next))
        .col_expr(credentials::Column::Failures, Expr::value(0))
        .col_expr(credentials::Column::UpdatedAt, Expr::value(now))
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_null())
        .filter(credentials::Column::HotpNextCounter.lte(counter))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Counts one platform-wide failure; at `budget` consecutive failures the credential is
/// suspended everywhere. Returns whether this failure suspended it.
pub async fn count_credential_failure<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
    budget: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let counted = credentials::Entity::update_many()
        .col_expr(
            credentials::Column::Failures,
            Expr::col(credentials::Column::Failures).add(1),
        )
        .col_expr(credentials::Column::UpdatedAt, Expr::value(now))
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_null())
        .exec_with_returning(conn)
        .await?;
    if counted.first().is_none_or(|c| c.failures < budget) {
        return Ok(false);
    }
    let suspended = credentials::Entity::update_many()
        .col_expr(credentials::Column::SuspendedAt, Expr::value(now))
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_null())
        .filter(credentials::Column::Failures.gte(budget))
        .exec(conn)
        .await?;
    Ok(suspended.rows_affected == 1)
}

/// Lifts a platform-wide suspension: the credential works again and its platform-wide count
/// starts from zero. Returns whether it was suspended.
pub async fn lift_suspension<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = credentials::Entity::update_many()
        .col_expr(
            credentials::Column::SuspendedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(credentials::Column::Failures, Expr::value(0))
        .col_expr(credentials::Column::UpdatedAt, Expr::value(now))
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_not_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}
