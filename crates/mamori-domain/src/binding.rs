//! A binding is one bank's registration of a credential to one of its users (利用登録), with
//! that bank's own failure count and lock.
//!
//! ```text
//!            wrong codes reach the bank's limit
//!   active ───────────────────────────────────▶ locked
//!     ▲  ◀──────────── unlock (bank) ────────────  │
//!     │                                             │
//!     ├── stop (customer, with a code) ─▶ stopped   │
//!     ├── device change ────────────────▶ replaced  │
//!     ├── release (bank, 利用解除) ──────▶ released  │
//!     └── revoke (bank) ─▶ revoked ◀─────────────────┘
//! ```
//! Only `active` and `locked` bindings are live: a user has at most one live binding per bank.

use std::fmt;

/// The state of a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum BindingState {
    /// In use: codes are checked.
    Active,
    /// Too many wrong codes at this bank; only the bank unlocks.
    Locked,
    /// The customer ended OTP use with a current code (利用停止).
    Stopped,
    /// Replaced by a new credential in a device change (機種変更).
    Replaced,
    /// Invalidated by the bank, e.g. a lost phone (失効).
    Revoked,
    /// The bank released OTP use for the customer (利用解除); the status reads 未登録 again.
    Released,
}

impl BindingState {
    /// Every state.
    pub const ALL: [BindingState; 6] = [
        Self::Active,
        Self::Locked,
        Self::Stopped,
        Self::Replaced,
        Self::Revoked,
        Self::Released,
    ];

    /// The stored and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Locked => "locked",
            Self::Stopped => "stopped",
            Self::Replaced => "replaced",
            Self::Revoked => "revoked",
            Self::Released => "released",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Whether the binding still counts as the user's registered token.
    pub const fn is_live(self) -> bool {
        matches!(self, Self::Active | Self::Locked)
    }

    /// Whether the bank's support desk may revoke a binding in this state.
    pub const fn can_revoke(self) -> bool {
        self.is_live()
    }

    /// Whether the bank's support desk may unlock a binding in this state.
    pub const fn can_unlock(self) -> bool {
        matches!(self, Self::Locked)
    }
}

crate::stored::stored_as_text!(BindingState, "binding state", BindingState::parse);

impl fmt::Display for BindingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a bank sees of a user's OTP use (ワンタイムパスワード登録状況).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpUse {
    /// No token registered (未登録).
    None,
    /// The bank issued a token by mail; not yet in use (申請済).
    Issued,
    /// A token is registered and usable (利用中).
    InUse,
    /// Locked after too many wrong codes (ロック中).
    Locked,
    /// The customer stopped OTP use (利用停止).
    Stopped,
    /// The bank revoked the token (失効).
    Revoked,
    /// The token is suspended on the whole platform after too many wrong codes across banks:
    /// every code is refused at every bank and only a platform operator lifts it, so the bank
    /// sees this rather than in use or a lock it could lift itself.
    Suspended,
}

impl OtpUse {
    /// The API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Issued => "issued",
            Self::InUse => "in_use",
            Self::Locked => "locked",
            Self::Stopped => "stopped",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
        }
    }

    /// The status a user's most recent binding gives. A replaced binding means a newer one
    /// exists, so it never is the most recent; it reads as none for safety.
    pub const fn of(latest: Option<BindingState>) -> Self {
        match latest {
            None | Some(BindingState::Replaced | BindingState::Released) => Self::None,
            Some(BindingState::Active) => Self::InUse,
            Some(BindingState::Locked) => Self::Locked,
            Some(BindingState::Stopped) => Self::Stopped,
            Some(BindingState::Revoked) => Self::Revoked,
        }
    }

    /// This status once the platform suspension of the binding's credential is known: a live
    /// token (in use or locked) reads suspended; an ended one keeps its status.
    pub const fn under_platform_suspension(self, credential_suspended: bool) -> Self {
        match self {
            Self::InUse | Self::Locked if credential_suspended => Self::Suspended,
            other => other,
        }
    }
}

/// What a failed code does to a binding's count, as a pure rule: `failures_after` is the
/// count including this failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    /// Attempts left before the lock (0 once locked).
    pub attempts_left: u32,
    /// Whether this failure locks the binding.
    pub locks: bool,
}

impl FailureOutcome {
    /// The outcome of the `failures_after`-th consecutive failure under a limit of `limit`.
    pub fn of(failures_after: u32, limit: u32) -> Self {
        Self {
            attempts_left: limit.saturating_sub(failures_after),
            locks: failures_after >= limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_active_and_locked_are_live() {
        for state in BindingState::ALL {
            assert_eq!(BindingState::parse(state.as_str()), Some(state));
            assert_eq!(
                state.is_live(),
                matches!(state, BindingState::Active | BindingState::Locked)
            );
        }
        assert!(BindingState::Locked.can_unlock() && !BindingState::Active.can_unlock());
        assert!(!BindingState::Stopped.can_revoke());
    }

    #[test]
    fn a_platform_suspension_outranks_in_use_and_the_banks_lock_only() {
        for state in BindingState::ALL {
            let status = OtpUse::of(Some(state));
            let suspended = status.under_platform_suspension(true);
            assert_eq!(status.under_platform_suspension(false), status);
            assert_eq!(
                suspended == OtpUse::Suspended,
                state.is_live(),
                "{state:?} reads {suspended:?}"
            );
        }
        assert_eq!(OtpUse::Suspended.as_str(), "suspended");
        assert_eq!(OtpUse::None.under_platform_suspension(true), OtpUse::None);
    }

    #[test]
    fn the_limit_th_failure_locks() {
        assert_eq!(
            FailureOutcome::of(1, 10),
            FailureOutcome {
                attempts_left: 9,
                locks: false
            }
        );
        assert_eq!(
            FailureOutcome::of(9, 10),
            FailureOutcome {
                attempts_left: 1,
                locks: false
            }
        );
        assert_eq!(
            FailureOutcome::of(10, 10),
            FailureOutcome {
                attempts_left: 0,
                locks: true
            }
        );
        assert_eq!(
            FailureOutcome::of(11, 10),
            FailureOutcome {
                attempts_left: 0,
                locks: true
            }
        );
    }

    #[test]
    fn status_follows_the_latest_binding() {
        assert_eq!(OtpUse::of(None), OtpUse::None);
        assert_eq!(OtpUse::of(Some(BindingState::Active)), OtpUse::InUse);
        assert_eq!(OtpUse::of(Some(BindingState::Revoked)).as_str(), "revoked");
        assert_eq!(OtpUse::of(Some(BindingState::Released)), OtpUse::None);
    }
}
