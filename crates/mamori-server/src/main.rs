//! `mamori`: the one binary. Serves the API and the embedded admin console, runs migrations,
//! checks tenant configs, prints the API spec, and is the customer's reference token
//! (`mamori token`). Each subcommand lives in its own module under `commands/`; this file parses
//! the command line and hands over.

mod admin_ui;
mod commands;
mod common;
mod hsm;
mod key_uses;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{
    api_keys, audit, bench, credentials, keys, migrate, openapi, operators, outbox, passwords,
    seed, serve, tenants, token, webhooks,
};
use crate::logging::LogFormat;

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: migrate the database, apply tenant configs, serve the API.
    Serve(serve::Args),
    /// Apply pending database migrations and exit.
    Migrate(migrate::Args),
    /// Tenant (bank) configuration.
    Tenants {
        #[command(subcommand)]
        command: tenants::Command,
    },
    /// Banks' API keys.
    ApiKeys {
        #[command(subcommand)]
        command: api_keys::Command,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: audit::Command,
    },
    /// Keys that sign login and transaction receipts, and the master keys that seal secrets.
    Keys {
        #[command(subcommand)]
        command: keys::Command,
    },
    /// Banks' push-approval webhooks.
    Webhooks {
        #[command(subcommand)]
        command: webhooks::Command,
    },
    /// The admin console's operators.
    Operators {
        #[command(subcommand)]
        command: operators::Command,
    },
    /// Stored password hashes: the upgrade to the pepper.
    Passwords {
        #[command(subcommand)]
        command: passwords::Command,
    },
    /// Customers' credentials across all banks (platform operator).
    Credentials {
        #[command(subcommand)]
        command: credentials::Command,
    },
    /// Print the OpenAPI spec (JSON) to standard output.
    Openapi,
    /// Print the mails in the outbox, newest first (without SMTP, the outbox is the mailbox).
    Outbox(outbox::Args),
    /// Fill a database with benchmark banks and users (bulk inserts, token secrets sealed with
    /// the master key) and write their API keys and secrets to a file for `mamori bench`.
    Seed(seed::Args),
    /// Measure verifyOtp on a server on this machine with the users of `mamori seed`
    /// (requests/s, latency percentiles, answers by kind); `limit-sqlite` measures the commit
    /// rate a SQLite figure is a ratio of.
    Bench(bench::Args),
    /// The customer's soft token (Mamori's reference token app): codes, the banks it is
    /// registered at, push approvals.
    Token(mamori_token::TokenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
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
        Command::Serve(args) => serve::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::Tenants { command } => Ok(tenants::run(command)),
        Command::ApiKeys { command } => api_keys::run(command).await,
        Command::Audit { command } => audit::run(command).await,
        Command::Keys { command } => keys::run(command).await,
        Command::Webhooks { command } => webhooks::run(command).await,
        Command::Operators { command } => operators::run(command).await,
        Command::Passwords { command } => passwords::run(command).await,
        Command::Credentials { command } => credentials::run(command).await,
        Command::Openapi => openapi::run().await,
        Command::Outbox(args) => outbox::run(args).await,
        Command::Token(args) => token::run(args).await,
        Command::Seed(args) => seed::run(args).await,
        Command::Bench(args) => bench::run(args).await,
    }
}
