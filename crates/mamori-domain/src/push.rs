//! プッシュ通知認証: a bank asks the customer's phone to approve (承認) or deny (拒否) a
//! transaction. No answer within the bank's timeout cancels it (seed 000).
//!
//! ```text
//!            answer "approve", signed by the device ─▶ approved
//!   pending ─ answer "deny" or a wrong number ───────▶ denied
//!            timeout ────────────────────────────────▶ expired
//!            a newer approval for the same user ─────▶ cancelled
//! ```
//! Only `pending` moves; every other state is final.
//!
//! The device signs a fixed text (not JSON, so nothing depends on key order or whitespace)
//! that names the approval, the bank and the transaction's hash: a signature cannot be
//! replayed on another approval, another bank or a changed transaction.

use std::fmt;

/// The state of a push approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum ApprovalState {
    /// Sent to the phone; waiting for the customer.
    Pending,
    /// The customer approved: the transaction may go ahead.
    Approved,
    /// The customer denied (or picked the wrong number): the transaction is cancelled.
    Denied,
    /// No answer in time: the transaction is cancelled.
    Expired,
    /// Replaced by a newer approval for the same user before it was answered.
    Cancelled,
}

impl ApprovalState {
    /// Every state.
    pub const ALL: [ApprovalState; 5] = [
        Self::Pending,
        Self::Approved,
        Self::Denied,
        Self::Expired,
        Self::Cancelled,
    ];

    /// The stored and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Whether the customer (or an attacker) was asked and did not approve: the outcomes that
    /// count towards the push-bombing alert.
    pub const fn is_unapproved(self) -> bool {
        matches!(self, Self::Denied | Self::Expired | Self::Cancelled)
    }
}

crate::stored::stored_as_text!(ApprovalState, "approval state", ApprovalState::parse);

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The customer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushDecision {
    /// 承認.
    Approve,
    /// 拒否.
    Deny,
}

impl PushDecision {
    /// The API and signed name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Approve, Self::Deny]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// After this many unapproved push approvals in a row for one user, the bank's audit trail
/// gets an alert: someone who knows the password may be bombing the phone with requests.
pub const BOMBING_ALERT_STREAK: usize = 3;

/// How far a device's signed timestamp may be from the server's clock, in seconds.
pub const DEVICE_CLOCK_TOLERANCE_SECONDS: i64 = 300;

/// What the device signs to answer an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedAnswer<'a> {
    /// The approval (`pa_…`).
    pub approval_id: &'a str,
    /// The bank (tenant ID).
    pub tenant_id: &'a str,
    /// SHA-256 of the canonical transaction, hex, as the device was shown it.
    pub transaction_hash: &'a str,
    /// Approve or deny.
    pub decision: PushDecision,
    /// The number the customer picked, when the approval has a number challenge.
    pub number: Option<&'a str>,
    /// Unix seconds when the device signed.
    pub signed_at: i64,
}

impl SignedAnswer<'_> {
    /// The exact bytes the device signs.
    pub fn message(&self) -> Vec<u8> {
        format!(
            "mamori-push-answer-v1\n{}\n{}\n{}\n{}\n{}\n{}",
            self.approval_id,
            self.tenant_id,
            self.transaction_hash,
            self.decision.as_str(),
            self.number.unwrap_or(""),
            self.signed_at
        )
        .into_bytes()
    }
}

/// The bytes a device signs to read its pending approvals (they show amounts and payees, so
/// only the device holding the key may read them).
pub fn listing_message(credential_id: &str, signed_at: i64) -> Vec<u8> {
    format!("mamori-push-list-v1\n{credential_id}\n{signed_at}").into_bytes()
}

/// Whether a device's signing time is close enough to the server's `now` (both Unix seconds).
/// The device chooses `signed_at`, so the distance is computed without overflow.
pub fn signed_recently(signed_at: i64, now: i64) -> bool {
    now.abs_diff(signed_at) <= DEVICE_CLOCK_TOLERANCE_SECONDS.unsigned_abs()
}

/// How many unapproved approvals end the user's history, newest first.
pub fn unapproved_streak(newest_first: impl IntoIterator<Item = ApprovalState>) -> usize {
    newest_first
        .into_iter()
        .filter(|state| *state != ApprovalState::Pending)
        .take_while(|state| state.is_unapproved())
        .count()
}

/// Whether the streak just reached a multiple of [`BOMBING_ALERT_STREAK`], so the alert is
/// raised once per three, not on every further denial.
pub fn raises_bombing_alert(streak: usize) -> bool {
    streak > 0 && streak.is_multiple_of(BOMBING_ALERT_STREAK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApprovalState::*;

    #[test]
    fn names_round_trip() {
        for state in ApprovalState::ALL {
            assert_eq!(ApprovalState::parse(state.as_str()), Some(state));
        }
        assert_eq!(PushDecision::parse("approve"), Some(PushDecision::Approve));
        assert_eq!(PushDecision::parse("Approve"), None);
    }

    #[test]
    fn the_signed_text_names_every_fact() {
        let answer = SignedAnswer {
            approval_id: "pa_1",
            tenant_id: "kitakyushu-bank",
            transaction_hash: "ab12",
            decision: PushDecision::Approve,
            number: Some("42"),
            signed_at: 1_795_339_800,
        };
        assert_eq!(
            String::from_utf8(answer.message()).expect("utf-8"),
            "mamori-push-answer-v1\npa_1\nkitakyushu-bank\nab12\napprove\n42\n1795339800"
        );
        let deny = SignedAnswer {
            decision: PushDecision::Deny,
            number: None,
            ..answer
        };
        assert_ne!(deny.message(), answer.message());
        assert!(
            String::from_utf8(deny.message())
                .expect("utf-8")
                .ends_with("deny\n\n1795339800")
        );
    }

    #[test]
    fn the_streak_counts_unapproved_answers_since_the_last_approval() {
        assert_eq!(unapproved_streak([]), 0);
        assert_eq!(unapproved_streak([Denied, Expired, Approved, Denied]), 2);
        assert_eq!(unapproved_streak([Pending, Denied, Cancelled, Expired]), 3);
        assert_eq!(unapproved_streak([Approved, Denied, Denied, Denied]), 0);
        assert!(!raises_bombing_alert(2));
        assert!(raises_bombing_alert(3));
        assert!(!raises_bombing_alert(4));
        assert!(raises_bombing_alert(6));
    }

    #[test]
    fn device_clocks_may_be_five_minutes_off() {
        assert!(signed_recently(1000, 1300));
        assert!(signed_recently(1300, 1000));
        assert!(!signed_recently(1000, 1301));
        assert!(!signed_recently(i64::MIN, 1000));
        assert!(!signed_recently(i64::MIN + 1000, 1000));
        assert!(!signed_recently(i64::MAX, -1000));
    }
}
