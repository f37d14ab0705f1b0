//! Tenants (banks) and the policies their config files declare.

use chrono::{DateTime, Utc};
use mamori_domain::TenantId;
use mamori_domain::tenant_config::TenantConfig;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::db::Database;
use crate::entities::{tenants, users};
use crate::error::StoreError;

/// A tenant as stored.
#[derive(Debug, Clone)]
pub struct TenantRecord {
    /// The bank's ID.
    pub id: TenantId,
    /// The bank's configuration (names and policies) as last applied.
    pub config: TenantConfig,
    /// Number of contract users the bank has.
    pub user_count: u64,
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
}

/// The result of applying one tenant config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedTenant {
    /// The bank's ID.
    pub id: String,
    /// What happened to it.
    pub change: TenantChange,
}

impl Database {
    /// Inserts or updates one tenant per config, in one transaction so a node starting beside
    /// another never sees half the banks. Tenants that are in the database but not in
    /// `configs` are left alone: they may have users, and operators may have created them.
    pub async fn apply_tenant_configs(
        &self,
        configs: &[TenantConfig],
        now: DateTime<Utc>,
    ) -> Result<Vec<AppliedTenant>, StoreError> {
        let txn = self.write().await?;
        let mut applied = Vec::with_capacity(configs.len());
        for config in configs {
            let policy = serde_json::to_string(config)
                .map_err(|e| StoreError::Corrupt(format!("tenant {}: {e}", config.id)))?;
            let existing = tenants::Entity::find_by_id(config.id.clone())
                .one(&txn)
                .await?;
            let change = match &existing {
                None => TenantChange::Inserted,
                Some(row) if stored_config(row).as_ref() == Some(config) => TenantChange::Unchanged,
                Some(_) => TenantChange::Updated,
            };
            if change != TenantChange::Unchanged {
                let row = tenants::ActiveModel {
                    id: Set(config.id.clone()),
                    name_ja: Set(config.name_ja.clone()),
                    name_en: Set(config.name_en.clone()),
                    policy: Set(policy),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                tenants::Entity::insert(row)
                    .on_conflict(
                        OnConflict::column(tenants::Column::Id)
                            .update_columns([
                                tenants::Column::NameJa,
                                tenants::Column::NameEn,
                                tenants::Column::Policy,
                                tenants::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .exec(&txn)
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

    /// All tenants, by ID.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows = tenants::Entity::find()
            .order_by_asc(tenants::Column::Id)
            .all(self.connection())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.record(row).await?);
        }
        Ok(out)
    }

    /// One tenant, if it exists.
    pub async fn find_tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        match tenants::Entity::find_by_id(id.as_str().to_owned())
            .one(self.connection())
            .await?
        {
            Some(row) => Ok(Some(self.record(row).await?)),
            None => Ok(None),
        }
    }

    /// One tenant's configuration (names and policies), without counting its users: the
    /// read on every bank request.
    pub async fn find_tenant_config(
        &self,
        id: &TenantId,
    ) -> Result<Option<TenantConfig>, StoreError> {
        let Some(row) = tenants::Entity::find_by_id(id.as_str().to_owned())
            .one(self.connection())
            .await?
        else {
            return Ok(None);
        };
        stored_config(&row)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("tenant {}: unreadable policy", row.id)))
    }

    async fn record(&self, row: tenants::Model) -> Result<TenantRecord, StoreError> {
        let id = TenantId::parse(&row.id)
            .map_err(|e| StoreError::Corrupt(format!("tenant id {:?}: {e}", row.id)))?;
        let config = stored_config(&row)
            .ok_or_else(|| StoreError::Corrupt(format!("tenant {}: unreadable policy", row.id)))?;
        let user_count = users::Entity::find()
            .filter(users::Column::TenantId.eq(row.id.clone()))
            .count(self.connection())
            .await?;
        Ok(TenantRecord {
            id,
            config,
            user_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The stored config, or `None` when it was written by a version whose shape this one cannot
/// read (then applying the file rewrites it).
fn stored_config(row: &tenants::Model) -> Option<TenantConfig> {
    serde_json::from_str(&row.policy).ok()
}
