//! A user's OTP status at one bank (ワンタイムパスワード登録状況), read after every change so
//! the bank sees the state the change left behind.

use chrono::{DateTime, Utc};
use mamori_domain::OtpUse;
use mamori_store::{bindings, credentials, issues};

use crate::core::{BankCaller, Core};
use crate::error::ServiceError;

/// A user's OTP status at one bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpStatus {
    /// none / issued / in_use / locked / stopped / revoked / suspended.
    pub status: OtpUse,
    /// The credential of the latest binding.
    pub credential_id: Option<String>,
    /// Consecutive wrong codes at this bank.
    pub failures: u32,
    /// Wrong codes left before the lock.
    pub attempts_left: Option<u32>,
    /// Time of the last accepted code at this bank.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Whether the credential is suspended on the whole platform.
    pub credential_suspended: bool,
}

impl OtpStatus {
    /// No token at all (未登録).
    fn none() -> Self {
        Self {
            status: OtpUse::None,
            credential_id: None,
            failures: 0,
            attempts_left: None,
            last_success_at: None,
            credential_suspended: false,
        }
    }
}

/// The user's status at the caller's bank.
pub(crate) async fn otp_status(
    core: &Core,
    caller: &BankCaller,
    user_id: &str,
) -> Result<OtpStatus, ServiceError> {
    let user = core.bank_user(caller, user_id).await?;
    let policy = core.policy(caller).await?;
    let db = core.db();
    let latest =
        bindings::find_latest_binding(db, core.account_mac().await?, &user.tenant_id, &user.id)
            .await?;
    let live = latest.as_ref().is_some_and(|b| b.state.is_live());
    // A live token wins; otherwise a token issued by mail and still usable reads 申請済.
    if !live
        && let Some(issue) = issues::find_open_issue(db, &user.tenant_id, &user.id).await?
        && (issue.state == mamori_domain::IssueState::Activated || issue.expires_at > core.now())
    {
        return Ok(OtpStatus {
            status: OtpUse::Issued,
            ..OtpStatus::none()
        });
    }
    let Some(binding) = latest else {
        return Ok(OtpStatus::none());
    };
    let credential = credentials::find_credential(db, &binding.credential_id).await?;
    let suspended = credential.is_some_and(|c| c.suspended_at.is_some());
    let status = OtpUse::of(Some(binding.state)).under_platform_suspension(suspended);
    let failures = u32::try_from(binding.failures).unwrap_or(0);
    let limit = policy.otp.lock_threshold.get();
    Ok(OtpStatus {
        status,
        credential_id: Some(binding.credential_id),
        failures,
        // While suspended no code is checked at all, so there is nothing to count down.
        attempts_left: matches!(status, OtpUse::InUse | OtpUse::Locked)
            .then(|| limit.saturating_sub(failures)),
        last_success_at: binding.last_success_at,
        credential_suspended: suspended,
    })
}
