//! A bank's own audit trail, read in pages, and the check of its hash chain.

use chrono::{DateTime, Utc};
use mamori_domain::{AuditOutcome, Operation, TenantId};
use mamori_store::audit::{self, AuditEvent, ChainCheck};
use mamori_store::sealer::{self, Sealed};

use crate::core::{BankCaller, Core};
use crate::error::ServiceError;

/// How often `mamori serve` links waiting audit entries into their chains: the longest an
/// entry waits while the database is reachable (plus one run).
pub const SEAL_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// The largest page of audit events.
pub const MAX_AUDIT_PAGE: u64 = 200;

/// One entry of a trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in its trail's chain, from 1.
    pub seq: i64,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who acted: `bank:<api key id>`, `token`, `operator:<name>`, `system`.
    pub actor: String,
    /// What was done.
    pub operation: Operation,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The error code of a failure.
    pub error_code: Option<String>,
    /// The bank user concerned.
    pub user_id: Option<String>,
    /// The credential concerned.
    pub credential_id: Option<String>,
    /// The request's ID.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// Extra facts as JSON text.
    pub details: Option<String>,
    /// This entry's hash.
    pub hash: String,
}

impl From<AuditEvent> for AuditRecord {
    fn from(e: AuditEvent) -> Self {
        Self {
            seq: e.seq,
            occurred_at: e.occurred_at,
            actor: e.actor,
            operation: e.operation,
            outcome: e.outcome,
            error_code: e.error_code,
            user_id: e.user_id,
            credential_id: e.credential_id,
            request_id: e.request_id,
            client_addr: e.client_addr,
            details: e.details,
            hash: e.hash,
        }
    }
}

/// What a check of a trail's hash chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// Every entry links to its predecessor and the head matches the last entry.
    Intact {
        /// Entries checked.
        entries: u64,
    },
    /// The chain is broken.
    Broken {
        /// The first sequence number that does not check out.
        at_seq: i64,
        /// Why.
        reason: String,
    },
}

impl From<ChainCheck> for ChainStatus {
    fn from(check: ChainCheck) -> Self {
        match check {
            ChainCheck::Intact { entries } => Self::Intact { entries },
            ChainCheck::Broken { at_seq, reason } => Self::Broken { at_seq, reason },
        }
    }
}

/// The audit trails.
#[derive(Debug, Clone)]
pub struct AuditTrail {
    core: Core,
}

impl AuditTrail {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// A page of the caller's audit events, newest first. `before` is the previous page's
    /// cursor (the smallest sequence number it held).
    pub async fn list_audit_events(
        &self,
        caller: &BankCaller,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, ServiceError> {
        self.core.seal_audit(caller.tenant_id.as_str()).await?;
        Ok(audit::list_audit_events(
            self.core.db(),
            caller.tenant_id.as_str(),
            before,
            limit.clamp(1, MAX_AUDIT_PAGE),
        )
        .await?
        .into_iter()
        .map(AuditRecord::from)
        .collect())
    }

    /// Links every bank's waiting entries into their chains (`mamori serve` runs this every
    /// [`SEAL_EVERY`]); returns how many it linked and when the oldest of them happened.
    pub async fn seal_all(&self) -> Result<Sealed, ServiceError> {
        Ok(sealer::seal_all(self.core.db()).await?)
    }

    /// Recomputes a bank's audit hash chain.
    pub async fn verify_audit_chain(
        &self,
        tenant_id: &TenantId,
    ) -> Result<ChainStatus, ServiceError> {
        self.core.seal_audit(tenant_id.as_str()).await?;
        Ok(
            audit::verify_audit_chain(self.core.db(), tenant_id.as_str())
                .await?
                .into(),
        )
    }
}
