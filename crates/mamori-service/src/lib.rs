//! Mamori's use cases, free of HTTP: what a bank, a token or an operator can ask for, with every
//! rule applied and every state change made atomically through the store.
//!
//! Time comes from the injected [`Clock`], never from the system.

use std::sync::Arc;

use mamori_domain::Clock;
use mamori_domain::tenant_config::TenantConfig;
use mamori_store::{AppliedTenant, Database, StoreError, TenantRecord};

mod error;

pub use error::ServiceError;

/// Everything the use cases need, shared by all requests.
#[derive(Debug, Clone)]
pub struct Services {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl Services {
    /// Wires the use cases to a database and a clock.
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// The database behind the services.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The clock the services read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether the service can do its work: the database answers.
    pub async fn check_ready(&self) -> Result<(), ServiceError> {
        self.db.ping().await.map_err(ServiceError::from)
    }

    /// Applies the banks' config files: inserts new banks, updates changed ones, never drops
    /// one (see [`Database::apply_tenant_configs`]).
    pub async fn apply_tenant_configs(
        &self,
        configs: &[TenantConfig],
    ) -> Result<Vec<AppliedTenant>, ServiceError> {
        let now = self.clock.now();
        Ok(self.db.apply_tenant_configs(configs, now).await?)
    }

    /// All banks.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRecord>, ServiceError> {
        Ok(self.db.list_tenants().await?)
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(e) => ServiceError::Unavailable(e.to_string()),
            StoreError::Conflict(e) => ServiceError::Internal(e.to_string()),
            StoreError::Corrupt(e) => ServiceError::Internal(e),
        }
    }
}
