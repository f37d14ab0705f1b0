//! `mamori audit verify`, `checkpoint` and `rekey`: check the keyed audit chains, sign their
//! heads for keeping outside the database, and re-link chains written before the trail was keyed.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mamori_domain::TenantId;
use mamori_service::{ChainStatus, Checkpoint, CheckpointStatus, Services};

use crate::common::{DatabaseArgs, KeyArgs, say, services_with_keys};

/// The audit trail.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Recompute audit chains with the trail's key and report the first broken entry; with
    /// --checkpoints, also check that each chain still holds the heads signed earlier.
    Verify {
        /// One bank's ID (or `platform`); every trail when left out.
        #[arg(long)]
        tenant: Option<String>,
        /// A file of checkpoints (`mamori audit checkpoint` output, one JSON object a line).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Once, at the upgrade to the keyed trail: check each chain written before it with its
    /// old unkeyed hash and re-link it with the key (each gets a `keyAuditChain` entry).
    /// `mamori serve` refuses to start until this has run.
    Rekey {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Print signed checkpoints of the audit chains' heads, one JSON object a line, to keep
    /// outside the database (another host, a WORM store, the auditor's mail): with them,
    /// `audit verify --checkpoints` finds a chain cut back after they were taken.
    Checkpoint {
        /// One bank's ID (or `platform`); every trail when left out.
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// Runs an `audit` subcommand.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Verify {
            tenant,
            checkpoints,
            database,
            keys,
        } => {
            let services = services_with_keys(&database, &keys).await?;
            let trails = trails(&services, tenant.as_deref()).await?;
            let mut intact = verify_chains(&services, &trails).await?;
            if let Some(file) = checkpoints {
                intact &= verify_checkpoints(&services, &file, tenant.as_deref()).await?;
            }
            Ok(if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Rekey { database, keys } => {
            let services = services_with_keys(&database, &keys).await?;
            let unkeyed = services.audit.unkeyed_trails().await?;
            if unkeyed.is_empty() {
                say("every audit chain is keyed already; nothing to do");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "re-linking {} chain(s) written before the trail was keyed: {}.\n\
                 This happens once, at the upgrade. If these chains were keyed before, someone \
                 with write access to the database reset them: stop and compare your \
                 checkpoints (`mamori audit verify --checkpoints`) instead.",
                unkeyed.len(),
                unkeyed.join(", ")
            );
            for (trail, done) in services.audit.rekey().await? {
                say(&format!(
                    "{trail}: {} entries checked and re-linked with the key; {} waiting entries sealed",
                    done.relinked, done.entries
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Checkpoint {
            tenant,
            database,
            keys,
        } => {
            let services = services_with_keys(&database, &keys).await?;
            let trails = trails(&services, tenant.as_deref()).await?;
            let checkpoints = services.audit.checkpoints(&trails).await?;
            for checkpoint in &checkpoints {
                say(&serde_json::to_string(checkpoint)?);
            }
            eprintln!(
                "{} checkpoint(s), signed by key {}. Keep them outside the database host; \
                 `mamori audit verify --checkpoints <file>` compares them with the chains.",
                checkpoints.len(),
                services.audit.checkpoint_key().await?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The trails named, or every one.
async fn trails(services: &Services, tenant: Option<&str>) -> anyhow::Result<Vec<String>> {
    Ok(match tenant {
        Some(tenant) => vec![TenantId::parse(tenant)?.as_str().to_owned()],
        None => services.audit.trails().await?,
    })
}

async fn verify_chains(services: &Services, trails: &[String]) -> anyhow::Result<bool> {
    let mut intact = true;
    for trail in trails {
        match services
            .audit
            .verify_audit_chain(&TenantId::parse(trail)?)
            .await?
        {
            ChainStatus::Intact { entries } => {
                say(&format!("{trail}: audit chain intact ({entries} entries)"));
            }
            ChainStatus::Broken { at_seq, reason } => {
                eprintln!("{trail}: audit chain BROKEN at entry {at_seq}: {reason}");
                intact = false;
            }
        }
    }
    Ok(intact)
}

async fn verify_checkpoints(
    services: &Services,
    file: &PathBuf,
    tenant: Option<&str>,
) -> anyhow::Result<bool> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?,
    );
    let mut checkpoints = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let checkpoint: Checkpoint = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a checkpoint", file.display(), n + 1))?;
        if tenant.is_none_or(|tenant| tenant == checkpoint.bank) {
            checkpoints.push(checkpoint);
        }
    }
    let found = services.audit.check_checkpoints(&checkpoints).await?;
    let mut holds = true;
    for (checkpoint, status) in checkpoints.iter().zip(found) {
        let (bank, seq) = (&checkpoint.bank, checkpoint.seq);
        match status {
            CheckpointStatus::Holds => {
                say(&format!("{bank}: checkpoint at entry {seq} holds"));
            }
            CheckpointStatus::Cut => {
                eprintln!(
                    "{bank}: checkpoint at entry {seq} BROKEN: the chain no longer reaches it \
                     (entries were removed and the chain cut back)"
                );
                holds = false;
            }
            CheckpointStatus::Changed => {
                eprintln!(
                    "{bank}: checkpoint at entry {seq} BROKEN: the chain holds another entry \
                     there (entries up to it were rewritten)"
                );
                holds = false;
            }
            CheckpointStatus::NotOurs(why) => {
                eprintln!("{bank}: checkpoint at entry {seq} NOT TRUSTED: {why}");
                holds = false;
            }
        }
    }
    if checkpoints.is_empty() {
        eprintln!("{}: no checkpoint to check", file.display());
        holds = false;
    }
    Ok(holds)
}
