//! `mamori keys rotate`: a new receipt signing key.

use std::process::ExitCode;

use crate::common::{DatabaseArgs, KeyArgs, say, services_with_keys};

/// Keys that sign login and transaction receipts.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make a new receipt signing key. The old key stays published at
    /// /.well-known/jwks.json until every receipt it signed has expired.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// Runs a `keys` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Rotate { database, keys } = command;
    let services = services_with_keys(&database, &keys).await?;
    let kid = services.receipts.rotate_signing_key().await?;
    say(&format!(
        "new receipt signing key {kid}; running nodes switch within 30 s"
    ));
    Ok(ExitCode::SUCCESS)
}
