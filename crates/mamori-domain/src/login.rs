//! Where a contract login stands (ログイン): what the bank's IB must ask the customer for next.

use std::fmt;

/// The next step of a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum LoginStep {
    /// The current OTP (completeLogin).
    OtpRequired,
    /// A new password (first login, after a reset, or expired) before anything else.
    PasswordChangeRequired,
    /// The bank requires an OTP but the user has no token: register one, then the same login
    /// goes on with a new code (completeLogin).
    OtpRegistrationRequired,
    /// Logged in.
    Complete,
}

impl LoginStep {
    /// Every step.
    pub const ALL: [LoginStep; 4] = [
        Self::OtpRequired,
        Self::PasswordChangeRequired,
        Self::OtpRegistrationRequired,
        Self::Complete,
    ];

    /// The stored and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OtpRequired => "otp_required",
            Self::PasswordChangeRequired => "password_change_required",
            Self::OtpRegistrationRequired => "otp_registration_required",
            Self::Complete => "complete",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == s)
    }
}

impl fmt::Display for LoginStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::stored::stored_as_text!(LoginStep, "login step", LoginStep::parse);
