//! `mamori token …`: the customer's reference token on this process's terminal and the system
//! clock.

use std::io::IsTerminal;
use std::process::ExitCode;

use mamori_domain::SystemClock;

/// Runs a `token` subcommand.
pub async fn run(args: mamori_token::TokenArgs) -> anyhow::Result<ExitCode> {
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
