//! プッシュ通知認証 (seed 000): after the transfer password, the bank asks the customer's phone
//! to approve (承認) or deny (拒否) the transaction; no answer in time cancels it.
//!
//! The bank creates an approval for its user; the device holding the credential's key lists it
//! (signed) and answers it (signed over the approval, the bank and the transaction's hash). Every
//! move out of `pending` is one conditional write, and an approval whose time is up is moved to
//! `expired` by whoever reads or answers it first, audited once.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use mamori_crypto::{DeviceKeyPair, DevicePublicKey};
use mamori_domain::push::{
    ApprovalState, PushDecision, SignedAnswer, listing_message, raises_bombing_alert,
    signed_recently, unapproved_streak,
};
use mamori_domain::transaction::Transaction;
use mamori_domain::{BindingState, ErrorCode, Operation, TenantId};
use mamori_otp::CredentialId;
use mamori_store::push::{self as store, PushApprovalRow};
use mamori_store::{StoreError, WriteTx, bindings, credentials, devices};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::broadcast;

use crate::core::audit::AuditEntry;
use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::keyless::{self, Route};
use crate::receipts::Receipts;
use crate::webhooks::Webhooks;

/// The longest a device may hold a listing open, in seconds.
pub const MAX_WAIT_SECONDS: u32 = 30;

/// How often a waiting listing looks at the database again, for approvals created on another
/// node (whose in-process notifications never reach this one).
const RECHECK_EVERY: StdDuration = StdDuration::from_secs(1);

/// The longest text an approval shows on the phone, per language.
const MAX_DISPLAY_CHARS: usize = 500;

/// How often a create is retried when a concurrent create for the same user won the race for
/// the one pending slot (each retry cancels the winner, so the newest request prevails).
const CREATE_TRIES: usize = 10;

/// Tells a customer's device that an approval waits for it. Called after the approval is
/// committed, never inside the transaction.
///
/// The default is [`PushHub`], which wakes the device's long-polling listing in this process.
/// An APNs/FCM adapter implements the same trait (and may forward to the hub as well, so
/// long-polling devices still wake at once; without it they notice within a second).
pub trait PushNotifier: Send + Sync + fmt::Debug {
    /// A new pending approval for `credential_id`.
    fn approval_created(&self, credential_id: &str);
}

/// The in-process notifier: wakes listings waiting in this process for a credential.
#[derive(Debug)]
pub struct PushHub {
    sender: broadcast::Sender<String>,
}

impl Default for PushHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(256).0,
        }
    }
}

impl PushHub {
    /// A hub with no listeners.
    pub fn new() -> Self {
        Self::default()
    }

    fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }
}

impl PushNotifier for PushHub {
    fn approval_created(&self, credential_id: &str) {
        // No receiver means no device is waiting here: nothing to wake.
        let _ = self.sender.send(credential_id.to_owned());
    }
}

/// What the bank asks the customer to approve.
#[derive(Debug, Clone)]
pub struct NewPushApproval {
    /// The transaction.
    pub transaction: Transaction,
    /// What the phone shows, in Japanese.
    pub display_ja: String,
    /// What the phone shows, in English.
    pub display_en: String,
    /// Ask for a number challenge (the bank's policy may force it on).
    pub number_challenge: bool,
}

/// A new approval, waiting for the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushApprovalCreated {
    /// `pa_…`.
    pub approval_id: String,
    /// Always pending.
    pub status: ApprovalState,
    /// When no answer cancels it.
    pub expires_at: DateTime<Utc>,
    /// The number the IB screen shows and the phone must send back, with a number challenge.
    pub number: Option<String>,
}

/// An approval as its bank sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushApprovalView {
    /// `pa_…`.
    pub approval_id: String,
    /// The bank's user.
    pub user_id: String,
    /// The state.
    pub status: ApprovalState,
    /// SHA-256 of the canonical transaction (hex).
    pub transaction_hash: String,
    /// When the bank created it.
    pub created_at: DateTime<Utc>,
    /// When no answer cancels it.
    pub expires_at: DateTime<Utc>,
    /// When the device answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// A signed receipt (JWT, `amr: ["push"]`), only when approved and until it expires
    /// (five minutes after the answer).
    pub receipt: Option<String>,
}

/// A pending approval as the device sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    /// `pa_…`.
    pub approval_id: String,
    /// The bank asking.
    pub bank_id: String,
    /// The bank's name in Japanese.
    pub bank_name_ja: String,
    /// The bank's name in English.
    pub bank_name_en: String,
    /// The transaction.
    pub transaction: Transaction,
    /// SHA-256 of the canonical transaction (hex): what the device signs.
    pub transaction_hash: String,
    /// What to show, in Japanese.
    pub display_ja: String,
    /// What to show, in English.
    pub display_en: String,
    /// The customer must pick the number the IB screen shows.
    pub number_challenge: bool,
    /// When the bank created it.
    pub created_at: DateTime<Utc>,
    /// When no answer cancels it.
    pub expires_at: DateTime<Utc>,
}

/// The device's signed answer.
#[derive(Debug, Clone)]
pub struct PushAnswer {
    /// The credential whose device answers.
    pub credential_id: String,
    /// Approve or deny.
    pub decision: PushDecision,
    /// The number the customer picked, with a number challenge.
    pub number: Option<String>,
    /// The hash of the transaction the device showed.
    pub transaction_hash: String,
    /// Unix seconds when the device signed.
    pub signed_at: i64,
    /// Ed25519 over [`SignedAnswer::message`], base64url.
    pub signature: String,
}

/// An answered approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAnswered {
    /// `pa_…`.
    pub approval_id: String,
    /// approved or denied.
    pub status: ApprovalState,
}

/// A change of an approval to a final state, announced to the bank after commit.
#[derive(Debug, Clone)]
struct Ended {
    row: PushApprovalRow,
    state: ApprovalState,
    at: DateTime<Utc>,
}

/// Push approvals of transactions.
#[derive(Debug, Clone)]
pub struct Push {
    core: Core,
    receipts: Receipts,
    webhooks: Webhooks,
    /// Wakes devices long-polling in this process for their approvals.
    hub: Arc<PushHub>,
    /// Tells devices of new approvals (the hub unless an APNs/FCM adapter is set).
    notifier: Arc<dyn PushNotifier>,
}

impl Push {
    pub(crate) fn new(
        core: Core,
        receipts: Receipts,
        webhooks: Webhooks,
        hub: Arc<PushHub>,
        notifier: Arc<dyn PushNotifier>,
    ) -> Self {
        Self {
            core,
            receipts,
            webhooks,
            hub,
            notifier,
        }
    }

    /// The in-process hub that wakes long-polling devices (an APNs/FCM adapter forwards to it).
    pub fn hub(&self) -> &Arc<PushHub> {
        &self.hub
    }

    /// createPushApproval: asks the user's phone to approve a transaction. A pending approval
    /// of the same user is cancelled in the same transaction.
    pub async fn create_push_approval(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        new: NewPushApproval,
    ) -> Result<PushApprovalCreated, ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let policy = core.policy(caller).await?;
        let now = core.now();
        let entry =
            AuditEntry::bank(caller, meta, Operation::CreatePushApproval, now).user(&user.id);
        if !policy.push.enabled {
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::PushDisabled))
                .await;
        }
        new.transaction
            .validate()
            .map_err(|e| ServiceError::invalid(format!("transaction.{e}")))?;
        for (field, text) in [
            ("display.ja", &new.display_ja),
            ("display.en", &new.display_en),
        ] {
            let chars = text.chars().count();
            if chars == 0 || chars > MAX_DISPLAY_CHARS || text.trim().is_empty() {
                return Err(ServiceError::invalid(format!(
                    "{field}: 1 to {MAX_DISPLAY_CHARS} characters, not only spaces"
                )));
            }
        }
        let db = core.db();
        let Some(binding) =
            bindings::find_live_binding(db, core.account_mac().await?, &user.tenant_id, &user.id)
                .await?
        else {
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpNotRegistered))
                .await;
        };
        let credential_id = binding.credential_id.clone();
        let entry = entry.credential(&credential_id);
        let refuse_with =
            |code| core.refuse::<PushApprovalCreated>(entry.clone(), ServiceError::rejected(code));
        if binding.state != BindingState::Active {
            return refuse_with(ErrorCode::OtpLocked).await;
        }
        let credential = credentials::find_credential(db, &credential_id)
            .await?
            .ok_or_else(|| ServiceError::internal("binding without credential"))?;
        if credential.suspended_at.is_some() {
            return refuse_with(ErrorCode::CredentialSuspended).await;
        }
        if devices::find_device_key(db, core.account_mac().await?, &credential_id)
            .await?
            .is_none()
        {
            return refuse_with(ErrorCode::PushUnavailable).await;
        }

        let number = if new.number_challenge || policy.push.number_challenge {
            Some(challenge_number()?)
        } else {
            None
        };
        let timeout = Duration::seconds(i64::from(policy.push.timeout_seconds.get()));
        let row = PushApprovalRow {
            // Time-ordered IDs keep approvals created in the same instant in order.
            id: format!("pa_{}", uuid::Uuid::now_v7().simple()),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            binding_id: binding.id.clone(),
            credential_id: credential_id.clone(),
            transaction_kind: new.transaction.kind.as_str().to_owned(),
            transaction_json: new.transaction.canonical_json(),
            transaction_hash: new.transaction.hash(),
            display_ja: new.display_ja,
            display_en: new.display_en,
            challenge_number: number.clone(),
            state: ApprovalState::Pending,
            created_at: now,
            expires_at: now + timeout,
            answered_at: None,
            answer_signature: None,
            updated_at: now,
        };
        let mut ended = None;
        for _ in 0..CREATE_TRIES {
            ended = self.try_create(&entry, &row, now).await?;
            if ended.is_some() {
                break;
            }
        }
        let Some(ended) = ended else {
            return Err(ServiceError::Unavailable(
                "write conflict: concurrent push approvals for one user".into(),
            ));
        };
        tracing::info!(
            tenant.id = %row.tenant_id,
            approval.id = %row.id,
            credential.id = %row.credential_id,
            "push approval created"
        );
        self.notifier.approval_created(&row.credential_id);
        for end in ended {
            self.announce(end);
        }
        Ok(PushApprovalCreated {
            approval_id: row.id,
            status: ApprovalState::Pending,
            expires_at: row.expires_at,
            number,
        })
    }

    /// One try at replacing the user's pending approval with `row`, in one transaction:
    /// expire or cancel the pending one (conditional writes), insert the new one, audit.
    /// `None` when a concurrent create took the pending slot first (the unique index refused
    /// the insert); nothing was changed then.
    async fn try_create(
        &self,
        entry: &AuditEntry,
        row: &PushApprovalRow,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Ended>>, ServiceError> {
        let txn = self.core.write().await?;
        let mut ended = Vec::new();
        for old in store::pending_of_user(&txn, &row.tenant_id, &row.user_id).await? {
            if store::expire_if_due(&txn, &old.id, now).await? {
                ended.push(Ended {
                    row: old,
                    state: ApprovalState::Expired,
                    at: now,
                });
            } else if store::cancel_if_pending(&txn, &old.id, now).await? {
                ended.push(Ended {
                    row: old,
                    state: ApprovalState::Cancelled,
                    at: now,
                });
            }
        }
        match store::insert_approval(&txn, row.clone()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                drop(txn);
                tracing::debug!(approval.id = %row.id, "a concurrent push approval won; retrying");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        let alert = if ended.is_empty() {
            None
        } else {
            self.bombing_alert(&txn, row, now).await?
        };
        // Every write above comes before the first audit append, which locks the chain head.
        for end in &ended {
            if end.state == ApprovalState::Expired {
                expiry_entry(&end.row, now).append(&txn).await?;
            }
        }
        let replaced: Vec<&str> = ended.iter().map(|e| e.row.id.as_str()).collect();
        entry
            .clone()
            .details(json!({
                "approval_id": row.id,
                "transaction_hash": row.transaction_hash,
                "number_challenge": row.challenge_number.is_some(),
                "replaced": replaced,
            }))
            .append(&txn)
            .await?;
        if let Some(alert) = alert {
            alert.append(&txn).await?;
        }
        txn.commit().await?;
        Ok(Some(ended))
    }

    /// cancelPushApproval: an operator cancels a pending approval of the bank (a customer
    /// who called about a transfer they did not start); the bank hears of it by webhook.
    pub async fn cancel_push_approval(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        approval_id: &str,
    ) -> Result<PushApprovalView, ServiceError> {
        let core = &self.core;
        let row = store::find_approval_at(core.db(), caller.tenant_id.as_str(), approval_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        let row = self.settle_expiry(row).await?;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, Operation::CancelPushApproval, now)
            .user(&row.user_id)
            .credential(&row.credential_id)
            .details(json!({ "approval_id": row.id }));
        let txn = core.write().await?;
        if row.state != ApprovalState::Pending
            || !store::cancel_if_pending(&txn, &row.id, now).await?
        {
            drop(txn);
            return core
                .refuse(
                    entry,
                    ServiceError::rejected(ErrorCode::PushAlreadyAnswered),
                )
                .await;
        }
        entry.append(&txn).await?;
        txn.commit().await?;
        let cancelled = PushApprovalRow {
            state: ApprovalState::Cancelled,
            updated_at: now,
            ..row
        };
        self.announce(Ended {
            row: cancelled.clone(),
            state: ApprovalState::Cancelled,
            at: now,
        });
        Ok(PushApprovalView {
            approval_id: cancelled.id,
            user_id: cancelled.user_id,
            status: ApprovalState::Cancelled,
            transaction_hash: cancelled.transaction_hash,
            created_at: cancelled.created_at,
            expires_at: cancelled.expires_at,
            answered_at: cancelled.answered_at,
            receipt: None,
        })
    }

    /// The user's pending approvals at the caller's bank (for the console's user page).
    pub async fn pending_of_user(
        &self,
        caller: &BankCaller,
        user_id: &str,
    ) -> Result<Vec<PushApprovalView>, ServiceError> {
        let now = self.core.now();
        Ok(
            store::pending_of_user(self.core.db(), caller.tenant_id.as_str(), user_id)
                .await?
                .into_iter()
                .filter(|row| row.expires_at > now)
                .map(|row| PushApprovalView {
                    approval_id: row.id,
                    user_id: row.user_id,
                    status: row.state,
                    transaction_hash: row.transaction_hash,
                    created_at: row.created_at,
                    expires_at: row.expires_at,
                    answered_at: row.answered_at,
                    receipt: None,
                })
                .collect(),
        )
    }

    /// getPushApproval: an approval of the caller's bank, with its receipt once approved (the
    /// same on every read, until it expires).
    pub async fn get_push_approval(
        &self,
        caller: &BankCaller,
        approval_id: &str,
    ) -> Result<PushApprovalView, ServiceError> {
        let row = store::find_approval_at(self.core.db(), caller.tenant_id.as_str(), approval_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        let row = self.settle_expiry(row).await?;
        let status = row.state;
        let receipt = if status == ApprovalState::Approved {
            let transaction = Transaction::from_canonical_json(&row.transaction_json)
                .filter(|t| t.hash() == row.transaction_hash)
                .ok_or_else(|| {
                    ServiceError::Internal(format!(
                        "push approval {}: stored transaction does not match its hash",
                        row.id
                    ))
                })?;
            let answered_at = row.answered_at.unwrap_or(row.updated_at);
            self.receipts
                .push_receipt(caller, &row.user_id, &row.id, answered_at, &transaction)
                .await?
        } else {
            None
        };
        Ok(PushApprovalView {
            approval_id: row.id,
            user_id: row.user_id,
            status,
            transaction_hash: row.transaction_hash,
            created_at: row.created_at,
            expires_at: row.expires_at,
            answered_at: row.answered_at,
            receipt,
        })
    }

    /// listPendingApprovals: the pending approvals of a credential at every bank, for the
    /// device holding its key. With `wait_seconds` > 0 and nothing pending, waits up to that
    /// many (real) seconds for one to be created.
    ///
    /// An unknown credential, one without a device key, and a missing, wrong or stale
    /// signature are the same `device_signature_invalid`, after the same signature check
    /// (against a throwaway key where there is none), and count in the client's quota of
    /// failures; a signed listing gives its slot back.
    pub async fn list_pending_approvals(
        &self,
        meta: &RequestMeta,
        credential_id: &str,
        signed_at: Option<i64>,
        signature: Option<&str>,
        wait_seconds: u32,
    ) -> Result<Vec<PendingApproval>, ServiceError> {
        if wait_seconds > MAX_WAIT_SECONDS {
            return Err(ServiceError::invalid(format!(
                "wait: 0 to {MAX_WAIT_SECONDS} seconds"
            )));
        }
        let slot = keyless::reserve_failure(&self.core, Route::PendingApprovals, meta).await?;
        let id = CredentialId::parse(credential_id)
            .map_err(|_| ServiceError::rejected(ErrorCode::CredentialIdMalformed))?;
        let signed = match (signed_at, signature) {
            (Some(at), Some(signature)) => {
                let stored = devices::find_device_key(
                    self.core.db(),
                    self.core.account_mac().await?,
                    id.as_str(),
                )
                .await?;
                let verified = device_signed(
                    stored.as_deref(),
                    &listing_message(id.as_str(), at),
                    signature,
                )
                .map_err(|e| ServiceError::internal(format!("device key of {id}: {e}")))?;
                signed_recently(at, self.core.now().timestamp()) && verified
            }
            _ => false,
        };
        if !signed {
            tracing::debug!(credential.id = %id, "listing refused: device signature");
            return Err(ServiceError::rejected(ErrorCode::DeviceSignatureInvalid));
        }
        slot.forgive(&self.core).await?;

        // Subscribed before the first look, so a create between the look and the wait still
        // wakes us.
        let mut wake = self.hub.subscribe();
        let deadline =
            tokio::time::Instant::now() + StdDuration::from_secs(u64::from(wait_seconds));
        loop {
            let pending = self.pending_for_device(id.as_str()).await?;
            let now = tokio::time::Instant::now();
            if !pending.is_empty() || now >= deadline {
                return Ok(pending);
            }
            let nap = (deadline - now).min(RECHECK_EVERY);
            let woken = async {
                loop {
                    match wake.recv().await {
                        Ok(cred) if cred == id.as_str() => break,
                        Ok(_) => {}
                        // Missed some: look at the database anyway.
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            };
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
    }

    async fn pending_for_device(
        &self,
        credential_id: &str,
    ) -> Result<Vec<PendingApproval>, ServiceError> {
        let rows = store::pending_of_credential(self.core.db(), credential_id).await?;
        let mut names: HashMap<String, (String, String)> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let row = self.settle_expiry(row).await?;
            if row.state != ApprovalState::Pending {
                continue;
            }
            if !names.contains_key(&row.tenant_id) {
                let tenant = TenantId::parse(&row.tenant_id).map_err(ServiceError::internal)?;
                let config = self.core.config(&tenant).await?;
                names.insert(
                    row.tenant_id.clone(),
                    (config.name_ja.clone(), config.name_en.clone()),
                );
            }
            let (bank_name_ja, bank_name_en) = names[&row.tenant_id].clone();
            let transaction =
                Transaction::from_canonical_json(&row.transaction_json).ok_or_else(|| {
                    ServiceError::internal(format!("push approval {}: transaction", row.id))
                })?;
            out.push(PendingApproval {
                approval_id: row.id,
                bank_id: row.tenant_id,
                bank_name_ja,
                bank_name_en,
                transaction,
                transaction_hash: row.transaction_hash,
                display_ja: row.display_ja,
                display_en: row.display_en,
                number_challenge: row.challenge_number.is_some(),
                created_at: row.created_at,
                expires_at: row.expires_at,
            });
        }
        Ok(out)
    }

    /// answerPushApproval: the device approves or denies. Checked in a fixed order, each
    /// refusal changing nothing but the audit trail: the approval and credential, the
    /// signature, the transaction, the time, the state, the binding; then one conditional
    /// write decides.
    pub async fn answer_push_approval(
        &self,
        meta: &RequestMeta,
        approval_id: &str,
        answer: PushAnswer,
    ) -> Result<PushAnswered, ServiceError> {
        let db = self.core.db();
        let slot = keyless::reserve_failure(&self.core, Route::AnswerApproval, meta).await?;
        let row = store::find_approval(db, approval_id).await?.filter(|row| {
            CredentialId::parse(&answer.credential_id)
                .is_ok_and(|id| id.as_str() == row.credential_id)
        });
        let now = self.core.now();
        let refuse = |row: &PushApprovalRow, code: ErrorCode| {
            self.refuse_answer(
                meta,
                row.clone(),
                &answer,
                ServiceError::rejected(code),
                now,
            )
        };
        // An unknown approval, another credential's, a credential without a device key and a
        // wrong signature are one answer after the same work: a stranger learns nothing.
        let Some(row) = row else {
            let _ =
                devices::find_device_key(db, self.core.account_mac().await?, &answer.credential_id)
                    .await?;
            let _ = device_signed(None, approval_id.as_bytes(), &answer.signature);
            let entry = AuditEntry::platform_token(meta, Operation::AnswerPushApproval, now);
            return self
                .core
                .refuse(
                    entry,
                    ServiceError::rejected(ErrorCode::DeviceSignatureInvalid),
                )
                .await;
        };
        if !self.answer_is_signed(&row, &answer, now).await? {
            return refuse(&row, ErrorCode::DeviceSignatureInvalid).await;
        }
        // The device holding the key answers: what follows is its business, not a stranger's.
        slot.forgive(&self.core).await?;
        if answer.transaction_hash != row.transaction_hash {
            return refuse(&row, ErrorCode::PushTransactionMismatch).await;
        }
        if row.expires_at <= now {
            let row = self.settle_expiry(row).await?;
            return refuse(&row, ErrorCode::PushApprovalExpired).await;
        }
        if row.state != ApprovalState::Pending {
            return refuse(&row, ErrorCode::PushAlreadyAnswered).await;
        }

        let (to, outcome) = match answer.decision {
            PushDecision::Deny => (ApprovalState::Denied, None),
            PushDecision::Approve => match &row.challenge_number {
                Some(expected) if !same_number(expected, answer.number.as_deref()) => (
                    ApprovalState::Denied,
                    Some(ServiceError::rejected(ErrorCode::PushNumberMismatch)),
                ),
                _ => (ApprovalState::Approved, None),
            },
        };

        let txn = self.core.write().await?;
        // Lock, revoke and platform suspension are re-checked here under shared row locks: the
        // answer and a support-desk change or a suspension cannot both win.
        let binding =
            bindings::find_binding_locked(&txn, self.core.account_mac().await?, &row.binding_id)
                .await?;
        let binding_refusal = match binding.as_ref().map(|b| b.state) {
            Some(BindingState::Active) => None,
            Some(BindingState::Locked) => Some(ErrorCode::OtpLocked),
            _ => Some(ErrorCode::OtpNotRegistered),
        };
        let binding_refusal = match binding_refusal {
            Some(code) => Some(code),
            None => credentials::find_credential_locked(&txn, &row.credential_id)
                .await?
                .is_none_or(|c| c.suspended_at.is_some())
                .then_some(ErrorCode::CredentialSuspended),
        };
        if let Some(code) = binding_refusal {
            drop(txn);
            return refuse(&row, code).await;
        }
        if !store::record_answer(&txn, &row.id, to, &answer.signature, now).await? {
            // Answered, cancelled or expired meanwhile: say which, as it now is.
            drop(txn);
            let current = store::find_approval(db, &row.id)
                .await?
                .ok_or_else(|| ServiceError::internal("push approval vanished"))?;
            let current = self.settle_expiry(current).await?;
            let code = if current.state == ApprovalState::Expired {
                ErrorCode::PushApprovalExpired
            } else {
                ErrorCode::PushAlreadyAnswered
            };
            return refuse(&current, code).await;
        }
        let alert = if to.is_unapproved() {
            self.bombing_alert(&txn, &row, now).await?
        } else {
            None
        };
        answer_entry(&row, meta, now)
            .details(json!({
                "approval_id": row.id,
                "decision": answer.decision.as_str(),
                "status": to.as_str(),
            }))
            .outcome(outcome.as_ref().map_or(Ok(()), Err))
            .append(&txn)
            .await?;
        if let Some(alert) = alert {
            alert.append(&txn).await?;
        }
        txn.commit().await?;
        tracing::info!(
            tenant.id = %row.tenant_id,
            approval.id = %row.id,
            status = to.as_str(),
            "push approval answered"
        );
        let approval_id = row.id.clone();
        self.announce(Ended {
            row,
            state: to,
            at: now,
        });
        match outcome {
            Some(err) => Err(err),
            None => Ok(PushAnswered {
                approval_id,
                status: to,
            }),
        }
    }

    /// Whether the answer is signed by the approval credential's device key, over exactly
    /// this approval, bank, transaction hash, decision and number, recently enough.
    async fn answer_is_signed(
        &self,
        row: &PushApprovalRow,
        answer: &PushAnswer,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let stored = devices::find_device_key(
            self.core.db(),
            self.core.account_mac().await?,
            &row.credential_id,
        )
        .await?;
        let message = SignedAnswer {
            approval_id: &row.id,
            tenant_id: &row.tenant_id,
            transaction_hash: &answer.transaction_hash,
            decision: answer.decision,
            number: answer.number.as_deref(),
            signed_at: answer.signed_at,
        }
        .message();
        let verified =
            device_signed(stored.as_deref(), &message, &answer.signature).map_err(|e| {
                ServiceError::internal(format!("device key of {}: {e}", row.credential_id))
            })?;
        Ok(signed_recently(answer.signed_at, now.timestamp()) && verified)
    }

    /// Audits a refused answer in the approval's bank trail, in its own transaction.
    async fn refuse_answer<T>(
        &self,
        meta: &RequestMeta,
        row: PushApprovalRow,
        answer: &PushAnswer,
        err: ServiceError,
        now: DateTime<Utc>,
    ) -> Result<T, ServiceError> {
        tracing::debug!(
            approval.id = %row.id,
            code = err.code().as_str(),
            "push answer refused"
        );
        let entry = answer_entry(&row, meta, now).details(json!({
            "approval_id": row.id,
            "decision": answer.decision.as_str(),
        }));
        self.core.refuse(entry, err).await
    }

    /// Moves `row` to `expired` if its time is up and it is still pending — one conditional
    /// write, audited once with the push-bombing check — and returns the row as it now is.
    async fn settle_expiry(&self, row: PushApprovalRow) -> Result<PushApprovalRow, ServiceError> {
        let now = self.core.now();
        if row.state != ApprovalState::Pending || row.expires_at > now {
            return Ok(row);
        }
        let txn = self.core.write().await?;
        if !store::expire_if_due(&txn, &row.id, now).await? {
            drop(txn);
            return store::find_approval(self.core.db(), &row.id)
                .await?
                .ok_or_else(|| ServiceError::internal("push approval vanished"));
        }
        let alert = self.bombing_alert(&txn, &row, now).await?;
        expiry_entry(&row, now).append(&txn).await?;
        if let Some(alert) = alert {
            alert.append(&txn).await?;
        }
        txn.commit().await?;
        tracing::info!(tenant.id = %row.tenant_id, approval.id = %row.id, "push approval expired");
        let expired = PushApprovalRow {
            state: ApprovalState::Expired,
            updated_at: now,
            ..row
        };
        self.announce(Ended {
            row: expired.clone(),
            state: ApprovalState::Expired,
            at: now,
        });
        Ok(expired)
    }

    /// Within the transaction that just ended one of the user's approvals unapproved: the
    /// alert to append when the user's unapproved streak reaches a multiple of three.
    async fn bombing_alert(
        &self,
        txn: &WriteTx,
        row: &PushApprovalRow,
        now: DateTime<Utc>,
    ) -> Result<Option<AuditEntry>, ServiceError> {
        let states = store::recent_states_of_user(txn, &row.tenant_id, &row.user_id).await?;
        let streak = unapproved_streak(states);
        if !raises_bombing_alert(streak) {
            return Ok(None);
        }
        tracing::warn!(
            tenant.id = %row.tenant_id,
            user.id = %row.user_id,
            streak,
            %now,
            "push bombing suspected"
        );
        Ok(Some(
            AuditEntry::system(&row.tenant_id, Operation::PushBombingSuspected, now)
                .user(&row.user_id)
                .credential(&row.credential_id)
                .details(json!({ "streak": streak }))
                .alert(),
        ))
    }

    /// Tells the bank (webhook) that an approval reached a final state. Never blocks.
    fn announce(&self, ended: Ended) {
        self.webhooks.deliver(ended.row, ended.state, ended.at);
    }
}

/// Whether `signature` is the stored device key's over `message`. Without a stored key, the
/// same work is done against a throwaway key and the answer is `false`; a stored key that
/// cannot be read is an error.
fn device_signed(
    stored: Option<&str>,
    message: &[u8],
    signature: &str,
) -> Result<bool, mamori_crypto::DeviceKeyError> {
    static THROWAWAY: LazyLock<Option<String>> = LazyLock::new(|| {
        DeviceKeyPair::generate()
            .ok()
            .map(|pair| pair.public().to_base64())
    });
    match stored {
        Some(text) => Ok(DevicePublicKey::parse(text)?
            .verify(message, signature)
            .unwrap_or(false)),
        None => {
            if let Some(Ok(key)) = THROWAWAY.as_deref().map(DevicePublicKey::parse) {
                let _ = key.verify(message, signature);
            }
            Ok(false)
        }
    }
}

/// Two numbers compared in constant time (a missing number never matches).
fn same_number(expected: &str, given: Option<&str>) -> bool {
    given.is_some_and(|given| {
        expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
    })
}

/// Two digits, 10..=99, uniformly from the OS CSPRNG.
fn challenge_number() -> Result<String, ServiceError> {
    Ok((10 + crate::random::below(90)?).to_string())
}

/// The system's entry for an approval that expired unanswered.
fn expiry_entry(row: &PushApprovalRow, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry::system(&row.tenant_id, Operation::PushApprovalExpired, now)
        .user(&row.user_id)
        .credential(&row.credential_id)
        .details(json!({ "approval_id": row.id }))
}

/// The token's entry for its answer, in the approval's bank trail.
fn answer_entry(row: &PushApprovalRow, meta: &RequestMeta, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry::token(&row.tenant_id, meta, Operation::AnswerPushApproval, now)
        .user(&row.user_id)
        .credential(&row.credential_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_numbers_have_two_digits() {
        for _ in 0..500 {
            let n: u32 = challenge_number().unwrap().parse().unwrap();
            assert!((10..=99).contains(&n), "{n}");
        }
    }

    #[test]
    fn numbers_match_exactly() {
        assert!(same_number("42", Some("42")));
        assert!(!same_number("42", Some("24")));
        assert!(!same_number("42", Some("042")));
        assert!(!same_number("42", None));
    }
}
