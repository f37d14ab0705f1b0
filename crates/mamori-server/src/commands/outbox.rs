//! `mamori outbox`: the mails in the outbox, newest first (without SMTP, the outbox is the
//! mailbox).

use std::process::ExitCode;

use mamori_domain::TenantId;

use crate::common::{DatabaseArgs, say, services_without_keys};

/// `mamori outbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this bank's mails.
    #[arg(long)]
    tenant: Option<String>,
    /// How many mails.
    #[arg(long, default_value_t = 20)]
    limit: u64,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Prints the outbox.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let services = services_without_keys(&args.database).await?;
    let tenant = args.tenant.as_deref().map(TenantId::parse).transpose()?;
    let mails = services.outbox.outbox(tenant.as_ref(), args.limit).await?;
    if mails.is_empty() {
        eprintln!("the outbox is empty");
    }
    for mail in mails {
        let state = mail.sent_at.map_or_else(
            || "not sent".to_owned(),
            |at| format!("sent {}", at.to_rfc3339()),
        );
        say(&format!(
            "Mail:    {} ({}, {state})\nTo:      {}\nSubject: {}\nDate:    {}\n\n{}\n{}",
            mail.id,
            mail.tenant_id,
            mail.recipient,
            mail.subject,
            mail.created_at.to_rfc3339(),
            mail.body,
            "=".repeat(72),
        ));
    }
    Ok(ExitCode::SUCCESS)
}
