//! `mamori serve`: migrate the database, apply the tenant configs, serve the API (and deliver
//! outbox mails when SMTP is configured) until SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mamori_api::AppState;
use mamori_api::client_addr::TrustedProxies;
use mamori_api::metrics::Metrics;
use mamori_domain::SystemClock;
use mamori_service::mail::SmtpMailer;
use mamori_service::{AuditTrail, Idempotency, Outbox, SEAL_EVERY, Services, Trails};
use mamori_store::TenantChange;
use poem::Server;
use poem::listener::TcpListener;

use crate::admin_ui::AdminUi;
use crate::common::{
    DatabaseArgs, KeyArgs, PasswordCostArgs, TenantConfigArgs, check_keys, load_keyring,
    load_tenants, migrated, redact_url, say,
};

/// How often `serve` retries unsent outbox mails when SMTP is configured.
const MAIL_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// How often `serve` counts new audit entries into the console's figures.
const FIGURES_SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// How often expired idempotency keys are deleted (they are ignored once expired anyway; this
/// only keeps the table to about a day of keys).
const IDEMPOTENCY_SWEEP_INTERVAL: Duration = Duration::from_secs(600);

/// `mamori serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "MAMORI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Load balancers or reverse proxies in front of Mamori, as IP addresses or networks
    /// (`10.0.0.0/8,2001:db8::1`). Only a request whose TCP peer is one of them has its client
    /// read from `Forwarded` (RFC 7239 `for=`) or `X-Forwarded-For`: from the right, skipping
    /// these proxies; an unreadable header from them counts the proxy itself as the client.
    /// Rate limits and audit entries use that client (an IPv6 client's limits by its /64).
    /// Default (or empty): none, the TCP peer is the client — behind a proxy, every client
    /// would then share the proxy's limits.
    #[arg(long, env = "MAMORI_TRUSTED_PROXIES", value_name = "IP[/PREFIX],...")]
    trusted_proxies: Option<TrustedProxies>,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    tenants: TenantConfigArgs,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    mail: MailArgs,
    #[command(flatten)]
    password_cost: PasswordCostArgs,
}

/// How outbox mails leave the machine.
#[derive(Debug, clap::Args)]
struct MailArgs {
    /// SMTP server for outbox mails, e.g. `smtp://relay:25`, `smtp://user:pass@relay:587?tls=required`
    /// or `smtps://relay:465`. Without it mails stay in the outbox (`mamori outbox`).
    // The URL may carry a password: help names the variable but never prints its value.
    #[arg(long, env = "MAMORI_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The sender of outbox mails.
    #[arg(
        long,
        env = "MAMORI_MAIL_FROM",
        default_value = "Mamori <no-reply@mamori.invalid>"
    )]
    mail_from: String,
    /// The base URL customers' token apps reach this server at, named in activation mails.
    #[arg(long, env = "MAMORI_PUBLIC_URL", default_value = mamori_service::DEFAULT_PUBLIC_URL)]
    public_url: String,
}

/// Serves until asked to stop.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Args {
        listen,
        trusted_proxies,
        database,
        tenants,
        keys,
        mail,
        password_cost,
    } = args;
    let hashing = password_cost.hashing()?;
    // Refuse to start on a broken config before touching the database.
    let configs = load_tenants(&tenants.tenant_configs)
        .map_err(|errors| anyhow::anyhow!("invalid tenant configs:\n{errors}"))?;
    let db = migrated(&database.database_url).await?;
    tracing::info!(engine = ?db.engine(), database = %redact_url(&database.database_url), "database ready");

    let keyring = load_keyring(&keys, &db).await?;
    tracing::info!(
        memory_kib = hashing.memory_kib(),
        iterations = hashing.iterations(),
        "password hashing: argon2id with the pepper"
    );
    let mut builder = Services::builder(db, Arc::new(SystemClock), keyring)
        .public_url(&mail.public_url)
        .password_hashing(hashing);
    if let Some(url) = &mail.smtp_url {
        let mailer = SmtpMailer::from_url(url, &mail.mail_from)
            .map_err(|e| anyhow::anyhow!("--smtp-url / --mail-from: {e}"))?;
        builder = builder.mail_transport(Arc::new(mailer));
        tracing::info!(from = %mail.mail_from, "outbox mails are delivered by SMTP");
    } else {
        tracing::info!("no SMTP configured: mails stay in the outbox (mamori outbox)");
    }
    let metrics = Arc::new(Metrics::new());
    let services = builder.event_counter(metrics.clone()).build();
    // Before anything is written: a node whose keys do not open the records must not start.
    check_keys(&services, &keys).await?;
    upgrade_steps_done(&services).await?;
    if mail.smtp_url.is_some() {
        spawn_mail_sweep(services.outbox.clone());
    }
    let mut console_managed = Vec::new();
    for applied in services.tenants.apply_tenant_configs(&configs).await? {
        let change = match applied.change {
            TenantChange::Inserted => "inserted",
            TenantChange::Updated => "updated",
            TenantChange::Unchanged => "unchanged",
            TenantChange::AdminManaged => {
                console_managed.push(applied.id);
                continue;
            }
        };
        tracing::info!(tenant.id = %applied.id, change, "tenant config applied");
    }
    if !console_managed.is_empty() {
        // A restart must never silently undo an edit made in the admin console.
        anyhow::bail!(
            "these banks are managed in the admin console, but {} also declares them: {}. \
             Remove their files (the console exports a bank's policy as TOML), then start again.",
            tenants.tenant_configs.display(),
            console_managed.join(", ")
        );
    }
    if let Some(first) = services.operators.bootstrap().await? {
        say(&format!(
            "\nFirst start: a platform admin was created for the admin console.\n  \
             login:              {}\n  one-time password:  {}\n\
             Sign in at {} — you will set your own password and enroll an authenticator app.\n\
             This password is shown only now.\n",
            first.operator.login_name,
            first.one_time_password,
            AdminUi::url(&listen),
        ));
    }
    spawn_audit_sealer(services.audit.clone());
    spawn_figures_sweep(services.trails.clone());
    spawn_idempotency_sweep(services.idempotency.clone());
    let audit = services.audit.clone();

    let trusted_proxies = trusted_proxies.unwrap_or_default();
    if trusted_proxies.is_empty() {
        tracing::info!("no trusted proxies: every client is its TCP peer");
    } else {
        tracing::info!(%trusted_proxies, "clients behind these proxies are read from Forwarded / X-Forwarded-For");
    }
    let state = AppState::new(services, metrics).trusting(trusted_proxies);
    let app = mamori_api::app_with_admin_ui(state, AdminUi);
    let listener = TcpListener::bind(listen.clone());
    tracing::info!(
        "Mamori listening on http://{listen} (API docs: /docs, spec: /openapi.json, metrics: /metrics)"
    );
    tracing::info!("Admin console on {}", AdminUi::url(&listen));
    Server::new(listener)
        .run_with_graceful_shutdown(app, shutdown_signal(), Some(Duration::from_secs(30)))
        .await?;
    // What this node's last requests audited is linked now rather than by the next node.
    if let Err(err) = audit.seal_all().await {
        tracing::warn!(error = %err, "audit entries left for the next sealer");
    }
    tracing::info!("Mamori stopped");
    Ok(ExitCode::SUCCESS)
}

/// Retries unsent outbox mails (a relay that was down, a node that died mid-send) every
/// [`MAIL_SWEEP_INTERVAL`]. The claim on each mail keeps nodes from sending one twice.
fn spawn_mail_sweep(outbox: Outbox) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(MAIL_SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match outbox.deliver_pending_mails().await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "outbox sweep delivered mails"),
                Err(err) => tracing::warn!(error = %err, "outbox sweep failed; retrying later"),
            }
        }
    });
}

/// Links waiting audit entries into their banks' chains every [`SEAL_EVERY`]. Every node runs
/// it; two nodes sealing one bank queue on its chain head, and the second finds nothing left.
fn spawn_audit_sealer(audit: AuditTrail) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SEAL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match audit.seal_all().await {
                Ok(sealed) if sealed.entries > 0 => {
                    tracing::trace!(entries = sealed.entries, "audit entries sealed")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "audit sealing failed; retrying"),
            }
        }
    });
}

/// Counts new audit entries into the console's figures every [`FIGURES_SWEEP_INTERVAL`]
/// (a page asking for figures also counts first, so the sweep only keeps the work small).
fn spawn_figures_sweep(trails: Trails) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FIGURES_SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = trails.roll_up_all().await {
                tracing::warn!(error = %err, "figures roll-up failed; retrying later");
            }
        }
    });
}

/// Deletes expired idempotency keys every [`IDEMPOTENCY_SWEEP_INTERVAL`].
fn spawn_idempotency_sweep(keys: Idempotency) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(IDEMPOTENCY_SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match keys.forget_expired().await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "expired idempotency keys deleted"),
                Err(err) => {
                    tracing::warn!(error = %err, "idempotency sweep failed; retrying later")
                }
            }
        }
    });
}

/// Resolves on SIGTERM (orchestrators) or Ctrl-C (a person at a terminal).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

/// Refuses to start while an upgrade step is owed, naming every one at once (an operator
/// upgrading across several versions runs them all, then starts once). Each is an operator's
/// decision, never a node's: re-linking an unkeyed chain accepts whatever it holds; giving
/// account rows their MACs vouches for what they hold (until then every read that decides
/// access treats them as absent); a hash without the pepper never verifies.
async fn upgrade_steps_done(services: &Services) -> anyhow::Result<()> {
    let mut owed = Vec::new();
    let unkeyed = services.audit.unkeyed_trails().await?;
    if !unkeyed.is_empty() {
        owed.push(format!(
            "the audit chains of {} were written before the trail was keyed (or their heads \
             were reset in the database): run `mamori audit rekey` once to check and re-link \
             them",
            unkeyed.join(", ")
        ));
    }
    let unmacked = services.keys.unmacked_accounts().await?;
    if !unmacked.is_empty() {
        owed.push(format!(
            "{} were written before account rows carried a MAC (or someone wrote them straight \
             into the database): run `mamori keys mac-accounts` once to give them their MACs",
            unmacked
                .iter()
                .map(|u| format!("{} row(s) of {}", u.rows, u.table.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let legacy = services.password_pepper.legacy().await?;
    if !legacy.is_empty() {
        owed.push(format!(
            "password hashes made before the pepper are stored: {}. They no longer verify: run \
             `mamori passwords pepper` once to wrap them with the pepper",
            legacy
                .iter()
                .map(|l| format!("{} {} ({})", l.hashes, l.table.what, l.table.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    match owed.as_slice() {
        [] => Ok(()),
        [one] => anyhow::bail!("{one}; then start again."),
        many => anyhow::bail!(
            "{} upgrade steps are owed, each once, with this node's database and key settings:\n{}\nthen start again.",
            many.len(),
            many.iter()
                .enumerate()
                .map(|(n, step)| format!("  {}. {step}", n + 1))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}
