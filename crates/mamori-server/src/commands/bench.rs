//! `mamori bench`: measure `verifyOtp` on a server on this machine with the users of `mamori
//! seed`, and `mamori bench limit-sqlite`: the commit rate a SQLite figure is compared with.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mamori_bench::{LoadOptions, Mix, parse_duration};
use serde::Serialize;

use crate::common::say;

/// `mamori bench`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

/// The references.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// SQLite's own single-commit rate in a directory (on the disk to compare with), opened as
    /// Mamori opens its database: WAL, synchronous=FULL, one UPDATE per BEGIN IMMEDIATE … COMMIT.
    LimitSqlite {
        /// The directory to make the scratch database file in (removed afterwards).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// How long to measure: `10s`, `1m`, `500ms`.
        #[arg(long, default_value = "10s", value_parser = bounded_duration)]
        duration: Duration,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// Drive `verifyOtp`: the users of a `mamori seed` secrets file, each code computed here.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The server's base URL; only the loopback interface (127.0.0.0/8, ::1, localhost).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The secrets file written by `mamori seed`.
    #[arg(long, default_value = "bench.secrets")]
    secrets: PathBuf,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to send requests: `20s`, `1m`, `500ms` (at most an hour).
    #[arg(long, default_value = "20s", value_parser = bounded_duration)]
    duration: Duration,
    /// Stop earlier, after this many requests.
    #[arg(long)]
    max_requests: Option<u64>,
    /// Use only the first K banks of the file.
    #[arg(long)]
    banks: Option<usize>,
    /// Use only the first U users (of those banks).
    #[arg(long)]
    users: Option<usize>,
    /// The share of each kind of request in percent: fresh correct codes (200), replays of
    /// accepted codes (409 otp_already_used) and wrong codes (422 otp_invalid, never enough to
    /// lock a token). A correct code needs a user whose current step is unspent; when there is
    /// none the request is not sent and counted as no_fresh_user.
    #[arg(long, default_value = "correct=100")]
    mix: Mix,
    /// Correct codes also use the steps either side of the current one that the bank's window
    /// accepts (oldest first): up to three codes per user and step instead of one.
    #[arg(long)]
    spend_window: bool,
    /// Send at most R requests a second in all, evenly spaced, so two runs (say 10k and 1M
    /// users) compare at the same load; without it each worker sends as fast as answers come.
    #[arg(long)]
    rate: Option<u32>,
    /// First check that one fresh code per bank is accepted; stop if not.
    #[arg(long)]
    include_setup_check: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn bounded_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() || duration > mamori_bench::load::MAX_DURATION {
        return Err("more than 0 and at most 1 hour".into());
    }
    Ok(duration)
}

/// Runs `mamori bench`: exits 1 when an answer was not the expected one.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(Command::LimitSqlite {
            dir,
            duration,
            json,
        }) => {
            let rate = mamori_bench::sqlite_commit_rate(&dir, duration).await?;
            say(&rate.render());
            write_json(json.as_ref(), &rate)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let run = args.run;
            let report = mamori_bench::load::run(LoadOptions {
                url: run.url,
                secrets: run.secrets,
                concurrency: run.concurrency,
                duration: run.duration,
                banks: run.banks,
                users: run.users,
                mix: run.mix,
                max_requests: run.max_requests,
                setup_check: run.include_setup_check,
                spend_window: run.spend_window,
                rate: run.rate,
            })
            .await?;
            say(&report.render());
            write_json(run.json.as_ref(), &report)?;
            Ok(if report.unexpected == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn write_json(path: Option<&PathBuf>, value: &impl Serialize) -> anyhow::Result<()> {
    if let Some(path) = path {
        let text = serde_json::to_string_pretty(value)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
