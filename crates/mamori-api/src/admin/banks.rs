//! Banks in the admin console: list, page, policy (review, save, versions), suspension, API
//! keys and figures.

use mamori_domain::ManagedBy;
use mamori_domain::review::NistFlag;
use mamori_domain::stats::Metric;
use mamori_service::{
    ApiKeyInfo, BankDetail, BankSummary, Bucket, Figures, PolicyReview, PolicyVersionView,
};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::admin::{AdminSession, AdminTags, ReasonRequest, meta};
use crate::context::RequestContext;
use crate::errors::{
    BankReadProblem, CreateBankApiKeyProblem, CreateBankProblem, ListBankApiKeysProblem,
    ListBanksProblem, ResumeBankProblem, ReviewBankPolicyProblem, RevokeBankApiKeyProblem,
    SuspendBankProblem, UpdateBankPolicyProblem,
};
use crate::state::AppState;
use crate::strict::StrictString;
use crate::timestamp::Timestamp;

/// Banks in the console.
#[derive(Debug)]
pub struct AdminBanksApi {
    state: AppState,
}

impl AdminBanksApi {
    /// Over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// Where a bank's policy lives.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum ManagedByDto {
    /// A file in `tenant-configs/`: read-only here; change the file (a restart applies it).
    File,
    /// Created in the console: edited here, with a version history.
    Admin,
}

impl From<ManagedBy> for ManagedByDto {
    fn from(m: ManagedBy) -> Self {
        match m {
            ManagedBy::File => Self::File,
            ManagedBy::Admin => Self::Admin,
        }
    }
}

/// A bank.
#[derive(Debug, Object)]
struct BankSummaryDto {
    /// The bank's ID.
    id: String,
    /// 金融機関名.
    name_ja: String,
    /// The English name.
    name_en: String,
    /// Where its policy lives.
    managed_by: ManagedByDto,
    /// The file of a file-managed bank, in `tenant-configs/`.
    #[oai(skip_serializing_if_is_none)]
    config_file: Option<String>,
    /// When the bank was suspended (its API keys answer `bank_suspended`).
    #[oai(skip_serializing_if_is_none)]
    suspended_at: Option<Timestamp>,
    /// The policy's version.
    policy_version: i32,
    /// Contract users (on a bank's own page).
    #[oai(skip_serializing_if_is_none)]
    user_count: Option<u64>,
}

impl From<BankSummary> for BankSummaryDto {
    fn from(b: BankSummary) -> Self {
        Self {
            id: b.id,
            name_ja: b.name_ja,
            name_en: b.name_en,
            managed_by: b.managed_by.into(),
            config_file: b.config_file,
            suspended_at: b.suspended_at.map(Timestamp),
            policy_version: b.policy_version,
            user_count: b.user_count,
        }
    }
}

/// A value that deviates from NIST SP 800-63B (flagged, not forbidden).
#[derive(Debug, Object)]
struct NistFlagDto {
    /// The key, e.g. `password.min_length`.
    key: String,
    /// A stable code, e.g. `password_shorter_than_8`.
    code: String,
    /// Why, in the operator's language.
    message: String,
}

fn flags(flags: &[NistFlag], ctx: &RequestContext) -> Vec<NistFlagDto> {
    flags
        .iter()
        .map(|f| NistFlagDto {
            key: f.key.into(),
            code: f.code.into(),
            message: f.message(ctx.lang).into(),
        })
        .collect()
}

/// A bank's page.
#[derive(Debug, Object)]
struct BankDetailDto {
    /// The bank.
    bank: BankSummaryDto,
    /// Its whole config, as the text of `tenant-configs/<id>.toml`.
    policy_toml: String,
    /// Values that deviate from NIST SP 800-63B.
    nist_flags: Vec<NistFlagDto>,
}

impl BankDetailDto {
    fn of(d: BankDetail, ctx: &RequestContext) -> Self {
        Self {
            nist_flags: flags(&d.nist_flags, ctx),
            policy_toml: d.policy_toml,
            bank: d.summary.into(),
        }
    }
}

/// Banks.
#[derive(Debug, Object)]
struct BankList {
    /// The banks this operator may see, by ID.
    items: Vec<BankSummaryDto>,
}

/// A new console-managed bank.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct CreateBankRequest {
    /// The bank's ID: 3–40 of `a-z 0-9 -`, starting with a letter.
    id: StrictString,
    /// Its config, as a `tenant-configs` file would read (names and every policy section).
    policy_toml: StrictString,
    /// Why (into the audit trail).
    reason: StrictString,
}

/// A config to review.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct ReviewRequest {
    /// The config as a `tenant-configs` file would read.
    policy_toml: StrictString,
}

/// A config to save.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct SavePolicyRequest {
    /// The config as a `tenant-configs` file would read.
    policy_toml: StrictString,
    /// The version the edit started from (an edit saved meanwhile wins).
    from_version: i32,
    /// Why (into the audit trail and the version history).
    reason: StrictString,
}

/// One problem of a config, as `mamori tenants check` prints it.
#[derive(Debug, Object)]
struct ConfigProblemDto {
    /// The key (`otp.digits`) or position (`line 3, column 9`).
    location: String,
    /// Why.
    message: String,
    /// The whole line as `mamori tenants check` prints it.
    text: String,
}

/// A reviewed config.
#[derive(Debug, Object)]
struct PolicyReviewDto {
    /// Whether it can be saved.
    valid: bool,
    /// What is wrong (empty when valid).
    problems: Vec<ConfigProblemDto>,
    /// A unified diff from the current config (empty: nothing changes).
    diff: String,
    /// The config as its file should read (for a file-managed bank: put this into the file).
    #[oai(skip_serializing_if_is_none)]
    normalized_toml: Option<String>,
    /// Values that deviate from NIST SP 800-63B.
    nist_flags: Vec<NistFlagDto>,
}

impl PolicyReviewDto {
    fn of(r: PolicyReview, ctx: &RequestContext) -> Self {
        Self {
            valid: r.config.is_some(),
            problems: r
                .problems
                .into_iter()
                .map(|p| ConfigProblemDto {
                    location: p.location,
                    message: p.message,
                    text: p.text,
                })
                .collect(),
            diff: r.diff,
            normalized_toml: r.normalized_toml,
            nist_flags: flags(&r.nist_flags, ctx),
        }
    }
}

/// One saved version of a console-managed bank's policy.
#[derive(Debug, Object)]
struct PolicyVersionDto {
    /// From 1.
    version: i32,
    /// Who saved it (`operator:<login>`).
    changed_by: String,
    /// Why.
    reason: String,
    /// When.
    created_at: Timestamp,
    /// The config as it was, as a file would read.
    policy_toml: String,
}

impl From<PolicyVersionView> for PolicyVersionDto {
    fn from(v: PolicyVersionView) -> Self {
        Self {
            version: v.version,
            changed_by: v.changed_by,
            reason: v.reason,
            created_at: v.created_at.into(),
            policy_toml: v.policy_toml,
        }
    }
}

/// A console-managed bank's versions.
#[derive(Debug, Object)]
struct PolicyVersionList {
    /// Newest first (empty for a file-managed bank: its history is the file's).
    items: Vec<PolicyVersionDto>,
}

/// An API key as listed (never the key).
#[derive(Debug, Object)]
struct ApiKeyDto {
    /// `key_…`.
    id: String,
    /// The key's public prefix (`mmr_<prefix>_…`).
    prefix: String,
    /// A label for people.
    label: String,
    /// When created.
    created_at: Timestamp,
    /// When revoked.
    #[oai(skip_serializing_if_is_none)]
    revoked_at: Option<Timestamp>,
    /// When last used (to the minute).
    #[oai(skip_serializing_if_is_none)]
    last_used_at: Option<Timestamp>,
}

impl From<ApiKeyInfo> for ApiKeyDto {
    fn from(k: ApiKeyInfo) -> Self {
        Self {
            id: k.id,
            prefix: k.prefix,
            label: k.label,
            created_at: k.created_at.into(),
            revoked_at: k.revoked_at.map(Timestamp),
            last_used_at: k.last_used_at.map(Timestamp),
        }
    }
}

/// A bank's API keys.
#[derive(Debug, Object)]
struct ApiKeyList {
    /// Oldest first.
    items: Vec<ApiKeyDto>,
}

/// A new API key.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct CreateApiKeyRequest {
    /// A label for people (at most 100 characters), e.g. "IB production".
    #[oai(default)]
    label: StrictString,
}

/// An API key just created: the only time its full text exists.
#[derive(Debug, Object)]
struct CreatedApiKeyDto {
    /// `key_…`.
    id: String,
    /// `mmr_<prefix>_<secret>`: hand it to the bank over a secure channel, now.
    key: String,
}

/// The counts of one chart bucket.
#[derive(Debug, Object)]
struct BucketDto {
    /// The bucket's start (an hour; or a day, from 00:00 in Japan).
    start: Timestamp,
    /// Codes accepted (login, transaction, resync, stop).
    codes_accepted: i64,
    /// Codes refused.
    codes_rejected: i64,
    /// Tokens and login passwords locked.
    locks: i64,
    /// Tokens registered.
    registrations: i64,
    /// Logins completed.
    logins: i64,
    /// Push approvals approved.
    push_approved: i64,
    /// Push approvals denied.
    push_denied: i64,
    /// Push approvals expired unanswered.
    push_expired: i64,
}

impl From<Bucket> for BucketDto {
    fn from(b: Bucket) -> Self {
        let get = |m: Metric| b.counts.get(&m).copied().unwrap_or(0);
        Self {
            start: b.start.into(),
            codes_accepted: get(Metric::CodesAccepted),
            codes_rejected: get(Metric::CodesRejected),
            locks: get(Metric::Locks),
            registrations: get(Metric::Registrations),
            logins: get(Metric::Logins),
            push_approved: get(Metric::PushApproved),
            push_denied: get(Metric::PushDenied),
            push_expired: get(Metric::PushExpired),
        }
    }
}

/// A bank's figures.
#[derive(Debug, Object)]
struct FiguresDto {
    /// The last 24 hours, by hour, oldest first.
    hourly: Vec<BucketDto>,
    /// The last 30 days (in Japan), by day, oldest first.
    daily: Vec<BucketDto>,
    /// Tokens locked at the bank now.
    locked_tokens: u64,
    /// Users whose login password is locked now.
    locked_passwords: u64,
    /// Push approvals waiting for an answer now.
    pending_approvals: u64,
}

impl From<Figures> for FiguresDto {
    fn from(f: Figures) -> Self {
        Self {
            hourly: f.hourly.into_iter().map(BucketDto::from).collect(),
            daily: f.daily.into_iter().map(BucketDto::from).collect(),
            locked_tokens: f.now.locked_tokens,
            locked_passwords: f.now.locked_passwords,
            pending_approvals: f.now.pending_approvals,
        }
    }
}

#[derive(ApiResponse)]
enum BankListResponse {
    /// The banks this operator may see.
    #[oai(status = 200)]
    Ok(Json<BankList>),
}

#[derive(ApiResponse)]
enum BankResponse {
    /// The bank: its summary, its config as TOML and its NIST flags.
    #[oai(status = 200)]
    Ok(Json<BankDetailDto>),
}

#[derive(ApiResponse)]
enum PolicySavedResponse {
    /// The policy is saved as a new version. The bank now.
    #[oai(status = 200)]
    Ok(Json<BankDetailDto>),
}

#[derive(ApiResponse)]
enum SuspendedResponse {
    /// The bank is suspended: its API keys answer `bank_suspended`. The bank now.
    #[oai(status = 200)]
    Ok(Json<BankDetailDto>),
}

#[derive(ApiResponse)]
enum ResumedResponse {
    /// The bank is resumed: its API keys work again. The bank now.
    #[oai(status = 200)]
    Ok(Json<BankDetailDto>),
}

#[derive(ApiResponse)]
enum BankCreatedResponse {
    /// The bank is created, version 1 of its policy.
    #[oai(status = 201)]
    Created(Json<BankDetailDto>),
}

#[derive(ApiResponse)]
enum ReviewResponse {
    /// The review (also when the config is invalid: see `valid` and `problems`).
    #[oai(status = 200)]
    Ok(Json<PolicyReviewDto>),
}

#[derive(ApiResponse)]
enum VersionsResponse {
    /// The bank's policy versions, newest first.
    #[oai(status = 200)]
    Ok(Json<PolicyVersionList>),
}

#[derive(ApiResponse)]
enum ApiKeysResponse {
    /// The bank's API keys, never the keys themselves.
    #[oai(status = 200)]
    Ok(Json<ApiKeyList>),
}

#[derive(ApiResponse)]
enum ApiKeyCreatedResponse {
    /// Created; the key is shown only now.
    #[oai(status = 201)]
    Created(Json<CreatedApiKeyDto>),
}

#[derive(ApiResponse)]
enum RevokedResponse {
    /// The key is revoked; it stops working at once.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum FiguresResponse {
    /// The bank's figures by hour and by day, and what is locked or pending now.
    #[oai(status = 200)]
    Ok(Json<FiguresDto>),
}

#[OpenApi(tag = "AdminTags::Admin")]
impl AdminBanksApi {
    /// List banks
    ///
    /// The banks this operator may see (a bank operator: its own).
    #[oai(path = "/v1/admin/banks", method = "get", operation_id = "listBanks")]
    async fn list_banks(
        &self,
        ctx: RequestContext,
        session: AdminSession,
    ) -> Result<BankListResponse, ListBanksProblem> {
        self.state
            .services
            .bank_admin
            .list_banks(&session.0)
            .await
            .map(|banks| {
                BankListResponse::Ok(Json(BankList {
                    items: banks.into_iter().map(BankSummaryDto::from).collect(),
                }))
            })
            .map_err(|e| ListBanksProblem::from_error(&e, &ctx))
    }

    /// Create a bank
    ///
    /// Platform admins only. A console-managed bank from its config text (validated with
    /// the rules and messages of `mamori tenants check`); version 1 of its history.
    /// Errors: `validation_failed` (400, the first problem), `bank_already_exists` (409).
    #[oai(path = "/v1/admin/banks", method = "post", operation_id = "createBank")]
    async fn create_bank(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        body: Json<CreateBankRequest>,
    ) -> Result<BankCreatedResponse, CreateBankProblem> {
        self.state
            .services
            .bank_admin
            .create_bank(
                &session.0,
                &meta(&ctx),
                &body.id,
                &body.policy_toml,
                &body.reason,
            )
            .await
            .map(|d| BankCreatedResponse::Created(Json(BankDetailDto::of(d, &ctx))))
            .map_err(|e| CreateBankProblem::from_error(&e, &ctx))
    }

    /// Get a bank
    ///
    /// Its summary, its whole config as TOML and its NIST flags.
    #[oai(
        path = "/v1/admin/banks/:bank_id",
        method = "get",
        operation_id = "getBank"
    )]
    async fn get_bank(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
    ) -> Result<BankResponse, BankReadProblem> {
        self.state
            .services
            .bank_admin
            .get_bank(&session.0, &bank_id)
            .await
            .map(|d| BankResponse::Ok(Json(BankDetailDto::of(d, &ctx))))
            .map_err(|e| BankReadProblem::from_error(&e, &ctx))
    }

    /// Review a bank's config
    ///
    /// Platform admins only. The problems (as `mamori tenants check` says them), the diff
    /// from the current config, and NIST flags — before anything is saved. For a
    /// file-managed bank, `normalized_toml` is what to put into its file.
    #[oai(
        path = "/v1/admin/banks/:bank_id/policy/review",
        method = "post",
        operation_id = "reviewBankPolicy"
    )]
    async fn review_policy(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID (a new one's, before creating it).
        bank_id: Path<String>,
        body: Json<ReviewRequest>,
    ) -> Result<ReviewResponse, ReviewBankPolicyProblem> {
        self.state
            .services
            .bank_admin
            .review_policy(&session.0, &bank_id, &body.policy_toml)
            .await
            .map(|r| ReviewResponse::Ok(Json(PolicyReviewDto::of(r, &ctx))))
            .map_err(|e| ReviewBankPolicyProblem::from_error(&e, &ctx))
    }

    /// Save a bank's policy
    ///
    /// Platform admins only, console-managed banks only (a file-managed bank answers
    /// `bank_file_managed`, 409: put the reviewed TOML into its file). Saved as a new version
    /// with who, when and why; an edit saved meanwhile wins (`validation_failed`).
    #[oai(
        path = "/v1/admin/banks/:bank_id/policy",
        method = "put",
        operation_id = "updateBankPolicy"
    )]
    async fn save_policy(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        body: Json<SavePolicyRequest>,
    ) -> Result<PolicySavedResponse, UpdateBankPolicyProblem> {
        self.state
            .services
            .bank_admin
            .save_policy(
                &session.0,
                &meta(&ctx),
                &bank_id,
                &body.policy_toml,
                body.from_version,
                &body.reason,
            )
            .await
            .map(|d| PolicySavedResponse::Ok(Json(BankDetailDto::of(d, &ctx))))
            .map_err(|e| UpdateBankPolicyProblem::from_error(&e, &ctx))
    }

    /// List a bank's policy versions
    ///
    /// Newest first, with who, when, why and the config of each.
    #[oai(
        path = "/v1/admin/banks/:bank_id/policy/versions",
        method = "get",
        operation_id = "listBankPolicyVersions"
    )]
    async fn versions(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
    ) -> Result<VersionsResponse, BankReadProblem> {
        self.state
            .services
            .bank_admin
            .policy_versions(&session.0, &bank_id)
            .await
            .map(|v| {
                VersionsResponse::Ok(Json(PolicyVersionList {
                    items: v.into_iter().map(PolicyVersionDto::from).collect(),
                }))
            })
            .map_err(|e| BankReadProblem::from_error(&e, &ctx))
    }

    /// Suspend a bank
    ///
    /// Platform admins only. Its API keys answer 403 `bank_suspended` until it is resumed.
    #[oai(
        path = "/v1/admin/banks/:bank_id/suspend",
        method = "post",
        operation_id = "suspendBank"
    )]
    async fn suspend(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<SuspendedResponse, SuspendBankProblem> {
        self.state
            .services
            .bank_admin
            .set_suspended(&session.0, &meta(&ctx), &bank_id, true, &body.reason)
            .await
            .map(|d| SuspendedResponse::Ok(Json(BankDetailDto::of(d, &ctx))))
            .map_err(|e| SuspendBankProblem::from_error(&e, &ctx))
    }

    /// Resume a bank
    ///
    /// Platform admins only.
    #[oai(
        path = "/v1/admin/banks/:bank_id/resume",
        method = "post",
        operation_id = "resumeBank"
    )]
    async fn resume(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<ResumedResponse, ResumeBankProblem> {
        self.state
            .services
            .bank_admin
            .set_suspended(&session.0, &meta(&ctx), &bank_id, false, &body.reason)
            .await
            .map(|d| ResumedResponse::Ok(Json(BankDetailDto::of(d, &ctx))))
            .map_err(|e| ResumeBankProblem::from_error(&e, &ctx))
    }

    /// List a bank's API keys
    ///
    /// Platform admins only; never the keys themselves.
    #[oai(
        path = "/v1/admin/banks/:bank_id/api-keys",
        method = "get",
        operation_id = "listBankApiKeys"
    )]
    async fn api_keys(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
    ) -> Result<ApiKeysResponse, ListBankApiKeysProblem> {
        self.state
            .services
            .bank_admin
            .api_keys(&session.0, &bank_id)
            .await
            .map(|keys| {
                ApiKeysResponse::Ok(Json(ApiKeyList {
                    items: keys.into_iter().map(ApiKeyDto::from).collect(),
                }))
            })
            .map_err(|e| ListBankApiKeysProblem::from_error(&e, &ctx))
    }

    /// Create an API key for a bank
    ///
    /// Platform admins only. The key is in the answer and nowhere else (stored hashed).
    #[oai(
        path = "/v1/admin/banks/:bank_id/api-keys",
        method = "post",
        operation_id = "createBankApiKey"
    )]
    async fn create_api_key(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        body: Json<CreateApiKeyRequest>,
    ) -> Result<ApiKeyCreatedResponse, CreateBankApiKeyProblem> {
        self.state
            .services
            .bank_admin
            .create_api_key(&session.0, &meta(&ctx), &bank_id, &body.label)
            .await
            .map(|k| {
                ApiKeyCreatedResponse::Created(Json(CreatedApiKeyDto {
                    id: k.id,
                    key: k.key,
                }))
            })
            .map_err(|e| CreateBankApiKeyProblem::from_error(&e, &ctx))
    }

    /// Revoke a bank's API key
    ///
    /// Platform admins only; the key stops working at once on every node.
    #[oai(
        path = "/v1/admin/banks/:bank_id/api-keys/:key_id/revoke",
        method = "post",
        operation_id = "revokeBankApiKey"
    )]
    async fn revoke_api_key(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// The key's ID (`key_…`).
        key_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<RevokedResponse, RevokeBankApiKeyProblem> {
        self.state
            .services
            .bank_admin
            .revoke_api_key(&session.0, &meta(&ctx), &bank_id, &key_id, &body.reason)
            .await
            .map(|()| RevokedResponse::NoContent)
            .map_err(|e| RevokeBankApiKeyProblem::from_error(&e, &ctx))
    }

    /// A bank's figures
    ///
    /// Verifications, failures, locks, registrations, logins and push answers by hour for
    /// the last 24 hours and by day (in Japan) for the last 30 days, and what is locked or
    /// pending now. Counted from the audit trail as it grows, never by scanning it.
    #[oai(
        path = "/v1/admin/banks/:bank_id/figures",
        method = "get",
        operation_id = "getBankFigures"
    )]
    async fn figures(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
    ) -> Result<FiguresResponse, BankReadProblem> {
        self.state
            .services
            .trails
            .figures(&session.0, &bank_id)
            .await
            .map(|f| FiguresResponse::Ok(Json(f.into())))
            .map_err(|e| BankReadProblem::from_error(&e, &ctx))
    }
}
