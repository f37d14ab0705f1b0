//! `mamori seed`: fill a database with benchmark banks and users for `mamori bench` (bulk
//! inserts straight to the database, real sealed secrets; see the mamori-bench crate).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use mamori_bench::SeedPlan;
use mamori_domain::tenant_config::parse_tenant_config;
use mamori_domain::{Clock, SystemClock};
use mamori_service::Services;

use crate::common::{DatabaseArgs, KeyArgs, check_keys, load_keyring, migrated, redact_url, say};

/// `mamori seed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bank IDs are `<prefix>-001`, `<prefix>-002`, … A database that has banks with this
    /// prefix already is refused.
    #[arg(long, default_value = "bench")]
    prefix: String,
    /// Number of banks, each with one API key.
    #[arg(long, default_value_t = 1)]
    tenants: u32,
    /// Number of users, spread evenly over the banks, each with a TOTP credential (secret
    /// sealed with the master key) and an active binding.
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Where to write the banks' API keys and the users' token secrets (mode 0600); default
    /// `<prefix>.secrets`.
    #[arg(long)]
    secrets_out: Option<PathBuf>,
    /// The four letters credential IDs start with; default: the prefix's first four letters.
    #[arg(long)]
    credential_prefix: Option<String>,
    /// A tenant config file whose policy every bank gets (default: Mamori's defaults).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Users per transaction.
    #[arg(long, default_value_t = 5000)]
    chunk: usize,
    /// Who is seeding (the audit entries' actor is `operator:<name>`); defaults to the login
    /// name.
    #[arg(long, env = "USER", hide_env = true, default_value = "cli")]
    operator: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// The key `mamori serve` will open the secrets with: the same flag and variables.
    #[command(flatten)]
    keys: KeyArgs,
}

/// Seeds.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let policy = match &args.template {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_name()
                .map_or_else(|| "template.toml".into(), |n| n.to_string_lossy());
            let config = parse_tenant_config(&name, &text)
                .map_err(|e| anyhow::anyhow!("--template: {e}"))?;
            Some(config.policy)
        }
        None => None,
    };
    let plan = SeedPlan {
        prefix: args.prefix.clone(),
        tenants: args.tenants,
        users: args.users,
        credential_prefix: args.credential_prefix,
        policy,
        operator: args.operator,
        chunk: args.chunk,
    };
    // Checked before the database is touched.
    mamori_bench::seed::bank_ids(&plan)?;
    let db = migrated(&args.database.database_url).await?;
    // The same refusal as `serve`: never seal with a key the database's records do not use.
    let keyring = load_keyring(&args.keys, &db).await?;
    let checked = Services::builder(db.clone(), Arc::new(SystemClock), keyring.clone()).build();
    check_keys(&checked, &args.keys).await?;
    // The banks' creation goes into their keyed trails, written through the store.
    checked.audit.load_key().await?;
    // And its bindings and API keys carry their MACs.
    checked.keys.load_account_mac().await?;
    tracing::info!(database = %redact_url(&args.database.database_url), "seeding");
    let secrets = args
        .secrets_out
        .unwrap_or_else(|| PathBuf::from(format!("{}.secrets", args.prefix)));
    let report = mamori_bench::seed(&db, &keyring, SystemClock.now(), &plan, &secrets).await?;
    say(&report.render());
    Ok(ExitCode::SUCCESS)
}
