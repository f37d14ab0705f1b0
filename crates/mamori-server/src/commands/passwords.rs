//! `mamori passwords pepper`: the upgrade of stored password hashes to the pepper.

use std::process::ExitCode;

use mamori_service::PEPPER_BATCH;

use crate::common::{DatabaseArgs, KeyArgs, say, services_with_keys};

/// Stored password hashes.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Once, at the upgrade to peppered password hashes: wrap every hash made before the
    /// pepper (contract users' login passwords and their history, operators' console
    /// passwords, activation passwords of issued tokens) with a key derived from the master
    /// key, without the clear passwords; each is re-hashed with the pepper at its next
    /// successful login. `mamori serve` refuses to start until this has run. Safe to run
    /// again, and beside running nodes.
    Pepper {
        /// Hashes wrapped per transaction.
        #[arg(long, default_value_t = PEPPER_BATCH)]
        batch: u64,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// Runs a `passwords` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Pepper {
            batch,
            database,
            keys,
        } => {
            let services = services_with_keys(&database, &keys).await?;
            let mut unwrappable = 0;
            for done in services.password_pepper.pepper(batch).await? {
                unwrappable += done.unwrappable;
                say(&format!(
                    "{} ({}): {} wrapped with the pepper, {} changed meanwhile, {} not wrappable",
                    done.table.name,
                    done.table.what,
                    done.wrapped,
                    done.changed_meanwhile,
                    done.unwrappable
                ));
            }
            if unwrappable > 0 {
                eprintln!(
                    "{unwrappable} stored hash(es) were not made by Mamori and cannot be wrapped; \
                     they never verify. Reset those passwords."
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
