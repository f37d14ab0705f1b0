//! `mamori`: the one binary. Serves the API, runs migrations, checks tenant configs, prints the
//! API spec.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use mamori_api::AppState;
use mamori_api::metrics::Metrics;
use mamori_domain::SystemClock;
use mamori_domain::tenant_config::{TenantConfig, load_dir};
use mamori_service::Services;
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
    /// Print the OpenAPI spec (JSON) to standard output.
    Openapi,
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
        } => serve(&listen, &database.database_url, &tenants.tenant_configs).await,
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
        Command::Openapi => {
            let state = state_for(Database::connect("sqlite::memory:").await?);
            use std::io::Write;
            std::io::stdout().write_all(mamori_api::spec_json(state).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn state_for(db: Database) -> AppState {
    AppState {
        services: Services::new(db, Arc::new(SystemClock)),
        metrics: Arc::new(Metrics::new()),
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
) -> anyhow::Result<ExitCode> {
    // Refuse to start on a broken config before touching the database.
    let configs = load_tenants(tenant_dir)
        .map_err(|errors| anyhow::anyhow!("invalid tenant configs:\n{errors}"))?;
    let db = connect(database_url).await?;
    db.migrate().await?;
    tracing::info!(engine = ?db.engine(), database = %redact_url(database_url), "database ready");

    let state = state_for(db);
    for applied in state.services.apply_tenant_configs(&configs).await? {
        let change = match applied.change {
            TenantChange::Inserted => "inserted",
            TenantChange::Updated => "updated",
            TenantChange::Unchanged => "unchanged",
        };
        tracing::info!(tenant.id = %applied.id, change, "tenant config applied");
    }

    let app = mamori_api::app(state);
    let listener = TcpListener::bind(listen.to_owned());
    tracing::info!(
        "Mamori listening on http://{listen} (API docs: /docs, spec: /openapi.json, metrics: /metrics)"
    );
    Server::new(listener)
        .run_with_graceful_shutdown(app, shutdown_signal(), Some(Duration::from_secs(30)))
        .await?;
    tracing::info!("Mamori stopped");
    Ok(ExitCode::SUCCESS)
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
