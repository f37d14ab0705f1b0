//! `mamori migrate`: apply pending database migrations and exit.

use std::process::ExitCode;

use crate::common::{DatabaseArgs, connect};

/// `mamori migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Applies every pending migration.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let db = connect(&args.database.database_url).await?;
    let pending = db.pending_migrations().await?;
    db.migrate().await?;
    tracing::info!(applied = pending, "database migrated");
    Ok(ExitCode::SUCCESS)
}
