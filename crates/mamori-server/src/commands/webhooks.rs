//! `mamori webhooks secret`: a bank's webhook secret, to hand to the bank.

use std::process::ExitCode;

use mamori_domain::TenantId;

use crate::common::{
    DatabaseArgs, KeyArgs, TenantConfigArgs, declare_if_missing, say, services_with_keys,
};

/// Banks' push-approval webhooks.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a bank's webhook secret (hex): the key of the HMAC-SHA256 in the
    /// `Mamori-Signature` header of its push-approval webhooks. An HKDF subkey of the sealed
    /// root of derived keys: a master-key rotation does not change it.
    Secret {
        /// The bank's ID.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Read only for a bank not in the database yet, so a secret can be shown before the
        /// first `serve`; a bank already there needs no config file.
        #[command(flatten)]
        tenants: TenantConfigArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// Runs a `webhooks` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Secret {
        tenant,
        database,
        tenants,
        keys,
    } = command;
    let services = services_with_keys(&database, &keys).await?;
    let tenant = TenantId::parse(&tenant)?;
    declare_if_missing(&services, &tenant, &tenants).await?;
    say(&services.webhooks.webhook_secret(&tenant).await?);
    eprintln!(
        "Webhook secret of {tenant}: hand it to the bank over a secure channel. A master-key rotation does not change it."
    );
    Ok(ExitCode::SUCCESS)
}
