//! `mamori operators`: the admin console's operators, created with a one-time password (shown
//! once; the first login replaces it and enrolls an authenticator app).

use std::process::ExitCode;

use mamori_domain::OperatorRole;
use mamori_service::NewOperator;

use crate::common::{
    DatabaseArgs, KeyArgs, PasswordCostArgs, explain, say, services_hashing_with_keys,
    services_without_keys,
};

/// Admin console operators.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an operator and print the one-time password once.
    Create {
        /// Login name (3–40 of a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        login: String,
        /// The name shown in the console.
        #[arg(long)]
        name: String,
        /// platform_admin (all banks), bank_operator (one bank's support desk) or auditor
        /// (read-only).
        #[arg(long, value_parser = parse_role)]
        role: OperatorRole,
        /// The bank of a bank operator (required) or of an auditor limited to one bank.
        #[arg(long)]
        bank: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
        /// The master key: the creation goes into the keyed audit trail. (Boxed: the key
        /// provider's settings would make every `operators` command as large as this one.)
        #[command(flatten)]
        keys: Box<KeyArgs>,
        /// The same cost as `serve`'s, or the console refuses the password as outsized.
        #[command(flatten)]
        password_cost: PasswordCostArgs,
    },
    /// List the operators (never a password).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn parse_role(text: &str) -> Result<OperatorRole, String> {
    OperatorRole::parse(text)
        .ok_or_else(|| "expected platform_admin, bank_operator or auditor".to_owned())
}

/// Runs an `operators` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Create {
            login,
            name,
            role,
            bank,
            database,
            keys,
            password_cost,
        } => {
            let services =
                services_hashing_with_keys(&database, &keys, Some(password_cost.hashing()?))
                    .await?;
            let created = match services
                .operators
                .create_by_cli(NewOperator {
                    login_name: login.clone(),
                    display_name: name,
                    role,
                    bank_id: bank,
                })
                .await
            {
                Ok(created) => created,
                Err(err) => {
                    let Some(why) = explain(&err) else {
                        return Err(err.into());
                    };
                    eprintln!("mamori: operator {login}: {why}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            say(&created.one_time_password);
            eprintln!(
                "Operator {} ({}) created. The one-time password above is shown only now; the first sign-in replaces it.",
                created.operator.login_name, created.operator.role
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::List { database } => {
            let services = services_without_keys(&database).await?;
            for op in services.operators.list_all().await? {
                let state = match (op.locked_at, op.totp_enrolled) {
                    (Some(at), _) => format!("locked {}", at.to_rfc3339()),
                    (None, false) => "not set up".to_owned(),
                    (None, true) => "active".to_owned(),
                };
                say(&format!(
                    "{:<20} {:<15} {:<16} {:<12} {}",
                    op.login_name,
                    op.role,
                    op.bank_id.as_deref().unwrap_or("-"),
                    state,
                    op.display_name
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
