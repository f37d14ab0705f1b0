//! The banks (tenants) on the platform: applied from their config files, listed.

use mamori_domain::TenantId;
use mamori_domain::tenant_config::TenantConfig;
use mamori_store::{AppliedTenant, TenantRecord};

use crate::core::Core;
use crate::error::ServiceError;

/// The banks.
#[derive(Debug, Clone)]
pub struct Tenants {
    core: Core,
}

impl Tenants {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// Applies the banks' config files: inserts new banks, updates changed ones, never drops
    /// one (see [`mamori_store::Database::apply_tenant_configs`]).
    pub async fn apply_tenant_configs(
        &self,
        configs: &[TenantConfig],
    ) -> Result<Vec<AppliedTenant>, ServiceError> {
        let applied = self
            .core
            .db()
            .apply_tenant_configs(configs, self.core.now())
            .await?;
        self.core.forget_banks();
        Ok(applied)
    }

    /// All banks.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRecord>, ServiceError> {
        Ok(self.core.db().list_tenants().await?)
    }

    /// Whether the bank is in the database (applied from a file, or created in the console).
    pub async fn exists(&self, id: &TenantId) -> Result<bool, ServiceError> {
        Ok(self.core.db().find_tenant(id).await?.is_some())
    }
}
