//! Mamori's pure domain: the words of MISSION.md's domain table as types, the tenant policies
//! banks configure, the Clock every time-dependent rule reads, and the stable error codes that
//! are part of the banks' contract.
//!
//! This crate does no I/O beyond reading tenant config files it is handed, and never reads the
//! system clock except inside [`clock::SystemClock`].

pub mod audit;
pub mod binding;
pub mod clock;
pub mod error_code;
pub mod idempotency;
pub mod ids;
pub mod limits;
pub mod login;
pub mod operator;
pub mod password;
pub mod policy;
pub mod push;
pub mod review;
pub mod self_issue;
pub mod stats;
pub mod stored;
pub mod tenant_config;
pub mod transaction;
pub mod webhook;

pub use audit::{AuditOutcome, Operation};
pub use binding::{BindingState, FailureOutcome, OtpUse};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error_code::ErrorCode;
pub use ids::TenantId;
pub use limits::RateLimit;
pub use login::LoginStep;
pub use operator::{ManagedBy, OperatorRole, OperatorScope, SessionStage};
pub use policy::CredentialKind;
pub use push::{ApprovalState, PushDecision};
pub use self_issue::IssueState;
pub use stored::UnknownName;
