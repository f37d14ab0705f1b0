//! `mamori`: the one binary. Serves the API and the embedded admin console, runs migrations,
//! checks tenant configs, prints the API spec, and is the customer's reference token
//! (`mamori token`).

mod admin_ui;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use mamori_api::AppState;
use mamori_api::metrics::Metrics;
use mamori_crypto::{Keyring, MasterKey};
use mamori_domain::tenant_config::{TenantConfig, load_dir};
use mamori_domain::{SystemClock, TenantId};
use mamori_service::Services;
use mamori_service::mail::SmtpMailer;
use mamori_store::{Database, TenantChange};
use poem::Server;
use poem::listener::TcpListener;

/// Mamori: one-time passwords for Japanese shinkin banks.
#[derive(Debug, Parser)]
#[command(name = "mamori", version, about)]
struct Cli {
    /// Log format.
    #[arg(long, env = "MAMORI_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded default) or `postgres://…`.
    #[arg(
        long,
        env = "MAMORI_DATABASE_URL",
        default_value = "sqlite://mamori.db?mode=rwc"
    )]
    database_url: String,
}

#[derive(Debug, clap::Args)]
struct KeyArgs {
    /// File holding the master key that seals token secrets (created with mode 0600 at first
    /// start when missing). Ignored when MAMORI_MASTER_KEY is set.
    #[arg(long, env = "MAMORI_MASTER_KEY_FILE", default_value = "mamori.key")]
    master_key_file: PathBuf,
}

#[derive(Debug, clap::Args)]
struct TenantConfigArgs {
    /// Directory of tenant config files (`<bank>.toml`).
    #[arg(long, env = "MAMORI_TENANT_CONFIGS", default_value = "tenant-configs")]
    tenant_configs: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: migrate the database, apply tenant configs, serve the API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "MAMORI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        tenants: TenantConfigArgs,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Tenant (bank) configuration.
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Banks' API keys.
    ApiKeys {
        #[command(subcommand)]
        command: ApiKeysCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Keys that sign login and transaction receipts.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Banks' push-approval webhooks.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Customers' credentials across all banks (platform operator).
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// Print the OpenAPI spec (JSON) to standard output.
    Openapi,
    /// Print the mails in the outbox, newest first (without SMTP, the outbox is the mailbox).
    Outbox {
        /// Only this bank's mails.
        #[arg(long)]
        tenant: Option<String>,
        /// How many mails.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// The customer's soft token (Mamori's reference token app): codes, the banks it is
    /// registered at, push approvals.
    Token(mamori_token::TokenArgs),
}

#[derive(Debug, clap::Args)]
struct MailArgs {
    /// SMTP server for outbox mails, e.g. `smtp://relay:25`, `smtp://user:pass@relay:587?tls=required`
    /// or `smtps://relay:465`. Without it mails stay in the outbox (`mamori outbox`).
    #[arg(long, env = "MAMORI_SMTP_URL")]
    smtp_url: Option<String>,
    /// The sender of outbox mails.
    #[arg(
        long,
        env = "MAMORI_MAIL_FROM",
        default_value = "Mamori <no-reply@mamori.invalid>"
    )]
    mail_from: String,
    /// The base URL customers' token apps reach this server at, named in activation mails.
    #[arg(long, env = "MAMORI_PUBLIC_URL", default_value = mamori_service::DEFAULT_PUBLIC_URL)]
    public_url: String,
}

/// How often `serve` retries unsent outbox mails when SMTP is configured.
const MAIL_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Subcommand)]
enum WebhooksCommand {
    /// Print a bank's webhook secret (hex): the key of the HMAC-SHA256 in the
    /// `Mamori-Signature` header of its push-approval webhooks. Derived from the master key, so
    /// it changes when the master key is rotated.
    Secret {
        /// The bank's ID.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Tenant configs applied first, so a secret can be shown before the first `serve`.
        #[command(flatten)]
        tenants: TenantConfigArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeysCommand {
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
        /// Tenant configs applied first, so a key can be made before the first `serve`.
        #[command(flatten)]
        tenants: TenantConfigArgs,
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

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Lift a credential's platform-wide suspension (after 100 wrong codes across banks), once
    /// you are satisfied its owner holds it. Audited with the reason in the platform's trail
    /// and in the trail of every bank the token is registered at.
    Unsuspend {
        /// The credential ID, e.g. `MAMO00001234`.
        credential_id: String,
        /// Why: goes into the audit trails.
        #[arg(long)]
        reason: String,
        /// Who is acting (recorded as `operator:<name>`); defaults to the login name.
        #[arg(long, env = "USER", hide_env = true, default_value = "cli")]
        operator: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new receipt signing key. The old key stays published at
    /// /.well-known/jwks.json until every receipt it signed has expired.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute a bank's audit hash chain and report the first broken entry.
    Verify {
        /// The bank's ID.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TenantsCommand {
    /// Validate the tenant config files and list the banks they declare.
    Check {
        #[command(flatten)]
        tenants: TenantConfigArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("mamori: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mamori: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve {
            listen,
            database,
            tenants,
            keys,
            mail,
        } => {
            serve(
                &listen,
                &database.database_url,
                &tenants.tenant_configs,
                &keys,
                &mail,
            )
            .await
        }
        Command::Outbox {
            tenant,
            limit,
            database,
        } => {
            let services = cli_services(&database.database_url).await?;
            let tenant = tenant.as_deref().map(TenantId::parse).transpose()?;
            let mails = services.outbox(tenant.as_ref(), limit).await?;
            if mails.is_empty() {
                eprintln!("the outbox is empty");
            }
            for mail in mails {
                let state = mail.sent_at.map_or_else(
                    || "not sent".to_owned(),
                    |at| format!("sent {}", at.to_rfc3339()),
                );
                say(&format!(
                    "Mail:    {} ({}, {state})\nTo:      {}\nSubject: {}\nDate:    {}\n\n{}\n{}",
                    mail.id,
                    mail.tenant_id,
                    mail.recipient,
                    mail.subject,
                    mail.created_at.to_rfc3339(),
                    mail.body,
                    "=".repeat(72),
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ApiKeys { command } => api_keys(command).await,
        Command::Keys {
            command: KeysCommand::Rotate { database, keys },
        } => {
            let db = connect(&database.database_url).await?;
            db.migrate().await?;
            let services = Services::new(db, Arc::new(SystemClock), load_keyring(&keys)?);
            let kid = services.rotate_signing_key().await?;
            say(&format!(
                "new receipt signing key {kid}; running nodes switch within 30 s"
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { tenant, database },
        } => {
            let services = cli_services(&database.database_url).await?;
            let tenant = TenantId::parse(&tenant)?;
            match services.verify_audit_chain(&tenant).await? {
                mamori_store::audit::ChainCheck::Intact { entries } => {
                    say(&format!("{tenant}: audit chain intact ({entries} entries)"));
                    Ok(ExitCode::SUCCESS)
                }
                mamori_store::audit::ChainCheck::Broken { at_seq, reason } => {
                    eprintln!("{tenant}: audit chain BROKEN at entry {at_seq}: {reason}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Webhooks {
            command:
                WebhooksCommand::Secret {
                    tenant,
                    database,
                    tenants,
                    keys,
                },
        } => {
            let db = connect(&database.database_url).await?;
            db.migrate().await?;
            let services = Services::new(db, Arc::new(SystemClock), load_keyring(&keys)?);
            let configs = load_tenants(&tenants.tenant_configs)
                .map_err(|errors| anyhow::anyhow!("invalid tenant configs:\n{errors}"))?;
            services.apply_tenant_configs(&configs).await?;
            let tenant = TenantId::parse(&tenant)?;
            say(&services.webhook_secret(&tenant).await?);
            eprintln!(
                "Webhook secret of {tenant}: hand it to the bank over a secure channel. It changes when the master key is rotated."
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Credentials {
            command:
                CredentialsCommand::Unsuspend {
                    credential_id,
                    reason,
                    operator,
                    database,
                },
        } => {
            let services = cli_services(&database.database_url).await?;
            let meta = mamori_service::RequestMeta::default();
            match services
                .lift_credential_suspension(&operator, &meta, &credential_id, &reason)
                .await
            {
                Ok(lifted) => {
                    say(&format!(
                        "{}: suspension lifted; recorded in the platform trail and at {} bank(s)",
                        lifted.credential_id,
                        lifted.banks.len()
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                Err(
                    err @ (mamori_service::ServiceError::Rejected { .. }
                    | mamori_service::ServiceError::Invalid(_)),
                ) => {
                    eprintln!("mamori: {credential_id}: {err}");
                    Ok(ExitCode::FAILURE)
                }
                Err(err) => Err(err.into()),
            }
        }
        Command::Migrate { database } => {
            let db = connect(&database.database_url).await?;
            let pending = db.pending_migrations().await?;
            db.migrate().await?;
            tracing::info!(applied = pending, "database migrated");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenants {
            command: TenantsCommand::Check { tenants },
        } => Ok(check_tenants(&tenants.tenant_configs)),
        Command::Token(args) => token(args).await,
        Command::Openapi => {
            let state = state_for(
                Database::connect("sqlite::memory:").await?,
                ephemeral_keyring()?,
            );
            use std::io::Write;
            std::io::stdout().write_all(mamori_api::spec_json(state).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `mamori token …` on this process's terminal and the system clock.
async fn token(args: mamori_token::TokenArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut input = stdin.lock();
    let mut console = mamori_token::Console {
        out: &mut std::io::stdout(),
        err: &mut std::io::stderr(),
        input: &mut input,
        interactive,
    };
    Ok(mamori_token::run(args, &SystemClock, &mut console).await?)
}

fn state_for(db: Database, keyring: Keyring) -> AppState {
    AppState {
        services: Services::new(db, Arc::new(SystemClock), keyring),
        metrics: Arc::new(Metrics::new()),
    }
}

/// A keyring for commands that never open a token secret.
fn ephemeral_keyring() -> anyhow::Result<Keyring> {
    Ok(Keyring::new(MasterKey::generate()?, []))
}

/// The master keys: `MAMORI_MASTER_KEY` (hex or base64) if set, else the key file, created
/// with mode 0600 at first start. `MAMORI_OLD_MASTER_KEYS` (comma-separated) still open
/// records sealed before a rotation.
fn load_keyring(keys: &KeyArgs) -> anyhow::Result<Keyring> {
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

async fn cli_services(database_url: &str) -> anyhow::Result<Services> {
    let db = connect(database_url).await?;
    db.migrate().await?;
    Ok(Services::new(
        db,
        Arc::new(SystemClock),
        ephemeral_keyring()?,
    ))
}

fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

async fn api_keys(command: ApiKeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        ApiKeysCommand::Create {
            tenant,
            label,
            database,
            tenants,
        } => {
            let services = cli_services(&database.database_url).await?;
            let configs = load_tenants(&tenants.tenant_configs)
                .map_err(|errors| anyhow::anyhow!("invalid tenant configs:\n{errors}"))?;
            services.apply_tenant_configs(&configs).await?;
            let tenant = TenantId::parse(&tenant)?;
            let created = services.create_api_key(&tenant, &label).await?;
            say(&created.key);
            eprintln!(
                "API key {} created for {tenant}. It is shown only now: hand it to the bank over a secure channel.",
                created.id
            );
            Ok(ExitCode::SUCCESS)
        }
        ApiKeysCommand::List { tenant, database } => {
            let services = cli_services(&database.database_url).await?;
            let tenant = TenantId::parse(&tenant)?;
            for key in services.list_api_keys(&tenant).await? {
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
        ApiKeysCommand::Revoke { key, database } => {
            let services = cli_services(&database.database_url).await?;
            if services.revoke_api_key(&key).await? {
                say(&format!("revoked {key}"));
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no active API key {key}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<Database> {
    Database::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", redact_url(url)))
}

/// A database URL without its password, fit for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn load_tenants(dir: &std::path::Path) -> Result<Vec<TenantConfig>, String> {
    load_dir(dir).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn check_tenants(dir: &std::path::Path) -> ExitCode {
    match load_tenants(dir) {
        Ok(configs) => {
            #[expect(clippy::print_stdout, reason = "the command's output")]
            for config in &configs {
                println!("{:<20} {} / {}", config.id, config.name_ja, config.name_en);
            }
            #[expect(clippy::print_stdout, reason = "the command's output")]
            {
                println!("{} tenant config(s) OK in {}", configs.len(), dir.display());
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    listen: &str,
    database_url: &str,
    tenant_dir: &std::path::Path,
    keys: &KeyArgs,
    mail: &MailArgs,
) -> anyhow::Result<ExitCode> {
    // Refuse to start on a broken config before touching the database.
    let configs = load_tenants(tenant_dir)
        .map_err(|errors| anyhow::anyhow!("invalid tenant configs:\n{errors}"))?;
    let db = connect(database_url).await?;
    db.migrate().await?;
    tracing::info!(engine = ?db.engine(), database = %redact_url(database_url), "database ready");

    let keyring = load_keyring(keys)?;
    let mut state = state_for(db, keyring);
    state.services = state.services.with_public_url(&mail.public_url);
    if let Some(url) = &mail.smtp_url {
        let mailer = SmtpMailer::from_url(url, &mail.mail_from)
            .map_err(|e| anyhow::anyhow!("--smtp-url / --mail-from: {e}"))?;
        state.services = state.services.with_mail_transport(Arc::new(mailer));
        spawn_mail_sweep(state.services.clone());
        tracing::info!(from = %mail.mail_from, "outbox mails are delivered by SMTP");
    } else {
        tracing::info!("no SMTP configured: mails stay in the outbox (mamori outbox)");
    }
    for applied in state.services.apply_tenant_configs(&configs).await? {
        let change = match applied.change {
            TenantChange::Inserted => "inserted",
            TenantChange::Updated => "updated",
            TenantChange::Unchanged => "unchanged",
        };
        tracing::info!(tenant.id = %applied.id, change, "tenant config applied");
    }

    let app = mamori_api::app_with_admin_ui(state, admin_ui::AdminUi);
    let listener = TcpListener::bind(listen.to_owned());
    tracing::info!(
        "Mamori listening on http://{listen} (API docs: /docs, spec: /openapi.json, metrics: /metrics)"
    );
    tracing::info!("Admin console on {}", admin_ui::AdminUi::url(listen));
    Server::new(listener)
        .run_with_graceful_shutdown(app, shutdown_signal(), Some(Duration::from_secs(30)))
        .await?;
    tracing::info!("Mamori stopped");
    Ok(ExitCode::SUCCESS)
}

/// Retries unsent outbox mails (a relay that was down, a node that died mid-send) every
/// [`MAIL_SWEEP_INTERVAL`]. The claim on each mail keeps nodes from sending one twice.
fn spawn_mail_sweep(services: Services) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(MAIL_SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match services.deliver_pending_mails().await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "outbox sweep delivered mails"),
                Err(err) => tracing::warn!(error = %err, "outbox sweep failed; retrying later"),
            }
        }
    });
}

/// Resolves on SIGTERM (orchestrators) or Ctrl-C (a person at a terminal).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MAMORI_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
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
