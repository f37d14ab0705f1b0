//! Mamori's schema, as sea-orm-migration migrations.
//!
//! Every migration implements `down` and runs on both engines Mamori supports: SQLite (the
//! embedded default) and PostgreSQL (production). Changes follow expand/contract: add new
//! columns/tables first, move readers and writers, drop the old shape in a later migration, so a
//! rolling deploy of several nodes never sees a schema it cannot read.
//! File names: `mYYYYMMDD_HHMMSS_<what>.rs`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_audit_heads;
mod m20261122_000003_passwords_and_logins;
mod m20261122_000004_signing_keys;
mod m20261122_000005_customer_token;
mod m20261201_000006_operators;
mod m20261201_000007_bindings_by_user;
mod m20261201_000008_idempotency_keys;
mod m20261201_000009_audit_pending;
mod m20261201_000010_key_roots;
mod m20261201_000011_keyed_audit;
mod m20261202_000012_account_macs;
mod m20261202_000013_room_for_hot_updates;
mod m20261202_000014_pending_without_tenant_index;

/// The list of all migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_audit_heads::Migration),
            Box::new(m20261122_000003_passwords_and_logins::Migration),
            Box::new(m20261122_000004_signing_keys::Migration),
            Box::new(m20261122_000005_customer_token::Migration),
            Box::new(m20261201_000006_operators::Migration),
            Box::new(m20261201_000007_bindings_by_user::Migration),
            Box::new(m20261201_000008_idempotency_keys::Migration),
            Box::new(m20261201_000009_audit_pending::Migration),
            Box::new(m20261201_000010_key_roots::Migration),
            Box::new(m20261201_000011_keyed_audit::Migration),
            Box::new(m20261202_000012_account_macs::Migration),
            Box::new(m20261202_000013_room_for_hot_updates::Migration),
            Box::new(m20261202_000014_pending_without_tenant_index::Migration),
        ]
    }
}
