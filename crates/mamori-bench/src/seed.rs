//! `mamori seed`: fills a database with benchmark banks and users quickly — bulk inserts, a
//! transaction per chunk — with the same rows provisioning and registration write: each user a
//! contract user with a TOTP credential whose secret is sealed with the node's master key (the
//! credential ID as associated data) and an active binding at their bank; each bank an
//! admin-managed bank with one API key. It writes the secrets the bench needs to a file.
//!
//! It never goes through the API, so it needs no exemption from the API's rate limits: whoever
//! runs it holds the database URL and the master key already.
//!
//! Audit: one entry per bank (`bankCreated` by `operator:<name>`, in the unit that creates the
//! bank, its details naming the seed, the key's ID and the number of users planned) — not one
//! per user, credential or binding.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use mamori_crypto::{ApiKey, Keyring};
use mamori_domain::policy::TenantPolicy;
use mamori_domain::tenant_config::TenantConfig;
use mamori_domain::{AuditOutcome, BindingState, CredentialKind, Operation, TenantId};
use mamori_otp::{CredentialId, OtpParams, Secret};
use mamori_store::account_mac::AccountMac;
use mamori_store::audit::NewAuditEvent;
use mamori_store::seed::{
    self, SeedApiKey, SeedBank, SeedBinding, SeedCredential, SeedUser, SeedUserRow,
};
use mamori_store::{Database, Engine};
use serde_json::json;
use tokio::sync::{Mutex, mpsc};

use crate::secrets::{BankOtp, SecretsWriter, SeededBank};

/// At most this many banks: the platform is for about 250.
pub const MAX_TENANTS: u32 = 10_000;

/// At most this many users: the serials of one credential prefix.
pub const MAX_USERS: u64 = CredentialId::SERIAL_LIMIT;

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// Bank IDs are `<prefix>-001`, `<prefix>-002`, …
    pub prefix: String,
    /// Number of banks.
    pub tenants: u32,
    /// Number of users, spread evenly over the banks (user `i` at bank `i mod tenants`).
    pub users: u64,
    /// Credential IDs are `<PREFIX><serial><check digit>`; by default the first four letters
    /// of `prefix`, upper-cased (padded with `X`).
    pub credential_prefix: Option<String>,
    /// The policy every bank gets; Mamori's defaults when `None`.
    pub policy: Option<TenantPolicy>,
    /// Who seeds (the audit entries' actor is `operator:<operator>`).
    pub operator: String,
    /// Users per transaction.
    pub chunk: usize,
}

/// What a seed did.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// The banks created.
    pub banks: Vec<String>,
    /// Users (each with a credential and a binding) created.
    pub users: u64,
    /// The credential ID prefix used.
    pub credential_prefix: String,
    /// The secrets file.
    pub secrets: PathBuf,
    /// How long it took.
    pub elapsed: Duration,
}

impl SeedReport {
    /// The report as the operator reads it.
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.users as f64 / secs
        } else {
            0.0
        };
        format!(
            "seeded {} bank(s) ({} … {}) and {} user(s), each with a sealed TOTP credential ({}…) \
             and an active binding, in {secs:.1} s ({rate:.0} users/s)\nsecrets (API keys and \
             token secrets, mode 0600): {}",
            self.banks.len(),
            self.banks.first().map_or("", String::as_str),
            self.banks.last().map_or("", String::as_str),
            self.users,
            self.credential_prefix,
            self.secrets.display()
        )
    }
}

/// The default credential prefix for a bank prefix: its first four letters, upper-cased,
/// padded with `X`.
pub fn default_credential_prefix(prefix: &str) -> String {
    let mut letters: String = prefix
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_uppercase())
        .take(4)
        .collect();
    while letters.len() < 4 {
        letters.push('X');
    }
    letters
}

/// The IDs of the banks of `plan`, checked.
pub fn bank_ids(plan: &SeedPlan) -> anyhow::Result<Vec<String>> {
    if plan.tenants == 0 || plan.tenants > MAX_TENANTS {
        bail!("--tenants: 1..={MAX_TENANTS}, found {}", plan.tenants);
    }
    let width = plan.tenants.to_string().len().max(3);
    (1..=plan.tenants)
        .map(|i| {
            let id = format!("{}-{i:0width$}", plan.prefix);
            TenantId::parse(&id).map_err(|_| {
                anyhow::anyhow!(
                    "--prefix {:?}: bank ID {id:?} is not a valid bank ID (3..=40 characters of \
                     a-z, 0-9 and '-', starting with a letter)",
                    plan.prefix
                )
            })?;
            Ok(id)
        })
        .collect()
}

/// Seeds `db` (migrated) as `plan` says, sealing with `keyring`, and writes `secrets_out`.
/// Refuses a database that has banks with the plan's prefix or credentials with its credential
/// prefix already: two seeds are never mixed.
pub async fn seed(
    db: &Database,
    keyring: &Keyring,
    now: DateTime<Utc>,
    plan: &SeedPlan,
    secrets_out: &Path,
) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    let ids = bank_ids(plan)?;
    if plan.users == 0 || plan.users > MAX_USERS {
        bail!("--users: 1..={MAX_USERS}, found {}", plan.users);
    }
    if plan.chunk == 0 {
        bail!("the chunk size must be at least 1");
    }
    let credential_prefix = plan
        .credential_prefix
        .clone()
        .unwrap_or_else(|| default_credential_prefix(&plan.prefix));
    CredentialId::generate(&credential_prefix, 0)
        .map_err(|e| anyhow::anyhow!("--credential-prefix {credential_prefix:?}: {e}"))?;

    let taken = seed::banks_with_prefix(db, &format!("{}-", plan.prefix)).await?;
    if let Some(first) = taken.first() {
        bail!(
            "refusing to seed: the database has {} bank(s) with prefix {:?} already (e.g. {first}); \
             choose another --prefix or a fresh database",
            taken.len(),
            format!("{}-", plan.prefix)
        );
    }
    let taken = seed::credentials_with_prefix(db, &credential_prefix).await?;
    if taken > 0 {
        bail!(
            "refusing to seed: the database has {taken} credential(s) with ID prefix \
             {credential_prefix:?} already; choose another --credential-prefix or a fresh database"
        );
    }

    let policy = plan.policy.clone().unwrap_or_default();
    let otp = BankOtp {
        // Provisioning gives every soft token Mamori's default parameters, whatever the bank.
        params: OtpParams::default(),
        window: policy.otp.window.get(),
        lock_threshold: policy.otp.lock_threshold.get(),
    };
    let mut banks = Vec::with_capacity(ids.len());
    let mut seeded_banks = Vec::with_capacity(ids.len());
    let mut events = Vec::with_capacity(ids.len());
    let per_bank = |index: u64| {
        plan.users / u64::from(plan.tenants)
            + u64::from(index < plan.users % u64::from(plan.tenants))
    };
    for (index, id) in ids.iter().enumerate() {
        let number = index + 1;
        let config = TenantConfig {
            id: id.clone(),
            name_ja: format!("ベンチマーク信用金庫 {number}"),
            name_en: format!("Benchmark Shinkin Bank {number}"),
            service_name_ja: None,
            service_name_en: None,
            policy: policy.clone(),
        };
        config.validate().map_err(|problems| {
            anyhow::anyhow!(
                "the policy is not valid for a bank: {}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
        let key = ApiKey::generate()?;
        let key_id = format!("key_{}", uuid::Uuid::new_v4().simple());
        events.push(NewAuditEvent {
            tenant_id: id.clone(),
            actor: format!("operator:{}", plan.operator),
            operation: Operation::BankCreated,
            outcome: AuditOutcome::Success,
            error_code: None,
            user_id: None,
            credential_id: None,
            request_id: None,
            client_addr: None,
            details: Some(json!({
                "seed": "mamori seed (benchmark data)",
                "api_key_id": key_id,
                "users": per_bank(index as u64),
                "credential_prefix": credential_prefix,
            })),
        });
        banks.push(SeedBank {
            config,
            api_key: SeedApiKey {
                id: key_id,
                tenant_id: id.clone(),
                prefix: key.prefix().to_owned(),
                key_hash: key.hash().0,
                label: "mamori seed".to_owned(),
                created_at: now,
                revoked_at: None,
                last_used_at: None,
                // Made by the store as it inserts the row.
                mac: None,
            },
        });
        seeded_banks.push(SeededBank {
            id: id.clone(),
            api_key: key.reveal(),
            otp,
        });
    }
    // The rows that grant access carry their MAC, as the use cases write them.
    let mac = db.account_mac()?.clone();
    let tx = db.write().await?;
    seed::insert_banks(
        &tx,
        &mac,
        &banks,
        &format!("operator:{}", plan.operator),
        "mamori seed (benchmark data)",
        now,
    )
    .await
    .context("cannot create the banks")?;
    // A batch of audit entries belongs to one chain: one bank's.
    for event in events {
        tx.append_audit(vec![event], now).await?;
    }
    tx.commit().await?;
    tracing::info!(banks = ids.len(), "banks and API keys created");

    let writer = SecretsWriter::create(secrets_out, &seeded_banks)?;
    let writers = match db.engine() {
        // One writer at a time is SQLite's model.
        Engine::Sqlite => 1,
        Engine::Postgres => 2,
    };
    let (send, receive) = mpsc::channel::<Vec<SeedUser>>(writers * 2);
    let make = Maker {
        keyring: keyring.clone(),
        ids: Arc::new(ids.clone()),
        credential_prefix: credential_prefix.clone(),
        users: plan.users,
        chunk: plan.chunk,
        now,
    };
    let producer = tokio::task::spawn_blocking(move || make.run(writer, &send));
    let receive = Arc::new(Mutex::new(receive));
    let mut inserters = Vec::with_capacity(writers);
    for _ in 0..writers {
        let (db, mac, receive) = (db.clone(), mac.clone(), receive.clone());
        inserters.push(tokio::spawn(async move {
            let mut done = 0_u64;
            loop {
                let Some(chunk) = receive.lock().await.recv().await else {
                    return Ok::<u64, anyhow::Error>(done);
                };
                let len = chunk.len() as u64;
                if let Err(err) = insert_chunk(&db, &mac, chunk).await {
                    // Closing the channel stops the maker and, once drained, the other writers.
                    receive.lock().await.close();
                    return Err(err);
                }
                done += len;
            }
        }));
    }
    let mut inserted = 0;
    let mut failure = None;
    for inserter in inserters {
        match inserter.await? {
            Ok(done) => inserted += done,
            Err(err) => {
                failure.get_or_insert(err);
            }
        }
    }
    let produced = producer.await?;
    if let Some(err) = failure {
        return Err(err.context("cannot insert the users"));
    }
    let secrets = produced?;
    if inserted != plan.users {
        bail!("inserted {inserted} of {} users", plan.users);
    }
    Ok(SeedReport {
        banks: ids,
        users: inserted,
        credential_prefix,
        secrets,
        elapsed: started.elapsed(),
    })
}

async fn insert_chunk(db: &Database, mac: &AccountMac, chunk: Vec<SeedUser>) -> anyhow::Result<()> {
    let tx = db.write().await?;
    seed::insert_users(&tx, mac, chunk).await?;
    tx.commit().await?;
    Ok(())
}

/// Makes the users' rows (CPU: random IDs and secrets, sealing) on a blocking thread.
struct Maker {
    keyring: Keyring,
    ids: Arc<Vec<String>>,
    credential_prefix: String,
    users: u64,
    chunk: usize,
    now: DateTime<Utc>,
}

impl Maker {
    fn run(
        self,
        mut writer: SecretsWriter,
        send: &mpsc::Sender<Vec<SeedUser>>,
    ) -> anyhow::Result<PathBuf> {
        let banks = self.ids.len() as u64;
        let mut chunk = Vec::with_capacity(self.chunk);
        let mut last_report = Instant::now();
        for serial in 0..self.users {
            let bank = usize::try_from(serial % banks)?;
            let contract = serial / banks + 1;
            let user = self.user(&self.ids[bank], contract, serial)?;
            writer.user(bank, &user.0.user.id, &user.1)?;
            chunk.push(user.0);
            if chunk.len() == self.chunk || serial + 1 == self.users {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(self.chunk));
                if send.blocking_send(full).is_err() {
                    bail!("the database writers stopped");
                }
                if last_report.elapsed() > Duration::from_secs(10) {
                    tracing::info!(users = serial + 1, of = self.users, "seeding");
                    last_report = Instant::now();
                }
            }
        }
        writer.finish()
    }

    fn user(
        &self,
        tenant_id: &str,
        contract: u64,
        serial: u64,
    ) -> anyhow::Result<(SeedUser, Secret)> {
        let now = self.now;
        let user_id = format!("usr_{}", uuid::Uuid::new_v4().simple());
        let credential_id = CredentialId::generate(&self.credential_prefix, serial)?.to_string();
        let secret = Secret::generate()?;
        let sealed = self
            .keyring
            .seal(secret.as_bytes(), credential_id.as_bytes())?;
        let params = OtpParams::default();
        let row = SeedUser {
            user: SeedUserRow {
                id: user_id.clone(),
                tenant_id: tenant_id.to_owned(),
                contract_number: format!("{contract:010}"),
                user_code: String::new(),
                display_name: String::new(),
                created_at: now,
                updated_at: now,
                password_hash: None,
                password_changed_at: None,
                password_must_change: false,
                password_failures: 0,
                password_locked_at: None,
            },
            credential: SeedCredential {
                id: credential_id.clone(),
                kind: CredentialKind::Totp,
                algorithm: params.algorithm.as_str().to_owned(),
                digits: i16::from(params.digits.get()),
                period: i32::try_from(params.period.seconds())?,
                secret_ciphertext: sealed.blob,
                secret_key_id: sealed.key_id,
                drift_steps: 0,
                last_used_step: None,
                hotp_next_counter: 0,
                failures: 0,
                suspended_at: None,
                created_at: now,
                updated_at: now,
            },
            binding: SeedBinding {
                id: format!("bnd_{}", uuid::Uuid::new_v4().simple()),
                tenant_id: tenant_id.to_owned(),
                user_id,
                credential_id,
                state: BindingState::Active,
                failures: 0,
                last_success_at: None,
                created_at: now,
                updated_at: now,
                // Made by the store as it inserts the row.
                mac: None,
            },
        };
        Ok((row, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_prefixes_come_from_the_bank_prefix() {
        assert_eq!(default_credential_prefix("bench"), "BENC");
        assert_eq!(default_credential_prefix("b1-x"), "BXXX");
    }

    #[test]
    fn bank_ids_are_numbered_and_valid() {
        let plan = SeedPlan {
            prefix: "bench".into(),
            tenants: 12,
            users: 1,
            credential_prefix: None,
            policy: None,
            operator: "t".into(),
            chunk: 1,
        };
        let ids = bank_ids(&plan).unwrap();
        assert_eq!(ids.first().unwrap(), "bench-001");
        assert_eq!(ids.last().unwrap(), "bench-012");
        let bad = SeedPlan {
            prefix: "Bench".into(),
            ..plan
        };
        assert!(bank_ids(&bad).is_err());
    }
}
