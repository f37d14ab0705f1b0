//! `mamori keys rotate`: a new receipt signing key. `mamori keys reseal`: every sealed record
//! under the current master key, so an old master key can be retired. `mamori keys
//! mac-accounts`: the MACs of the bindings, device keys and API keys written before they
//! carried one, once, at the upgrade. With the HSM
//! (`--key-provider pkcs11`): `hsm-init` makes the key-encryption key in the token, `wrap`
//! moves the file provider's keys into the HSM-wrapped file, `rotate-master` adds a new master
//! key to it and `drop-older` retires the older ones once nothing needs them.

use std::process::ExitCode;

use mamori_service::{MAC_BATCH, RESEAL_BATCH};

use crate::common::{
    DatabaseArgs, KeyArgs, KeyProvider, existing_file_master_key, old_keys_from_env, say,
    services_with_keys,
};
use crate::hsm::{self, Pkcs11Args};

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
    /// Give every binding, device key and API key written before they carried a MAC (an
    /// upgrade from an earlier version) its MAC, so the reads that decide access trust it; a
    /// `macAccountRows` entry in the platform's trail records it. Once, at the upgrade:
    /// `mamori serve` refuses to start until it has run. Safe to run again.
    MacAccounts {
        /// Rows given their MAC per transaction.
        #[arg(long, default_value_t = MAC_BATCH)]
        batch: u64,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Make the HSM's key-encryption key: AES-256, generated in the token named by
    /// --pkcs11-token-label and kept there (sensitive, never extractable), labelled
    /// --pkcs11-key-label. Once per token; refused when the label is taken.
    HsmInit {
        #[command(flatten)]
        pkcs11: Pkcs11Args,
    },
    /// Move the file provider's master keys into the HSM: the key file's key (or
    /// MAMORI_MASTER_KEY) and MAMORI_OLD_MASTER_KEYS, wrapped by the HSM's key into a new
    /// --wrapped-key-file. Their ids stay the same, so every record opens as before; start
    /// the nodes with --key-provider pkcs11 afterwards and remove the plaintext key.
    Wrap {
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// With --key-provider pkcs11: make a new master key, wrapped by the HSM, first in the
    /// wrapped key file; the keys there before stay to open what they sealed. Then copy the
    /// file to every node, restart them, run `mamori keys reseal`, then `mamori keys
    /// drop-older`.
    RotateMaster {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// With --key-provider pkcs11: remove the older master keys from the wrapped key file,
    /// refused while any record is still sealed with one of them.
    DropOlder {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// Refuses an HSM-only command under the file provider.
fn require_pkcs11(keys: &KeyArgs, command: &str) -> anyhow::Result<()> {
    if keys.key_provider != KeyProvider::Pkcs11 {
        anyhow::bail!(
            "`mamori keys {command}` works on the HSM-wrapped key file: run it with \
             --key-provider pkcs11 (MAMORI_KEY_PROVIDER). With the file provider, rotate by \
             giving the new key as MAMORI_MASTER_KEY and the old one in MAMORI_OLD_MASTER_KEYS, \
             then `mamori keys reseal`."
        );
    }
    Ok(())
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
                    "every sealed record is under {current}: older master keys can be dropped from {}",
                    match keys.key_provider {
                        KeyProvider::File => "MAMORI_OLD_MASTER_KEYS",
                        KeyProvider::Pkcs11 => "the wrapped key file (`mamori keys drop-older`)",
                    }
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
        Command::MacAccounts {
            batch,
            database,
            keys,
        } => {
            let services = services_with_keys(&database, &keys).await?;
            let unmacked = services.keys.unmacked_accounts().await?;
            if unmacked.is_empty() {
                say("every binding, device key and API key carries its MAC already; nothing to do");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "giving {} their MACs. This happens once, at the upgrade. If these rows carried \
                 MACs before, someone with write access to the database wrote them: stop and \
                 look at them instead (this would vouch for whatever they hold).",
                unmacked
                    .iter()
                    .map(|u| format!("{} row(s) of {}", u.rows, u.table.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut left = false;
            for done in services.keys.mac_accounts(batch).await? {
                let mut line = format!("{}: {} given their MAC", done.table.name(), done.macked);
                if done.changed_meanwhile > 0 {
                    left = true;
                    line.push_str(&format!(
                        ", {} changed meanwhile (run again)",
                        done.changed_meanwhile
                    ));
                }
                say(&line);
            }
            if left {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::HsmInit { pkcs11 } => {
            let made = hsm::make_kek(&pkcs11)?;
            say(&format!(
                "made {made}: AES-256, generated in the HSM, sensitive and not extractable"
            ));
        }
        Command::Wrap { keys } => {
            let current = existing_file_master_key(&keys)?;
            let older = old_keys_from_env()?;
            let (ids, by) = hsm::wrap_into_file(&keys.pkcs11, &current, &older)?;
            say(&format!(
                "wrapped master key {} into {} with {by}; start with --key-provider pkcs11, \
                 then remove the plaintext key (the key file, MAMORI_MASTER_KEY, \
                 MAMORI_OLD_MASTER_KEYS) from every node",
                ids.join(", "),
                keys.pkcs11.file_display()
            ));
        }
        Command::RotateMaster { database, keys } => {
            require_pkcs11(&keys, "rotate-master")?;
            // The keys in the file must open the database before a new one joins them.
            let services = services_with_keys(&database, &keys).await?;
            drop(services);
            let (new, older) = hsm::rotate_in_file(&keys.pkcs11)?;
            say(&format!(
                "new master key {new} wrapped into {} (kept to open older records: {}); copy \
                 the file to every node and restart them, then run `mamori keys reseal`",
                keys.pkcs11.file_display(),
                older.join(", ")
            ));
        }
        Command::DropOlder { database, keys } => {
            require_pkcs11(&keys, "drop-older")?;
            let services = services_with_keys(&database, &keys).await?;
            let current = services.keys.current_key_id();
            let left: Vec<_> = services
                .keys
                .key_uses()
                .await?
                .into_iter()
                .filter(|u| u.key_id != current)
                .collect();
            if !left.is_empty() {
                for u in &left {
                    say(&format!(
                        "still under {}: {} record(s) of {}",
                        u.key_id, u.records, u.table.name
                    ));
                }
                anyhow::bail!(
                    "records are still sealed with older master keys: run `mamori keys reseal` \
                     first. Nothing was dropped."
                );
            }
            let dropped = hsm::drop_older_in_file(&keys.pkcs11)?;
            say(&if dropped.is_empty() {
                format!("{current} is the only master key in the wrapped key file")
            } else {
                format!(
                    "dropped {} from {}; {current} stays",
                    dropped.join(", "),
                    keys.pkcs11.file_display()
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
