//! トークン発行 → 利用開始 (seed 003): the bank issues a token to the customer's mobile mail
//! address; the customer's app activates it with the service ID, the user ID from the mail and
//! the activation password (利用開始パスワード) they chose at the bank; then the customer
//! starts OTP use at the bank with a code.
//!
//! ```text
//!            activateToken (right password) ─▶ activated ─ startOtpUse (code) ─▶ used
//!   issued ─ too many wrong passwords ───────▶ invalidated
//!            the bank's days pass ───────────▶ expired
//!            reissued or released by the bank ▶ cancelled
//! ```
//! `issued` and `activated` are open: the user's status reads 申請済 and a user has at most one
//! open issue per bank.

use std::fmt;

/// The state of a token issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueState {
    /// Mailed; waiting for the app to activate.
    Issued,
    /// The app has its credential; waiting for the customer to start use with a code.
    Activated,
    /// OTP use started (利用中): the credential is bound to the user.
    Used,
    /// Too many wrong activation passwords.
    Invalidated,
    /// Not activated in time.
    Expired,
    /// Replaced by a newer issue, or released (利用解除) by the bank.
    Cancelled,
}

impl IssueState {
    /// Every state.
    pub const ALL: [IssueState; 6] = [
        Self::Issued,
        Self::Activated,
        Self::Used,
        Self::Invalidated,
        Self::Expired,
        Self::Cancelled,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Activated => "activated",
            Self::Used => "used",
            Self::Invalidated => "invalidated",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Whether the issue still reads as 申請済.
    pub const fn is_open(self) -> bool {
        matches!(self, Self::Issued | Self::Activated)
    }
}

impl fmt::Display for IssueState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an activation password is refused at issue time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ActivationPasswordError {
    /// Length outside 8..=32.
    #[error("activation_password: 8 to 32 characters")]
    Length,
    /// Not printable ASCII letters, digits and symbols.
    #[error("activation_password: half-width letters, digits and symbols only")]
    Charset,
    /// Letters only or digits only.
    #[error("activation_password: mix letters and digits")]
    Mix,
}

/// The activation password rule: 8–32 printable ASCII characters mixing letters and digits.
/// Full-width characters are refused rather than folded: the customer types it again on the
/// phone, where a different keyboard would fold differently.
pub fn check_activation_password(password: &str) -> Result<(), ActivationPasswordError> {
    if !(8..=32).contains(&password.chars().count()) {
        return Err(ActivationPasswordError::Length);
    }
    if !password.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ActivationPasswordError::Charset);
    }
    let letters = password.bytes().any(|b| b.is_ascii_alphabetic());
    let digits = password.bytes().any(|b| b.is_ascii_digit());
    if !(letters && digits) {
        return Err(ActivationPasswordError::Mix);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_issued_and_activated_are_open() {
        for state in IssueState::ALL {
            assert_eq!(IssueState::parse(state.as_str()), Some(state));
            assert_eq!(
                state.is_open(),
                matches!(state, IssueState::Issued | IssueState::Activated)
            );
        }
    }

    #[test]
    fn activation_passwords_mix_letters_and_digits() {
        assert_eq!(check_activation_password("kita2026"), Ok(()));
        assert_eq!(
            check_activation_password("k2"),
            Err(ActivationPasswordError::Length)
        );
        assert_eq!(
            check_activation_password("kitashinkin"),
            Err(ActivationPasswordError::Mix)
        );
        assert_eq!(
            check_activation_password("ｋｉｔａ２０２６"),
            Err(ActivationPasswordError::Charset)
        );
        assert_eq!(
            check_activation_password("kita 2026"),
            Err(ActivationPasswordError::Charset)
        );
    }
}
