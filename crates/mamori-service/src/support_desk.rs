//! The bank's support desk: 失効 (revoke a lost token), ロック解除 (unlock a token or a login
//! password) and a temporary password. No code is needed: the desk has identified the customer.

use mamori_domain::password::remembered_passwords;
use mamori_domain::{BindingState, ErrorCode, Operation};
use mamori_store::{bindings, passwords as stored_passwords};

use crate::core::audit::AuditEntry;
use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::passwords::{Passwords, temporary_password};
use crate::status::{self, OtpStatus};

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
        self.move_binding(
            caller,
            meta,
            user_id,
            Operation::RevokeCredential,
            &[BindingState::Active, BindingState::Locked],
            BindingState::Revoked,
        )
        .await
    }

    /// ロック解除: the bank unlocks a token locked after too many wrong codes.
    pub async fn unlock_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<OtpStatus, ServiceError> {
        self.move_binding(
            caller,
            meta,
            user_id,
            Operation::UnlockCredential,
            &[BindingState::Locked, BindingState::Active],
            BindingState::Active,
        )
        .await
    }

    async fn move_binding(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        operation: Operation,
        from: &[BindingState],
        to: BindingState,
    ) -> Result<OtpStatus, ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, operation, now).user(&user.id);
        let not_registered = || ServiceError::rejected(ErrorCode::OtpNotRegistered);
        let Some(binding) =
            bindings::find_live_binding(core.db(), &user.tenant_id, &user.id).await?
        else {
            return core.refuse(entry, not_registered()).await;
        };
        let entry = entry.credential(&binding.credential_id);
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
        let hash = self.passwords.hash(&temporary)?;
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
