//! Login password (ログインパスワード) rules: what a new password must look like, when a
//! password expires, and when a password lock lifts by itself.
//!
//! Everything here is pure: the tenant's [`PasswordPolicy`] and the current time are
//! parameters, and nothing is hashed or stored. The caller (the service layer) keeps the last
//! [`remembered_passwords`] hashes, checks the candidate against them and tells
//! [`check_new_password`] whether it was recently used.
//!
//! The rules follow seed 002 §2.2(8) 「パスワード変更の条件」: 6–12 characters, letters and
//! digits mixed (英字と数字を混在), letters case-sensitive, different from the user name,
//! different from the current password and the two before it (「直近 2 世代前まで」); the
//! password expires 90 calendar days after it was set. Each bank sets its own values in
//! `[password]`.

use chrono::{DateTime, TimeDelta, Utc};

use crate::error_code::Lang;
use crate::policy::PasswordPolicy;

/// One rule a candidate password breaks. [`check_new_password`] returns every broken rule so a
/// UI can show them all at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordRule {
    /// Fewer characters than the policy's `min_length`.
    TooShort {
        /// The policy's minimum length.
        min: u32,
    },
    /// More characters than the policy's `max_length`.
    TooLong {
        /// The policy's maximum length.
        max: u32,
    },
    /// No ASCII letter (英字) although the policy requires one.
    NeedsLetter,
    /// No ASCII digit (数字) although the policy requires one.
    NeedsDigit,
    /// Equal to the user's contract number, user ID or user name (ユーザ名と異なる文字列).
    SameAsUserId,
    /// Equal to the current password or one of the `generations` before it.
    RecentlyUsed {
        /// How many passwords before the current one are refused (the policy's `history`).
        generations: u32,
    },
    /// Contains a character other than half-width printable ASCII (a full-width character, a
    /// space or a control character).
    InvalidCharacter,
}

impl PasswordRule {
    /// The stable, machine-readable code of this rule (`snake_case`). Part of the API contract:
    /// never renamed or reused.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooShort { .. } => "password_too_short",
            Self::TooLong { .. } => "password_too_long",
            Self::NeedsLetter => "password_needs_letter",
            Self::NeedsDigit => "password_needs_digit",
            Self::SameAsUserId => "password_same_as_user_id",
            Self::RecentlyUsed { .. } => "password_recently_used",
            Self::InvalidCharacter => "password_invalid_character",
        }
    }

    /// A sentence for the user explaining the rule, in `lang`.
    pub fn message(self, lang: Lang) -> String {
        match (self, lang) {
            (Self::TooShort { min }, Lang::Ja) => {
                format!("パスワードは{min}桁以上で入力してください。")
            }
            (Self::TooShort { min }, Lang::En) => {
                format!("The password must be at least {min} characters.")
            }
            (Self::TooLong { max }, Lang::Ja) => {
                format!("パスワードは{max}桁以下で入力してください。")
            }
            (Self::TooLong { max }, Lang::En) => {
                format!("The password must be at most {max} characters.")
            }
            (Self::NeedsLetter, Lang::Ja) => {
                "パスワードには英字を1文字以上含めてください。".to_owned()
            }
            (Self::NeedsLetter, Lang::En) => {
                "The password must contain at least one letter (A-Z or a-z).".to_owned()
            }
            (Self::NeedsDigit, Lang::Ja) => {
                "パスワードには数字を1文字以上含めてください。".to_owned()
            }
            (Self::NeedsDigit, Lang::En) => {
                "The password must contain at least one digit (0-9).".to_owned()
            }
            (Self::SameAsUserId, Lang::Ja) => {
                "パスワードにはユーザIDやユーザ名と異なる文字列を指定してください。".to_owned()
            }
            (Self::SameAsUserId, Lang::En) => {
                "The password must differ from your user ID and user name.".to_owned()
            }
            (Self::RecentlyUsed { generations: 0 }, Lang::Ja) => {
                "現在のパスワードは使用できません。".to_owned()
            }
            (Self::RecentlyUsed { generations: 0 }, Lang::En) => {
                "The password must differ from your current password.".to_owned()
            }
            (Self::RecentlyUsed { generations }, Lang::Ja) => format!(
                "現在のパスワードおよび直近{generations}世代前までに使用したパスワードは使用できません。"
            ),
            (Self::RecentlyUsed { generations: 1 }, Lang::En) => {
                "The password must differ from your current password and the one before it."
                    .to_owned()
            }
            (Self::RecentlyUsed { generations }, Lang::En) => format!(
                "The password must differ from your current password and the {generations} before it."
            ),
            (Self::InvalidCharacter, Lang::Ja) => {
                "パスワードは半角英数字・記号で入力してください（全角文字・空白は使用できません）。"
                    .to_owned()
            }
            (Self::InvalidCharacter, Lang::En) => {
                "The password may contain only half-width letters, digits and symbols \
                 (no full-width characters or spaces)."
                    .to_owned()
            }
        }
    }
}

/// Checks a new password against the tenant's policy and returns every rule it breaks.
///
/// - `user_ids`: the strings the password must differ from when `forbid_user_id` is set (the
///   contract number, the user ID, the display name). They are compared case-insensitively,
///   after trimming and after turning full-width ASCII forms (`ＵＳＥＲ０１`) into half-width.
/// - `recently_used`: whether the candidate matches one of the last [`remembered_passwords`]
///   password hashes (the current one and the `history` before it); the caller checks them.
///
/// Length is counted in characters, not bytes. The rules are returned in a fixed order:
/// length, invalid character, letter, digit, user ID, history.
pub fn check_new_password(
    policy: &PasswordPolicy,
    candidate: &str,
    user_ids: &[&str],
    recently_used: bool,
) -> Result<(), Vec<PasswordRule>> {
    let mut broken = Vec::new();

    let length = u32::try_from(candidate.chars().count()).unwrap_or(u32::MAX);
    let min = policy.min_length.get();
    let max = policy.max_length.get();
    if length < min {
        broken.push(PasswordRule::TooShort { min });
    }
    if length > max {
        broken.push(PasswordRule::TooLong { max });
    }

    // Only half-width printable ASCII (0x21..=0x7E) is allowed. The bank manuals ask for
    // half-width input: seed 000's login screen says 「※半角英数、大文字小文字の違いにご注意
    // ください」 for the login password, and seed 002 counts the length in 桁 and asks for
    // 英字と数字 with case-sensitive letters. ASCII symbols are allowed (none of the seeds
    // forbids them and they only make a password stronger). Full-width characters are refused
    // rather than converted: the user should learn at change time that the IME was on, instead
    // of setting a password that a half-width login screen can never reproduce. Spaces and
    // control characters are refused because they are invisible and easily lost or added by
    // copy and paste. Letters stay case-sensitive: nothing here folds the case.
    if !candidate.chars().all(|c| matches!(c, '\x21'..='\x7e')) {
        broken.push(PasswordRule::InvalidCharacter);
    }

    // 英字と数字を混在させていること: at least one letter and one digit. A full-width letter or
    // digit counts here (after folding it to half-width) so that `ａｂｃ１２３` is reported
    // only as InvalidCharacter, not also as lacking letters and digits the user did type.
    if policy.require_letter
        && !candidate
            .chars()
            .any(|c| half_width(c).is_ascii_alphabetic())
    {
        broken.push(PasswordRule::NeedsLetter);
    }
    if policy.require_digit && !candidate.chars().any(|c| half_width(c).is_ascii_digit()) {
        broken.push(PasswordRule::NeedsDigit);
    }

    if policy.forbid_user_id {
        let folded = fold_for_comparison(candidate);
        let same = user_ids
            .iter()
            .map(|id| fold_for_comparison(id))
            .any(|id| !id.is_empty() && id == folded);
        if same {
            broken.push(PasswordRule::SameAsUserId);
        }
    }

    if recently_used {
        broken.push(PasswordRule::RecentlyUsed {
            generations: policy.history.get(),
        });
    }

    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken)
    }
}

/// How many of a user's password hashes are remembered and refused as a new password: the
/// current one and the policy's `history` before it. Seed 002's 「直近 2 世代前まで…使用する
/// ことはできません」 is `history = 2`: the current password and the two before it, so a
/// password comes back only at the fourth change. `history = 0` still refuses the current
/// password: "changing" to it would undo a forced change.
pub fn remembered_passwords(policy: &PasswordPolicy) -> u32 {
    policy.history.get().saturating_add(1)
}

/// Folds a string for the user-ID comparison: full-width ASCII forms (U+FF01..=U+FF5E) and the
/// ideographic space become half-width, then the string is trimmed and lower-cased.
fn fold_for_comparison(text: &str) -> String {
    let folded: String = text.chars().map(half_width).collect();
    folded.trim().to_lowercase()
}

/// The half-width form of a full-width ASCII character (U+FF01..=U+FF5E) or of the ideographic
/// space (U+3000); any other character unchanged.
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0).unwrap_or(c),
        _ => c,
    }
}

/// When a password set at `changed_at` expires, or `None` if the policy's `expiry_days` is 0
/// (never) or the date is beyond what can be represented.
///
/// 「有効期限は、ログインパスワードを設定してから 90 日(暦日)間」: the password is valid for
/// `expiry_days` calendar days of 24 hours counted from the moment it was set.
pub fn password_expires_at(
    policy: &PasswordPolicy,
    changed_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let days = policy.expiry_days.get();
    if days == 0 {
        return None;
    }
    changed_at.checked_add_signed(TimeDelta::try_days(i64::from(days))?)
}

/// Whether a password set at `changed_at` has expired at `now` (`now >= changed_at +
/// expiry_days`). Never true when `expiry_days` is 0.
pub fn password_expired(
    policy: &PasswordPolicy,
    changed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    password_expires_at(policy, changed_at).is_some_and(|expires_at| now >= expires_at)
}

/// When a password lock set at `locked_at` lifts by itself, or `None` if the policy's
/// `auto_unlock_minutes` is 0 (only the bank or the support desk unlocks: ロック解除).
pub fn password_lock_expires_at(
    policy: &PasswordPolicy,
    locked_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let minutes = policy.auto_unlock_minutes.get();
    if minutes == 0 {
        return None;
    }
    locked_at.checked_add_signed(TimeDelta::try_minutes(i64::from(minutes))?)
}

/// Whether a password lock set at `locked_at` has lifted by itself at `now` (`locked_at +
/// auto_unlock_minutes <= now`). Never true when `auto_unlock_minutes` is 0.
pub fn password_lock_expired(
    policy: &PasswordPolicy,
    locked_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    password_lock_expires_at(policy, locked_at).is_some_and(|unlocks_at| unlocks_at <= now)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::policy::Ranged;

    /// Seed 002's values: 6–12 characters, letters and digits, not the user name, history 2,
    /// 90 days. These are also the defaults.
    fn seed_002() -> PasswordPolicy {
        let policy = PasswordPolicy {
            min_length: Ranged::of(6),
            max_length: Ranged::of(12),
            require_letter: true,
            require_digit: true,
            forbid_user_id: true,
            history: Ranged::of(2),
            expiry_days: Ranged::of(90),
            ..PasswordPolicy::default()
        };
        assert_eq!(policy, PasswordPolicy::default());
        policy
    }

    fn check(candidate: &str) -> Result<(), Vec<PasswordRule>> {
        check_new_password(
            &seed_002(),
            candidate,
            &["K0012345", "user01", "山田太郎"],
            false,
        )
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn a_good_password_passes() {
        assert_eq!(check("abc123"), Ok(()));
        assert_eq!(check("Abc123def456"), Ok(()));
        assert_eq!(check("p@ss-w0rd!~"), Ok(()));
    }

    #[test]
    fn too_short() {
        assert_eq!(check("abc12"), Err(vec![PasswordRule::TooShort { min: 6 }]));
    }

    #[test]
    fn too_long() {
        assert_eq!("abcdefghijk12".len(), 13);
        assert_eq!(
            check("abcdefghijk12"),
            Err(vec![PasswordRule::TooLong { max: 12 }])
        );
        assert_eq!(check("abcdefghij12"), Ok(()));
    }

    #[test]
    fn needs_digit() {
        assert_eq!(check("abcdef"), Err(vec![PasswordRule::NeedsDigit]));
    }

    #[test]
    fn needs_letter() {
        assert_eq!(check("123456"), Err(vec![PasswordRule::NeedsLetter]));
    }

    #[test]
    fn letter_and_digit_requirements_can_be_switched_off() {
        let policy = PasswordPolicy {
            require_letter: false,
            require_digit: false,
            ..seed_002()
        };
        assert_eq!(check_new_password(&policy, "123456", &[], false), Ok(()));
        assert_eq!(check_new_password(&policy, "abcdef", &[], false), Ok(()));
    }

    #[test]
    fn full_width_characters_are_invalid_and_counted_as_characters() {
        // Six characters (18 bytes): not too long, but full-width.
        assert_eq!(
            check("ａｂｃ１２３"),
            Err(vec![PasswordRule::InvalidCharacter])
        );
        // Full-width letters count as letters for the mix rule (the width is the only
        // problem), so only the missing digit is reported besides the width.
        assert_eq!(
            check("ａｂｃｄｅｆ"),
            Err(vec![
                PasswordRule::InvalidCharacter,
                PasswordRule::NeedsDigit,
            ])
        );
        // Full-width symbols and the ideographic space are invalid too.
        assert_eq!(check("abc１23"), Err(vec![PasswordRule::InvalidCharacter]));
        assert_eq!(check("abc123！"), Err(vec![PasswordRule::InvalidCharacter]));
    }

    #[test]
    fn spaces_and_control_characters_are_invalid() {
        for candidate in [
            "abc 123",
            " abc123",
            "abc123 ",
            "abc\t123",
            "abc\u{3000}123",
            "abc\u{7f}12",
        ] {
            assert_eq!(
                check(candidate),
                Err(vec![PasswordRule::InvalidCharacter]),
                "{candidate:?}"
            );
        }
    }

    #[test]
    fn same_as_user_id_ignoring_case_and_surrounding_spaces() {
        assert_eq!(check("user01"), Err(vec![PasswordRule::SameAsUserId]));
        assert_eq!(check("USER01"), Err(vec![PasswordRule::SameAsUserId]));
        assert_eq!(check("k0012345"), Err(vec![PasswordRule::SameAsUserId]));
        assert_eq!(
            check_new_password(&seed_002(), "user01", &["  User01 "], false),
            Err(vec![PasswordRule::SameAsUserId])
        );
        // A user name typed in full-width is the same string.
        assert_eq!(
            check_new_password(&seed_002(), "user01", &["ＵＳＥＲ０１"], false),
            Err(vec![PasswordRule::SameAsUserId])
        );
        // Containing the user ID is allowed; only equality is refused.
        assert_eq!(check("user012"), Ok(()));
        // An empty identifier never matches.
        assert_eq!(
            check_new_password(&seed_002(), "abc123", &["", "  "], false),
            Ok(())
        );
    }

    #[test]
    fn same_as_user_id_allowed_when_the_policy_allows_it() {
        let policy = PasswordPolicy {
            forbid_user_id: false,
            ..seed_002()
        };
        assert_eq!(
            check_new_password(&policy, "user01", &["user01"], false),
            Ok(())
        );
    }

    #[test]
    fn history_counts_generations_before_the_current_password() {
        // Seed 002: temp1234 → Spring2026 → Summer2026; at the next change Summer2026 is the
        // current one, Spring2026 one generation back, temp1234 two: all three are refused.
        assert_eq!(remembered_passwords(&seed_002()), 3);
        let with = |history| PasswordPolicy {
            history: Ranged::of(history),
            ..seed_002()
        };
        assert_eq!(remembered_passwords(&with(0)), 1, "the current one only");
        assert_eq!(remembered_passwords(&with(1)), 2);
        assert_eq!(remembered_passwords(&with(24)), 25);
    }

    #[test]
    fn recently_used_names_the_generations() {
        assert_eq!(
            check_new_password(&seed_002(), "abc123", &["user01"], true),
            Err(vec![PasswordRule::RecentlyUsed { generations: 2 }])
        );
    }

    #[test]
    fn every_broken_rule_is_returned_together() {
        // Too short, a space, no digit, and recently used.
        assert_eq!(
            check_new_password(&seed_002(), "ab c", &["user01"], true),
            Err(vec![
                PasswordRule::TooShort { min: 6 },
                PasswordRule::InvalidCharacter,
                PasswordRule::NeedsDigit,
                PasswordRule::RecentlyUsed { generations: 2 },
            ])
        );
        // Same as the user ID and recently used.
        assert_eq!(
            check_new_password(&seed_002(), "USER01", &["user01"], true),
            Err(vec![
                PasswordRule::SameAsUserId,
                PasswordRule::RecentlyUsed { generations: 2 },
            ])
        );
        // Empty: too short, no letter, no digit.
        assert_eq!(
            check(""),
            Err(vec![
                PasswordRule::TooShort { min: 6 },
                PasswordRule::NeedsLetter,
                PasswordRule::NeedsDigit,
            ])
        );
    }

    #[test]
    fn codes_are_stable_and_distinct() {
        let all = [
            PasswordRule::TooShort { min: 6 },
            PasswordRule::TooLong { max: 12 },
            PasswordRule::NeedsLetter,
            PasswordRule::NeedsDigit,
            PasswordRule::SameAsUserId,
            PasswordRule::RecentlyUsed { generations: 2 },
            PasswordRule::InvalidCharacter,
        ];
        let codes: Vec<_> = all.iter().map(|rule| rule.code()).collect();
        assert_eq!(
            codes,
            [
                "password_too_short",
                "password_too_long",
                "password_needs_letter",
                "password_needs_digit",
                "password_same_as_user_id",
                "password_recently_used",
                "password_invalid_character",
            ]
        );
        for rule in all {
            assert!(!rule.message(Lang::Ja).is_empty());
            assert!(rule.message(Lang::En).is_ascii(), "{rule:?}");
            assert_ne!(rule.message(Lang::Ja), rule.message(Lang::En));
        }
    }

    #[test]
    fn messages_carry_the_policy_values() {
        assert_eq!(
            PasswordRule::TooShort { min: 6 }.message(Lang::Ja),
            "パスワードは6桁以上で入力してください。"
        );
        assert_eq!(
            PasswordRule::TooShort { min: 6 }.message(Lang::En),
            "The password must be at least 6 characters."
        );
        assert_eq!(
            PasswordRule::TooLong { max: 12 }.message(Lang::Ja),
            "パスワードは12桁以下で入力してください。"
        );
        assert_eq!(
            PasswordRule::RecentlyUsed { generations: 2 }.message(Lang::Ja),
            "現在のパスワードおよび直近2世代前までに使用したパスワードは使用できません。"
        );
        assert_eq!(
            PasswordRule::RecentlyUsed { generations: 2 }.message(Lang::En),
            "The password must differ from your current password and the 2 before it."
        );
        assert_eq!(
            PasswordRule::RecentlyUsed { generations: 0 }.message(Lang::En),
            "The password must differ from your current password."
        );
    }

    #[test]
    fn expires_at_exactly_90_days() {
        let policy = seed_002();
        let set = at(2025, 1, 1, 9, 0, 0);
        assert_eq!(
            password_expires_at(&policy, set),
            Some(at(2025, 4, 1, 9, 0, 0))
        );
        assert!(!password_expired(&policy, set, set));
        assert!(!password_expired(&policy, set, at(2025, 4, 1, 8, 59, 59)));
        assert!(password_expired(&policy, set, at(2025, 4, 1, 9, 0, 0)));
        assert!(password_expired(&policy, set, at(2026, 1, 1, 0, 0, 0)));
    }

    #[test]
    fn not_expired_at_89_days_23_59_59() {
        let policy = seed_002();
        let set = at(2024, 2, 1, 0, 0, 0);
        let almost = set + TimeDelta::days(89) + TimeDelta::seconds(23 * 3600 + 59 * 60 + 59);
        assert!(!password_expired(&policy, set, almost));
        assert!(password_expired(
            &policy,
            set,
            almost + TimeDelta::seconds(1)
        ));
    }

    #[test]
    fn expiry_zero_means_never() {
        let policy = PasswordPolicy {
            expiry_days: Ranged::of(0),
            ..seed_002()
        };
        let set = at(2000, 1, 1, 0, 0, 0);
        assert_eq!(password_expires_at(&policy, set), None);
        assert!(!password_expired(&policy, set, at(2099, 1, 1, 0, 0, 0)));
    }

    #[test]
    fn expiry_near_the_end_of_time_does_not_panic() {
        let policy = PasswordPolicy {
            expiry_days: Ranged::of(3650),
            ..seed_002()
        };
        assert_eq!(password_expires_at(&policy, DateTime::<Utc>::MAX_UTC), None);
        assert!(!password_expired(
            &policy,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MAX_UTC
        ));
    }

    #[test]
    fn manual_unlock_only_when_auto_unlock_is_zero() {
        let policy = seed_002();
        assert_eq!(policy.auto_unlock_minutes.get(), 0);
        let locked = at(2025, 1, 1, 9, 0, 0);
        assert_eq!(password_lock_expires_at(&policy, locked), None);
        assert!(!password_lock_expired(
            &policy,
            locked,
            at(2099, 1, 1, 0, 0, 0)
        ));
    }

    #[test]
    fn auto_unlock_after_the_configured_minutes() {
        let policy = PasswordPolicy {
            auto_unlock_minutes: Ranged::of(30),
            ..seed_002()
        };
        let locked = at(2025, 1, 1, 9, 0, 0);
        assert_eq!(
            password_lock_expires_at(&policy, locked),
            Some(at(2025, 1, 1, 9, 30, 0))
        );
        assert!(!password_lock_expired(&policy, locked, locked));
        assert!(!password_lock_expired(
            &policy,
            locked,
            at(2025, 1, 1, 9, 29, 59)
        ));
        assert!(password_lock_expired(
            &policy,
            locked,
            at(2025, 1, 1, 9, 30, 0)
        ));
        assert!(password_lock_expired(
            &policy,
            locked,
            at(2025, 1, 2, 0, 0, 0)
        ));
    }
}
