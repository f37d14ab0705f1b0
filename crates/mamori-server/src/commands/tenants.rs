//! `mamori tenants check`: validate the tenant config files and list the banks they declare.

use std::process::ExitCode;

use crate::common::{TenantConfigArgs, load_tenants, say};

/// Tenant (bank) configuration.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate the tenant config files and list the banks they declare.
    Check {
        #[command(flatten)]
        tenants: TenantConfigArgs,
    },
}

/// Runs a `tenants` subcommand.
pub fn run(command: Command) -> ExitCode {
    let Command::Check { tenants } = command;
    let dir = &tenants.tenant_configs;
    match load_tenants(dir) {
        Ok(configs) => {
            for config in &configs {
                say(&format!(
                    "{:<20} {} / {}",
                    config.id, config.name_ja, config.name_en
                ));
            }
            say(&format!(
                "{} tenant config(s) OK in {}",
                configs.len(),
                dir.display()
            ));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}
