//! The bank's support desk: 失効 (revoke a lost token), ロック解除 (unlock a token or a login
//! password) and a temporary password. No code is needed: the desk has identified the customer.

use mamori_domain::password::remembered_passwords;
use mamori_domain::{BindingState, ErrorCode, Operation};
use mamori_store::{bindings, credentials, passwords as stored_passwords};

use crate::core::audit::AuditEntry;
use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::passwords::{Passwords, temporary_password};
use crate::status::{self, OtpStatus};

/// A support-desk move of the user's live token at the bank.
struct Move {
    operation: Operation,
    from: &'static [BindingState],
    to: BindingState,
    /// Only a platform operator lifts a platform suspension.
    refused_while_suspended: bool,
}

/// The bank's support desk.
#[derive(Debug, Clone)]
pub struct SupportDesk {
    core: Core,
    passwords: Passwords,
}

impl SupportDesk {
    pub(crate) fn new(core: Core, passwords: Passwords) -> Self {
        Self { core, passwords }
    }

    /// 失効: the bank invalidates the user's token (e.g. a lost phone).
    pub async fn revoke_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<OtpStatus, ServiceError> {
        let revoke = Move {
            operation: Operation::RevokeCredential,
            from: &[BindingState::Active, BindingState::Locked],
            to: BindingState::Revoked,
            // A lost phone is revoked even while suspended.
            refused_while_suspended: false,
        };
        self.move_binding(caller, meta, user_id, revoke).await
    }

    /// ロック解除: the bank unlocks a token locked after too many wrong codes. A token
    /// suspended on the whole platform is refused: the bank's unlock must never buy more
    /// guesses than the platform budget, and resetting the count would hide the suspension.
    pub async fn unlock_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<OtpStatus, ServiceError> {
        let unlock = Move {
            operation: Operation::UnlockCredential,
            from: &[BindingState::Locked, BindingState::Active],
            to: BindingState::Active,
            refused_while_suspended: true,
        };
        self.move_binding(caller, meta, user_id, unlock).await
    }

    async fn move_binding(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        Move {
            operation,
            from,
            to,
            refused_while_suspended,
        }: Move,
    ) -> Result<OtpStatus, ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, operation, now).user(&user.id);
        let not_registered = || ServiceError::rejected(ErrorCode::OtpNotRegistered);
        let Some(binding) = bindings::find_live_binding(
            core.db(),
            core.account_mac().await?,
            &user.tenant_id,
            &user.id,
        )
        .await?
        else {
            return core.refuse(entry, not_registered()).await;
        };
        let entry = entry.credential(&binding.credential_id);
        if refused_while_suspended
            && credentials::find_credential(core.db(), &binding.credential_id)
                .await?
                .is_some_and(|c| c.suspended_at.is_some())
        {
            return core
                .refuse(
                    entry,
                    ServiceError::rejected(ErrorCode::PlatformOperatorRequired),
                )
                .await;
        }
        let tx = core.write().await?;
        // The count starts again from zero on either move.
        if !bindings::transition_binding(&tx, &binding.id, from, to, true, now).await? {
            drop(tx);
            return core.refuse(entry, not_registered()).await;
        }
        entry.append(&tx).await?;
        tx.commit().await?;
        status::otp_status(core, caller, user_id).await
    }

    /// resetPassword: a temporary password (shown once) that must be changed at the next
    /// login where the bank's policy says so; the password lock is lifted.
    pub async fn reset_password(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<String, ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let policy = core.policy(caller).await?;
        Passwords::require_managed(&policy)?;
        let now = core.now();
        let temporary = temporary_password(&policy)?;
        let hash = self.passwords.hash(&temporary).await?;
        let tx = core.write().await?;
        stored_passwords::set_password(
            &tx,
            &user.id,
            &hash,
            policy.password.force_change_after_reset,
            remembered_passwords(&policy.password),
            now,
        )
        .await?;
        AuditEntry::bank(caller, meta, Operation::ResetPassword, now)
            .user(&user.id)
            .append(&tx)
            .await?;
        tx.commit().await?;
        Ok(temporary)
    }

    /// unlockUser: lifts a password lock.
    pub async fn unlock_user(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<(), ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let now = core.now();
        let tx = core.write().await?;
        stored_passwords::unlock_password(&tx, &user.id, None).await?;
        AuditEntry::bank(caller, meta, Operation::UnlockUser, now)
            .user(&user.id)
            .append(&tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
