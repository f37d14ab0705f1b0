//! The bank's own audit trail, and the chain check.

use mamori_domain::TenantId;
use mamori_store::audit::{AuditEvent, ChainCheck};

use crate::{BankCaller, ServiceError, Services};

/// The largest page of audit events.
pub const MAX_AUDIT_PAGE: u64 = 200;

impl Services {
    /// A page of the caller's audit events, newest first. `before` is the previous page's
    /// cursor (the smallest sequence number it held).
    pub async fn list_audit_events(
        &self,
        caller: &BankCaller,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, ServiceError> {
        Ok(self
            .db()
            .list_audit_events(
                caller.tenant_id.as_str(),
                before,
                limit.clamp(1, MAX_AUDIT_PAGE),
            )
            .await?)
    }

    /// Recomputes a bank's audit hash chain.
    pub async fn verify_audit_chain(
        &self,
        tenant_id: &TenantId,
    ) -> Result<ChainCheck, ServiceError> {
        Ok(self.db().verify_audit_chain(tenant_id.as_str()).await?)
    }
}
