//! Identifiers from the domain table, as newtypes so a tenant ID is never passed where a user
//! ID is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A bank's identifier (金融機関): lowercase letters, digits and hyphens, e.g. `johoku-shinkin`.
/// It is the tenant config's file stem and appears in bank routes (`/v1/banks/{bank_id}/…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

/// Why a string is not a tenant ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a bank ID is 3 to 40 characters of a-z, 0-9 and '-', starting with a letter")]
pub struct TenantIdError;

impl TenantId {
    /// Validates a tenant ID.
    pub fn parse(s: &str) -> Result<Self, TenantIdError> {
        let ok_len = (3..=40).contains(&s.len());
        let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok_len && ok_first && ok_chars {
            Ok(Self(s.to_owned()))
        } else {
            Err(TenantIdError)
        }
    }

    /// The ID as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = TenantIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_checked() {
        assert!(TenantId::parse("johoku-shinkin").is_ok());
        assert!(TenantId::parse("shinkin-001").is_ok());
        for bad in [
            "",
            "ab",
            "Johoku",
            "1bank",
            "bank_1",
            "bank/1",
            &"a".repeat(41),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }
}
