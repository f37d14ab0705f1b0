//! Bulk loading for benchmarks (`mamori seed`): banks, their API keys, and many users each with
//! a sealed credential and an active binding, written with multi-row inserts, one transaction
//! per chunk the caller hands over.
//!
//! Nothing here is on a request path and nothing here weakens a rule the product enforces: the
//! rows are the rows the use cases write (the caller seals the secrets and hashes the keys), only
//! many at a time. Provisioning through the API stays rate-limited per client address.

use chrono::{DateTime, Utc};
use mamori_domain::ManagedBy;
use mamori_domain::tenant_config::TenantConfig;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::account_mac::AccountMac;
use crate::db::WriteTx;
use crate::entities::{api_keys, bindings, credentials, tenant_policy_versions, tenants, users};
use crate::error::StoreError;

pub use crate::entities::api_keys::Model as SeedApiKey;
pub use crate::entities::bindings::Model as SeedBinding;
pub use crate::entities::credentials::Model as SeedCredential;
pub use crate::entities::users::Model as SeedUserRow;

/// Rows per `INSERT` statement: the widest row (a credential) has 14 values, so a statement
/// binds at most 7,000 parameters, below SQLite's 32,766 and PostgreSQL's 65,535.
const ROWS_PER_STATEMENT: usize = 500;

/// A bank to create: its config (stored as an admin-managed bank, version 1) and one API key.
#[derive(Debug, Clone)]
pub struct SeedBank {
    /// The bank's ID, names and policy.
    pub config: TenantConfig,
    /// Its API key row (the key hashed by the caller).
    pub api_key: SeedApiKey,
}

/// One user with their credential and the active binding between them.
#[derive(Debug, Clone)]
pub struct SeedUser {
    /// The contract user.
    pub user: SeedUserRow,
    /// The credential, its secret sealed by the caller.
    pub credential: SeedCredential,
    /// The binding (state `active`).
    pub binding: SeedBinding,
}

/// The IDs of banks whose ID starts with `prefix` (e.g. `bench-`). `prefix` is matched
/// literally: `%` and `_` in it match only themselves.
pub async fn banks_with_prefix<C: ConnectionTrait>(
    conn: &C,
    prefix: &str,
) -> Result<Vec<String>, StoreError> {
    let ids: Vec<String> = tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .filter(tenants::Column::Id.starts_with(prefix))
        .order_by_asc(tenants::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    // `starts_with` is a LIKE: keep only the literal matches.
    Ok(ids
        .into_iter()
        .filter(|id| id.starts_with(prefix))
        .collect())
}

/// How many credentials have an ID starting with `prefix` (four letters, e.g. `BNCH`).
pub async fn credentials_with_prefix<C: ConnectionTrait>(
    conn: &C,
    prefix: &str,
) -> Result<u64, StoreError> {
    Ok(credentials::Entity::find()
        .filter(credentials::Column::Id.starts_with(prefix))
        .count(conn)
        .await?)
}

/// Creates the banks (admin-managed, policy version 1 saved by `changed_by` with `reason`) and
/// their API keys, each with its MAC under `mac`, inside `tx`. A bank ID or key prefix already
/// taken is a `Conflict`.
pub async fn insert_banks(
    tx: &WriteTx,
    mac: &AccountMac,
    banks: &[SeedBank],
    changed_by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tenant_rows = Vec::with_capacity(banks.len());
    let mut version_rows = Vec::with_capacity(banks.len());
    for bank in banks {
        let policy = serde_json::to_string(&bank.config)
            .map_err(|e| StoreError::Corrupt(format!("tenant {}: {e}", bank.config.id)))?;
        tenant_rows.push(
            tenants::Model {
                id: bank.config.id.clone(),
                name_ja: bank.config.name_ja.clone(),
                name_en: bank.config.name_en.clone(),
                policy: policy.clone(),
                created_at: now,
                updated_at: now,
                managed_by: ManagedBy::Admin,
                config_file: None,
                suspended_at: None,
                policy_version: 1,
            }
            .into_active_model(),
        );
        version_rows.push(tenant_policy_versions::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            tenant_id: sea_orm::ActiveValue::Set(bank.config.id.clone()),
            version: sea_orm::ActiveValue::Set(1),
            policy: sea_orm::ActiveValue::Set(policy),
            changed_by: sea_orm::ActiveValue::Set(changed_by.to_owned()),
            reason: sea_orm::ActiveValue::Set(reason.to_owned()),
            created_at: sea_orm::ActiveValue::Set(now),
        });
    }
    let key_rows: Vec<_> = banks
        .iter()
        .map(|bank| {
            let mut key = bank.api_key.clone();
            key.mac = Some(mac.api_key(&key));
            key.into_active_model()
        })
        .collect();
    insert_chunked::<tenants::Entity, _>(tx, tenant_rows).await?;
    insert_chunked::<tenant_policy_versions::Entity, _>(tx, version_rows).await?;
    insert_chunked::<api_keys::Entity, _>(tx, key_rows).await?;
    Ok(())
}

/// Inserts users, then their credentials, then their bindings (each with its MAC under `mac`),
/// inside `tx`. An ID or contract number already taken is a `Conflict` (and `tx` must be
/// abandoned).
pub async fn insert_users(
    tx: &WriteTx,
    mac: &AccountMac,
    seeded: Vec<SeedUser>,
) -> Result<(), StoreError> {
    let mut user_rows = Vec::with_capacity(seeded.len());
    let mut credential_rows = Vec::with_capacity(seeded.len());
    let mut binding_rows = Vec::with_capacity(seeded.len());
    for SeedUser {
        user,
        credential,
        mut binding,
    } in seeded
    {
        binding.mac = Some(mac.binding(&binding));
        user_rows.push(user.into_active_model());
        credential_rows.push(credential.into_active_model());
        binding_rows.push(binding.into_active_model());
    }
    insert_chunked::<users::Entity, _>(tx, user_rows).await?;
    insert_chunked::<credentials::Entity, _>(tx, credential_rows).await?;
    insert_chunked::<bindings::Entity, _>(tx, binding_rows).await?;
    Ok(())
}

async fn insert_chunked<E, A>(tx: &WriteTx, rows: Vec<A>) -> Result<(), StoreError>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        E::insert_many(chunk).exec_without_returning(tx).await?;
    }
    Ok(())
}
