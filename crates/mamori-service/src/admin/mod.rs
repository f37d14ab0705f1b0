//! The admin console's use cases: operators and their sessions, banks and their policies, the
//! customers' help desk, the trails and the figures.
//!
//! Every call takes the signed-in [`OperatorCaller`] and checks its scope first (see
//! [`mamori_domain::OperatorScope`]): a bank the operator may not see is "not found", exactly
//! as on the Bank API, and an action the role may not take is "forbidden".

pub(crate) mod banks;
pub(crate) mod customers;
pub(crate) mod operators;
pub(crate) mod trail;

use mamori_domain::{ErrorCode, OperatorScope, SessionStage, TenantId};

use crate::core::BankCaller;
use crate::error::ServiceError;

/// A signed-in operator, as every admin call receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorCaller {
    /// The operator's ID (`opr_…`).
    pub operator_id: String,
    /// The login name (the audit trail's `operator:<login>`).
    pub login: String,
    /// The name shown in the console.
    pub display_name: String,
    /// Role and bank.
    pub scope: OperatorScope,
    /// Setup (first login) or active.
    pub stage: SessionStage,
    /// The session (the SHA-256 of its cookie token).
    pub session_id: String,
}

impl OperatorCaller {
    /// Refused until the operator has set a password and enrolled an authenticator app.
    pub fn require_active(&self) -> Result<(), ServiceError> {
        match self.stage {
            SessionStage::Active => Ok(()),
            SessionStage::Setup => Err(ServiceError::rejected(ErrorCode::AdminSetupRequired)),
        }
    }

    /// The bank `id`, if this operator may see it; else "not found", as if it did not exist.
    pub fn bank(&self, id: &str) -> Result<TenantId, ServiceError> {
        self.require_active()?;
        TenantId::parse(id)
            .ok()
            .filter(|bank| self.scope.sees_bank(bank))
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))
    }

    /// The bank `id` as this operator acts on its customers, for `reason`.
    pub fn helping(&self, id: &str, reason: &str) -> Result<BankCaller, ServiceError> {
        let bank = self.bank(id)?;
        if !self.scope.helps_customers_of(&bank) {
            return Err(ServiceError::rejected(ErrorCode::Forbidden));
        }
        Ok(BankCaller::operator(
            bank,
            &self.login,
            &clean_reason(reason)?,
        ))
    }

    /// Refused unless a platform admin.
    pub fn require_platform_admin(&self) -> Result<(), ServiceError> {
        self.require_active()?;
        if self.scope.administers_platform() {
            Ok(())
        } else {
            Err(ServiceError::rejected(ErrorCode::Forbidden))
        }
    }

    /// Refused unless the operator sees every bank.
    pub fn require_platform_view(&self) -> Result<(), ServiceError> {
        self.require_active()?;
        if self.scope.sees_platform() {
            Ok(())
        } else {
            Err(ServiceError::rejected(ErrorCode::Forbidden))
        }
    }
}

/// A reason for an operator's action: required, 1 to 500 characters, trimmed.
pub(crate) fn clean_reason(reason: &str) -> Result<String, ServiceError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ServiceError::invalid("reason: 1 to 500 characters"));
    }
    Ok(reason.to_owned())
}
