//! One audit entry as one value: who did what to which user and credential, how it ended, and
//! any extra facts. Built where the decision is made and appended in the same unit of work as
//! the change it records, or alone for a refusal that changed nothing.

use chrono::{DateTime, Utc};
use mamori_crypto::CheckpointSigner;
use mamori_domain::{AuditOutcome, ErrorCode, Operation};
use mamori_store::account_mac::AccountMac;
use mamori_store::audit::{AuditKey, NewAuditEvent, PLATFORM_TENANT};
use mamori_store::sealer::{self, Sealed};
use mamori_store::{StoreError, WriteTx};
use serde_json::Value;

use crate::core::{Actor, BankCaller, Core, RequestMeta};
use crate::error::ServiceError;

/// An entry for a bank's (or the platform's) audit trail.
#[derive(Debug, Clone)]
pub(crate) struct AuditEntry {
    event: NewAuditEvent,
    at: DateTime<Utc>,
}

impl AuditEntry {
    fn new(
        tenant: &str,
        actor: String,
        meta: Option<&RequestMeta>,
        op: Operation,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            event: NewAuditEvent {
                tenant_id: tenant.to_owned(),
                actor,
                operation: op,
                outcome: AuditOutcome::Success,
                error_code: None,
                user_id: None,
                credential_id: None,
                request_id: meta.and_then(|m| m.request_id.clone()),
                client_addr: meta.and_then(|m| m.client_addr.clone()),
                details: None,
            },
            at,
        }
    }

    /// Done at a bank by its system (`bank:<api key id>`) or by an operator
    /// (`operator:<login>`, with the reason in the details), in the bank's trail.
    pub(crate) fn bank(
        caller: &BankCaller,
        meta: &RequestMeta,
        op: Operation,
        at: DateTime<Utc>,
    ) -> Self {
        let tenant = caller.tenant_id.as_str();
        match &caller.actor {
            Actor::ApiKey(key_id) => {
                Self::new(tenant, format!("bank:{key_id}"), Some(meta), op, at)
            }
            Actor::Operator { login, reason } => {
                Self::new(tenant, format!("operator:{login}"), Some(meta), op, at)
                    .details(serde_json::json!({ "reason": reason }))
            }
        }
    }

    /// Done by a customer's token (no key), in `tenant`'s trail.
    pub(crate) fn token(
        tenant: &str,
        meta: &RequestMeta,
        op: Operation,
        at: DateTime<Utc>,
    ) -> Self {
        Self::new(tenant, "token".into(), Some(meta), op, at)
    }

    /// Done by a customer's token in the platform's trail (no bank involved).
    pub(crate) fn platform_token(meta: &RequestMeta, op: Operation, at: DateTime<Utc>) -> Self {
        Self::token(PLATFORM_TENANT, meta, op, at)
    }

    /// Done by a platform operator, in `tenant`'s trail.
    pub(crate) fn operator(
        operator: &str,
        tenant: &str,
        meta: &RequestMeta,
        op: Operation,
        at: DateTime<Utc>,
    ) -> Self {
        Self::new(tenant, format!("operator:{operator}"), Some(meta), op, at)
    }

    /// Done by Mamori itself (an expiry, an alert), in `tenant`'s trail.
    pub(crate) fn system(tenant: &str, op: Operation, at: DateTime<Utc>) -> Self {
        Self::new(tenant, "system".into(), None, op, at)
    }

    /// The bank user concerned.
    pub(crate) fn user(mut self, user_id: &str) -> Self {
        self.event.user_id = Some(user_id.to_owned());
        self
    }

    /// The credential concerned.
    pub(crate) fn credential(mut self, credential_id: &str) -> Self {
        self.event.credential_id = Some(credential_id.to_owned());
        self
    }

    /// The credential concerned, when known.
    pub(crate) fn credential_opt(self, credential_id: Option<&str>) -> Self {
        match credential_id {
            Some(id) => self.credential(id),
            None => self,
        }
    }

    /// Extra facts (never a secret, code or password); objects given twice are merged.
    pub(crate) fn details(mut self, facts: Value) -> Self {
        self.event.details = match (self.event.details.take(), facts) {
            (Some(Value::Object(mut a)), Value::Object(b)) => {
                a.extend(b);
                Some(Value::Object(a))
            }
            (_, facts) => Some(facts),
        };
        self
    }

    /// Extra facts when there are any.
    pub(crate) fn details_opt(self, facts: Option<Value>) -> Self {
        match facts {
            Some(facts) => self.details(facts),
            None => self,
        }
    }

    /// It ended in this refusal.
    pub(crate) fn failed(self, err: &ServiceError) -> Self {
        self.failed_with(err.code())
    }

    /// It ended in a refusal with this code.
    pub(crate) fn failed_with(mut self, code: ErrorCode) -> Self {
        self.event.outcome = AuditOutcome::Failure;
        self.event.error_code = Some(code.as_str().to_owned());
        self
    }

    /// An alert: marked as a failure that no request caused, with no error code.
    pub(crate) fn alert(mut self) -> Self {
        self.event.outcome = AuditOutcome::Failure;
        self
    }

    /// It ended as `outcome` says.
    pub(crate) fn outcome(self, outcome: Result<(), &ServiceError>) -> Self {
        match outcome {
            Ok(()) => self,
            Err(err) => self.failed(err),
        }
    }

    /// The entry as the store takes it (its time is the store's to truncate).
    pub(crate) fn into_event(self) -> NewAuditEvent {
        self.event
    }

    /// Appends the entry inside `tx`, after the unit's other writes (it locks the trail's head
    /// until commit).
    pub(crate) async fn append(self, tx: &WriteTx) -> Result<(), ServiceError> {
        tx.append_audit(vec![self.event], self.at).await?;
        Ok(())
    }
}

/// Appends `entries`, all of one trail, with one move of its head (see
/// [`mamori_store::audit::append_all`]).
pub(crate) async fn append_all(tx: &WriteTx, entries: Vec<AuditEntry>) -> Result<(), ServiceError> {
    let Some(at) = entries.first().map(|e| e.at) else {
        return Ok(());
    };
    tx.append_audit(entries.into_iter().map(|e| e.event).collect(), at)
        .await?;
    Ok(())
}

/// The purpose of the trail's key (an HKDF subkey; see [`mamori_crypto::Keyring::subkey`]).
const AUDIT_KEY_PURPOSE: &str = "mamori/audit-chain/v1";

/// The purpose of the account rows' MAC key (bindings, device keys, API keys).
const ACCOUNT_MAC_PURPOSE: &str = "mamori/account-mac/v1";

/// The purpose of the seed of the key that signs checkpoints.
const CHECKPOINT_KEY_PURPOSE: &str = "mamori/audit-checkpoint/v1";

impl Core {
    /// Loads the trail's key into the database handle the first time this process audits
    /// (every later call is one atomic read): no entry is written, sealed or checked without it.
    pub(crate) async fn audit_key_ready(&self) -> Result<(), ServiceError> {
        // A command without the master key may still write what is not audited; an audit
        // entry it tried to write would be refused for want of the key.
        if !self.db().has_audit_key() && !self.keyring().is_stand_in() {
            let key = crate::keys::subkey(self, AUDIT_KEY_PURPOSE).await?;
            self.db().install_audit_key(AuditKey::new(key));
        }
        Ok(())
    }

    /// The account rows' MAC key, loaded into the database handle the first time (every later
    /// call is one atomic read, in memory): no binding, device key or API key is written or
    /// trusted without it.
    pub(crate) async fn account_mac(&self) -> Result<&AccountMac, ServiceError> {
        if !self.db().has_account_mac() {
            let key = crate::keys::subkey(self, ACCOUNT_MAC_PURPOSE).await?;
            self.db().install_account_mac(AccountMac::new(key));
        }
        Ok(self.db().account_mac()?)
    }

    /// The key that signs this deployment's checkpoints.
    pub(crate) async fn checkpoint_signer(&self) -> Result<CheckpointSigner, ServiceError> {
        let seed = crate::keys::subkey(self, CHECKPOINT_KEY_PURPOSE).await?;
        Ok(CheckpointSigner::from_seed(seed))
    }

    /// Links `tenant`'s waiting entries into its chain, so a read of the trail after this sees
    /// every entry committed before it.
    pub(crate) async fn seal_audit(&self, tenant: &str) -> Result<(), ServiceError> {
        self.audit_key_ready().await?;
        match sealer::seal_tenant(self.db(), tenant, self.now()).await {
            Ok(sealed) => warn_of_refusals(&sealed),
            // What is sealed stays readable, and its check says the chain is not keyed; the
            // waiting entries wait for an operator.
            Err(StoreError::Unkeyed(_)) => {}
            Err(err) => return Err(err.into()),
        }
        Ok(())
    }

    /// Appends `entry` on its own (a refusal that changed nothing else): one statement.
    pub(crate) async fn record_alone(&self, entry: AuditEntry) -> Result<(), ServiceError> {
        self.audit_key_ready().await?;
        self.db()
            .append_audit_alone(vec![entry.event], entry.at)
            .await?;
        Ok(())
    }

    /// Audits `err` as the end of `entry`, alone, and returns it.
    pub(crate) async fn refuse<T>(
        &self,
        entry: AuditEntry,
        err: ServiceError,
    ) -> Result<T, ServiceError> {
        self.record_alone(entry.failed(&err)).await?;
        Err(err)
    }
}

/// Says in the log what the sealer refused or re-linked: a refused entry means someone wrote
/// the trail without the key.
pub(crate) fn warn_of_refusals(sealed: &Sealed) {
    if sealed.refused > 0 {
        tracing::error!(
            refused = sealed.refused,
            "audit entries written without the trail's key were refused; each is in the trail as refuseAuditEntry"
        );
    }
    if sealed.relinked > 0 {
        tracing::info!(
            relinked = sealed.relinked,
            "an audit chain written before the trail was keyed was checked and re-linked with the key"
        );
    }
}
