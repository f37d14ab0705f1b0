//! What every code check shares: reading a credential's stored state for the pure decision
//! ([`crate::check`]), and turning a decision into the conditional writes of one unit of work
//! (reserve an attempt, spend the step, count or forgive the failure, lock at the limit).

use chrono::{DateTime, Utc};
use mamori_domain::policy::{CredentialKind, TenantPolicy};
use mamori_domain::{BindingState, ErrorCode, FailureOutcome};
use mamori_otp::{Code, Digits, OtpParams, Period, Secret, TypedCredentialId, normalize_code};
use mamori_store::WriteTx;
use mamori_store::bindings::{self, BindingRow};
use mamori_store::credentials::{self, CredentialRow};

use crate::check::{CodeState, Decision};
use crate::error::ServiceError;

/// Platform-wide consecutive failures after which a credential is suspended everywhere
/// (NIST SP 800-63B §5.2.2 rate limiting: at most 100 consecutive failed attempts). Only
/// failures of the users a credential is registered to count.
pub const PLATFORM_GUESS_BUDGET: i32 = 100;

/// The credential a bank or customer named, by its Mamori ID or an imported token's serial,
/// with the name as stored. A Mamori ID never issued is `credential_unknown`; anything else that
/// names no imported token is `credential_id_malformed`, as it was before tokens were imported.
pub(crate) async fn named_credential(
    db: &mamori_store::Database,
    typed: &str,
) -> Result<Result<CredentialRow, (Option<String>, ErrorCode)>, ServiceError> {
    let Ok(name) = TypedCredentialId::parse(typed) else {
        return Ok(Err((None, ErrorCode::CredentialIdMalformed)));
    };
    Ok(
        match credentials::find_credential(db, name.as_str()).await? {
            Some(row) => Ok(row),
            None => match name {
                TypedCredentialId::Issued(id) => {
                    Err((Some(id.to_string()), ErrorCode::CredentialUnknown))
                }
                TypedCredentialId::Serial { .. } => Err((None, ErrorCode::CredentialIdMalformed)),
            },
        },
    )
}

/// What a code check did to the binding, decided inside one unit of work.
#[derive(Debug)]
pub(crate) enum Checked {
    Accepted,
    Rejected(ServiceError),
    /// A wrong code that reached the bank's limit: this failure locked the binding.
    LockedNow(ServiceError),
}

impl Checked {
    pub(crate) fn outcome(&self) -> Result<(), &ServiceError> {
        match self {
            Checked::Accepted => Ok(()),
            Checked::Rejected(err) | Checked::LockedNow(err) => Err(err),
        }
    }

    /// The refusal and its audit facts, unless the code was accepted.
    pub(crate) fn into_failure(self) -> Option<(ServiceError, Option<serde_json::Value>)> {
        let facts = self.lock_facts();
        match self {
            Checked::Accepted => None,
            Checked::Rejected(err) | Checked::LockedNow(err) => Some((err, facts)),
        }
    }

    /// The audit facts of a lock made by this check (the figures count locks from them).
    pub(crate) fn lock_facts(&self) -> Option<serde_json::Value> {
        matches!(self, Checked::LockedNow(_)).then(|| serde_json::json!({ "locked": true }))
    }
}

pub(crate) fn params_of(credential: &CredentialRow) -> Result<OtpParams, ServiceError> {
    let bad = |what: &str| ServiceError::internal(format!("credential {}: {what}", credential.id));
    Ok(OtpParams {
        algorithm: credential.algorithm.parse().map_err(|_| bad("algorithm"))?,
        digits: Digits::new(u8::try_from(credential.digits).map_err(|_| bad("digits"))?)
            .map_err(|_| bad("digits"))?,
        period: Period::new(u32::try_from(credential.period).map_err(|_| bad("period"))?)
            .map_err(|_| bad("period"))?,
    })
}

/// The stored state the pure check needs.
pub(crate) fn code_state<'a>(
    credential: &CredentialRow,
    secret: &'a Secret,
) -> Result<CodeState<'a>, ServiceError> {
    Ok(CodeState {
        secret,
        params: params_of(credential)?,
        kind: credential.kind,
        drift_steps: credential.drift_steps,
        last_used_step: credential.last_used_step,
        hotp_next_counter: credential.hotp_next_counter,
    })
}

/// Normalises each presented code to the credential's digit count; a malformed code is
/// refused before anything is counted.
pub(crate) fn parse_codes(
    raw: &[String],
    credential: &CredentialRow,
) -> Result<Vec<Code>, ServiceError> {
    let digits = params_of(credential)?.digits;
    raw.iter()
        .map(|code| {
            normalize_code(code, digits)
                .map_err(|_| ServiceError::rejected(ErrorCode::OtpMalformed))
        })
        .collect()
}

/// A credential can be registered at this bank: not suspended, of a kind the bank allows.
pub(crate) fn check_usable(
    credential: &CredentialRow,
    policy: &TenantPolicy,
) -> Result<(), ServiceError> {
    if credential.suspended_at.is_some() {
        return Err(ServiceError::rejected(ErrorCode::CredentialSuspended));
    }
    if !policy.otp.allows(credential.kind) {
        return Err(ServiceError::rejected(ErrorCode::CredentialKindNotAllowed));
    }
    Ok(())
}

/// How far 同期ズレ補正 searches. TOTP: the bank's `resync_window` steps either side of the
/// true time. HOTP: ten times the look-ahead, because the counter only runs ahead (a customer
/// pressing the button repeatedly) and a resync that searched no further than a single code
/// would recover nothing (RFC 4226 §7.4).
pub(crate) fn resync_window(policy: &TenantPolicy, credential: &CredentialRow) -> u32 {
    match credential.kind {
        CredentialKind::Totp => policy.otp.resync_window.get(),
        CredentialKind::Hotp => policy.otp.hotp_look_ahead.get().saturating_mul(10),
    }
}

/// The bank's lock threshold as the store counts it.
pub(crate) fn lock_limit(policy: &TenantPolicy) -> i32 {
    i32::try_from(policy.otp.lock_threshold.get()).unwrap_or(i32::MAX)
}

/// Unix seconds, for the OTP maths.
pub(crate) fn unix(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}

/// Spends the decision's step (TOTP) or counter (HOTP) platform-wide, conditional on it being
/// newer than the last spent one. Returns whether this request spent it.
pub(crate) async fn spend(
    tx: &WriteTx,
    credential: &CredentialRow,
    at: i64,
    drift: Option<i64>,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    Ok(match credential.kind {
        CredentialKind::Totp => {
            credentials::spend_totp_step(tx, &credential.id, at, drift, now).await?
        }
        CredentialKind::Hotp => {
            credentials::spend_hotp_counter(tx, &credential.id, at, now).await?
        }
    })
}

/// Within `tx`: reserves an attempt on the binding, then applies the decision — spend the
/// step and reset the count, give the attempt back for an already-used code, or count the
/// failure (locking at the limit). A locked binding, or one whose attempts concurrent requests
/// have used up, gets no check at all.
pub(crate) async fn settle(
    tx: &WriteTx,
    binding: &BindingRow,
    credential: &CredentialRow,
    decision: Decision,
    limit: i32,
    now: DateTime<Utc>,
) -> Result<Checked, ServiceError> {
    let Some(failures) = bindings::reserve_attempt(tx, &binding.id, limit, now).await? else {
        tracing::debug!(binding.id = %binding.id, "no attempt left: code not checked");
        return Ok(Checked::Rejected(ServiceError::locked()));
    };
    // The decision names a step and drift, never the code itself.
    tracing::debug!(
        tenant.id = %binding.tenant_id,
        binding.id = %binding.id,
        credential.id = %credential.id,
        ?decision,
        "settling a code check"
    );
    let already_used = || Checked::Rejected(ServiceError::rejected(ErrorCode::OtpAlreadyUsed));
    Ok(match decision {
        Decision::Spend { at, drift } => {
            if spend(tx, credential, at, drift, now).await? {
                bindings::record_success(tx, &binding.id, now).await?;
                Checked::Accepted
            } else {
                // Spent meanwhile by a concurrent request, or suspended meanwhile.
                bindings::release_attempt(tx, &binding.id).await?;
                already_used()
            }
        }
        Decision::AlreadyUsed => {
            bindings::release_attempt(tx, &binding.id).await?;
            already_used()
        }
        Decision::Wrong => count_failure(tx, binding, failures, &credential.id, limit, now).await?,
    })
}

/// The outcome of the `failures`-th consecutive failure under the bank's `limit`.
pub(crate) fn failure_outcome(failures: i32, limit: i32) -> FailureOutcome {
    FailureOutcome::of(
        u32::try_from(failures).unwrap_or(0),
        u32::try_from(limit).unwrap_or(0),
    )
}

/// What a counted wrong code did: suspended the credential everywhere (which the customer is
/// told first), locked the binding, or left `attempts_left`.
pub(crate) fn wrong_code(outcome: FailureOutcome, suspended: bool) -> Checked {
    let err = if suspended {
        ServiceError::rejected(ErrorCode::CredentialSuspended)
    } else if outcome.locks {
        ServiceError::locked()
    } else {
        ServiceError::Rejected {
            code: ErrorCode::OtpInvalid,
            attempts_left: Some(outcome.attempts_left),
        }
    };
    if outcome.locks {
        Checked::LockedNow(err)
    } else {
        Checked::Rejected(err)
    }
}

/// Counts a wrong code on this bank's binding (already reserved: `failures` counts it) and
/// platform-wide — the binding's user is one the credential is registered to — and locks the
/// binding at the bank's limit. Returns what the check did.
async fn count_failure(
    tx: &WriteTx,
    binding: &BindingRow,
    failures: i32,
    credential_id: &str,
    limit: i32,
    now: DateTime<Utc>,
) -> Result<Checked, ServiceError> {
    let outcome = failure_outcome(failures, limit);
    if outcome.locks {
        bindings::transition_binding(
            tx,
            &binding.id,
            &[BindingState::Active],
            BindingState::Locked,
            false,
            now,
        )
        .await?;
    }
    let suspended =
        credentials::count_credential_failure(tx, credential_id, PLATFORM_GUESS_BUDGET, now)
            .await?;
    Ok(wrong_code(outcome, suspended))
}
