//! The per-tenant policy model (`TenantPolicy`).
//!
//! Every shinkin bank (tenant) sets its own rules for login passwords, one-time passwords,
//! registration, transaction authentication, push approval and self-issued tokens. The five
//! bank manuals in `seeds/` differ on almost every value, so nothing here is global: a
//! [`TenantPolicy`] is pure data, read from `tenant-configs/*.toml` (see
//! [`crate::tenant_config`]) and stored by the server as JSON.
//!
//! Design notes:
//! - Numeric settings are [`Ranged`] integers: the allowed range is part of the type, so an
//!   out-of-range value cannot be deserialised or constructed, and the error message names the
//!   range and echoes the value that was found.
//! - Keyword settings are enums whose configuration spelling is `as_str()`; unknown keywords
//!   are rejected with the list of allowed ones.
//! - Rules that involve more than one key (e.g. `min_length <= max_length`) are checked by
//!   [`TenantPolicy::validate`] after deserialising, and reported with the key path.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use self::found::{Found, FromFound};
use crate::webhook::{TargetRefused, WebhookTarget, check_webhook_url};

// ---------------------------------------------------------------------------------------------
// Ranged integers
// ---------------------------------------------------------------------------------------------

/// An integer setting that is always within `MIN..=MAX`.
///
/// Deserialising checks the range, so a policy read from a file or from the database can never
/// hold an out-of-range value. The error for a bad value reads
/// `expected an integer 6..=8, found 9` (or `found "six"` for a string).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ranged<const MIN: u32, const MAX: u32>(u32);

impl<const MIN: u32, const MAX: u32> Ranged<MIN, MAX> {
    /// The smallest allowed value.
    pub const MIN: u32 = MIN;
    /// The largest allowed value.
    pub const MAX: u32 = MAX;

    /// Returns the value if it is within `MIN..=MAX`.
    pub const fn new(value: u32) -> Option<Self> {
        if value >= MIN && value <= MAX {
            Some(Self(value))
        } else {
            None
        }
    }

    /// Builds a constant; meant for `const { Ranged::of(6) }` so a bad default fails to compile.
    ///
    /// # Panics
    /// If `value` is outside `MIN..=MAX`.
    pub const fn of(value: u32) -> Self {
        match Self::new(value) {
            Some(ranged) => ranged,
            None => panic!("Ranged::of: value outside the allowed range"),
        }
    }

    /// The value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The message used when a value is rejected, e.g. `expected an integer 6..=8, found 9`.
    fn expected(found: &dyn fmt::Display) -> String {
        format!("expected an integer {MIN}..={MAX}, found {found}")
    }
}

impl<const MIN: u32, const MAX: u32> fmt::Debug for Ranged<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MIN: u32, const MAX: u32> fmt::Display for Ranged<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<const MIN: u32, const MAX: u32> From<Ranged<MIN, MAX>> for u32 {
    fn from(value: Ranged<MIN, MAX>) -> Self {
        value.0
    }
}

impl<const MIN: u32, const MAX: u32> TryFrom<u32> for Ranged<MIN, MAX> {
    type Error = String;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value).ok_or_else(|| Self::expected(&value))
    }
}

impl<const MIN: u32, const MAX: u32> FromFound for Ranged<MIN, MAX> {
    fn from_found(found: Found) -> Result<Self, String> {
        let in_range = match &found {
            Found::Int(n) => u32::try_from(*n).ok().and_then(Self::new),
            _ => None,
        };
        in_range.ok_or_else(|| Self::expected(&found))
    }
}

impl<const MIN: u32, const MAX: u32> Serialize for Ranged<MIN, MAX> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0)
    }
}

impl<'de, const MIN: u32, const MAX: u32> Deserialize<'de> for Ranged<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        found::checked(deserializer)
    }
}

// ---------------------------------------------------------------------------------------------
// Keyword enums
// ---------------------------------------------------------------------------------------------

/// Declares an enum whose values are written as keywords in the configuration.
///
/// Generates `ALL`, `as_str`, `from_keyword`, `Display`, `Serialize` (the keyword) and
/// `Deserialize` (the keyword; an unknown one is rejected with the list of allowed keywords).
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident (ignore_case: $ignore_case:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident = $keyword:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The keyword that names this value in the configuration.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $keyword, )+
                }
            }

            /// Parses a configuration keyword.
            pub fn from_keyword(text: &str) -> Option<Self> {
                found::match_keyword(text, Self::ALL, Self::as_str, $ignore_case)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromFound for $name {
            fn from_found(value: Found) -> Result<Self, String> {
                found::keyword_from_found(value, Self::ALL, Self::as_str, $ignore_case)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                found::checked(deserializer)
            }
        }
    };
}

keyword_enum! {
    /// Who checks the login password (ログインパスワード).
    pub enum PasswordManagement (ignore_case: false) {
        /// Mamori stores the password hash and applies the `[password]` policy.
        Mamori = "mamori",
        /// The bank's IB system keeps passwords itself and calls Mamori only for OTP operations;
        /// the `[password]` section is then ignored.
        Bank = "bank",
    }
}

keyword_enum! {
    /// The HMAC hash of the OTP algorithm (RFC 4226 / RFC 6238). Accepted in any letter case.
    pub enum OtpAlgorithm (ignore_case: true) {
        /// HMAC-SHA1: what VIP Access and most authenticator apps use.
        Sha1 = "SHA1",
        /// HMAC-SHA256.
        Sha256 = "SHA256",
        /// HMAC-SHA512.
        Sha512 = "SHA512",
    }
}

keyword_enum! {
    /// How a credential counts (トークンの種類): by time or by events. The one name for it
    /// everywhere: a tenant's allowed kinds, a stored credential's column, the code check.
    #[derive(sea_orm::DeriveValueType)]
    #[sea_orm(value_type = "String")]
    pub enum CredentialKind (ignore_case: false) {
        /// Time-based codes (RFC 6238 TOTP): a new code every `period` seconds.
        Totp = "totp",
        /// Event-based codes (RFC 4226 HOTP): a new code each time the button is pressed.
        Hotp = "hotp",
    }
}

crate::stored::stored_as_text!(
    CredentialKind,
    "credential kind",
    CredentialKind::from_keyword
);

keyword_enum! {
    /// How a customer proves a credential when registering it (利用開始登録 / 利用登録).
    pub enum RegistrationMode (ignore_case: false) {
        /// Credential ID plus one current OTP (seeds 001, 003, 004).
        OneCode = "one_code",
        /// Credential ID plus two consecutive OTPs, OTP1 and OTP2, the second still current
        /// (seed 002).
        TwoConsecutiveCodes = "two_consecutive_codes",
    }
}

keyword_enum! {
    /// A transaction the bank may protect with transaction authentication (取引認証).
    pub enum TransactionKind (ignore_case: false) {
        /// Transfers (振込・振替).
        Transfer = "transfer",
        /// Tax and fee payments through Pay-easy (税金・各種料金の払込み).
        Payeasy = "payeasy",
        /// Time-deposit cancellation (定期預金 解約).
        DepositCancellation = "deposit_cancellation",
        /// Instalment-savings cancellation (定期積金 解約).
        SavingsCancellation = "savings_cancellation",
        /// Usage-limit change (利用限度額変更).
        LimitChange = "limit_change",
        /// Contract-information change (契約者情報変更).
        ContractChange = "contract_change",
    }
}

keyword_enum! {
    /// How a transaction is authenticated.
    pub enum AuthMethod (ignore_case: false) {
        /// No extra authentication beyond the login.
        None = "none",
        /// A current OTP (ワンタイムパスワード) must be entered.
        Otp = "otp",
        /// The customer approves (承認) the transaction on the phone; deny (拒否) or no answer
        /// cancels it (プッシュ通知認証).
        Push = "push",
    }
}

// ---------------------------------------------------------------------------------------------
// The policy sections
// ---------------------------------------------------------------------------------------------

/// Everything a tenant (bank) decides for itself. Each section has defaults, so a tenant file
/// only needs the values that differ.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantPolicy {
    /// `[password]`: the login password (ログインパスワード) policy.
    #[serde(deserialize_with = "found::checked_table")]
    pub password: PasswordPolicy,
    /// `[otp]`: one-time password (ワンタイムパスワード) parameters and lockout.
    #[serde(deserialize_with = "found::checked_table")]
    pub otp: OtpPolicy,
    /// `[registration]`: how a credential is registered (利用開始登録).
    #[serde(deserialize_with = "found::checked_table")]
    pub registration: RegistrationPolicy,
    /// `[transactions]`: which transactions need transaction authentication (取引認証).
    #[serde(deserialize_with = "found::checked_table")]
    pub transactions: TransactionPolicy,
    /// `[push]`: push approval (プッシュ通知認証).
    #[serde(deserialize_with = "found::checked_table")]
    pub push: PushPolicy,
    /// `[self_issue]`: tokens issued by the bank to a mail address (トークン発行).
    #[serde(deserialize_with = "found::checked_table")]
    pub self_issue: SelfIssuePolicy,
}

/// `[password]`: the login password (ログインパスワード) policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Who checks login passwords: `"mamori"` (Mamori applies this section) or `"bank"` (the
    /// bank keeps passwords itself and uses only the OTP operations; this section is ignored).
    pub managed_by: PasswordManagement,
    /// Minimum password length in characters (1..=128, at most `max_length`).
    pub min_length: Ranged<1, 128>,
    /// Maximum password length in characters (1..=128, at least `min_length`).
    pub max_length: Ranged<1, 128>,
    /// The password must contain at least one letter (英字). Letters are case-sensitive.
    #[serde(deserialize_with = "found::checked")]
    pub require_letter: bool,
    /// The password must contain at least one digit (数字).
    #[serde(deserialize_with = "found::checked")]
    pub require_digit: bool,
    /// The password must differ from the user ID and the user name (ユーザ名と異なる文字列).
    #[serde(deserialize_with = "found::checked")]
    pub forbid_user_id: bool,
    /// A new password must differ from the current password and the N before it (0..=24;
    /// 0 = only the current one). Seed 002's 「直近 2 世代前まで」 is 2.
    pub history: Ranged<0, 24>,
    /// Days after which the password expires and must be changed (0..=3650; 0 = never).
    pub expiry_days: Ranged<0, 3650>,
    /// Consecutive wrong passwords that lock the user (ログインパスワードロック), 1..=100.
    pub lock_threshold: Ranged<1, 100>,
    /// Minutes after which a password lock lifts by itself (0..=10080, one week);
    /// 0 = only the bank or support desk unlocks (ロック解除).
    pub auto_unlock_minutes: Ranged<0, 10080>,
    /// The user must change the initial (仮) password at the first login.
    #[serde(deserialize_with = "found::checked")]
    pub force_change_on_first_login: bool,
    /// The user must change the password after the bank or support desk reset it.
    #[serde(deserialize_with = "found::checked")]
    pub force_change_after_reset: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            managed_by: PasswordManagement::Mamori,
            min_length: const { Ranged::of(6) },
            max_length: const { Ranged::of(12) },
            require_letter: true,
            require_digit: true,
            forbid_user_id: true,
            history: const { Ranged::of(2) },
            expiry_days: const { Ranged::of(90) },
            lock_threshold: const { Ranged::of(5) },
            auto_unlock_minutes: const { Ranged::of(0) },
            force_change_on_first_login: true,
            force_change_after_reset: true,
        }
    }
}

/// `[otp]`: one-time password (ワンタイムパスワード / セキュリティコード) parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtpPolicy {
    /// HMAC algorithm of newly created credentials: `"SHA1"`, `"SHA256"` or `"SHA512"`.
    pub algorithm: OtpAlgorithm,
    /// Digits per code (6..=8).
    pub digits: Ranged<6, 8>,
    /// Seconds per TOTP time step (15..=120); a code changes every `period` seconds.
    pub period: Ranged<15, 120>,
    /// Time steps accepted either side of the expected step at login and transaction time
    /// (0..=5), to tolerate a phone clock that is slightly off.
    pub window: Ranged<0, 5>,
    /// Time steps searched either side when the customer corrects drift with two consecutive
    /// codes (同期ズレ補正), 1..=60; must be at least `window`.
    pub resync_window: Ranged<1, 60>,
    /// HOTP counter values checked ahead of the last accepted one (1..=100).
    pub hotp_look_ahead: Ranged<1, 100>,
    /// Consecutive wrong codes that lock the credential at this bank
    /// (ワンタイムパスワードロック), 1..=100. Only the bank or an operator unlocks.
    pub lock_threshold: Ranged<1, 100>,
    /// Login needs an OTP once the user has registered a credential. `false` = login is
    /// ID + password only and OTPs are asked for transactions (seed 004).
    #[serde(deserialize_with = "found::checked")]
    pub required_at_login: bool,
    /// Credential kinds the bank accepts: a non-empty list of `"totp"`, `"hotp"`.
    #[serde(deserialize_with = "found::checked_list")]
    pub credential_kinds: Vec<CredentialKind>,
}

impl OtpPolicy {
    /// Whether the tenant accepts credentials of this kind.
    pub fn allows(&self, kind: CredentialKind) -> bool {
        self.credential_kinds.contains(&kind)
    }
}

impl Default for OtpPolicy {
    fn default() -> Self {
        Self {
            algorithm: OtpAlgorithm::Sha1,
            digits: const { Ranged::of(6) },
            period: const { Ranged::of(30) },
            window: const { Ranged::of(1) },
            resync_window: const { Ranged::of(10) },
            hotp_look_ahead: const { Ranged::of(10) },
            lock_threshold: const { Ranged::of(10) },
            required_at_login: true,
            credential_kinds: vec![CredentialKind::Totp],
        }
    }
}

/// `[registration]`: how a credential is bound to a bank user (利用開始登録).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationPolicy {
    /// `"one_code"` (credential ID + one OTP) or `"two_consecutive_codes"` (OTP1 + OTP2).
    pub mode: RegistrationMode,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            mode: RegistrationMode::OneCode,
        }
    }
}

/// `[transactions]`: the authentication each transaction kind needs (取引認証):
/// `"none"`, `"otp"` or `"push"` (the latter needs `push.enabled = true`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransactionPolicy {
    /// Transfers (振込・振替).
    pub transfer: AuthMethod,
    /// Tax and fee payments through Pay-easy (税金・各種料金の払込み).
    pub payeasy: AuthMethod,
    /// Time-deposit cancellation (定期預金 解約).
    pub deposit_cancellation: AuthMethod,
    /// Instalment-savings cancellation (定期積金 解約).
    pub savings_cancellation: AuthMethod,
    /// Usage-limit change (利用限度額変更).
    pub limit_change: AuthMethod,
    /// Contract-information change (契約者情報変更).
    pub contract_change: AuthMethod,
}

impl TransactionPolicy {
    /// The authentication `kind` needs.
    pub fn method(&self, kind: TransactionKind) -> AuthMethod {
        match kind {
            TransactionKind::Transfer => self.transfer,
            TransactionKind::Payeasy => self.payeasy,
            TransactionKind::DepositCancellation => self.deposit_cancellation,
            TransactionKind::SavingsCancellation => self.savings_cancellation,
            TransactionKind::LimitChange => self.limit_change,
            TransactionKind::ContractChange => self.contract_change,
        }
    }
}

impl Default for TransactionPolicy {
    fn default() -> Self {
        Self {
            transfer: AuthMethod::Otp,
            payeasy: AuthMethod::Otp,
            deposit_cancellation: AuthMethod::Otp,
            savings_cancellation: AuthMethod::Otp,
            limit_change: AuthMethod::Otp,
            contract_change: AuthMethod::Otp,
        }
    }
}

/// `[push]`: push approval (プッシュ通知認証).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushPolicy {
    /// Push approval is offered; required before any transaction may use `"push"`.
    #[serde(deserialize_with = "found::checked")]
    pub enabled: bool,
    /// Seconds the customer has to approve (承認) or deny (拒否), 30..=600; no answer in time
    /// cancels the transaction.
    pub timeout_seconds: Ranged<30, 600>,
    /// The phone asks the customer to pick a number shown by the IB screen before approving,
    /// so an approval cannot be given blindly.
    #[serde(deserialize_with = "found::checked")]
    pub number_challenge: bool,
    /// An `https://` URL the bank receives every final state of an approval at (approved,
    /// denied, expired, cancelled), signed with HMAC-SHA256 (`Mamori-Signature`). Optional.
    /// `http://` only to a loopback host; see [`crate::webhook`] for the targets refused.
    #[serde(
        default,
        deserialize_with = "found::checked",
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_url: Option<String>,
    /// The webhook may go to a private, loopback, link-local or other non-public address (a
    /// bank reached over a private line, a developer's receiver on 127.0.0.1). Off by default,
    /// so a config cannot point Mamori at its own network (cloud metadata, internal services).
    #[serde(deserialize_with = "found::checked")]
    pub webhook_allow_private: bool,
}

impl Default for PushPolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            timeout_seconds: const { Ranged::of(120) },
            number_challenge: false,
            webhook_url: None,
            webhook_allow_private: false,
        }
    }
}

/// `[self_issue]`: tokens the bank issues to a mobile mail address (トークン発行), activated in
/// the app with service ID, user ID and activation password (利用開始パスワード).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelfIssuePolicy {
    /// The bank may issue tokens by mail (未登録 → 申請済 → 利用中).
    #[serde(deserialize_with = "found::checked")]
    pub enabled: bool,
    /// Days an issued token can be activated before the issue expires (1..=30).
    pub activation_valid_days: Ranged<1, 30>,
    /// Wrong activation passwords allowed before the issue is cancelled (1..=10).
    pub activation_max_attempts: Ranged<1, 10>,
}

impl Default for SelfIssuePolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            activation_valid_days: const { Ranged::of(7) },
            activation_max_attempts: const { Ranged::of(5) },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-field validation
// ---------------------------------------------------------------------------------------------

/// A rule involving more than one key that a policy breaks, e.g.
/// `password.min_length: must not exceed password.max_length (12), found 13`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyViolation {
    /// Key path of the offending value, e.g. `otp.resync_window`.
    pub key: String,
    /// Why it is wrong, one line.
    pub message: String,
}

impl PolicyViolation {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for PolicyViolation {}

impl TenantPolicy {
    /// The authentication a transaction of this kind needs.
    pub fn transaction_method(&self, kind: TransactionKind) -> AuthMethod {
        self.transactions.method(kind)
    }

    /// Checks the rules that involve more than one key; single values are already checked
    /// by their types. Returns every violation, not just the first.
    pub fn validate(&self) -> Result<(), Vec<PolicyViolation>> {
        let mut violations = Vec::new();
        self.check_password_lengths(&mut violations);
        self.check_otp_windows(&mut violations);
        self.check_credential_kinds(&mut violations);
        self.check_push_transactions(&mut violations);
        self.check_push_webhook(&mut violations);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    fn check_password_lengths(&self, violations: &mut Vec<PolicyViolation>) {
        let (min, max) = (self.password.min_length, self.password.max_length);
        if min.get() > max.get() {
            violations.push(PolicyViolation::new(
                "password.min_length",
                format!("must not exceed password.max_length ({max}), found {min}"),
            ));
        }
    }

    fn check_otp_windows(&self, violations: &mut Vec<PolicyViolation>) {
        // Resync searches for two consecutive codes; a search narrower than the normal
        // acceptance window could never find what a plain login already accepts.
        let (window, resync) = (self.otp.window, self.otp.resync_window);
        if resync.get() < window.get() {
            violations.push(PolicyViolation::new(
                "otp.resync_window",
                format!("must be at least otp.window ({window}), found {resync}"),
            ));
        }
    }

    fn check_credential_kinds(&self, violations: &mut Vec<PolicyViolation>) {
        let kinds = &self.otp.credential_kinds;
        if kinds.is_empty() {
            violations.push(PolicyViolation::new(
                "otp.credential_kinds",
                format!(
                    "must list at least one of {}",
                    found::quoted_list(CredentialKind::ALL, CredentialKind::as_str)
                ),
            ));
        }
        for (index, kind) in kinds.iter().enumerate() {
            if kinds[..index].contains(kind) {
                violations.push(PolicyViolation::new(
                    format!("otp.credential_kinds[{index}]"),
                    format!("{:?} is listed twice", kind.as_str()),
                ));
            }
        }
    }

    fn check_push_webhook(&self, violations: &mut Vec<PolicyViolation>) {
        if let Some(url) = &self.push.webhook_url
            && let Err(refused) = self.push.webhook_target(url)
        {
            violations.push(PolicyViolation::new(
                "push.webhook_url",
                format!("{refused}, found {url:?}"),
            ));
        }
    }

    fn check_push_transactions(&self, violations: &mut Vec<PolicyViolation>) {
        if self.push.enabled {
            return;
        }
        for &kind in TransactionKind::ALL {
            if self.transaction_method(kind) == AuthMethod::Push {
                violations.push(PolicyViolation::new(
                    format!("transactions.{}", kind.as_str()),
                    "\"push\" requires push.enabled = true",
                ));
            }
        }
    }
}

impl PushPolicy {
    /// Checks `url` as this bank's webhook target (see [`crate::webhook`]): at validation, and
    /// again at every delivery try, so a config stored before a rule tightened is held to it.
    pub fn webhook_target(&self, url: &str) -> Result<WebhookTarget, TargetRefused> {
        check_webhook_url(url, self.webhook_allow_private)
    }
}

// ---------------------------------------------------------------------------------------------
// Deserialising with messages that say what was expected and echo what was found
// ---------------------------------------------------------------------------------------------

/// Deserialisation helpers shared with [`crate::tenant_config`].
///
/// Every checked value is first read as a [`Found`] (whatever the input holds) and then
/// converted with [`FromFound`], so all messages share one shape:
/// `expected <what>, found <value>` where strings are quoted and numbers and booleans are plain.
pub(crate) mod found {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::value::MapAccessDeserializer;
    use serde::de::{
        self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };

    /// A value as it appears in the input, before it is checked against its type.
    #[derive(Clone, Debug, PartialEq)]
    pub(crate) enum Found {
        Bool(bool),
        Int(i128),
        Float(f64),
        Str(String),
        Array(Vec<Found>),
        DateTime(String),
        Table,
        Null,
    }

    /// Shown after "found": strings quoted, numbers and booleans plain.
    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::Bool(b) => write!(f, "{b}"),
                Self::Int(n) => write!(f, "{n}"),
                // Debug keeps the ".0" of 6.0 so a float is not mistaken for an integer.
                Self::Float(x) => write!(f, "{x:?}"),
                Self::Str(s) => write!(f, "{s:?}"),
                Self::Array(items) if items.contains(&Self::Table) => {
                    f.write_str("an array of tables")
                }
                Self::Array(items) => {
                    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
                    write!(f, "[{}]", items.join(", "))
                }
                Self::DateTime(text) => f.write_str(text),
                Self::Table => f.write_str("a table"),
                Self::Null => f.write_str("null"),
            }
        }
    }

    impl<'de> Deserialize<'de> for Found {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(FoundVisitor)
        }
    }

    struct FoundVisitor;

    impl<'de> Visitor<'de> for FoundVisitor {
        type Value = Found;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any value")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Found, E> {
            Ok(Found::Bool(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Found, E> {
            Ok(Found::Int(v.into()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Found, E> {
            Ok(Found::Int(v.into()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Found, E> {
            Ok(Found::Float(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Found, E> {
            Ok(Found::Str(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Found, E> {
            Ok(Found::Str(v))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Found, E> {
            Ok(Found::Null)
        }

        fn visit_none<E: de::Error>(self) -> Result<Found, E> {
            Ok(Found::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
            Found::deserialize(deserializer)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(Found::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
            // The toml crate hands a date-time to `deserialize_any` as a one-entry table under
            // this private key; show it as the date-time the operator wrote.
            const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";
            let first_key: Option<String> = map.next_key()?;
            if first_key.as_deref() == Some(TOML_DATETIME_KEY) {
                return Ok(Found::DateTime(map.next_value()?));
            }
            if first_key.is_some() {
                map.next_value::<IgnoredAny>()?;
            }
            // Drain the rest so self-describing formats (JSON) do not report leftovers
            // before our own message.
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Found::Table)
        }
    }

    /// A type that can be checked out of a [`Found`], with a message on failure.
    pub(crate) trait FromFound: Sized {
        fn from_found(found: Found) -> Result<Self, String>;
    }

    /// Deserialises any [`FromFound`] type; usable as `#[serde(deserialize_with = "...")]`.
    pub(crate) fn checked<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromFound,
    {
        let found = Found::deserialize(deserializer)?;
        T::from_found(found).map_err(de::Error::custom)
    }

    impl FromFound for bool {
        fn from_found(found: Found) -> Result<Self, String> {
            match found {
                Found::Bool(b) => Ok(b),
                other => Err(format!("expected true or false, found {other}")),
            }
        }
    }

    impl FromFound for String {
        fn from_found(found: Found) -> Result<Self, String> {
            match found {
                Found::Str(s) => Ok(s),
                other => Err(format!("expected a string, found {other}")),
            }
        }
    }

    impl FromFound for Option<String> {
        fn from_found(found: Found) -> Result<Self, String> {
            match found {
                Found::Null => Ok(None),
                other => String::from_found(other).map(Some),
            }
        }
    }

    /// Deserialises a list element by element, so a bad element's key path carries its
    /// index (`otp.credential_kinds[1]`); usable as `#[serde(deserialize_with = "...")]`.
    pub(crate) fn checked_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromFound,
    {
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }

    struct ListVisitor<T>(PhantomData<T>);

    /// Implements the visits of scalar inputs for a visitor that wants an array or a table:
    /// each one reports what it found.
    macro_rules! reject_scalars {
        ($expected:literal) => {
            reject_scalars! {
                $expected;
                visit_bool(v: bool) => Found::Bool(v);
                visit_i64(v: i64) => Found::Int(v.into());
                visit_u64(v: u64) => Found::Int(v.into());
                visit_f64(v: f64) => Found::Float(v);
                visit_str(v: &str) => Found::Str(v.to_owned());
                visit_unit() => Found::Null;
                visit_none() => Found::Null;
            }
        };
        ($expected:literal; $( $method:ident($($arg:ident: $ty:ty)?) => $found:expr; )+) => {$(
            fn $method<E: de::Error>(self $(, $arg: $ty)?) -> Result<Self::Value, E> {
                Err(E::custom(format!(concat!("expected ", $expected, ", found {}"), $found)))
            }
        )+};
    }

    impl<'de, T: FromFound> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(CheckedSeed(PhantomData))? {
                items.push(item);
            }
            Ok(items)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            let found = FoundVisitor.visit_map(map)?;
            Err(de::Error::custom(format!(
                "expected an array, found {found}"
            )))
        }

        reject_scalars!("an array");
    }

    /// Deserialises a policy section, which must be a table.
    ///
    /// Without this, serde's derived struct visitor would also accept an array and fill the
    /// fields by position, so `[[password]]` would yield a baffling message about
    /// `password[0]`. Usable as `#[serde(deserialize_with = "...")]`.
    pub(crate) fn checked_table<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        deserializer.deserialize_any(TableVisitor(PhantomData))
    }

    struct TableVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for TableVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
            let found = FoundVisitor.visit_seq(seq)?;
            Err(de::Error::custom(format!(
                "expected a table, found {found}"
            )))
        }

        reject_scalars!("a table");
    }

    /// Deserialises one checked value where serde wants a seed (list elements).
    struct CheckedSeed<T>(PhantomData<T>);

    impl<'de, T: FromFound> DeserializeSeed<'de> for CheckedSeed<T> {
        type Value = T;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
            checked(deserializer)
        }
    }

    /// Finds the value whose keyword is `text`.
    pub(crate) fn match_keyword<T: Copy>(
        text: &str,
        all: &[T],
        as_str: fn(T) -> &'static str,
        ignore_case: bool,
    ) -> Option<T> {
        all.iter().copied().find(|&value| {
            let keyword = as_str(value);
            if ignore_case {
                keyword.eq_ignore_ascii_case(text)
            } else {
                keyword == text
            }
        })
    }

    /// Checks a keyword; the message lists the allowed keywords.
    pub(crate) fn keyword_from_found<T: Copy>(
        found: Found,
        all: &[T],
        as_str: fn(T) -> &'static str,
        ignore_case: bool,
    ) -> Result<T, String> {
        if let Found::Str(text) = &found
            && let Some(value) = match_keyword(text, all, as_str, ignore_case)
        {
            return Ok(value);
        }
        Err(format!(
            "expected one of {}, found {found}",
            quoted_list(all, as_str)
        ))
    }

    /// `"a", "b", "c"`.
    pub(crate) fn quoted_list<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> String {
        let quoted: Vec<String> = all
            .iter()
            .map(|&value| format!("{:?}", as_str(value)))
            .collect();
        quoted.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(TenantPolicy::default().validate(), Ok(()));
    }

    #[test]
    fn ranged_rejects_out_of_range() {
        assert_eq!(Ranged::<6, 8>::new(9), None);
        assert_eq!(Ranged::<6, 8>::new(8).map(Ranged::get), Some(8));
        assert_eq!(
            Ranged::<6, 8>::try_from(5),
            Err("expected an integer 6..=8, found 5".to_owned())
        );
    }

    #[test]
    fn keywords_round_trip() {
        for &kind in TransactionKind::ALL {
            assert_eq!(TransactionKind::from_keyword(kind.as_str()), Some(kind));
        }
        assert_eq!(
            OtpAlgorithm::from_keyword("sha256"),
            Some(OtpAlgorithm::Sha256)
        );
        assert_eq!(RegistrationMode::from_keyword("ONE_CODE"), None);
    }

    #[test]
    fn every_transaction_kind_maps_to_its_field() {
        let mut policy = TenantPolicy::default();
        policy.push.enabled = true;
        policy.transactions.limit_change = AuthMethod::Push;
        for &kind in TransactionKind::ALL {
            let expected = if kind == TransactionKind::LimitChange {
                AuthMethod::Push
            } else {
                AuthMethod::Otp
            };
            assert_eq!(policy.transaction_method(kind), expected, "{kind}");
        }
    }

    #[test]
    fn cross_field_rules_report_every_violation() {
        let mut policy = TenantPolicy::default();
        policy.password.min_length = Ranged::of(13);
        policy.otp.window = Ranged::of(3);
        policy.otp.resync_window = Ranged::of(2);
        policy.otp.credential_kinds = vec![CredentialKind::Totp, CredentialKind::Totp];
        policy.transactions.transfer = AuthMethod::Push;
        let messages: Vec<String> = policy
            .validate()
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "password.min_length: must not exceed password.max_length (12), found 13",
                "otp.resync_window: must be at least otp.window (3), found 2",
                "otp.credential_kinds[1]: \"totp\" is listed twice",
                "transactions.transfer: \"push\" requires push.enabled = true",
            ]
        );
    }

    #[test]
    fn empty_credential_kinds_is_rejected() {
        let mut policy = TenantPolicy::default();
        policy.otp.credential_kinds.clear();
        let violations = policy.validate().unwrap_err();
        assert_eq!(
            violations[0].to_string(),
            "otp.credential_kinds: must list at least one of \"totp\", \"hotp\""
        );
    }

    #[test]
    fn a_webhook_is_checked_under_the_banks_own_allowance() {
        let mut policy = TenantPolicy::default();
        policy.push.webhook_url = Some("mailto:ops@example.jp".into());
        assert_eq!(
            policy.validate().unwrap_err()[0].to_string(),
            "push.webhook_url: must be an https:// URL with a host, found \"mailto:ops@example.jp\""
        );
        policy.push.webhook_url = Some("https://ib.example.jp/mamori/push".into());
        assert_eq!(policy.validate(), Ok(()));

        policy.push.webhook_url = Some("http://127.0.0.1:8099/hook".into());
        let refused = policy.validate().unwrap_err();
        assert_eq!(refused[0].key, "push.webhook_url");
        assert!(
            refused[0]
                .message
                .contains("names 127.0.0.1, a loopback address"),
            "{}",
            refused[0]
        );
        policy.push.webhook_allow_private = true;
        assert_eq!(policy.validate(), Ok(()));

        policy.push.webhook_url = Some("http://10.0.0.5/hook".into());
        assert_eq!(
            policy.validate().unwrap_err()[0].to_string(),
            "push.webhook_url: must use https:// (http:// only to a loopback host: 127.0.0.1, \
             [::1] or localhost), found \"http://10.0.0.5/hook\""
        );
    }
}
