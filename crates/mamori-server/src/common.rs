//! What several subcommands share: the database, master-key and tenant-config arguments, and
//! opening each of them with an operator-readable error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mamori_crypto::{Keyring, MasterKey};
use mamori_domain::tenant_config::{TenantConfig, load_dir};
use mamori_domain::{SystemClock, TenantId};
use mamori_service::{ServiceError, Services, Unopened};
use mamori_store::Database;
use mamori_store::sealed;

use crate::hsm::{self, Pkcs11Args};
use crate::key_uses::{describe, key_ids};

/// Where the database is.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded default) or `postgres://…`.
    // The URL may carry a password: help names the variable but never prints its value.
    #[arg(
        long,
        env = "MAMORI_DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://mamori.db?mode=rwc"
    )]
    pub database_url: String,
}

/// Where the master key is.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Where the master keys come from: `file` (the key file, or MAMORI_MASTER_KEY and
    /// MAMORI_OLD_MASTER_KEYS) or `pkcs11` (wrapped in --wrapped-key-file by a key that never
    /// leaves the HSM; see the --pkcs11-* settings).
    #[arg(long, env = "MAMORI_KEY_PROVIDER", value_enum, default_value_t = KeyProvider::File)]
    pub key_provider: KeyProvider,
    /// File holding the master key that seals token secrets (created with mode 0600 at first
    /// start on an empty database; refused when missing while the database holds sealed
    /// records). Ignored when MAMORI_MASTER_KEY is set.
    #[arg(long, env = "MAMORI_MASTER_KEY_FILE", default_value = "mamori.key")]
    pub master_key_file: PathBuf,
    #[command(flatten)]
    pub pkcs11: Pkcs11Args,
}

/// Where the master keys are kept at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyProvider {
    /// In the key file or the environment, in plaintext.
    File,
    /// Wrapped by a key-encryption key inside an HSM, reached through its PKCS#11 module.
    Pkcs11,
}

/// Where the banks' config files are.
#[derive(Debug, clap::Args)]
pub struct TenantConfigArgs {
    /// Directory of tenant config files (`<bank>.toml`).
    #[arg(long, env = "MAMORI_TENANT_CONFIGS", default_value = "tenant-configs")]
    pub tenant_configs: PathBuf,
}

/// Opens and migrates the database.
pub async fn migrated(url: &str) -> anyhow::Result<Database> {
    let db = connect(url).await?;
    db.migrate().await?;
    Ok(db)
}

/// Opens the database, naming it (without its password) when it cannot.
pub async fn connect(url: &str) -> anyhow::Result<Database> {
    Database::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", redact_url(url)))
}

/// The services for a command that opens no token secret (no master key needed).
pub async fn services_without_keys(database: &DatabaseArgs) -> anyhow::Result<Services> {
    let db = migrated(&database.database_url).await?;
    Ok(Services::builder(db, Arc::new(SystemClock), ephemeral_keyring()?).build())
}

/// The services with the master keys, checked against the database (see [`checked_keys`]).
pub async fn services_with_keys(
    database: &DatabaseArgs,
    keys: &KeyArgs,
) -> anyhow::Result<Services> {
    services_hashing_with_keys(database, keys, None).await
}

/// [`services_with_keys`] hashing passwords at `hashing` (the default cost when `None`).
pub async fn services_hashing_with_keys(
    database: &DatabaseArgs,
    keys: &KeyArgs,
    hashing: Option<mamori_crypto::PasswordHashing>,
) -> anyhow::Result<Services> {
    let db = migrated(&database.database_url).await?;
    let keyring = load_keyring(keys, &db).await?;
    let mut builder = Services::builder(db, Arc::new(SystemClock), keyring);
    if let Some(hashing) = hashing {
        builder = builder.password_hashing(hashing);
    }
    let services = builder.build();
    check_keys(&services, keys).await?;
    Ok(services)
}

/// The argon2id cost of login and console passwords: `serve` and every command that hashes one
/// (`operators create`) take the same settings, since a stored hash asking for more than 4× the
/// configured cost is refused.
#[derive(Debug, clap::Args)]
pub struct PasswordCostArgs {
    /// Memory per password hash, in KiB. One hash takes about 150 ms on one core of a small
    /// server at the default; at most twice the cores' worth run at once. Stored hashes that
    /// ask for more than four times this (or four times the iterations) are refused, so never
    /// lower it by more than that while such hashes exist.
    #[arg(
        long,
        env = "MAMORI_PASSWORD_MEMORY_KIB",
        default_value_t = mamori_crypto::password::DEFAULT_MEMORY_KIB,
        value_name = "KIB"
    )]
    pub password_memory_kib: u32,
    /// Passes over that memory per password hash.
    #[arg(
        long,
        env = "MAMORI_PASSWORD_ITERATIONS",
        default_value_t = mamori_crypto::password::DEFAULT_ITERATIONS
    )]
    pub password_iterations: u32,
}

impl PasswordCostArgs {
    /// The hashing these settings describe.
    pub fn hashing(&self) -> anyhow::Result<mamori_crypto::PasswordHashing> {
        mamori_crypto::PasswordHashing::new(
            self.password_memory_kib,
            self.password_iterations,
            mamori_crypto::password::DEFAULT_PARALLELISM,
        )
        .map_err(|e| anyhow::anyhow!("--password-memory-kib / --password-iterations: {e}"))
    }
}

/// A keyring for commands that never open a token secret nor write the audit trail.
pub fn ephemeral_keyring() -> anyhow::Result<Keyring> {
    Ok(Keyring::stand_in()?)
}

/// Where the current master key came from, for the operator's messages.
fn key_source(keys: &KeyArgs) -> String {
    if keys.key_provider == KeyProvider::Pkcs11 {
        format!(
            "the wrapped key file {} (--wrapped-key-file / MAMORI_WRAPPED_KEY_FILE)",
            keys.pkcs11.file_display()
        )
    } else if env_key().is_some() {
        "MAMORI_MASTER_KEY".to_owned()
    } else {
        format!(
            "the key file {} (--master-key-file / MAMORI_MASTER_KEY_FILE)",
            std::path::absolute(&keys.master_key_file)
                .unwrap_or_else(|_| keys.master_key_file.clone())
                .display()
        )
    }
}

fn env_key() -> Option<String> {
    std::env::var("MAMORI_MASTER_KEY")
        .ok()
        .filter(|text| !text.trim().is_empty())
}

/// The master keys from the chosen provider: the file provider's (see [`file_master_key`]) or
/// the HSM-wrapped ones (see [`hsm::master_keys`]).
pub async fn load_keyring(keys: &KeyArgs, db: &Database) -> anyhow::Result<Keyring> {
    let (current, older) = match keys.key_provider {
        KeyProvider::File => (file_master_key(keys, db).await?, old_keys_from_env()?),
        KeyProvider::Pkcs11 => hsm::master_keys(&keys.pkcs11, db).await?,
    };
    tracing::info!(key.id = %current.id(), older = older.len(), provider = ?keys.key_provider, "master key loaded");
    Ok(Keyring::new(current, older))
}

/// The file provider's current key: `MAMORI_MASTER_KEY` (hex or base64) if set, else the key
/// file.
///
/// A missing key file is created (mode 0600) only while the database holds no sealed record:
/// a node started in another directory must not make a key of its own and then seal secrets
/// no other node can open. Otherwise the start is refused, naming the key ids the records need.
async fn file_master_key(keys: &KeyArgs, db: &Database) -> anyhow::Result<MasterKey> {
    let current = match env_key() {
        Some(text) => {
            MasterKey::parse(&text).map_err(|e| anyhow::anyhow!("MAMORI_MASTER_KEY: {e}"))?
        }
        None if keys.master_key_file.exists() => {
            MasterKey::load_or_create(&keys.master_key_file)?.0
        }
        None => {
            let uses = sealed::key_uses(db).await?;
            if !uses.is_empty() {
                anyhow::bail!(
                    "the master key file {file} does not exist, but the database holds records \
                     sealed with master key {ids}:\n{list}\n\
                     A new key would seal secrets that no other node can open, so none was created \
                     and nothing was changed. Copy the key file these records were sealed with to \
                     {file}, point --master-key-file (MAMORI_MASTER_KEY_FILE) at it, or set \
                     MAMORI_MASTER_KEY.",
                    file = std::path::absolute(&keys.master_key_file)
                        .unwrap_or_else(|_| keys.master_key_file.clone())
                        .display(),
                    ids = key_ids(&uses).join(", "),
                    list = describe(uses.iter().map(|u| (u, ""))),
                );
            }
            let (key, created) = MasterKey::load_or_create(&keys.master_key_file)?;
            if created {
                tracing::warn!(
                    file = %keys.master_key_file.display(),
                    key.id = %key.id(),
                    "created a new master key file (mode 0600); back it up: without it no token secret can be read"
                );
            }
            key
        }
    };
    Ok(current)
}

/// The file provider's key as it is, never created: for `mamori keys wrap`, which moves it
/// into the HSM.
pub fn existing_file_master_key(keys: &KeyArgs) -> anyhow::Result<MasterKey> {
    match env_key() {
        Some(text) => {
            MasterKey::parse(&text).map_err(|e| anyhow::anyhow!("MAMORI_MASTER_KEY: {e}"))
        }
        None if keys.master_key_file.exists() => {
            Ok(MasterKey::load_or_create(&keys.master_key_file)?.0)
        }
        None => anyhow::bail!(
            "there is no master key to wrap: neither MAMORI_MASTER_KEY nor the key file {}              (--master-key-file / MAMORI_MASTER_KEY_FILE)",
            std::path::absolute(&keys.master_key_file)
                .unwrap_or_else(|_| keys.master_key_file.clone())
                .display()
        ),
    }
}

/// `MAMORI_OLD_MASTER_KEYS` (comma-separated): keys that still open records sealed before a
/// rotation, with the file provider.
pub fn old_keys_from_env() -> anyhow::Result<Vec<MasterKey>> {
    let mut older = Vec::new();
    if let Ok(list) = std::env::var("MAMORI_OLD_MASTER_KEYS") {
        for part in list.split(',').filter(|p| !p.trim().is_empty()) {
            older.push(
                MasterKey::parse(part)
                    .map_err(|e| anyhow::anyhow!("MAMORI_OLD_MASTER_KEYS: {e}"))?,
            );
        }
    }
    Ok(older)
}

/// The start-up check of the master keys against the database: every sealed record's key is
/// given and opens a record it sealed, the current receipt signing key opens, and the root of
/// derived keys is loaded (made on a fresh database). Refuses with what is missing otherwise.
pub async fn check_keys(services: &Services, keys: &KeyArgs) -> anyhow::Result<()> {
    let unopenable = services.keys.unopenable().await?;
    if !unopenable.is_empty() {
        let uses: Vec<_> = unopenable.iter().map(|u| u.sealed.clone()).collect();
        let fix = match keys.key_provider {
            KeyProvider::File => {
                "Give the key they were sealed with: as the master key, or after a rotation in \
                 MAMORI_OLD_MASTER_KEYS (comma-separated) until `mamori keys reseal` has \
                 re-sealed them."
            }
            KeyProvider::Pkcs11 => {
                "Give the wrapped key file that holds the key they were sealed with (every node \
                 needs the file written by the last `mamori keys rotate-master` or \
                 `mamori keys wrap`)."
            }
        };
        anyhow::bail!(
            "the master key {current} from {source} cannot open records in the database \
             (they need master key {ids}):\n{list}\n\
             {fix} Nothing was changed.",
            current = services.keys.current_key_id(),
            source = key_source(keys),
            ids = key_ids(&uses).join(", "),
            list = describe(unopenable.iter().map(|u| (
                &u.sealed,
                match u.why {
                    Unopened::KeyNotGiven => " (no such key given)",
                    Unopened::DoesNotOpen =>
                        " (a key with this id is given but does not open them)",
                }
            ))),
        );
    }
    services
        .receipts
        .check_signing_key()
        .await
        .map_err(|e| anyhow::anyhow!("the current receipt signing key does not open: {e}"))?;
    services.keys.load_subkey_root().await?;
    Ok(())
}

/// A refusal as the operator at the console reads it: the rule's English explanation and its
/// stable code, or the field's message; `None` for the server's own failures.
pub fn explain(err: &ServiceError) -> Option<String> {
    match err {
        ServiceError::Rejected { code, .. } => Some(format!(
            "{} ({})",
            code.detail(mamori_domain::error_code::Lang::En),
            code.as_str()
        )),
        ServiceError::Invalid(message) => Some(message.clone()),
        _ => None,
    }
}

/// The banks' config files, every error listed.
pub fn load_tenants(dir: &Path) -> Result<Vec<TenantConfig>, String> {
    load_dir(dir).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// One line of a command's output on standard output (logs go to standard error).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// A database URL without its password, fit for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// A bank already in the database (from `serve`, or created in the console) is used as it is:
/// reading the files then would only make the key depend on a directory that has nothing to
/// do with it. A bank not there yet is declared from the tenant configs, as `serve` would.
pub async fn declare_if_missing(
    services: &Services,
    tenant: &TenantId,
    tenants: &TenantConfigArgs,
) -> anyhow::Result<()> {
    if services.tenants.exists(tenant).await? {
        return Ok(());
    }
    let dir = tenants.tenant_configs.display();
    let configs = load_tenants(&tenants.tenant_configs).map_err(|errors| {
        anyhow::anyhow!(
            "no bank with id {tenant} in the database, and the tenant configs cannot be read:\n\
             {errors}\n\
             Point --tenant-configs DIR at the directory that declares it, or create the bank in the admin console."
        )
    })?;
    services.tenants.apply_tenant_configs(&configs).await?;
    if !services.tenants.exists(tenant).await? {
        anyhow::bail!(
            "no bank with id {tenant}: it is neither in the database nor declared in {dir} \
             (--tenant-configs DIR). Add {tenant}.toml there, or create the bank in the admin console."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://mamori:s3cret@db:5432/mamori"),
            "postgres://mamori:***@db:5432/mamori"
        );
        assert_eq!(
            redact_url("sqlite://mamori.db?mode=rwc"),
            "sqlite://mamori.db?mode=rwc"
        );
    }
}
