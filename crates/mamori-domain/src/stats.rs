//! The figures the console charts, counted from the audit trail: what an entry counts as.
//! Pure: the store rolls entries up by hour, the service reads them back by hour and by day.

use serde_json::Value;

use crate::audit::{AuditOutcome, Operation};

/// One figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Codes accepted (login, transaction, resync, stop).
    CodesAccepted,
    /// Codes refused (wrong, already used, locked …).
    CodesRejected,
    /// Tokens or login passwords locked by that failure.
    Locks,
    /// Tokens registered (利用開始登録, 利用開始, 機種変更).
    Registrations,
    /// Logins completed.
    Logins,
    /// Push approvals approved.
    PushApproved,
    /// Push approvals denied.
    PushDenied,
    /// Push approvals that expired unanswered.
    PushExpired,
}

impl Metric {
    /// Every figure.
    pub const ALL: [Metric; 8] = [
        Self::CodesAccepted,
        Self::CodesRejected,
        Self::Locks,
        Self::Registrations,
        Self::Logins,
        Self::PushApproved,
        Self::PushDenied,
        Self::PushExpired,
    ];

    /// The stored and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CodesAccepted => "codes_accepted",
            Self::CodesRejected => "codes_rejected",
            Self::Locks => "locks",
            Self::Registrations => "registrations",
            Self::Logins => "logins",
            Self::PushApproved => "push_approved",
            Self::PushDenied => "push_denied",
            Self::PushExpired => "push_expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// What one audit entry counts as (usually one figure or none).
pub fn metrics_of(
    operation: Operation,
    outcome: AuditOutcome,
    details: Option<&Value>,
) -> Vec<Metric> {
    let ok = outcome == AuditOutcome::Success;
    let detail = |key: &str| details.and_then(|d| d.get(key));
    let mut out = Vec::new();
    match operation {
        Operation::VerifyOtp
        | Operation::VerifyTransactionOtp
        | Operation::ResyncCredential
        | Operation::StopCredential => {
            out.push(if ok {
                Metric::CodesAccepted
            } else {
                Metric::CodesRejected
            });
        }
        Operation::RegisterCredential | Operation::StartOtpUse | Operation::ChangeDevice if ok => {
            out.push(Metric::Registrations);
        }
        Operation::CompleteLogin if ok => out.push(Metric::Logins),
        Operation::StartLogin if ok && detail("note") == Some(&Value::from("complete")) => {
            out.push(Metric::Logins);
        }
        Operation::AnswerPushApproval if ok => match detail("status").and_then(Value::as_str) {
            Some("approved") => out.push(Metric::PushApproved),
            Some("denied") => out.push(Metric::PushDenied),
            _ => {}
        },
        Operation::PushApprovalExpired => out.push(Metric::PushExpired),
        _ => {}
    }
    let locked_now = detail("locked") == Some(&Value::Bool(true))
        || detail("note") == Some(&Value::from("locked_now"));
    if locked_now {
        out.push(Metric::Locks);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_count_as_the_figures_an_operator_expects() {
        use AuditOutcome::{Failure, Success};
        assert_eq!(
            metrics_of(Operation::VerifyOtp, Success, None),
            [Metric::CodesAccepted]
        );
        assert_eq!(
            metrics_of(
                Operation::VerifyOtp,
                Failure,
                Some(&json!({"locked": true}))
            ),
            [Metric::CodesRejected, Metric::Locks]
        );
        assert_eq!(
            metrics_of(
                Operation::StartLogin,
                Failure,
                Some(&json!({"note": "locked_now"}))
            ),
            [Metric::Locks]
        );
        assert_eq!(
            metrics_of(
                Operation::StartLogin,
                Success,
                Some(&json!({"note": "complete"}))
            ),
            [Metric::Logins]
        );
        assert!(
            metrics_of(
                Operation::StartLogin,
                Success,
                Some(&json!({"note": "otp_required"}))
            )
            .is_empty()
        );
        assert_eq!(
            metrics_of(
                Operation::AnswerPushApproval,
                Success,
                Some(&json!({"status": "denied"}))
            ),
            [Metric::PushDenied]
        );
        assert!(metrics_of(Operation::RegisterCredential, Failure, None).is_empty());
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Some(m));
        }
    }
}
