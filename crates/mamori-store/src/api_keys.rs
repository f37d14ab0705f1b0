//! Banks' API keys: stored as a hash with a MAC over the key's bank, prefix and hash (see
//! [`crate::account_mac`]), found by their public prefix.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    JoinType, QueryFilter, QueryOrder, QuerySelect, RelationDef,
};

use crate::account_mac::AccountMac;
use crate::entities::{api_keys, tenants};
use crate::error::StoreError;

pub use crate::entities::api_keys::Model as ApiKeyRow;

/// Inserts an API key row with its MAC under `mac`.
pub async fn insert_api_key<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    row: ApiKeyRow,
) -> Result<(), StoreError> {
    let tag = mac.api_key(&row);
    api_keys::Entity::insert(api_keys::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        prefix: Set(row.prefix),
        key_hash: Set(row.key_hash),
        label: Set(row.label),
        created_at: Set(row.created_at),
        revoked_at: Set(row.revoked_at),
        last_used_at: Set(row.last_used_at),
        mac: Set(Some(tag)),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// An unrevoked API key by its public prefix, with whether its bank is suspended (one query);
/// a key whose MAC does not check is absent.
pub async fn find_active_api_key_with_bank<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    prefix: &str,
) -> Result<Option<(ApiKeyRow, bool)>, StoreError> {
    let to_bank: RelationDef = api_keys::Entity::belongs_to(tenants::Entity)
        .from(api_keys::Column::TenantId)
        .to(tenants::Column::Id)
        .into();
    let found = api_keys::Entity::find()
        .filter(api_keys::Column::Prefix.eq(prefix))
        .filter(api_keys::Column::RevokedAt.is_null())
        .join(JoinType::InnerJoin, to_bank)
        .column_as(tenants::Column::SuspendedAt, "bank_suspended_at")
        .into_model::<KeyWithBank>()
        .one(conn)
        .await?;
    Ok(found
        .map(|k| {
            let suspended = k.bank_suspended_at.is_some();
            (
                ApiKeyRow {
                    id: k.id,
                    tenant_id: k.tenant_id,
                    prefix: k.prefix,
                    key_hash: k.key_hash,
                    label: k.label,
                    created_at: k.created_at,
                    revoked_at: k.revoked_at,
                    last_used_at: k.last_used_at,
                    mac: k.mac,
                },
                suspended,
            )
        })
        .filter(|(row, _)| mac.api_key_holds(row)))
}

#[derive(Debug, FromQueryResult)]
struct KeyWithBank {
    id: String,
    tenant_id: String,
    prefix: String,
    key_hash: String,
    label: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    mac: Option<String>,
    bank_suspended_at: Option<DateTime<Utc>>,
}

/// An unrevoked API key by its public prefix; one whose MAC does not check is absent.
pub async fn find_active_api_key<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    prefix: &str,
) -> Result<Option<ApiKeyRow>, StoreError> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::Prefix.eq(prefix))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(conn)
        .await?
        .filter(|row| mac.api_key_holds(row)))
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

/// Records that a key was used, at most once per `every` (a coarse "last use" for the console
/// that costs a write only now and then, never on every request).
pub async fn touch_api_key<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
    now: DateTime<Utc>,
    every: chrono::Duration,
) -> Result<(), StoreError> {
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::LastUsedAt, Expr::value(now))
        .filter(api_keys::Column::Id.eq(key_id))
        .filter(
            Condition::any()
                .add(api_keys::Column::LastUsedAt.is_null())
                .add(api_keys::Column::LastUsedAt.lt(now - every)),
        )
        .exec(conn)
        .await?;
    Ok(())
}
