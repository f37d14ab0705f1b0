//! Reviewing a bank's settings before they are saved: where they deviate from NIST SP 800-63B
//! (flagged, never forbidden — the seeds' banks ask for 6-character passwords that expire), and
//! what changes, as a unified diff of the TOML files.

use crate::error_code::Lang;
use crate::policy::TenantPolicy;

/// A value that deviates from NIST SP 800-63B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NistFlag {
    /// The key path, e.g. `password.min_length`.
    pub key: &'static str,
    /// A stable code, e.g. `password_shorter_than_8`.
    pub code: &'static str,
    message_ja: &'static str,
    message_en: &'static str,
}

impl NistFlag {
    /// Why it is flagged, in the operator's language.
    pub fn message(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Ja => self.message_ja,
            Lang::En => self.message_en,
        }
    }
}

/// Every value of `policy` that NIST SP 800-63B advises against. (Lock thresholds above 100,
/// which §5.2.2 forbids, cannot be configured at all.)
pub fn nist_flags(policy: &TenantPolicy) -> Vec<NistFlag> {
    let password = &policy.password;
    if password.managed_by == crate::policy::PasswordManagement::Bank {
        return Vec::new();
    }
    let mut flags = Vec::new();
    if password.min_length.get() < 8 {
        flags.push(NistFlag {
            key: "password.min_length",
            code: "password_shorter_than_8",
            message_en: "NIST SP 800-63B §3.1.1.2 asks for passwords of at least 8 characters.",
            message_ja: "NIST SP 800-63B §3.1.1.2 はパスワードを8文字以上とするよう求めています。",
        });
    }
    if password.expiry_days.get() > 0 {
        flags.push(NistFlag {
            key: "password.expiry_days",
            code: "password_expiry",
            message_en: "NIST SP 800-63B §3.1.1.2 advises against forcing periodic password changes.",
            message_ja: "NIST SP 800-63B §3.1.1.2 は定期的なパスワード変更の強制を推奨していません。",
        });
    }
    if password.require_letter || password.require_digit {
        flags.push(NistFlag {
            key: "password.require_letter",
            code: "password_composition_rules",
            message_en: "NIST SP 800-63B §3.1.1.2 advises against composition rules (letters and digits mixed).",
            message_ja: "NIST SP 800-63B §3.1.1.2 は文字種の組み合わせ規則を推奨していません。",
        });
    }
    flags
}

/// A unified diff between two config files, empty when they are the same.
pub fn config_diff(before: &str, after: &str, before_name: &str, after_name: &str) -> String {
    if before == after {
        return String::new();
    }
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(2)
        .header(before_name, after_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Ranged;

    #[test]
    fn the_seed_style_policy_is_flagged_and_a_nist_one_is_not() {
        let seed = TenantPolicy::default();
        let codes: Vec<_> = nist_flags(&seed).iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                "password_shorter_than_8",
                "password_expiry",
                "password_composition_rules"
            ]
        );
        let mut nist = TenantPolicy::default();
        nist.password.min_length = Ranged::of(12);
        nist.password.max_length = Ranged::of(64);
        nist.password.expiry_days = Ranged::of(0);
        nist.password.require_letter = false;
        nist.password.require_digit = false;
        assert!(nist_flags(&nist).is_empty());
        assert!(!nist_flags(&seed)[0].message(Lang::Ja).is_empty());
    }

    #[test]
    fn a_diff_shows_only_what_changed() {
        let diff = config_diff("a = 1\nb = 2\n", "a = 1\nb = 3\n", "before", "after");
        assert!(diff.contains("-b = 2") && diff.contains("+b = 3"), "{diff}");
        assert!(!diff.contains("-a = 1"), "{diff}");
        assert_eq!(config_diff("x\n", "x\n", "a", "b"), "");
    }
}
