//! The small core every area stands on: the database, the clock, the master keys and the
//! configured rate limits, with the few lookups every bank-facing use case starts with (the
//! caller's user, the bank's policy) and the audit entry ([`audit::AuditEntry`]).
//!
//! Areas hold a `Core` (cheap to clone) and never each other's internals; time comes only from
//! the injected [`Clock`].

pub(crate) mod audit;
pub(crate) mod codes;
pub(crate) mod counting;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mamori_crypto::{Keyring, SealedSecret};
use mamori_domain::policy::TenantPolicy;
use mamori_domain::tenant_config::TenantConfig;
use mamori_domain::{Clock, ErrorCode, RateLimit, TenantId};
use mamori_otp::Secret;
use mamori_store::api_keys::ApiKeyRow;
use mamori_store::credentials::CredentialRow;
use mamori_store::users::{self, UserRow};
use mamori_store::{Database, WriteTx, limits};

use crate::error::ServiceError;

/// Who acts at a bank: its system with an API key, or a platform operator helping one of its
/// customers (every operator action carries a reason for the bank's audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankCaller {
    /// The bank.
    pub tenant_id: TenantId,
    /// Who is acting.
    pub actor: Actor,
}

/// The one acting at a bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The bank's system, by the id of its API key (never the key).
    ApiKey(String),
    /// A platform operator in the admin console.
    Operator {
        /// The operator's login name.
        login: String,
        /// Why, as the operator typed it.
        reason: String,
    },
}

impl BankCaller {
    /// The bank's own system.
    pub fn with_api_key(tenant_id: TenantId, api_key_id: impl Into<String>) -> Self {
        Self {
            tenant_id,
            actor: Actor::ApiKey(api_key_id.into()),
        }
    }

    /// An operator acting at `tenant_id` for `reason`.
    pub fn operator(tenant_id: TenantId, login: &str, reason: &str) -> Self {
        Self {
            tenant_id,
            actor: Actor::Operator {
                login: login.to_owned(),
                reason: reason.to_owned(),
            },
        }
    }
}

/// Facts about the request that go into the audit trail.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The request's ID.
    pub request_id: Option<String>,
    /// The client's address (for the audit trail).
    pub client_addr: Option<String>,
    /// The client as rate limits count it (an IPv6 client by its /64); the address when unset.
    pub client_key: Option<String>,
}

impl RequestMeta {
    /// The client as a rate-limit key part.
    pub(crate) fn client(&self) -> &str {
        self.client_key
            .as_deref()
            .or(self.client_addr.as_deref())
            .unwrap_or("unknown")
    }
}

/// The rate limits of the routes that have them, shared by every node through the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// provisionCredential per client: every request counts, since each one makes a
    /// credential.
    pub keyless_per_client: RateLimit,
    /// Failed requests per client on each of the other keyless token routes (activateToken,
    /// listCredentialBanks, listPendingApprovals, answerPushApproval): a slot is reserved before
    /// anything is checked and given back when the request succeeds, so a customer's own reads
    /// never use the quota up. Nothing keyless is limited per credential: without a key, a
    /// per-credential quota of failures is one a stranger who knows the ID can empty.
    pub keyless_failures_per_client: RateLimit,
    /// Registration attempts (registerCredential, changeDevice's new token, startOtpUse) per
    /// bank user, each reserved before its code is checked: a wrong code at registration is
    /// paid for by the user who typed it, never by the credential's owner.
    pub registration_per_user: RateLimit,
    /// Wrong registration codes per client address (a bank's IB server): a backstop against a
    /// looping or compromised IB system, far above a bank's launch-day rate of honest mistakes.
    /// Only wrong codes stay counted; every other outcome gives its slot back.
    pub registration_failures_per_client: RateLimit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            keyless_per_client: RateLimit::per_hour(20),
            keyless_failures_per_client: RateLimit::per_hour(20),
            registration_per_user: RateLimit::per_hour(10),
            registration_failures_per_client: RateLimit {
                max: 1000,
                window: Duration::hours(1),
            },
        }
    }
}

/// How long a node trusts what it read of a bank's config or API key. Another node's change
/// (a key revoked, a policy tightened) reaches this one within this time; this node's own
/// changes are forgotten at once. A short TTL rather than LISTEN/NOTIFY: it needs nothing from
/// the engine (SQLite has no notifications), cannot miss a message while a connection is
/// down, and costs one read per bank and key every few seconds.
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(3);

/// What a node keeps of the database between requests: only what cannot decide a security
/// question alone. Used steps, failures, locks and revocations of tokens are always read and
/// decided in the database.
#[derive(Debug)]
pub(crate) struct Caches {
    /// A bank's config (names and policy), by bank ID.
    configs: moka::sync::Cache<TenantId, Arc<TenantConfig>>,
    /// An unrevoked API key by its public prefix, with whether its bank is suspended.
    pub(crate) bank_keys: moka::sync::Cache<String, Arc<(ApiKeyRow, bool)>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            configs: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            bank_keys: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
        }
    }
}

/// A bank's policy as this node holds it (shared, never copied per request).
#[derive(Debug, Clone)]
pub(crate) struct BankPolicy(Arc<TenantConfig>);

impl std::ops::Deref for BankPolicy {
    type Target = TenantPolicy;

    fn deref(&self) -> &TenantPolicy {
        &self.0.policy
    }
}

/// What every area shares.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    db: Database,
    clock: Arc<dyn Clock>,
    keyring: Arc<Keyring>,
    pub(crate) limits: Limits,
    pub(crate) caches: Arc<Caches>,
}

impl Core {
    pub(crate) fn new(
        db: Database,
        clock: Arc<dyn Clock>,
        keyring: Keyring,
        limits: Limits,
    ) -> Self {
        Self {
            db,
            clock,
            keyring: Arc::new(keyring),
            limits,
            caches: Arc::default(),
        }
    }

    /// The database, for reads and single statements.
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// A unit of work (see [`Database::write`]), able to audit: the trail's key is loaded
    /// first.
    pub(crate) async fn write(&self) -> Result<WriteTx, ServiceError> {
        self.audit_key_ready().await?;
        Ok(self.db.write().await?)
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// A user of the caller's bank; another bank's user is `not_found`, like a missing one.
    pub(crate) async fn bank_user(
        &self,
        caller: &BankCaller,
        user_id: &str,
    ) -> Result<UserRow, ServiceError> {
        users::find_user(&self.db, caller.tenant_id.as_str(), user_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))
    }

    /// A bank's config (names and policy), from this node's cache when read within
    /// [`CACHE_TTL`].
    pub(crate) async fn config(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<TenantConfig>, ServiceError> {
        if let Some(config) = self.caches.configs.get(tenant) {
            return Ok(config);
        }
        let config = Arc::new(
            self.db
                .find_tenant_config(tenant)
                .await?
                .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?,
        );
        self.caches.configs.insert(tenant.clone(), config.clone());
        Ok(config)
    }

    /// The caller's bank's policy.
    pub(crate) async fn policy(&self, caller: &BankCaller) -> Result<BankPolicy, ServiceError> {
        Ok(BankPolicy(self.config(&caller.tenant_id).await?))
    }

    /// Forgets what this node cached of banks and their keys, after a change to one has
    /// committed (other nodes see it within [`CACHE_TTL`]).
    pub(crate) fn forget_banks(&self) {
        self.caches.configs.invalidate_all();
        self.caches.bank_keys.invalidate_all();
    }

    /// A credential's secret, opened with the master keys (the credential ID is the AAD).
    pub(crate) fn open_secret(&self, credential: &CredentialRow) -> Result<Secret, ServiceError> {
        let sealed = SealedSecret {
            key_id: credential.secret_key_id.clone(),
            blob: credential.secret_ciphertext.clone(),
        };
        let bad = |e: &dyn std::fmt::Display| {
            ServiceError::internal(format!("credential {}: {e}", credential.id))
        };
        let bytes = self
            .keyring
            .open(&sealed, credential.id.as_bytes())
            .map_err(|e| bad(&e))?;
        Secret::from_bytes(&bytes).map_err(|e| bad(&e))
    }

    /// Takes a slot of `key` under `limit` (see [`limits::take_slot`]).
    pub(crate) async fn take_slot(
        &self,
        key: &str,
        limit: RateLimit,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        Ok(limits::take_slot(&self.db, key, limit, now).await?)
    }

    /// Gives a slot of `key` back (see [`limits::give_back_slot`]).
    pub(crate) async fn give_back_slot(
        &self,
        key: &str,
        limit: RateLimit,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        Ok(limits::give_back_slot(&self.db, key, limit, now).await?)
    }
}
