//! Mamori's persistence: the sea-orm entities and repositories that speak domain types.
//!
//! One binary runs on SQLite (the embedded default) and PostgreSQL (production, several nodes).
//! Every security state change is one conditional write checked by `rows_affected`, or one
//! short transaction, so it stays exact under concurrency and across nodes. This crate knows
//! nothing of HTTP.

pub mod account_mac;
pub mod api_keys;
pub mod audit;
mod batch;
pub mod bindings;
pub mod chain;
pub mod checks;
pub mod console;
pub mod credentials;
mod db;
pub mod devices;
pub mod entities;
mod error;
mod group;
pub mod hashes;
pub mod idempotency;
pub mod issues;
pub mod limits;
pub mod operators;
pub mod outbox;
pub mod passwords;
pub mod push;
mod queue;
mod reach;
pub mod sealed;
pub mod sealer;
pub mod seed;
pub mod signing_keys;
pub mod stats;
pub mod tenants;
pub mod users;

pub use db::{AuditObserver, Database, Engine, WriteTx};
pub use error::StoreError;
pub use group::GroupCommits;
pub use queue::Batches;
pub use tenants::{AppliedTenant, PolicyVersion, TenantChange, TenantRecord};
