//! The bank's code checks against a user's registered token: login (verifyOtp), the check
//! under transactions and logins, 同期ズレ補正 (resync) and 利用停止 (stop), and the status.
//!
//! Every check is scoped to the caller's bank and is one short unit of work of conditional
//! writes (see [`crate::core::codes::settle`]) with its audit entry.

use chrono::{DateTime, Utc};
use mamori_domain::{BindingState, ErrorCode, FailureOutcome, Operation};
use mamori_store::{Engine, bindings, checks};
use serde_json::json;

use crate::check::Decision;
use crate::core::audit::AuditEntry;
use crate::core::codes::{self, Checked};
use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::status::{self, OtpStatus};

/// A successful code check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The credential that produced the code.
    pub credential_id: String,
    /// When it was accepted.
    pub accepted_at: DateTime<Utc>,
}

/// The code checks of a bank.
#[derive(Debug, Clone)]
pub struct BankOtp {
    core: Core,
}

/// What one live code check is: its operation, its code(s), the state a success moves the
/// binding to (stop), and extra facts for the audit entry.
struct LiveCheck<'a> {
    operation: Operation,
    input: CodeInput<'a>,
    then: Option<BindingState>,
    facts: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy)]
enum CodeInput<'a> {
    One(&'a str),
    Resync(&'a str, &'a str),
}

impl BankOtp {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// The login check (and the basis of transaction checks): one code against the user's
    /// token at this bank.
    pub async fn verify_otp(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        code: &str,
    ) -> Result<Accepted, ServiceError> {
        self.check_live_code(
            caller,
            meta,
            user_id,
            LiveCheck {
                operation: Operation::VerifyOtp,
                input: CodeInput::One(code),
                then: None,
                facts: None,
            },
        )
        .await
    }

    /// One code checked like a login under another operation's name (transaction checks),
    /// with the transaction's hash in the audit entry.
    pub(crate) async fn check_code_for(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        code: &str,
        operation: Operation,
        transaction_hash: Option<&str>,
    ) -> Result<Accepted, ServiceError> {
        self.check_live_code(
            caller,
            meta,
            user_id,
            LiveCheck {
                operation,
                input: CodeInput::One(code),
                then: None,
                facts: transaction_hash.map(|hash| json!({ "transaction_hash": hash })),
            },
        )
        .await
    }

    /// 同期ズレ補正: two consecutive codes re-learn the token's drift, for every bank.
    pub async fn resync_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        first: &str,
        second: &str,
    ) -> Result<Accepted, ServiceError> {
        self.check_live_code(
            caller,
            meta,
            user_id,
            LiveCheck {
                operation: Operation::ResyncCredential,
                input: CodeInput::Resync(first, second),
                then: None,
                facts: None,
            },
        )
        .await
    }

    /// 利用停止: the customer ends OTP use at this bank with a current code.
    pub async fn stop_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        code: &str,
    ) -> Result<Accepted, ServiceError> {
        self.check_live_code(
            caller,
            meta,
            user_id,
            LiveCheck {
                operation: Operation::StopCredential,
                input: CodeInput::One(code),
                then: Some(BindingState::Stopped),
                facts: None,
            },
        )
        .await
    }

    /// A user's OTP status at the caller's bank.
    pub async fn otp_status(
        &self,
        caller: &BankCaller,
        user_id: &str,
    ) -> Result<OtpStatus, ServiceError> {
        status::otp_status(&self.core, caller, user_id).await
    }

    /// Checks a code (or a resync pair) against the user's live binding at this bank and
    /// records the result, all in one unit of work:
    ///
    /// 1. reserve an attempt (`failures + 1` while active and under the limit) — a locked
    ///    binding, or one whose attempts are used up by concurrent requests, checks nothing;
    /// 2. spend the matched step platform-wide (conditional on it being newer than the last);
    /// 3. on success reset the count; on a wrong code keep it and lock at the limit; on an
    ///    already-used code give the attempt back;
    /// 4. append the audit entry; commit.
    async fn check_live_code(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        check: LiveCheck<'_>,
    ) -> Result<Accepted, ServiceError> {
        let LiveCheck {
            operation,
            input,
            then,
            facts,
        } = check;
        let core = &self.core;
        // The policy comes from this node's cache; user, binding and credential in one read.
        let policy = core.policy(caller).await?;
        let target = checks::find_check_target(
            core.db(),
            core.account_mac().await?,
            caller.tenant_id.as_str(),
            user_id,
        )
        .await?
        .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, operation, now).user(&target.user.id);
        let Some((binding, credential)) = target.registered else {
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpNotRegistered))
                .await;
        };
        let entry = entry.credential(&credential.id);
        let raw: Vec<String> = match input {
            CodeInput::One(code) => vec![code.to_owned()],
            CodeInput::Resync(first, second) => vec![first.to_owned(), second.to_owned()],
        };
        let codes = match codes::parse_codes(&raw, &credential) {
            Ok(codes) => codes,
            Err(err) => return core.refuse(entry, err).await,
        };
        if binding.state == BindingState::Locked {
            return core.refuse(entry, ServiceError::locked()).await;
        }
        if credential.suspended_at.is_some() {
            return core
                .refuse(
                    entry,
                    ServiceError::rejected(ErrorCode::CredentialSuspended),
                )
                .await;
        }
        let secret = core.open_secret(&credential)?;
        let state = codes::code_state(&credential, &secret)?;
        let unix = codes::unix(now);
        let decision = match (input, codes.as_slice()) {
            (CodeInput::One(_), [code]) => state.check_one(
                code,
                unix,
                policy.otp.window.get(),
                policy.otp.hotp_look_ahead.get(),
            ),
            (CodeInput::Resync(..), [first, second]) => state.check_resync(
                first,
                second,
                unix,
                codes::resync_window(&policy, &credential),
            ),
            _ => Decision::Wrong,
        };
        let learned = |decision: Decision| match decision {
            Decision::Spend {
                drift: Some(drift), ..
            } => Some(json!({ "drift_steps": drift })),
            _ => None,
        };
        // A replayed code changes nothing: while the binding (as read) still has attempts, it
        // is refused with one insert of its audit entry.
        let limit = codes::lock_limit(&policy);
        if decision == Decision::AlreadyUsed && binding.failures < limit {
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpAlreadyUsed))
                .await;
        }
        // The common case, a fresh code at an active binding that changes no state, is accepted
        // in one statement where the engine allows it; any other case, or a condition that no
        // longer held, is settled in a unit of work below, which names the refusal.
        if let (Decision::Spend { at, drift }, None, Engine::Postgres) =
            (decision, then, core.db().engine())
        {
            let acceptance = checks::Acceptance {
                binding_id: &binding.id,
                limit,
                credential_id: &credential.id,
                kind: credential.kind,
                at,
                drift,
                now,
            };
            let event = entry
                .clone()
                .details_opt(learned(decision))
                .details_opt(facts.clone())
                .into_event();
            core.audit_key_ready().await?;
            if checks::accept_at_once(core.db(), &acceptance, event).await? {
                return Ok(Accepted {
                    credential_id: credential.id,
                    accepted_at: now,
                });
            }
        }
        // A wrong code at an active binding is counted in one statement the same way.
        if let (Decision::Wrong, Engine::Postgres) = (decision, core.db().engine()) {
            let failure = checks::Failure {
                binding_id: &binding.id,
                limit,
                credential_id: &credential.id,
                budget: codes::PLATFORM_GUESS_BUDGET,
                now,
            };
            // The entry of each outcome; the statement writes the one that happened.
            let events = [(false, false), (true, false), (false, true), (true, true)].map(
                |(locks, suspended)| {
                    let outcome = FailureOutcome {
                        attempts_left: 0,
                        locks,
                    };
                    let checked = named_for(input, codes::wrong_code(outcome, suspended));
                    entry
                        .clone()
                        .outcome(checked.outcome())
                        .details_opt(checked.lock_facts())
                        .details_opt(facts.clone())
                        .into_event()
                },
            );
            core.audit_key_ready().await?;
            if let Some(count) = checks::count_failure_at_once(core.db(), &failure, events).await? {
                let outcome = codes::failure_outcome(count.failures, limit);
                let checked = named_for(input, codes::wrong_code(outcome, count.suspended));
                return answer(checked, credential.id, now);
            }
        }
        let tx = core.write().await?;
        let checked = match codes::settle(&tx, &binding, &credential, decision, limit, now).await? {
            Checked::Accepted => {
                if let Some(to) = then {
                    bindings::transition_binding(
                        &tx,
                        &binding.id,
                        &[BindingState::Active],
                        to,
                        false,
                        now,
                    )
                    .await?;
                }
                Checked::Accepted
            }
            rejected => named_for(input, rejected),
        };
        let learned = match checked {
            Checked::Accepted => learned(decision),
            _ => None,
        };
        entry
            .outcome(checked.outcome())
            .details_opt(learned)
            .details_opt(checked.lock_facts())
            .details_opt(facts)
            .append(&tx)
            .await?;
        tx.commit().await?;
        answer(checked, credential.id, now)
    }
}

/// The bank's answer to a check that did `checked`.
fn answer(
    checked: Checked,
    credential_id: String,
    now: DateTime<Utc>,
) -> Result<Accepted, ServiceError> {
    match checked {
        Checked::Accepted => Ok(Accepted {
            credential_id,
            accepted_at: now,
        }),
        Checked::Rejected(err) | Checked::LockedNow(err) => Err(err),
    }
}

/// A failed resync says so, so the customer knows to enter two codes.
fn named_for(input: CodeInput<'_>, checked: Checked) -> Checked {
    match checked {
        Checked::Rejected(ServiceError::Rejected {
            code: ErrorCode::OtpInvalid,
            attempts_left,
        }) if matches!(input, CodeInput::Resync(..)) => Checked::Rejected(ServiceError::Rejected {
            code: ErrorCode::ResyncFailed,
            attempts_left,
        }),
        checked => checked,
    }
}
