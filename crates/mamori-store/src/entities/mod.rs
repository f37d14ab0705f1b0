//! sea-orm entities, one module per table, in the shape `sea-orm-cli generate entity` gives.
//! Behaviour lives in the repositories beside them, not here.

pub mod api_keys;
pub mod audit_events;
pub mod audit_heads;
pub mod audit_pending;
pub mod bindings;
pub mod counters;
pub mod credentials;
pub mod device_keys;
pub mod idempotency_keys;
pub mod key_roots;
pub mod login_sessions;
pub mod operator_sessions;
pub mod operators;
pub mod outbox_mails;
pub mod password_history;
pub mod push_approvals;
pub mod signing_keys;
pub mod stats_cursors;
pub mod stats_hourly;
pub mod tenant_policy_versions;
pub mod tenants;
pub mod token_issues;
pub mod users;
