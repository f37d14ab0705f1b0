//! Mamori's integration tests: one binary, a module per flow. Every scenario runs on SQLite and
//! on PostgreSQL (`on_both_engines!`), each on its own fresh database.

#![expect(
    clippy::unwrap_used,
    reason = "test scenarios are plain async fns; an unexpected error should fail them loudly"
)]

mod account_macs;
mod admin_banks;
mod admin_customers;
mod admin_session;
mod admin_tokens;
mod architecture;
mod audit;
mod audit_keyed;
mod bad_input;
mod client_address;
mod concurrency;
mod credential_banks;
mod guess_budget;
mod health;
mod hotp;
mod idempotency;
mod input_shapes;
mod isolation;
mod keyless;
mod keys;
mod login;
mod media_type;
mod migrations;
mod openapi;
mod outage;
mod password_pepper;
mod problems;
mod provisioning;
mod receipts;
mod secrets;
mod seed_000;
mod seed_001;
mod seed_003;
mod seed_004;
mod seed_flows;
mod strict_input;
mod support;
mod tenants;
