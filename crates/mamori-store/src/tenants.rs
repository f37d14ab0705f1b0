//! Tenants (banks): declared by config files (file-managed, re-applied at every start) or
//! created in the admin console (admin-managed, with a policy version history); suspended and
//! resumed by the platform operator.

use chrono::{DateTime, Utc};
use mamori_domain::tenant_config::TenantConfig;
use mamori_domain::{ManagedBy, TenantId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::db::Database;
use crate::entities::{tenant_policy_versions, tenants, users};
use crate::error::StoreError;

/// A tenant as stored.
#[derive(Debug, Clone)]
pub struct TenantRecord {
    /// The bank's ID.
    pub id: TenantId,
    /// The bank's configuration (names and policies) as last applied.
    pub config: TenantConfig,
    /// Where the configuration lives.
    pub managed_by: ManagedBy,
    /// For a file-managed bank, its file in `tenant-configs/`.
    pub config_file: Option<String>,
    /// When the platform operator suspended the bank, if it is suspended.
    pub suspended_at: Option<DateTime<Utc>>,
    /// The policy's version (admin-managed banks count their edits from 1).
    pub policy_version: i32,
    /// Number of contract users the bank has (counted for one bank's page, not in lists).
    pub user_count: Option<u64>,
    /// When the tenant was first created.
    pub created_at: DateTime<Utc>,
    /// When its configuration last changed.
    pub updated_at: DateTime<Utc>,
}

/// What applying one config file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantChange {
    /// A new tenant.
    Inserted,
    /// An existing tenant whose configuration changed.
    Updated,
    /// An existing tenant with the same configuration.
    Unchanged,
    /// The bank was created in the admin console: the file was not applied, because a restart
    /// must never silently undo an edit made there.
    AdminManaged,
}

/// The result of applying one tenant config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedTenant {
    /// The bank's ID.
    pub id: String,
    /// What happened to it.
    pub change: TenantChange,
}

/// One saved version of an admin-managed bank's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// From 1.
    pub version: i32,
    /// The whole config as saved.
    pub config: TenantConfig,
    /// Who saved it (`operator:<login>`).
    pub changed_by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn config_json(config: &TenantConfig) -> Result<String, StoreError> {
    serde_json::to_string(config)
        .map_err(|e| StoreError::Corrupt(format!("tenant {}: {e}", config.id)))
}

impl Database {
    /// Inserts or updates one file-managed tenant per config, in one transaction so a node
    /// starting beside another never sees half the banks. Tenants that are in the database but
    /// not in `configs` are left alone: they may have users, and operators may have created
    /// them. A config naming an admin-managed bank is not applied (see
    /// [`TenantChange::AdminManaged`]).
    pub async fn apply_tenant_configs(
        &self,
        configs: &[TenantConfig],
        now: DateTime<Utc>,
    ) -> Result<Vec<AppliedTenant>, StoreError> {
        let txn = self.write().await?;
        let mut applied = Vec::with_capacity(configs.len());
        for config in configs {
            let policy = config_json(config)?;
            let existing = tenants::Entity::find_by_id(config.id.clone())
                .one(&txn)
                .await?;
            let file = format!("{}.toml", config.id);
            let change = match &existing {
                None => TenantChange::Inserted,
                Some(row) if row.managed_by == ManagedBy::Admin => TenantChange::AdminManaged,
                Some(row)
                    if stored_config(row).as_ref() == Some(config)
                        && row.config_file.as_deref() == Some(file.as_str()) =>
                {
                    TenantChange::Unchanged
                }
                Some(_) => TenantChange::Updated,
            };
            if matches!(change, TenantChange::Inserted | TenantChange::Updated) {
                let row = tenants::ActiveModel {
                    id: Set(config.id.clone()),
                    name_ja: Set(config.name_ja.clone()),
                    name_en: Set(config.name_en.clone()),
                    policy: Set(policy),
                    created_at: Set(now),
                    updated_at: Set(now),
                    managed_by: Set(ManagedBy::File),
                    config_file: Set(Some(file)),
                    suspended_at: Set(None),
                    policy_version: Set(1),
                };
                tenants::Entity::insert(row)
                    .on_conflict(
                        OnConflict::column(tenants::Column::Id)
                            .update_columns([
                                tenants::Column::NameJa,
                                tenants::Column::NameEn,
                                tenants::Column::Policy,
                                tenants::Column::UpdatedAt,
                                tenants::Column::ConfigFile,
                            ])
                            .action_and_where(tenants::Column::ManagedBy.eq(ManagedBy::File))
                            .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
            }
            applied.push(AppliedTenant {
                id: config.id.clone(),
                change,
            });
        }
        txn.commit().await?;
        Ok(applied)
    }

    /// Every bank, by ID.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows = tenants::Entity::find()
            .order_by_asc(tenants::Column::Id)
            .all(self)
            .await?;
        rows.into_iter().map(|row| record(row, None)).collect()
    }

    /// One bank.
    pub async fn find_tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        match tenants::Entity::find_by_id(id.as_str().to_owned())
            .one(self)
            .await?
        {
            Some(row) => {
                let user_count = users::Entity::find()
                    .filter(users::Column::TenantId.eq(row.id.clone()))
                    .count(self)
                    .await?;
                Ok(Some(record(row, Some(user_count))?))
            }
            None => Ok(None),
        }
    }

    /// A bank's configuration.
    pub async fn find_tenant_config(
        &self,
        id: &TenantId,
    ) -> Result<Option<TenantConfig>, StoreError> {
        let Some(row) = tenants::Entity::find_by_id(id.as_str().to_owned())
            .one(self)
            .await?
        else {
            return Ok(None);
        };
        stored_config(&row)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("tenant {}: unreadable policy", row.id)))
    }
}

fn record(row: tenants::Model, user_count: Option<u64>) -> Result<TenantRecord, StoreError> {
    let id = TenantId::parse(&row.id)
        .map_err(|e| StoreError::Corrupt(format!("tenant id {:?}: {e}", row.id)))?;
    let config = stored_config(&row)
        .ok_or_else(|| StoreError::Corrupt(format!("tenant {}: unreadable policy", row.id)))?;
    Ok(TenantRecord {
        id,
        config,
        managed_by: row.managed_by,
        config_file: row.config_file,
        suspended_at: row.suspended_at,
        policy_version: row.policy_version,
        user_count,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Every bank's ID (cheap: no policy is read).
pub async fn tenant_ids<C: ConnectionTrait>(conn: &C) -> Result<Vec<TenantId>, StoreError> {
    tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .order_by_asc(tenants::Column::Id)
        .into_tuple::<String>()
        .all(conn)
        .await?
        .into_iter()
        .map(|id| {
            TenantId::parse(&id).map_err(|e| StoreError::Corrupt(format!("tenant id {id:?}: {e}")))
        })
        .collect()
}

/// Creates an admin-managed bank with its first policy version. A bank with this ID is a
/// `Conflict`.
pub async fn insert_admin_tenant<C: ConnectionTrait>(
    conn: &C,
    config: &TenantConfig,
    changed_by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tenants::Entity::insert(tenants::ActiveModel {
        id: Set(config.id.clone()),
        name_ja: Set(config.name_ja.clone()),
        name_en: Set(config.name_en.clone()),
        policy: Set(config_json(config)?),
        created_at: Set(now),
        updated_at: Set(now),
        managed_by: Set(ManagedBy::Admin),
        config_file: Set(None),
        suspended_at: Set(None),
        policy_version: Set(1),
    })
    .exec_without_returning(conn)
    .await?;
    insert_version(conn, config, 1, changed_by, reason, now).await
}

/// Saves a new policy of an admin-managed bank, conditional on the version the editor started
/// from: an edit made meanwhile by someone else wins, and this one returns `false`.
pub async fn update_admin_policy<C: ConnectionTrait>(
    conn: &C,
    config: &TenantConfig,
    from_version: i32,
    changed_by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = tenants::Entity::update_many()
        .col_expr(tenants::Column::NameJa, Expr::value(config.name_ja.clone()))
        .col_expr(tenants::Column::NameEn, Expr::value(config.name_en.clone()))
        .col_expr(tenants::Column::Policy, Expr::value(config_json(config)?))
        .col_expr(
            tenants::Column::PolicyVersion,
            Expr::value(from_version + 1),
        )
        .col_expr(tenants::Column::UpdatedAt, Expr::value(now))
        .filter(tenants::Column::Id.eq(config.id.clone()))
        .filter(tenants::Column::ManagedBy.eq(ManagedBy::Admin))
        .filter(tenants::Column::PolicyVersion.eq(from_version))
        .exec(conn)
        .await?;
    if moved.rows_affected != 1 {
        return Ok(false);
    }
    insert_version(conn, config, from_version + 1, changed_by, reason, now).await?;
    Ok(true)
}

async fn insert_version<C: ConnectionTrait>(
    conn: &C,
    config: &TenantConfig,
    version: i32,
    changed_by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tenant_policy_versions::Entity::insert(tenant_policy_versions::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        tenant_id: Set(config.id.clone()),
        version: Set(version),
        policy: Set(config_json(config)?),
        changed_by: Set(changed_by.to_owned()),
        reason: Set(reason.to_owned()),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// An admin-managed bank's policy versions, newest first.
pub async fn policy_versions<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<PolicyVersion>, StoreError> {
    tenant_policy_versions::Entity::find()
        .filter(tenant_policy_versions::Column::TenantId.eq(tenant_id))
        .order_by_desc(tenant_policy_versions::Column::Version)
        .all(conn)
        .await?
        .into_iter()
        .map(|row| {
            let config = serde_json::from_str(&row.policy).map_err(|e| {
                StoreError::Corrupt(format!(
                    "tenant {} version {}: {e}",
                    row.tenant_id, row.version
                ))
            })?;
            Ok(PolicyVersion {
                version: row.version,
                config,
                changed_by: row.changed_by,
                reason: row.reason,
                created_at: row.created_at,
            })
        })
        .collect()
}

/// Suspends (`Some(now)`) or resumes (`None`) a bank; returns whether its state changed.
pub async fn set_suspended<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    suspended_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let update = tenants::Entity::update_many()
        .col_expr(tenants::Column::SuspendedAt, Expr::value(suspended_at))
        .col_expr(tenants::Column::UpdatedAt, Expr::value(now))
        .filter(tenants::Column::Id.eq(tenant_id));
    let update = match suspended_at {
        Some(_) => update.filter(tenants::Column::SuspendedAt.is_null()),
        None => update.filter(tenants::Column::SuspendedAt.is_not_null()),
    };
    Ok(update.exec(conn).await?.rows_affected == 1)
}

/// Whether a bank is suspended (`None`: no such bank).
pub async fn is_suspended<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Option<bool>, StoreError> {
    Ok(tenants::Entity::find_by_id(tenant_id.to_owned())
        .one(conn)
        .await?
        .map(|row| row.suspended_at.is_some()))
}

fn stored_config(row: &tenants::Model) -> Option<TenantConfig> {
    serde_json::from_str(&row.policy).ok()
}
