//! `mamori credentials`: the platform operator's actions on customers' credentials.

use std::process::ExitCode;

use mamori_service::{RequestMeta, ServiceError};

use crate::common::{DatabaseArgs, say, services_without_keys};

/// Customers' credentials across all banks (platform operator).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
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

/// Runs a `credentials` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Unsuspend {
        credential_id,
        reason,
        operator,
        database,
    } = command;
    let services = services_without_keys(&database).await?;
    match services
        .platform
        .lift_credential_suspension(&operator, &RequestMeta::default(), &credential_id, &reason)
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
        Err(err @ (ServiceError::Rejected { .. } | ServiceError::Invalid(_))) => {
            eprintln!("mamori: {credential_id}: {err}");
            Ok(ExitCode::FAILURE)
        }
        Err(err) => Err(err.into()),
    }
}
