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
use mamori_domain::ErrorCode;
use mamori_domain::policy::OtpPolicy;
use mamori_otp::CredentialId;
use mamori_store::StoreError;
use mamori_store::audit::{self, NewAuditEvent, PLATFORM_TENANT};
use mamori_store::records::{self, CredentialRow};
use sea_orm::DatabaseTransaction;

use crate::bank::{code_state, parse_codes, unix};
use crate::check::Decision;
use crate::{RequestMeta, ServiceError, Services};

const OPERATION: &str = "listCredentialBanks";

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

impl Services {
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
        let now = self.now();
        let client = meta.client_addr.clone().unwrap_or_else(|| "unknown".into());
        if !self
            .take_rate_slot(&format!("banks:{client}"), self.provision_limit, now)
            .await?
        {
            return Err(ServiceError::rejected(ErrorCode::RateLimited));
        }
        let Ok(id) = CredentialId::parse(credential_id) else {
            return self
                .platform_refusal(meta, None, ErrorCode::CredentialIdMalformed, now)
                .await;
        };
        // 20 tries per hour per credential: guessing one of the ~3 valid codes out of 10^6
        // would take thousands of hours from any number of addresses.
        if !self
            .take_rate_slot(&format!("banks-credential:{id}"), self.provision_limit, now)
            .await?
        {
            return Err(ServiceError::rejected(ErrorCode::RateLimited));
        }
        let conn = self.db().connection();
        let Some(credential) = records::find_credential(conn, id.as_str()).await? else {
            return self
                .platform_refusal(meta, Some(id.as_str()), ErrorCode::OtpInvalid, now)
                .await;
        };
        let codes = match parse_codes(&[code.to_owned()], &credential) {
            Ok(codes) => codes,
            Err(err) => {
                return self
                    .platform_refusal(meta, Some(id.as_str()), err.code(), now)
                    .await;
            }
        };
        if credential.suspended_at.is_some() {
            return self
                .platform_refusal(meta, Some(id.as_str()), ErrorCode::CredentialSuspended, now)
                .await;
        }
        let secret = self.open_secret(&credential)?;
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

        let txn = self.begin().await?;
        let outcome = self.decide(&txn, &credential, decision, now).await?;
        let listed = match outcome {
            Ok(()) => Ok(records::live_registrations_of_credential(&txn, &credential.id).await?),
            Err(code) => Err(ServiceError::rejected(code)),
        };
        let details = listed
            .as_ref()
            .ok()
            .map(|banks| serde_json::json!({ "banks": banks.len() }));
        platform_audit(
            &txn,
            meta,
            Some(&credential.id),
            listed.as_ref().map(|_| ()).map_err(ServiceError::code),
            details,
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        let banks = listed?
            .into_iter()
            .map(|r| CredentialBank {
                locked: r.binding.state == mamori_domain::BindingState::Locked.as_str(),
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

    /// Within `txn`: spends the code's step (conditional on it being newer than the last spent
    /// one, so a concurrent use of the same code loses). A wrong code changes nothing.
    async fn decide(
        &self,
        txn: &DatabaseTransaction,
        credential: &CredentialRow,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<Result<(), ErrorCode>, ServiceError> {
        Ok(match decision {
            Decision::Spend { at, .. } => {
                if self.spend(txn, credential, at, None, now).await? {
                    Ok(())
                } else {
                    Err(ErrorCode::OtpAlreadyUsed)
                }
            }
            Decision::AlreadyUsed => Err(ErrorCode::OtpAlreadyUsed),
            Decision::Wrong => Err(ErrorCode::OtpInvalid),
        })
    }

    /// Audits a refusal that changed nothing in the platform trail, in its own transaction.
    async fn platform_refusal<T>(
        &self,
        meta: &RequestMeta,
        credential_id: Option<&str>,
        code: ErrorCode,
        now: DateTime<Utc>,
    ) -> Result<T, ServiceError> {
        let txn = self.begin().await?;
        platform_audit(&txn, meta, credential_id, Err(code), None, now).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Err(ServiceError::rejected(code))
    }
}

async fn platform_audit(
    txn: &DatabaseTransaction,
    meta: &RequestMeta,
    credential_id: Option<&str>,
    outcome: Result<(), ErrorCode>,
    details: Option<serde_json::Value>,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let (outcome, error_code) = match outcome {
        Ok(()) => ("success", None),
        Err(code) => ("failure", Some(code.as_str().to_owned())),
    };
    audit::append(
        txn,
        NewAuditEvent {
            tenant_id: PLATFORM_TENANT.into(),
            actor: "token".into(),
            operation: OPERATION.into(),
            outcome: outcome.into(),
            error_code,
            credential_id: credential_id.map(str::to_owned),
            request_id: meta.request_id.clone(),
            client_addr: meta.client_addr.clone(),
            details,
            ..NewAuditEvent::default()
        },
        now,
    )
    .await?;
    Ok(())
}
