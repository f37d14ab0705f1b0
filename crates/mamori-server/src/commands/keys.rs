//! `mamori keys rotate`: a new receipt signing key. `mamori keys reseal`: every sealed record
//! under the current master key, so an old master key can be retired.

use std::process::ExitCode;

use mamori_service::RESEAL_BATCH;

use crate::common::{DatabaseArgs, KeyArgs, say, services_with_keys};

/// Receipt signing keys and the master key's records.
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
    /// Re-encrypt every sealed record (token secrets, operators' authenticator secrets,
    /// receipt signing keys, the root of derived keys) under the current master key, so the
    /// keys in MAMORI_OLD_MASTER_KEYS can be dropped afterwards. Run it after every node has
    /// the new master key. Safe to run again, and beside running nodes.
    Reseal {
        /// Records re-encrypted per transaction.
        #[arg(long, default_value_t = RESEAL_BATCH)]
        batch: u64,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// Runs a `keys` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Rotate { database, keys } => {
            let services = services_with_keys(&database, &keys).await?;
            let kid = services.receipts.rotate_signing_key().await?;
            say(&format!(
                "new receipt signing key {kid}; running nodes switch within 30 s"
            ));
        }
        Command::Reseal {
            batch,
            database,
            keys,
        } => {
            let services = services_with_keys(&database, &keys).await?;
            let current = services.keys.current_key_id();
            for table in services.keys.reseal(batch).await? {
                let mut line = format!(
                    "{}: {} re-sealed with {current}",
                    table.table.name, table.resealed
                );
                if table.changed_meanwhile > 0 {
                    line.push_str(&format!(
                        ", {} changed meanwhile (run again)",
                        table.changed_meanwhile
                    ));
                }
                say(&line);
            }
            let left: Vec<_> = services
                .keys
                .key_uses()
                .await?
                .into_iter()
                .filter(|u| u.key_id != current)
                .collect();
            if left.is_empty() {
                say(&format!(
                    "every sealed record is under {current}: older master keys can be dropped from MAMORI_OLD_MASTER_KEYS"
                ));
            } else {
                for u in &left {
                    say(&format!(
                        "still under {}: {} record(s) of {} (sealed meanwhile by a node without the new key?)",
                        u.key_id, u.records, u.table.name
                    ));
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
