//! Platform operators (運用担当者) and what each role may do in the admin console.
//!
//! | role | banks | may change |
//! |---|---|---|
//! | platform admin | all | everything: banks, policies, API keys, operators, customers |
//! | bank operator | its one bank (its support desk) | that bank's customers (unlock, revoke, reset, …) |
//! | auditor | all, or one bank | nothing |
//!
//! A bank operator or one-bank auditor asking about another bank is answered "not found",
//! exactly as on the Bank API, so the console never reveals which other banks exist.

use std::fmt;

use crate::ids::TenantId;

/// An operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum OperatorRole {
    /// All banks, every action.
    PlatformAdmin,
    /// One bank's support desk.
    BankOperator,
    /// Read-only, all banks or one.
    Auditor,
}

impl OperatorRole {
    /// Every role.
    pub const ALL: [OperatorRole; 3] = [Self::PlatformAdmin, Self::BankOperator, Self::Auditor];

    /// The stored and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PlatformAdmin => "platform_admin",
            Self::BankOperator => "bank_operator",
            Self::Auditor => "auditor",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for OperatorRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::stored::stored_as_text!(OperatorRole, "operator role", OperatorRole::parse);

/// Why a role and bank do not make an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorScopeError {
    /// A bank operator works for exactly one bank.
    #[error("a bank operator needs a bank")]
    BankOperatorWithoutBank,
    /// A platform admin works for every bank.
    #[error("a platform admin works for every bank; give no bank")]
    PlatformAdminWithBank,
}

/// Who an operator is to the access rules: a role and, for some roles, one bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorScope {
    role: OperatorRole,
    bank: Option<TenantId>,
}

impl OperatorScope {
    /// A role with its bank, checked: a bank operator has exactly one bank, a platform admin
    /// none, an auditor either.
    pub fn new(role: OperatorRole, bank: Option<TenantId>) -> Result<Self, OperatorScopeError> {
        match (role, &bank) {
            (OperatorRole::BankOperator, None) => Err(OperatorScopeError::BankOperatorWithoutBank),
            (OperatorRole::PlatformAdmin, Some(_)) => {
                Err(OperatorScopeError::PlatformAdminWithBank)
            }
            _ => Ok(Self { role, bank }),
        }
    }

    /// The role.
    pub fn role(&self) -> OperatorRole {
        self.role
    }

    /// The one bank this operator is limited to, if any.
    pub fn bank(&self) -> Option<&TenantId> {
        self.bank.as_ref()
    }

    /// Whether the operator may see anything of `bank` (else: "not found").
    pub fn sees_bank(&self, bank: &TenantId) -> bool {
        self.bank.as_ref().is_none_or(|own| own == bank)
    }

    /// Whether the operator sees every bank (the platform's own trail, credentials across
    /// banks, the whole outbox).
    pub fn sees_platform(&self) -> bool {
        self.bank.is_none()
    }

    /// Whether the operator may act on `bank`'s customers (unlock, revoke, reset, resend,
    /// cancel an approval).
    pub fn helps_customers_of(&self, bank: &TenantId) -> bool {
        match self.role {
            OperatorRole::PlatformAdmin => true,
            OperatorRole::BankOperator => self.sees_bank(bank),
            OperatorRole::Auditor => false,
        }
    }

    /// Whether the operator may create banks, change policies, suspend banks, issue API keys,
    /// manage operators and lift platform-wide suspensions.
    pub fn administers_platform(&self) -> bool {
        self.role == OperatorRole::PlatformAdmin
    }
}

/// The stage of an admin session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum SessionStage {
    /// First login with a one-time password: only changing it and enrolling the
    /// authenticator app are allowed.
    Setup,
    /// Signed in with password and code.
    Active,
}

impl SessionStage {
    /// Both stages.
    pub const ALL: [SessionStage; 2] = [Self::Setup, Self::Active];

    /// The stored and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Active => "active",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == s)
    }
}

impl fmt::Display for SessionStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::stored::stored_as_text!(SessionStage, "session stage", SessionStage::parse);

/// Where a bank's policy lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum ManagedBy {
    /// Declared by a file in `tenant-configs/`; read-only in the console, since a restart
    /// applies the file again.
    File,
    /// Created in the console; its policy lives in the database with a version history.
    Admin,
}

impl ManagedBy {
    /// Both.
    pub const ALL: [ManagedBy; 2] = [Self::File, Self::Admin];

    /// The stored and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for ManagedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::stored::stored_as_text!(ManagedBy, "managed by", ManagedBy::parse);

/// How long an admin session lives without use (the 30 minutes).
pub const SESSION_IDLE_MINUTES: i64 = 30;

/// Wrong passwords (or codes) in a row after which an operator is locked; another platform
/// admin unlocks.
pub const OPERATOR_LOCK_THRESHOLD: i32 = 5;

/// The password rules for operators: NIST SP 800-63B — a long password, no composition games
/// beyond a letter and a digit, no forced expiry.
pub fn operator_password_policy() -> crate::policy::PasswordPolicy {
    use crate::policy::{PasswordManagement, PasswordPolicy};
    let defaults = PasswordPolicy::default();
    PasswordPolicy {
        managed_by: PasswordManagement::Mamori,
        min_length: const { crate::policy::Ranged::of(12) },
        max_length: const { crate::policy::Ranged::of(128) },
        require_letter: true,
        require_digit: true,
        forbid_user_id: true,
        history: const { crate::policy::Ranged::of(0) },
        expiry_days: const { crate::policy::Ranged::of(0) },
        lock_threshold: const { crate::policy::Ranged::of(5) },
        ..defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(id: &str) -> TenantId {
        TenantId::parse(id).unwrap()
    }

    #[test]
    fn a_bank_operator_sees_and_helps_only_its_bank() {
        let scope =
            OperatorScope::new(OperatorRole::BankOperator, Some(bank("jonan-shinkin"))).unwrap();
        assert!(scope.sees_bank(&bank("jonan-shinkin")));
        assert!(!scope.sees_bank(&bank("johoku-shinkin")));
        assert!(scope.helps_customers_of(&bank("jonan-shinkin")));
        assert!(!scope.helps_customers_of(&bank("johoku-shinkin")));
        assert!(!scope.sees_platform());
        assert!(!scope.administers_platform());
    }

    #[test]
    fn an_auditor_reads_and_never_acts() {
        let all = OperatorScope::new(OperatorRole::Auditor, None).unwrap();
        assert!(all.sees_bank(&bank("jonan-shinkin")) && all.sees_platform());
        assert!(!all.helps_customers_of(&bank("jonan-shinkin")));
        assert!(!all.administers_platform());
        let one = OperatorScope::new(OperatorRole::Auditor, Some(bank("kitashin"))).unwrap();
        assert!(!one.sees_bank(&bank("jonan-shinkin")) && !one.sees_platform());
    }

    #[test]
    fn roles_need_the_right_banks() {
        assert_eq!(
            OperatorScope::new(OperatorRole::BankOperator, None),
            Err(OperatorScopeError::BankOperatorWithoutBank)
        );
        assert_eq!(
            OperatorScope::new(OperatorRole::PlatformAdmin, Some(bank("kitashin"))),
            Err(OperatorScopeError::PlatformAdminWithBank)
        );
        let admin = OperatorScope::new(OperatorRole::PlatformAdmin, None).unwrap();
        assert!(admin.administers_platform() && admin.helps_customers_of(&bank("kitashin")));
    }

    #[test]
    fn operator_passwords_are_long_and_never_expire() {
        let policy = operator_password_policy();
        assert_eq!(policy.min_length.get(), 12);
        assert_eq!(policy.expiry_days.get(), 0);
        assert!(crate::password::check_new_password(&policy, "short1", &[], false).is_err());
        assert!(
            crate::password::check_new_password(&policy, "correct-horse-7-battery", &[], false)
                .is_ok()
        );
    }
}
