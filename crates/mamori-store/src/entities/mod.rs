//! sea-orm entities, one module per table, in the shape `sea-orm-cli generate entity` gives.
//! Behaviour lives in the repositories beside them, not here.

pub mod api_keys;
pub mod audit_events;
pub mod audit_heads;
pub mod bindings;
pub mod counters;
pub mod credentials;
pub mod login_sessions;
pub mod password_history;
pub mod signing_keys;
pub mod tenants;
pub mod users;
