//! What several subcommands share: the database, master-key and tenant-config arguments, and
//! opening each of them with an operator-readable error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mamori_crypto::{Keyring, MasterKey};
use mamori_domain::tenant_config::{TenantConfig, load_dir};
use mamori_domain::{SystemClock, TenantId};
use mamori_service::{ServiceError, Services};
use mamori_store::Database;

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
    /// File holding the master key that seals token secrets (created with mode 0600 at first
    /// start when missing). Ignored when MAMORI_MASTER_KEY is set.
    #[arg(long, env = "MAMORI_MASTER_KEY_FILE", default_value = "mamori.key")]
    pub master_key_file: PathBuf,
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

/// The services with the master keys.
pub async fn services_with_keys(
    database: &DatabaseArgs,
    keys: &KeyArgs,
) -> anyhow::Result<Services> {
    let db = migrated(&database.database_url).await?;
    Ok(Services::builder(db, Arc::new(SystemClock), load_keyring(keys)?).build())
}

/// A keyring for commands that never open a token secret.
pub fn ephemeral_keyring() -> anyhow::Result<Keyring> {
    Ok(Keyring::new(MasterKey::generate()?, []))
}

/// The master keys: `MAMORI_MASTER_KEY` (hex or base64) if set, else the key file, created
/// with mode 0600 at first start. `MAMORI_OLD_MASTER_KEYS` (comma-separated) still open
/// records sealed before a rotation.
pub fn load_keyring(keys: &KeyArgs) -> anyhow::Result<Keyring> {
    let current = match std::env::var("MAMORI_MASTER_KEY") {
        Ok(text) if !text.trim().is_empty() => {
            MasterKey::parse(&text).map_err(|e| anyhow::anyhow!("MAMORI_MASTER_KEY: {e}"))?
        }
        _ => {
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
    let mut older = Vec::new();
    if let Ok(list) = std::env::var("MAMORI_OLD_MASTER_KEYS") {
        for part in list.split(',').filter(|p| !p.trim().is_empty()) {
            older.push(
                MasterKey::parse(part)
                    .map_err(|e| anyhow::anyhow!("MAMORI_OLD_MASTER_KEYS: {e}"))?,
            );
        }
    }
    tracing::info!(key.id = %current.id(), older = older.len(), "master key loaded");
    Ok(Keyring::new(current, older))
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
