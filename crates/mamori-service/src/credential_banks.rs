//! The banks a token is registered at (listCredentialBanks), shown to the token itself and only
//! after it proves itself with a fresh code: a credential ID alone reveals nothing.
//!
//! The code is checked like a login, with the platform's rules rather than a bank's (there is
//! no bank here): the OTP defaults' window and the step spent platform-wide. A wrong code is NOT
//! counted against the platform-wide guess budget: this route needs no bank key, so anyone who
//! knows a credential ID (customers type them into bank sites) could otherwise suspend the
//! token at every bank. For the same reason nothing is limited per credential (a stranger could
//! empty the owner's quota): guessing is bounded by each client's quota of failures
//! ([`crate::keyless`]), and an unknown credential — an unissued Mamori ID or a serial never
//! imported — answers exactly like a wrong code. Every decision goes into the platform's audit
//! trail, never a bank's.

use chrono::{DateTime, Utc};
use mamori_domain::policy::OtpPolicy;
use mamori_domain::{BindingState, ErrorCode, Operation};
use mamori_otp::{Digits, TypedCredentialId, normalize_code};
use mamori_store::credentials::{self, CredentialRow};
use mamori_store::{WriteTx, bindings};
use serde_json::json;

use crate::check::Decision;
use crate::core::audit::AuditEntry;
use crate::core::codes::{code_state, parse_codes, spend, unix};
use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;
use crate::keyless::{self, Route};

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
    /// code of that credential; the code's step is spent on the whole platform. A wrong code
    /// and an unknown credential are the same `otp_invalid` and count nowhere but in this
    /// client's quota of failures; so does a suspended credential unless the code is right.
    pub async fn list_credential_banks(
        &self,
        meta: &RequestMeta,
        credential_id: &str,
        code: &str,
    ) -> Result<CredentialBanks, ServiceError> {
        let core = &self.core;
        let slot = keyless::reserve_failure(core, Route::CredentialBanks, meta).await?;
        let listed = self.list(meta, credential_id, code).await?;
        if listed.is_ok() {
            slot.forgive(core).await?;
        }
        listed
    }

    /// The listing, or the refusal (audited).
    async fn list(
        &self,
        meta: &RequestMeta,
        credential_id: &str,
        code: &str,
    ) -> Result<Result<CredentialBanks, ServiceError>, ServiceError> {
        let core = &self.core;
        let now = core.now();
        let entry = AuditEntry::platform_token(meta, Operation::ListCredentialBanks, now);
        let refuse = |entry, code| self.refuse(entry, code);
        // The shapes first: a rule anyone can check alone tells nobody anything.
        let Ok(name) = TypedCredentialId::parse(credential_id) else {
            return refuse(entry, ErrorCode::CredentialIdMalformed).await;
        };
        if !is_code_shaped(code) {
            return refuse(entry, ErrorCode::OtpMalformed).await;
        }
        let id = name.as_str();
        let entry = entry.credential(id);
        // Whether a Mamori ID was issued or a serial imported stays hidden: no token is a wrong
        // code.
        let Some(credential) = credentials::find_credential(core.db(), id).await? else {
            return refuse(entry, ErrorCode::OtpInvalid).await;
        };
        let secret = core.open_secret(&credential)?;
        let platform = OtpPolicy::default();
        // A code of another length than the token's is just a wrong code.
        let decision = match parse_codes(&[code.to_owned()], &credential).as_deref() {
            Ok([one]) => code_state(&credential, &secret)?.check_one(
                one,
                unix(now),
                platform.window.get(),
                platform.hotp_look_ahead.get(),
            ),
            _ => Decision::Wrong,
        };
        // A wrong code ends as an unknown credential does, with the one insert of its audit
        // entry: a unit of work here would take two more round trips, and their time would
        // tell a stranger which credential IDs exist.
        if decision == Decision::Wrong {
            return refuse(entry, ErrorCode::OtpInvalid).await;
        }
        if credential.suspended_at.is_some() {
            // Only the one holding the token learns that it is suspended.
            return refuse(entry, ErrorCode::CredentialSuspended).await;
        }

        let tx = core.write().await?;
        let listed = match decide(&tx, &credential, decision, now).await? {
            Ok(()) => Ok(bindings::live_registrations_of_credential(
                &tx,
                core.account_mac().await?,
                &credential.id,
            )
            .await?),
            Err(code) => Err(ServiceError::rejected(code)),
        };
        match &listed {
            Ok(banks) => entry.details(json!({ "banks": banks.len() })),
            Err(err) => entry.failed(err),
        }
        .append(&tx)
        .await?;
        tx.commit().await?;
        Ok(listed.map(|banks| CredentialBanks {
            credential_id: credential.id,
            banks: banks
                .into_iter()
                .map(|r| CredentialBank {
                    locked: r.binding.state == BindingState::Locked,
                    bank_id: r.binding.tenant_id,
                    bank_name_ja: r.bank_name_ja,
                    bank_name_en: r.bank_name_en,
                    registered_at: r.binding.created_at,
                })
                .collect(),
        }))
    }
}

impl TokenBanks {
    /// Audits a refusal (alone) and returns it.
    async fn refuse(
        &self,
        entry: AuditEntry,
        code: ErrorCode,
    ) -> Result<Result<CredentialBanks, ServiceError>, ServiceError> {
        let err = ServiceError::rejected(code);
        self.core.record_alone(entry.failed(&err)).await?;
        Ok(Err(err))
    }
}

/// Whether `code` is a code of some token: 6 to 8 digits once blanks are removed and
/// full-width digits folded.
fn is_code_shaped(code: &str) -> bool {
    (Digits::MIN..=Digits::MAX)
        .filter_map(|d| Digits::new(d).ok())
        .any(|digits| normalize_code(code, digits).is_ok())
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
