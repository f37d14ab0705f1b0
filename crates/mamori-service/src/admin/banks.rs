//! Banks in the console: the list and one bank's page, its policy (read-only and offered as
//! TOML for a file-managed bank; edited with a diff, NIST flags and a version history for a
//! console-managed one), suspension, and its API keys.

use chrono::{DateTime, Utc};
use mamori_domain::review::{NistFlag, config_diff, nist_flags};
use mamori_domain::tenant_config::{TenantConfig, TenantConfigError, parse_all_errors};
use mamori_domain::{ErrorCode, ManagedBy, Operation, TenantId};
use mamori_store::audit::PLATFORM_TENANT;
use mamori_store::{PolicyVersion, StoreError, TenantRecord, api_keys, tenants};
use serde_json::json;

use crate::access::{Access, ApiKeyInfo, CreatedApiKey};
use crate::admin::{OperatorCaller, clean_reason};
use crate::core::audit::AuditEntry;
use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;

/// A bank as the console lists it.
#[derive(Debug, Clone)]
pub struct BankSummary {
    /// The bank's ID.
    pub id: String,
    /// 金融機関名.
    pub name_ja: String,
    /// The English name.
    pub name_en: String,
    /// Where its policy lives.
    pub managed_by: ManagedBy,
    /// The file of a file-managed bank.
    pub config_file: Option<String>,
    /// When it was suspended, if it is.
    pub suspended_at: Option<DateTime<Utc>>,
    /// The policy's version.
    pub policy_version: i32,
    /// Contract users (on one bank's page; not counted in lists).
    pub user_count: Option<u64>,
}

impl From<TenantRecord> for BankSummary {
    fn from(record: TenantRecord) -> Self {
        Self {
            id: record.id.to_string(),
            name_ja: record.config.name_ja,
            name_en: record.config.name_en,
            managed_by: record.managed_by,
            config_file: record.config_file,
            suspended_at: record.suspended_at,
            policy_version: record.policy_version,
            user_count: record.user_count,
        }
    }
}

/// One bank's page: its summary and its whole policy as TOML.
#[derive(Debug, Clone)]
pub struct BankDetail {
    /// The summary.
    pub summary: BankSummary,
    /// The config as the text of `tenant-configs/<id>.toml`.
    pub policy_toml: String,
    /// Values that deviate from NIST SP 800-63B.
    pub nist_flags: Vec<NistFlag>,
}

/// One rule a submitted config breaks, as `mamori tenants check` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key path (`otp.digits`) or `line L, column C` of a syntax error.
    pub location: String,
    /// Why.
    pub message: String,
    /// The whole line as `mamori tenants check` prints it.
    pub text: String,
}

impl From<TenantConfigError> for ConfigProblem {
    fn from(error: TenantConfigError) -> Self {
        let location = match &error.location {
            mamori_domain::tenant_config::ErrorLocation::Key(key) => key.clone(),
            mamori_domain::tenant_config::ErrorLocation::Position { line, column } => {
                format!("line {line}, column {column}")
            }
            mamori_domain::tenant_config::ErrorLocation::Whole => String::new(),
        };
        Self {
            location,
            message: error.message.clone(),
            text: error.to_string(),
        }
    }
}

/// A submitted config, reviewed before it is saved.
#[derive(Debug, Clone)]
pub struct PolicyReview {
    /// The config, when it is valid.
    pub config: Option<TenantConfig>,
    /// What is wrong with it (empty when valid).
    pub problems: Vec<ConfigProblem>,
    /// The unified diff from the bank's current file to this one (empty: no change).
    pub diff: String,
    /// The config written out as its file would read (what to put into a file-managed bank's
    /// file), when valid.
    pub normalized_toml: Option<String>,
    /// Values that deviate from NIST SP 800-63B.
    pub nist_flags: Vec<NistFlag>,
}

/// One saved version of a console-managed bank's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionView {
    /// From 1.
    pub version: i32,
    /// Who saved it (`operator:<login>`).
    pub changed_by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The config as a file would read.
    pub policy_toml: String,
}

impl From<PolicyVersion> for PolicyVersionView {
    fn from(v: PolicyVersion) -> Self {
        Self {
            version: v.version,
            changed_by: v.changed_by,
            reason: v.reason,
            created_at: v.created_at,
            policy_toml: v.config.to_toml(),
        }
    }
}

/// Banks, their policies and keys.
#[derive(Debug, Clone)]
pub struct BankAdmin {
    core: Core,
    access: Access,
}

impl BankAdmin {
    pub(crate) fn new(core: Core, access: Access) -> Self {
        Self { core, access }
    }

    /// The banks the operator may see.
    pub async fn list_banks(
        &self,
        caller: &OperatorCaller,
    ) -> Result<Vec<BankSummary>, ServiceError> {
        caller.require_active()?;
        Ok(self
            .core
            .db()
            .list_tenants()
            .await?
            .into_iter()
            .filter(|record| caller.scope.sees_bank(&record.id))
            .map(BankSummary::from)
            .collect())
    }

    async fn record(&self, bank: &TenantId) -> Result<TenantRecord, ServiceError> {
        self.core
            .db()
            .find_tenant(bank)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))
    }

    /// One bank's page.
    pub async fn get_bank(
        &self,
        caller: &OperatorCaller,
        bank_id: &str,
    ) -> Result<BankDetail, ServiceError> {
        let bank = caller.bank(bank_id)?;
        let record = self.record(&bank).await?;
        Ok(BankDetail {
            policy_toml: record.config.to_toml(),
            nist_flags: nist_flags(&record.config.policy),
            summary: record.into(),
        })
    }

    /// Reviews a config for a bank (new or existing) with the rules and messages of `mamori
    /// tenants check`: problems, the diff from the current file, NIST flags.
    pub async fn review_policy(
        &self,
        caller: &OperatorCaller,
        bank_id: &str,
        toml: &str,
    ) -> Result<PolicyReview, ServiceError> {
        caller.require_platform_admin()?;
        let bank = caller.bank(bank_id)?;
        let current = self
            .core
            .db()
            .find_tenant_config(&bank)
            .await?
            .map(|c| c.to_toml())
            .unwrap_or_default();
        Ok(review(&bank, toml, &current))
    }

    /// Creates a console-managed bank from its config file's text.
    pub async fn create_bank(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        toml: &str,
        reason: &str,
    ) -> Result<BankDetail, ServiceError> {
        caller.require_platform_admin()?;
        let reason = clean_reason(reason)?;
        let bank = TenantId::parse(bank_id).map_err(|_| {
            ServiceError::invalid("id: 3 to 40 of a-z, 0-9 and '-', starting with a letter")
        })?;
        let config = valid_config(&review(&bank, toml, ""))?;
        let now = self.core.now();
        let by = format!("operator:{}", caller.login);
        let tx = self.core.write().await?;
        match tenants::insert_admin_tenant(&tx, &config, &by, &reason, now).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::rejected(ErrorCode::BankAlreadyExists));
            }
            Err(e) => return Err(e.into()),
        }
        for trail in [PLATFORM_TENANT, bank.as_str()] {
            AuditEntry::operator(&caller.login, trail, meta, Operation::BankCreated, now)
                .details(json!({ "bank": bank.as_str(), "reason": reason, "version": 1 }))
                .append(&tx)
                .await?;
        }
        tx.commit().await?;
        self.core.forget_banks();
        self.get_bank(caller, bank.as_str()).await
    }

    /// Saves a console-managed bank's policy, from the version the operator edited (an edit
    /// saved meanwhile by someone else wins: `validation_failed`, reload and edit again). A
    /// file-managed bank answers `bank_file_managed`: put the reviewed TOML into its file.
    pub async fn save_policy(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        toml: &str,
        from_version: i32,
        reason: &str,
    ) -> Result<BankDetail, ServiceError> {
        caller.require_platform_admin()?;
        let reason = clean_reason(reason)?;
        let bank = caller.bank(bank_id)?;
        let record = self.record(&bank).await?;
        if record.managed_by == ManagedBy::File {
            return Err(ServiceError::rejected(ErrorCode::BankFileManaged));
        }
        let config = valid_config(&review(&bank, toml, &record.config.to_toml()))?;
        let now = self.core.now();
        let by = format!("operator:{}", caller.login);
        let diff = config_diff(
            &record.config.to_toml(),
            &config.to_toml(),
            "before",
            "after",
        );
        let tx = self.core.write().await?;
        if !tenants::update_admin_policy(&tx, &config, from_version, &by, &reason, now).await? {
            return Err(ServiceError::invalid(format!(
                "version: the policy changed since version {from_version}; reload it and edit again"
            )));
        }
        AuditEntry::operator(
            &caller.login,
            bank.as_str(),
            meta,
            Operation::BankPolicyChanged,
            now,
        )
        .details(json!({ "reason": reason, "version": from_version + 1, "diff": diff }))
        .append(&tx)
        .await?;
        tx.commit().await?;
        self.core.forget_banks();
        self.get_bank(caller, bank.as_str()).await
    }

    /// A console-managed bank's policy versions, newest first.
    pub async fn policy_versions(
        &self,
        caller: &OperatorCaller,
        bank_id: &str,
    ) -> Result<Vec<PolicyVersionView>, ServiceError> {
        let bank = caller.bank(bank_id)?;
        Ok(tenants::policy_versions(self.core.db(), bank.as_str())
            .await?
            .into_iter()
            .map(PolicyVersionView::from)
            .collect())
    }

    /// Suspends (`true`) or resumes a bank: while suspended its API keys answer 403
    /// `bank_suspended`.
    pub async fn set_suspended(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        suspended: bool,
        reason: &str,
    ) -> Result<BankDetail, ServiceError> {
        caller.require_platform_admin()?;
        let reason = clean_reason(reason)?;
        let bank = caller.bank(bank_id)?;
        self.record(&bank).await?;
        let now = self.core.now();
        let tx = self.core.write().await?;
        let changed =
            tenants::set_suspended(&tx, bank.as_str(), suspended.then_some(now), now).await?;
        if !changed {
            return Err(ServiceError::invalid(if suspended {
                "the bank is suspended already"
            } else {
                "the bank is not suspended"
            }));
        }
        let op = if suspended {
            Operation::BankSuspended
        } else {
            Operation::BankResumed
        };
        for trail in [PLATFORM_TENANT, bank.as_str()] {
            AuditEntry::operator(&caller.login, trail, meta, op, now)
                .details(json!({ "bank": bank.as_str(), "reason": reason }))
                .append(&tx)
                .await?;
        }
        tx.commit().await?;
        self.core.forget_banks();
        self.get_bank(caller, bank.as_str()).await
    }

    /// A bank's API keys (never the keys).
    pub async fn api_keys(
        &self,
        caller: &OperatorCaller,
        bank_id: &str,
    ) -> Result<Vec<ApiKeyInfo>, ServiceError> {
        caller.require_platform_admin()?;
        let bank = caller.bank(bank_id)?;
        self.access.list_api_keys(&bank).await
    }

    /// A new API key for a bank, shown once.
    pub async fn create_api_key(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        label: &str,
    ) -> Result<CreatedApiKey, ServiceError> {
        caller.require_platform_admin()?;
        let bank = caller.bank(bank_id)?;
        let label = label.trim();
        if label.chars().count() > 100 {
            return Err(ServiceError::invalid("label: at most 100 characters"));
        }
        let created = self.access.create_api_key(&bank, label).await?;
        self.core
            .record_alone(
                AuditEntry::operator(
                    &caller.login,
                    bank.as_str(),
                    meta,
                    Operation::ApiKeyCreated,
                    self.core.now(),
                )
                .details(json!({ "api_key_id": created.id, "label": label })),
            )
            .await?;
        Ok(created)
    }

    /// Revokes one of a bank's API keys.
    pub async fn revoke_api_key(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        key_id: &str,
        reason: &str,
    ) -> Result<(), ServiceError> {
        caller.require_platform_admin()?;
        let reason = clean_reason(reason)?;
        let bank = caller.bank(bank_id)?;
        let now = self.core.now();
        let keys = api_keys::list_api_keys(self.core.db(), bank.as_str()).await?;
        let Some(key) = keys.iter().find(|k| k.id == key_id) else {
            return Err(ServiceError::rejected(ErrorCode::NotFound));
        };
        let tx = self.core.write().await?;
        if !api_keys::revoke_api_key(&tx, &key.id, now).await? {
            return Err(ServiceError::invalid("the key is revoked already"));
        }
        AuditEntry::operator(
            &caller.login,
            bank.as_str(),
            meta,
            Operation::ApiKeyRevoked,
            now,
        )
        .details(json!({ "api_key_id": key.id, "reason": reason }))
        .append(&tx)
        .await?;
        tx.commit().await?;
        self.core.forget_banks();
        Ok(())
    }
}

/// Reviews `toml` as the file `<bank>.toml`, against the current file's text.
fn review(bank: &TenantId, toml: &str, current: &str) -> PolicyReview {
    let file = format!("{bank}.toml");
    match parse_all_errors(&file, toml) {
        Ok(config) => {
            let normalized = config.to_toml();
            PolicyReview {
                diff: config_diff(current, &normalized, &format!("{file} (now)"), &file),
                nist_flags: nist_flags(&config.policy),
                normalized_toml: Some(normalized),
                config: Some(config),
                problems: Vec::new(),
            }
        }
        Err(errors) => PolicyReview {
            config: None,
            problems: errors.into_iter().map(ConfigProblem::from).collect(),
            diff: String::new(),
            normalized_toml: None,
            nist_flags: Vec::new(),
        },
    }
}

fn valid_config(review: &PolicyReview) -> Result<TenantConfig, ServiceError> {
    match (&review.config, review.problems.first()) {
        (Some(config), _) => Ok(config.clone()),
        (None, Some(problem)) => Err(ServiceError::invalid(problem.text.clone())),
        (None, None) => Err(ServiceError::invalid("the config is empty")),
    }
}
