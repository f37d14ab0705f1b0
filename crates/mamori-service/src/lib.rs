//! Mamori's use cases, free of HTTP: what a bank, a token or an operator can ask for, with every
//! rule applied and every state change made atomically through the store.
//!
//! Each area is a small struct over a shared [`core`] (database, clock, master keys, limits),
//! and [`Services`] holds them all for the API. Time comes from the injected `Clock`, never from
//! the system; persistence goes through `mamori-store`'s units of work, never through SQL here.

mod access;
mod admin;
mod audit_trail;
mod check;
mod core;
mod credential_banks;
mod error;
mod idempotency;
mod keyless;
mod keys;
mod login;
pub mod mail;
mod otp;
mod outbox;
mod password_pepper;
mod passwords;
mod platform;
mod provision;
mod push;
mod qr;
mod random;
mod receipts;
mod registration;
mod self_issue;
mod services;
mod status;
mod support_desk;
mod tenants;
mod transactions;
mod users;
mod webhooks;

pub use access::{Access, ApiKeyInfo, CreatedApiKey};
pub use admin::OperatorCaller;
pub use admin::banks::{
    BankAdmin, BankDetail, BankSummary, ConfigProblem, PolicyReview, PolicyVersionView,
};
pub use admin::customers::{
    CredentialView, CustomerDesk, CustomerDetail, CustomerRow, CustomerSearch, MAX_USER_PAGE,
    OpenIssue, OpenLogin, Registration as CredentialRegistration, TokenBinding,
};
pub use admin::operators::{
    CreatedOperator, FIRST_ADMIN, NewOperator, OperatorView, Operators, SignedIn, TotpEnrollment,
};
pub use admin::trail::{AuditFilter, Bucket, Figures, Trails};
pub use audit_trail::{
    AuditRecord, AuditTrail, ChainStatus, CheckpointStatus, MAX_AUDIT_PAGE, SEAL_EVERY,
};
pub use core::codes::PLATFORM_GUESS_BUDGET;
pub use core::counting::{CountedEvent, EventCounter};
pub use core::{Actor, BankCaller, Limits, RequestMeta};
pub use credential_banks::{CredentialBank, CredentialBanks, TokenBanks};
pub use error::ServiceError;
pub use idempotency::{Admission, Idempotency, KeyClaim, StoredAnswer};
pub use keys::{
    MAC_BATCH, Macked, MasterKeys, RESEAL_BATCH, Resealed, Unmacked, Unopenable, Unopened,
};
pub use login::{LOGIN_TTL_MINUTES, Login, LoginCompleted, LoginStarted};
pub use mamori_crypto::Checkpoint;
pub use otp::{Accepted, BankOtp};
pub use outbox::{Outbox, OutboxMail};
pub use password_pepper::{LegacyHashes, PEPPER_BATCH, PasswordPepper, Wrapped};
pub use platform::{Platform, SuspensionLifted};
pub use provision::{
    ImportedToken, Provisioned, Provisioning, SeedFile, SeedFormat, SeedImport, SeedSummary,
};
pub use push::{
    MAX_WAIT_SECONDS, NewPushApproval, PendingApproval, Push, PushAnswer, PushAnswered,
    PushApprovalCreated, PushApprovalView, PushHub, PushNotifier,
};
pub use receipts::{ISSUER, RECEIPT_TTL_SECONDS, Receipts};
pub use registration::Registration;
pub use self_issue::{ActivatedToken, IssuedToken, SelfIssue};
pub use services::{DEFAULT_PUBLIC_URL, Services, ServicesBuilder};
pub use status::OtpStatus;
pub use support_desk::SupportDesk;
pub use tenants::Tenants;
pub use transactions::{TransactionApproved, Transactions};
pub use users::{NewUser, User, Users};
pub use webhooks::{HostResolver, SIGNATURE_HEADER, SystemResolver, Webhooks, signature_header};
