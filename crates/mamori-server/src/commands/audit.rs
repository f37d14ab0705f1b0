//! `mamori audit verify`: recompute a bank's audit hash chain.

use std::process::ExitCode;

use mamori_domain::TenantId;
use mamori_service::ChainStatus;

use crate::common::{DatabaseArgs, say, services_without_keys};

/// The audit trail.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Recompute a bank's audit hash chain and report the first broken entry.
    Verify {
        /// The bank's ID.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs an `audit` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Verify { tenant, database } = command;
    let services = services_without_keys(&database).await?;
    let tenant = TenantId::parse(&tenant)?;
    match services.audit.verify_audit_chain(&tenant).await? {
        ChainStatus::Intact { entries } => {
            say(&format!("{tenant}: audit chain intact ({entries} entries)"));
            Ok(ExitCode::SUCCESS)
        }
        ChainStatus::Broken { at_seq, reason } => {
            eprintln!("{tenant}: audit chain BROKEN at entry {at_seq}: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}
