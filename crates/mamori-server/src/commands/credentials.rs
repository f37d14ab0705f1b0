//! `mamori credentials`: the platform operator's actions on customers' credentials.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mamori_domain::error_code::Lang;
use mamori_service::{RequestMeta, SeedFile, SeedFormat, ServiceError};

use crate::common::{DatabaseArgs, KeyArgs, explain, say, services_with_keys};

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
        /// The master key: the lift goes into the keyed audit trails.
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Import hardware tokens from their vendor's seed file: PSKC (RFC 6030, plain or
    /// encrypted with a pre-shared AES key) or CSV (`serial,secret,type,digits,period`). Every
    /// token or none; each fault is listed with its line. A token's credential ID is its serial.
    Import(ImportArgs),
}

/// Runs a `credentials` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Unsuspend {
            credential_id,
            reason,
            operator,
            database,
            keys,
        } => unsuspend(&credential_id, &reason, &operator, &database, &keys).await,
        Command::Import(import) => import.run().await,
    }
}

async fn unsuspend(
    credential_id: &str,
    reason: &str,
    operator: &str,
    database: &DatabaseArgs,
    keys: &KeyArgs,
) -> anyhow::Result<ExitCode> {
    let services = services_with_keys(database, keys).await?;
    match services
        .platform
        .lift_credential_suspension(operator, &RequestMeta::default(), credential_id, reason)
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
        Err(err) => match explain(&err) {
            Some(why) => {
                eprintln!("mamori: {credential_id}: {why}");
                Ok(ExitCode::FAILURE)
            }
            None => Err(err.into()),
        },
    }
}

/// `mamori credentials import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The seed file.
    file: PathBuf,
    /// The file's format; by default from its extension (`.csv` is CSV, else PSKC).
    #[arg(long, value_parser = ["pskc", "csv"])]
    format: Option<String>,
    /// A file holding the pre-shared key of an encrypted PSKC file, as hex (never given on
    /// the command line, where other users could read it).
    #[arg(long)]
    psk_file: Option<PathBuf>,
    /// Check the file and list its tokens, storing nothing.
    #[arg(long)]
    check: bool,
    /// Who is acting (recorded as `operator:<name>`); defaults to the login name.
    #[arg(long, env = "USER", hide_env = true, default_value = "cli")]
    operator: String,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    keys: KeyArgs,
}

impl ImportArgs {
    async fn run(self) -> anyhow::Result<ExitCode> {
        let text = std::fs::read_to_string(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let psk = match &self.psk_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            ),
            None => None,
        };
        let is_csv = match self.format.as_deref() {
            Some(format) => format == "csv",
            None => self
                .file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
        };
        let file = SeedFile {
            format: if is_csv {
                SeedFormat::Csv
            } else {
                SeedFormat::Pskc
            },
            text: &text,
            psk_hex: psk.as_deref(),
            check_only: self.check,
        };
        let services = services_with_keys(&self.database, &self.keys).await?;
        let name = self.file.display();
        match services
            .provisioning
            .import_seed_file_by(&self.operator, &RequestMeta::default(), &file)
            .await
        {
            Ok(import) => {
                for token in &import.tokens {
                    say(&format!(
                        "{}\t{}\t{} digits\tline {}",
                        token.credential_id,
                        token.kind.as_str(),
                        token.params.digits.get(),
                        token.line
                    ));
                }
                let verb = if import.stored {
                    "imported"
                } else {
                    "can be imported (nothing stored)"
                };
                say(&format!(
                    "{name}: {} token(s) {verb}; file SHA-256 {}",
                    import.tokens.len(),
                    import.file_sha256
                ));
                Ok(ExitCode::SUCCESS)
            }
            Err(ServiceError::FileRejected(faults)) => {
                for fault in &faults {
                    eprintln!("{name}:{}: {}", fault.line, fault.fault.message(Lang::En));
                }
                eprintln!(
                    "mamori: {name}: nothing imported ({} fault(s))",
                    faults.len()
                );
                Ok(ExitCode::FAILURE)
            }
            Err(err) => match explain(&err) {
                Some(why) => {
                    eprintln!("mamori: {name}: {why}");
                    Ok(ExitCode::FAILURE)
                }
                None => Err(err.into()),
            },
        }
    }
}
