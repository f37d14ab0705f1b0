//! Mamori's use cases, free of HTTP: what a bank, a token or an operator can ask for, with every
//! rule applied and every state change made atomically through the store.
//!
//! Time comes from the injected [`Clock`], never from the system.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mamori_crypto::{Keyring, PasswordHashing};
use mamori_domain::tenant_config::TenantConfig;
use mamori_domain::{Clock, TenantId};
use mamori_store::{AppliedTenant, Database, StoreError, TenantRecord};
use sea_orm::{DatabaseTransaction, TransactionOptions, TransactionTrait};

mod access;
mod audit_trail;
mod bank;
mod check;
mod credential_banks;
mod error;
mod login;
pub mod mail;
mod platform;
mod provision;
mod push;
mod random;
mod receipts;
mod self_issue;
mod transactions;
mod webhooks;

pub use access::{ApiKeyInfo, CreatedApiKey};
pub use bank::{Accepted, NewUser, OtpStatus, PLATFORM_GUESS_BUDGET, User};
pub use credential_banks::{CredentialBank, CredentialBanks};
pub use error::ServiceError;
pub use login::{LoginCompleted, LoginStarted, NextStep};
pub use platform::SuspensionLifted;
pub use provision::{
    CredentialKindSpec, Provisioned, REGISTRATION_ATTEMPTS_PER_USER,
    REGISTRATION_FAILURES_PER_CLIENT, RateLimit,
};
pub use push::{
    MAX_WAIT_SECONDS, NewPushApproval, PendingApproval, PushAnswer, PushAnswered,
    PushApprovalCreated, PushApprovalView, PushHub, PushNotifier,
};
pub use receipts::{ISSUER, RECEIPT_TTL_SECONDS};
pub use self_issue::{ActivatedToken, IssuedToken, OutboxMail};
pub use transactions::TransactionApproved;
pub use webhooks::{SIGNATURE_HEADER, signature_header};

/// A bank's system, authenticated by its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankCaller {
    /// The bank.
    pub tenant_id: TenantId,
    /// The API key used (its id, never the key).
    pub api_key_id: String,
}

/// Facts about the request that go into the audit trail.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The request's ID.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
}

/// Everything the use cases need, shared by all requests.
#[derive(Debug, Clone)]
pub struct Services {
    db: Database,
    clock: Arc<dyn Clock>,
    keyring: Arc<Keyring>,
    provision_limit: RateLimit,
    passwords: Arc<PasswordHashing>,
    signing_keys: receipts::KeyCache,
    mail: Option<Arc<dyn mail::MailTransport>>,
    public_url: Arc<str>,
    /// Wakes devices long-polling in this process for their approvals.
    push_hub: Arc<PushHub>,
    /// Tells devices of new approvals (the hub unless an APNs/FCM adapter is set).
    push_notifier: Arc<dyn PushNotifier>,
    /// Delivers banks' webhooks.
    webhook_client: reqwest::Client,
}

/// Where the token app reaches Mamori unless `serve --public-url` says otherwise.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

impl Services {
    /// Wires the use cases to a database, a clock and the master keys.
    pub fn new(db: Database, clock: Arc<dyn Clock>, keyring: Keyring) -> Self {
        let push_hub = Arc::new(PushHub::new());
        Self {
            db,
            clock,
            keyring: Arc::new(keyring),
            provision_limit: RateLimit::default(),
            passwords: Arc::new(PasswordHashing::default()),
            signing_keys: receipts::key_cache(),
            mail: None,
            public_url: Arc::from(DEFAULT_PUBLIC_URL),
            push_notifier: push_hub.clone(),
            push_hub,
            // A bank's webhook endpoint must not bounce Mamori's request elsewhere.
            webhook_client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    /// Delivers outbox mails through `transport` (SMTP). Without one, mails stay in the outbox.
    pub fn with_mail_transport(mut self, transport: Arc<dyn mail::MailTransport>) -> Self {
        self.mail = Some(transport);
        self
    }

    /// The base URL the token app uses to reach Mamori, named in activation mails.
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Arc::from(url.trim_end_matches('/'));
        self
    }

    /// Sets how devices hear of new push approvals, e.g. an APNs/FCM adapter. Devices that
    /// long-poll still find new approvals within a second; an adapter that also forwards to
    /// [`Services::push_hub`] wakes them at once.
    pub fn with_push_notifier(mut self, notifier: Arc<dyn PushNotifier>) -> Self {
        self.push_notifier = notifier;
        self
    }

    /// The in-process hub that wakes long-polling devices.
    pub fn push_hub(&self) -> &Arc<PushHub> {
        &self.push_hub
    }

    /// Sets the argon2id cost (tests use a cheap one; production keeps the OWASP default).
    pub fn with_password_hashing(mut self, hashing: PasswordHashing) -> Self {
        self.passwords = Arc::new(hashing);
        self
    }

    /// Sets how many tokens one client address may provision per window.
    pub fn with_provision_limit(mut self, limit: RateLimit) -> Self {
        self.provision_limit = limit;
        self
    }

    /// The database behind the services.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The clock the services read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so two
    /// transactions never both read and then fail to upgrade; on PostgreSQL the conditional
    /// writes take row locks.
    async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        Ok(self
            .db
            .connection()
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?)
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
            StoreError::Conflict(e) => ServiceError::Unavailable(format!("write conflict: {e}")),
            StoreError::Corrupt(e) => ServiceError::Internal(e),
        }
    }
}
