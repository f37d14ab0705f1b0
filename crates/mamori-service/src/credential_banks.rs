//! The banks a token is registered at (listCredentialBanks), shown to the token itself and only
//! after it proves itself with a fresh code: a credential ID alone reveals nothing.
//!
//! The code is checked like a login, with the platform's rules rather than a bank's (there is
//! no bank here): the OTP defaults' window and the step spent platform-wide. A wrong code is NOT
//! counted against the platform-wide guess budget: this route needs no bank key, so anyone who
//! knows a credential ID (customers type them into bank sites) could otherwise suspend the
//! token at every bank. Guessing is bounded instead by a limit per credential as well as per
//! address, and an unknown credential answers exactly like a wrong code. Every decision goes
//! into the platform's audit trail, never a bank's.

use chrono::{DateTime, Utc};
use mamori_domain::policy::OtpPolicy;
use mamori_domain::{BindingState, ErrorCode, Operation};
use mamori_otp::TypedCredentialId;
use mamori_store::credentials::{self, CredentialRow};
use mamori_store::{WriteTx, bindings};
use serde_json::json;

use crate::check::Decision;
use crate::core::audit::AuditEntry;
use crate::core::codes::{code_state, parse_codes, spend, unix};
use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;

/// Where a token is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialBank {
    /// The bank's ID.
    pub bank_id: String,
    /// The bank's name in Japanese.
    pub bank_name_ja: String,
    /// The bank's name in English.
    pub bank_name_en: String,
    /// `true` when the bank locked the token after too many wrong codes.
    pub locked: bool,
    /// When the token was registered at this bank.
    pub registered_at: DateTime<Utc>,
}

/// A token's registrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialBanks {
    /// The credential ID, in its canonical form.
    pub credential_id: String,
    /// The banks, oldest registration first.
    pub banks: Vec<CredentialBank>,
}

/// A token's own view of the banks it is registered at.
#[derive(Debug, Clone)]
pub struct TokenBanks {
    core: Core,
}

impl TokenBanks {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// The live registrations (in use or locked) of a credential at every bank, after a fresh
    /// code of that credential: rate-limited per client address and per credential; the code's
    /// step is spent on the whole platform; a wrong code or an unknown credential is
    /// `otp_invalid` and counts nowhere else.
    pub async fn list_credential_banks(
        &self,
        meta: &RequestMeta,
        credential_id: &str,
        code: &str,
    ) -> Result<CredentialBanks, ServiceError> {
        let core = &self.core;
        let now = core.now();
        let limit = core.limits.keyless_per_client;
        if !core
            .take_slot(&format!("banks:{}", meta.client()), limit, now)
            .await?
        {
            return Err(ServiceError::rate_limited(limit, now));
        }
        let entry = AuditEntry::platform_token(meta, Operation::ListCredentialBanks, now);
        let refuse = |entry: AuditEntry, code| core.refuse(entry, ServiceError::rejected(code));
        let Ok(name) = TypedCredentialId::parse(credential_id) else {
            return refuse(entry, ErrorCode::CredentialIdMalformed).await;
        };
        let id = name.as_str();
        // 20 tries per hour per credential: guessing one of the ~3 valid codes out of 10^6
        // would take thousands of hours from any number of addresses.
        if !core
            .take_slot(&format!("banks-credential:{id}"), limit, now)
            .await?
        {
            return Err(ServiceError::rate_limited(limit, now));
        }
        let Some(credential) = credentials::find_credential(core.db(), id).await? else {
            // Whether a Mamori ID was issued stays hidden; what is neither a Mamori ID nor an
            // imported serial is malformed, as before tokens were imported.
            return match name {
                TypedCredentialId::Issued(_) => refuse(entry.credential(id), ErrorCode::OtpInvalid),
                TypedCredentialId::Serial { .. } => refuse(entry, ErrorCode::CredentialIdMalformed),
            }
            .await;
        };
        let entry = entry.credential(id);
        let codes = match parse_codes(&[code.to_owned()], &credential) {
            Ok(codes) => codes,
            Err(err) => return refuse(entry, err.code()).await,
        };
        if credential.suspended_at.is_some() {
            return refuse(entry, ErrorCode::CredentialSuspended).await;
        }
        let secret = core.open_secret(&credential)?;
        let platform = OtpPolicy::default();
        let decision = match codes.as_slice() {
            [one] => code_state(&credential, &secret)?.check_one(
                one,
                unix(now),
                platform.window.get(),
                platform.hotp_look_ahead.get(),
            ),
            _ => Decision::Wrong,
        };

        let tx = core.write().await?;
        let listed = match decide(&tx, &credential, decision, now).await? {
            Ok(()) => Ok(bindings::live_registrations_of_credential(&tx, &credential.id).await?),
            Err(code) => Err(ServiceError::rejected(code)),
        };
        match &listed {
            Ok(banks) => entry.details(json!({ "banks": banks.len() })),
            Err(err) => entry.failed(err),
        }
        .append(&tx)
        .await?;
        tx.commit().await?;
        let banks = listed?
            .into_iter()
            .map(|r| CredentialBank {
                locked: r.binding.state == BindingState::Locked,
                bank_id: r.binding.tenant_id,
                bank_name_ja: r.bank_name_ja,
                bank_name_en: r.bank_name_en,
                registered_at: r.binding.created_at,
            })
            .collect();
        Ok(CredentialBanks {
            credential_id: credential.id,
            banks,
        })
    }
}

/// Within `tx`: spends the code's step (conditional on it being newer than the last spent one,
/// so a concurrent use of the same code loses). A wrong code changes nothing.
async fn decide(
    tx: &WriteTx,
    credential: &CredentialRow,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<Result<(), ErrorCode>, ServiceError> {
    Ok(match decision {
        Decision::Spend { at, .. } => {
            if spend(tx, credential, at, None, now).await? {
                Ok(())
            } else {
                Err(ErrorCode::OtpAlreadyUsed)
            }
        }
        Decision::AlreadyUsed => Err(ErrorCode::OtpAlreadyUsed),
        Decision::Wrong => Err(ErrorCode::OtpInvalid),
    })
}
