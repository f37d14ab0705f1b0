//! Domain words that the store keeps as text columns. Each type here derives sea-orm's
//! `DeriveValueType` (as lldap's domain types do), so an entity's column *is* the domain type:
//! a binding's state is a [`crate::BindingState`], never a string that every layer parses. The
//! derive only maps values to and from text; this crate still does no I/O.

/// A stored name that no variant of the type has: corrupt or newer data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {found:?}")]
pub struct UnknownName {
    /// What was being read, e.g. "binding state".
    pub what: &'static str,
    /// The text found.
    pub found: String,
}

/// `FromStr` by the type's own parser, for the store's typed columns.
macro_rules! stored_as_text {
    ($ty:ty, $what:literal, $parse:path) => {
        impl std::str::FromStr for $ty {
            type Err = $crate::stored::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $parse(s).ok_or_else(|| $crate::stored::UnknownName {
                    what: $what,
                    found: s.to_owned(),
                })
            }
        }
    };
}
pub(crate) use stored_as_text;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::CredentialKind;
    use crate::{ApprovalState, AuditOutcome, BindingState, IssueState, LoginStep, Operation};

    #[test]
    fn every_stored_name_reads_back_as_itself() {
        for s in BindingState::ALL {
            assert_eq!(s.as_str().parse::<BindingState>(), Ok(s));
        }
        for s in IssueState::ALL {
            assert_eq!(s.as_str().parse::<IssueState>(), Ok(s));
        }
        for s in ApprovalState::ALL {
            assert_eq!(s.as_str().parse::<ApprovalState>(), Ok(s));
        }
        for s in LoginStep::ALL {
            assert_eq!(s.as_str().parse::<LoginStep>(), Ok(s));
        }
        for s in CredentialKind::ALL {
            assert_eq!(s.as_str().parse::<CredentialKind>(), Ok(*s));
        }
        for s in AuditOutcome::ALL {
            assert_eq!(s.as_str().parse::<AuditOutcome>(), Ok(s));
        }
        for s in Operation::ALL {
            assert_eq!(s.as_str().parse::<Operation>(), Ok(*s));
        }
    }

    #[test]
    fn an_unknown_name_is_an_error_not_a_default() {
        assert_eq!(
            "frozen".parse::<BindingState>(),
            Err(UnknownName {
                what: "binding state",
                found: "frozen".into()
            })
        );
        assert!("TOTP".parse::<CredentialKind>().is_err());
    }
}
