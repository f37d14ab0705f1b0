//! A bank's own audit trail, read in pages, and the check of its hash chain.

use chrono::{DateTime, Utc};
use mamori_domain::{AuditOutcome, Operation, TenantId};
use mamori_store::audit::{self, AuditEvent, ChainCheck};
use mamori_store::chain;
use mamori_store::sealer::{self, Sealed};

use mamori_crypto::Checkpoint;

use crate::core::audit::warn_of_refusals;
use crate::core::{BankCaller, Core};
use crate::error::ServiceError;

/// How often `mamori serve` links waiting audit entries into their chains: the longest an
/// entry waits while the database is reachable (plus one run). Each run locks and moves the
/// chain head of every bank with entries waiting, so at 250 banks a run every 200 ms cost about
/// one head update per check (bench/profile.py); once a second the heads cost a fifth of that,
/// and every read of a trail seals first, so no reader sees the wait.
pub const SEAL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

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

/// What a checkpoint says of its chain now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointStatus {
    /// The chain still holds the checkpoint's link at its sequence number: nothing up to it
    /// was changed, removed or cut.
    Holds,
    /// The chain no longer reaches the checkpoint's sequence number: it was cut back.
    Cut,
    /// The chain holds another link there: entries up to it were rewritten.
    Changed,
    /// The checkpoint itself cannot be trusted (another deployment's, or edited): why.
    NotOurs(String),
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
        self.core.audit_key_ready().await?;
        let sealed = sealer::seal_all(self.core.db(), self.core.now()).await?;
        warn_of_refusals(&sealed);
        Ok(sealed)
    }

    /// Loads the trail's key into the database handle, for a tool that writes audit entries
    /// through the store itself (`mamori seed`); every service loads it on its own.
    pub async fn load_key(&self) -> Result<(), ServiceError> {
        self.core.audit_key_ready().await
    }

    /// The trails written before the trail was keyed and not yet re-linked: `mamori serve`
    /// refuses to start while there are any.
    pub async fn unkeyed_trails(&self) -> Result<Vec<String>, ServiceError> {
        Ok(sealer::unkeyed(self.core.db()).await?)
    }

    /// Checks every chain written before the trail was keyed with its old unkeyed hash and
    /// re-links it with the key, each with a `keyAuditChain` entry, and seals what waited from
    /// before the upgrade; returns what it did per trail. A chain that does not check is left
    /// as it is (the error names it). For an operator, once, at the upgrade.
    pub async fn rekey(&self) -> Result<Vec<(String, Sealed)>, ServiceError> {
        self.core.audit_key_ready().await?;
        Ok(sealer::relink_all(self.core.db(), self.core.now()).await?)
    }

    /// Every trail that has entries, by its ID (a bank's, or `platform`).
    pub async fn trails(&self) -> Result<Vec<String>, ServiceError> {
        self.seal_all().await?;
        Ok(chain::chains(self.core.db()).await?)
    }

    /// The public key (Ed25519, base64url) this deployment signs checkpoints with.
    pub async fn checkpoint_key(&self) -> Result<String, ServiceError> {
        Ok(self.core.checkpoint_signer().await?.public_key())
    }

    /// Signed checkpoints of `trails`' heads as they are now, after sealing what waits: kept
    /// outside the database, they show later whether a chain was cut back (see
    /// [`Self::check_checkpoints`]). A trail with no entries has none.
    pub async fn checkpoints(&self, trails: &[String]) -> Result<Vec<Checkpoint>, ServiceError> {
        let signer = self.core.checkpoint_signer().await?;
        let signed_at = self
            .core
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut checkpoints = Vec::with_capacity(trails.len());
        for trail in trails {
            self.core.seal_audit(trail).await?;
            if let Some((seq, link)) = chain::chain_head(self.core.db(), trail).await? {
                checkpoints.push(signer.sign(trail, seq, &link, &signed_at));
            }
        }
        Ok(checkpoints)
    }

    /// Compares each checkpoint with its chain as it is now: signed by this deployment and
    /// unchanged, with the chain still holding the same link at its sequence number.
    pub async fn check_checkpoints(
        &self,
        checkpoints: &[Checkpoint],
    ) -> Result<Vec<CheckpointStatus>, ServiceError> {
        let key = self.checkpoint_key().await?;
        let mut found = Vec::with_capacity(checkpoints.len());
        for checkpoint in checkpoints {
            if let Err(err) = checkpoint.verify(&key) {
                found.push(CheckpointStatus::NotOurs(err.to_string()));
                continue;
            }
            self.core.seal_audit(&checkpoint.bank).await?;
            let link = chain::chain_link(self.core.db(), &checkpoint.bank, checkpoint.seq).await?;
            found.push(match link {
                None => CheckpointStatus::Cut,
                Some(link) if link == checkpoint.link => CheckpointStatus::Holds,
                Some(_) => CheckpointStatus::Changed,
            });
        }
        Ok(found)
    }

    /// Recomputes a bank's audit hash chain.
    pub async fn verify_audit_chain(
        &self,
        tenant_id: &TenantId,
    ) -> Result<ChainStatus, ServiceError> {
        self.core.seal_audit(tenant_id.as_str()).await?;
        Ok(
            chain::verify_audit_chain(self.core.db(), tenant_id.as_str())
                .await?
                .into(),
        )
    }
}
