//! Banks' API keys: stored as a hash, found by their public prefix.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::entities::api_keys;
use crate::error::StoreError;

pub use crate::entities::api_keys::Model as ApiKeyRow;

/// Inserts an API key row.
pub async fn insert_api_key<C: ConnectionTrait>(
    conn: &C,
    row: ApiKeyRow,
) -> Result<(), StoreError> {
    api_keys::Entity::insert(api_keys::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        prefix: Set(row.prefix),
        key_hash: Set(row.key_hash),
        label: Set(row.label),
        created_at: Set(row.created_at),
        revoked_at: Set(row.revoked_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// An unrevoked API key by its public prefix.
pub async fn find_active_api_key<C: ConnectionTrait>(
    conn: &C,
    prefix: &str,
) -> Result<Option<ApiKeyRow>, StoreError> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::Prefix.eq(prefix))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(conn)
        .await?)
}

/// Revokes an API key by id or prefix; returns whether one was revoked.
pub async fn revoke_api_key<C: ConnectionTrait>(
    conn: &C,
    id_or_prefix: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Expr::value(now))
        .filter(
            Condition::any()
                .add(api_keys::Column::Id.eq(id_or_prefix))
                .add(api_keys::Column::Prefix.eq(id_or_prefix)),
        )
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Every API key of a tenant (for listing; hashes are not secrets but are not shown either).
pub async fn list_api_keys<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<ApiKeyRow>, StoreError> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(tenant_id))
        .order_by_asc(api_keys::Column::CreatedAt)
        .all(conn)
        .await?)
}
