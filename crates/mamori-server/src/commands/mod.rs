//! One module per subcommand, each with its arguments and its `run`.

pub mod api_keys;
pub mod audit;
pub mod bench;
pub mod credentials;
pub mod keys;
pub mod migrate;
pub mod openapi;
pub mod operators;
pub mod outbox;
pub mod passwords;
pub mod seed;
pub mod serve;
pub mod tenants;
pub mod token;
pub mod webhooks;
