//! `mamori api-keys`: banks' API keys, created (shown once), listed (never the secret) and
//! revoked.

use std::process::ExitCode;

use mamori_domain::TenantId;

use crate::common::{
    DatabaseArgs, KeyArgs, TenantConfigArgs, declare_if_missing, say, services_with_keys,
    services_without_keys,
};

/// Banks' API keys.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an API key for a bank and print it once.
    Create {
        /// The bank's ID (a tenant config's file stem).
        #[arg(long)]
        tenant: String,
        /// A label for people ("IB production", …).
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Read only for a bank not in the database yet, so a key can be made before the
        /// first `serve`; a bank already there needs no config file.
        #[command(flatten)]
        tenants: TenantConfigArgs,
        /// The key's row carries a MAC made with a subkey of the master key.
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// List a bank's API keys (never the keys themselves).
    List {
        /// The bank's ID.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke an API key by its id or prefix.
    Revoke {
        /// The key's id (`key_…`) or prefix.
        key: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs an `api-keys` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Create {
            tenant,
            label,
            database,
            tenants,
            keys,
        } => {
            let services = services_with_keys(&database, &keys).await?;
            let tenant = TenantId::parse(&tenant)?;
            declare_if_missing(&services, &tenant, &tenants).await?;
            let created = services.access.create_api_key(&tenant, &label).await?;
            say(&created.key);
            eprintln!(
                "API key {} created for {tenant}. It is shown only now: hand it to the bank over a secure channel.",
                created.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::List { tenant, database } => {
            let services = services_without_keys(&database).await?;
            let tenant = TenantId::parse(&tenant)?;
            for key in services.access.list_api_keys(&tenant).await? {
                let state = key.revoked_at.map_or_else(
                    || "active".to_owned(),
                    |at| format!("revoked {}", at.to_rfc3339()),
                );
                say(&format!(
                    "{}  mmr_{}_…  {}  {}  {}",
                    key.id,
                    key.prefix,
                    key.created_at.to_rfc3339(),
                    state,
                    key.label
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Revoke { key, database } => {
            let services = services_without_keys(&database).await?;
            if services.access.revoke_api_key(&key).await? {
                say(&format!("revoked {key}"));
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no active API key {key}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
