//! Every area of Mamori's use cases, wired once over one core and held by the API state.

use std::sync::Arc;

use mamori_crypto::{Keyring, PasswordHashing};
use mamori_domain::{Clock, RateLimit};
use mamori_store::Database;

use crate::access::Access;
use crate::admin::banks::BankAdmin;
use crate::admin::customers::CustomerDesk;
use crate::admin::operators::Operators;
use crate::admin::trail::Trails;
use crate::audit_trail::AuditTrail;
use crate::core::counting::{Counting, EventCounter};
use crate::core::{Core, Limits};
use crate::credential_banks::TokenBanks;
use crate::error::ServiceError;
use crate::idempotency::Idempotency;
use crate::keys::MasterKeys;
use crate::login::Login;
use crate::mail::MailTransport;
use crate::otp::BankOtp;
use crate::outbox::Outbox;
use crate::password_pepper::PasswordPepper;
use crate::passwords::Passwords;
use crate::platform::Platform;
use crate::provision::Provisioning;
use crate::push::{Push, PushHub, PushNotifier};
use crate::receipts::Receipts;
use crate::registration::Registration;
use crate::self_issue::SelfIssue;
use crate::support_desk::SupportDesk;
use crate::tenants::Tenants;
use crate::transactions::Transactions;
use crate::users::Users;
use crate::webhooks::{HostResolver, SystemResolver, Webhooks};

/// Where the token app reaches Mamori unless `serve --public-url` says otherwise.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// The areas of Mamori's use cases. Each is a small struct with the few dependencies it needs;
/// cloning is cheap.
#[derive(Debug, Clone)]
pub struct Services {
    /// Banks' API keys.
    pub access: Access,
    /// The banks.
    pub tenants: Tenants,
    /// Banks' contract users.
    pub users: Users,
    /// The bank's code checks: login, resync, stop, status.
    pub otp: BankOtp,
    /// 利用開始登録 and 機種変更.
    pub registration: Registration,
    /// The bank's support desk: revoke, unlock, temporary passwords.
    pub support_desk: SupportDesk,
    /// Contract logins.
    pub login: Login,
    /// 取引認証 with an OTP.
    pub transactions: Transactions,
    /// Push approvals.
    pub push: Push,
    /// Banks' push-approval webhooks.
    pub webhooks: Webhooks,
    /// Tokens issued by mail.
    pub self_issue: SelfIssue,
    /// The outbox and its delivery.
    pub outbox: Outbox,
    /// Provisioning and import of credentials.
    pub provisioning: Provisioning,
    /// A token's own view of its banks.
    pub token_banks: TokenBanks,
    /// Signed receipts and their keys.
    pub receipts: Receipts,
    /// The audit trails.
    pub audit: AuditTrail,
    /// The platform operator's actions.
    pub platform: Platform,
    /// Admin console: operators and their sessions.
    pub operators: Operators,
    /// Admin console: banks, policies, API keys.
    pub bank_admin: BankAdmin,
    /// Admin console: the customers' help desk.
    pub customer_desk: CustomerDesk,
    /// Admin console: trails and figures.
    pub trails: Trails,
    /// Banks' idempotency keys.
    pub idempotency: Idempotency,
    /// The master keys' records: the start-up check and re-sealing.
    pub keys: MasterKeys,
    /// The upgrade of stored password hashes to the pepper.
    pub password_pepper: PasswordPepper,
    core: Core,
}

impl Services {
    /// Wiring over a database, a clock and the master keys; see [`ServicesBuilder`].
    pub fn builder(db: Database, clock: Arc<dyn Clock>, keyring: Keyring) -> ServicesBuilder {
        ServicesBuilder {
            db,
            clock,
            keyring,
            limits: Limits::default(),
            hashing: PasswordHashing::default(),
            mail: None,
            public_url: Arc::from(DEFAULT_PUBLIC_URL),
            notifier: None,
            resolver: Arc::new(SystemResolver),
        }
    }

    /// Whether the services can do their work: the database answers.
    pub async fn check_ready(&self) -> Result<(), ServiceError> {
        Ok(self.core.db().ping().await?)
    }
}

/// How [`Services`] are wired; every setting has a production default.
#[derive(Debug)]
pub struct ServicesBuilder {
    db: Database,
    clock: Arc<dyn Clock>,
    keyring: Keyring,
    limits: Limits,
    hashing: PasswordHashing,
    mail: Option<Arc<dyn MailTransport>>,
    public_url: Arc<str>,
    notifier: Option<Arc<dyn PushNotifier>>,
    resolver: Arc<dyn HostResolver>,
}

impl ServicesBuilder {
    /// Delivers outbox mails through `transport` (SMTP). Without one, mails stay in the outbox.
    pub fn mail_transport(mut self, transport: Arc<dyn MailTransport>) -> Self {
        self.mail = Some(transport);
        self
    }

    /// The base URL the token app uses to reach Mamori, named in activation mails.
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Arc::from(url.trim_end_matches('/'));
        self
    }

    /// How devices hear of new push approvals, e.g. an APNs/FCM adapter. Devices that
    /// long-poll still find new approvals within a second; an adapter that also forwards to
    /// [`Push::hub`] wakes them at once.
    pub fn push_notifier(mut self, notifier: Arc<dyn PushNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// How webhook host names are looked up before each delivery try; the system's resolver
    /// unless a test names hosts of its own.
    pub fn webhook_resolver(mut self, resolver: Arc<dyn HostResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The argon2id cost (tests use a cheap one; `serve` takes it from its options, others keep
    /// the default).
    pub fn password_hashing(mut self, hashing: PasswordHashing) -> Self {
        self.hashing = hashing;
        self
    }

    /// How many tokens one client may provision, and how many failed requests it may make on
    /// each other keyless token route, per window.
    pub fn keyless_limit(mut self, limit: RateLimit) -> Self {
        self.limits.keyless_per_client = limit;
        self.limits.keyless_failures_per_client = limit;
        self
    }

    /// Tells `counter` of every audited event once it is durable (the process's metrics).
    pub fn event_counter(mut self, counter: Arc<dyn EventCounter>) -> Self {
        self.db = self.db.observed_by(Arc::new(Counting(counter)));
        self
    }

    /// Every rate limit at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The wired areas.
    pub fn build(self) -> Services {
        let core = Core::new(self.db, self.clock, self.keyring, self.limits);
        let passwords = Passwords::new(core.clone(), self.hashing);
        let receipts = Receipts::new(core.clone());
        let otp = BankOtp::new(core.clone());
        let registration = Registration::new(core.clone());
        let provisioning = Provisioning::new(core.clone());
        let outbox = Outbox::new(core.clone(), self.mail);
        let webhooks = Webhooks::new(core.clone(), self.resolver);
        let hub = Arc::new(PushHub::new());
        let notifier: Arc<dyn PushNotifier> = match self.notifier {
            Some(notifier) => notifier,
            None => hub.clone(),
        };
        let access = Access::new(core.clone());
        let support_desk = SupportDesk::new(core.clone(), passwords.clone());
        let push = Push::new(
            core.clone(),
            receipts.clone(),
            webhooks.clone(),
            hub,
            notifier,
        );
        let self_issue = SelfIssue::new(
            core.clone(),
            passwords.clone(),
            registration.clone(),
            provisioning.clone(),
            outbox.clone(),
            self.public_url,
        );
        Services {
            operators: Operators::new(core.clone(), passwords.clone()),
            bank_admin: BankAdmin::new(core.clone(), access.clone()),
            customer_desk: CustomerDesk::new(
                core.clone(),
                support_desk.clone(),
                push.clone(),
                self_issue.clone(),
            ),
            trails: Trails::new(core.clone()),
            idempotency: Idempotency::new(core.clone()),
            keys: MasterKeys::new(core.clone()),
            password_pepper: PasswordPepper::new(core.clone(), passwords.clone()),
            access,
            tenants: Tenants::new(core.clone()),
            users: Users::new(core.clone(), passwords.clone()),
            support_desk,
            login: Login::new(
                core.clone(),
                passwords.clone(),
                otp.clone(),
                receipts.clone(),
            ),
            transactions: Transactions::new(core.clone(), otp.clone(), receipts.clone()),
            push,
            self_issue,
            token_banks: TokenBanks::new(core.clone()),
            audit: AuditTrail::new(core.clone()),
            platform: Platform::new(core.clone()),
            otp,
            registration,
            webhooks,
            outbox,
            provisioning,
            receipts,
            core,
        }
    }
}
