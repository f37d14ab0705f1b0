//! Receipt signing keys.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::entities::signing_keys;
use crate::error::StoreError;

pub use crate::entities::signing_keys::Model as SigningKeyRow;

/// Stores a new key.
pub async fn insert_signing_key<C: ConnectionTrait>(
    conn: &C,
    row: SigningKeyRow,
) -> Result<(), StoreError> {
    signing_keys::Entity::insert(signing_keys::ActiveModel {
        kid: Set(row.kid),
        algorithm: Set(row.algorithm),
        public_x: Set(row.public_x),
        sealed_seed: Set(row.sealed_seed),
        sealed_with: Set(row.sealed_with),
        created_at: Set(row.created_at),
        retired_at: Set(row.retired_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The newest key that is not retired: the one that signs.
pub async fn current_signing_key<C: ConnectionTrait>(
    conn: &C,
) -> Result<Option<SigningKeyRow>, StoreError> {
    Ok(signing_keys::Entity::find()
        .filter(signing_keys::Column::RetiredAt.is_null())
        .order_by_desc(signing_keys::Column::CreatedAt)
        .order_by_desc(signing_keys::Column::Kid)
        .one(conn)
        .await?)
}

/// Keys to publish: every unretired key and every key retired after `since`.
pub async fn published_signing_keys<C: ConnectionTrait>(
    conn: &C,
    since: DateTime<Utc>,
) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_keys::Entity::find()
        .filter(
            Condition::any()
                .add(signing_keys::Column::RetiredAt.is_null())
                .add(signing_keys::Column::RetiredAt.gt(since)),
        )
        .order_by_desc(signing_keys::Column::CreatedAt)
        .all(conn)
        .await?)
}

/// Retires every key but `keep`.
pub async fn retire_signing_keys_except<C: ConnectionTrait>(
    conn: &C,
    keep: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(signing_keys::Entity::update_many()
        .col_expr(signing_keys::Column::RetiredAt, Expr::value(now))
        .filter(signing_keys::Column::RetiredAt.is_null())
        .filter(signing_keys::Column::Kid.ne(keep))
        .exec(conn)
        .await?
        .rows_affected)
}
