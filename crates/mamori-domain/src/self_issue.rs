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

use chrono::{DateTime, FixedOffset, Offset, Utc};

/// The state of a token issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
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

crate::stored::stored_as_text!(IssueState, "issue state", IssueState::parse);

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

/// The facts the activation mail (トークン発行のご案内) names.
#[derive(Debug, Clone, Copy)]
pub struct ActivationMailFacts<'a> {
    /// The bank's name in Japanese.
    pub bank_name_ja: &'a str,
    /// The bank's name in English.
    pub bank_name_en: &'a str,
    /// サービスID: the bank's tenant ID.
    pub service_id: &'a str,
    /// ユーザID: the issue's random activation user ID.
    pub user_id: &'a str,
    /// Until when the token can be set up.
    pub expires_at: DateTime<Utc>,
    /// Mamori's public base URL the app talks to.
    pub public_url: &'a str,
}

/// A mail's subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailText {
    /// The subject line.
    pub subject: String,
    /// The body (plain text, UTF-8).
    pub body: String,
}

/// Japan Standard Time, in which the customer reads the expiry.
fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or(Utc.fix())
}

/// The activation mail, Japanese then English. It tells the customer what to type into the app
/// and never contains the activation password: whoever reads the mailbox still needs what the
/// customer chose at the bank.
pub fn activation_mail(facts: &ActivationMailFacts<'_>) -> MailText {
    let ActivationMailFacts {
        bank_name_ja,
        bank_name_en,
        service_id,
        user_id,
        expires_at,
        public_url,
    } = *facts;
    let local = expires_at.with_timezone(&jst());
    let until_ja = local.format("%Y年%m月%d日 %H:%M（日本時間）");
    let until_en = local.format("%Y-%m-%d %H:%M JST");
    let until_utc = expires_at.format("%Y-%m-%dT%H:%M:%SZ");
    let command = format!(
        "mamori token activate --server {public_url} --service-id {service_id} --user-id {user_id}"
    );
    let subject = format!(
        "【{bank_name_ja}】ワンタイムパスワード トークン発行のご案内 / {bank_name_en}: your one-time password token"
    );
    let lines = [
        format!("{bank_name_ja}をご利用いただきありがとうございます。"),
        "ワンタイムパスワードのトークン発行を受け付けました。".to_owned(),
        String::new(),
        "トークンアプリの初期設定で、次の内容を入力してください。".to_owned(),
        format!("  サービスID: {service_id}"),
        format!("  ユーザID:   {user_id}"),
        "  利用開始パスワード: トークン発行時にお客様が決めたパスワード（このメールには記載していません）"
            .to_owned(),
        String::new(),
        "初期設定の手順:".to_owned(),
        format!("  {command}"),
        "  （アプリが利用開始パスワードをたずねます）".to_owned(),
        String::new(),
        format!("初期設定の有効期限: {until_ja}（UTC {until_utc}）"),
        "初期設定の後、インターネットバンキングにログインし『ワンタイムパスワード利用開始』を行ってください。"
            .to_owned(),
        format!("お心当たりのない場合は、このメールを破棄し、{bank_name_ja}までご連絡ください。"),
        String::new(),
        "-".repeat(64),
        String::new(),
        format!("Thank you for using {bank_name_en}."),
        "We have issued a one-time password token for you.".to_owned(),
        String::new(),
        "Set up the token app with:".to_owned(),
        format!("  Service ID: {service_id}"),
        format!("  User ID:    {user_id}"),
        "  Activation password: the password you chose at the bank (not included in this mail)"
            .to_owned(),
        String::new(),
        "To set up:".to_owned(),
        format!("  {command}"),
        "  (the app asks for the activation password)".to_owned(),
        String::new(),
        format!("Set it up by {until_en} ({until_utc} UTC)."),
        "Then log in to internet banking and start OTP use.".to_owned(),
        format!("If you did not ask for this, please delete this mail and contact {bank_name_en}."),
    ];
    let mut body = lines.join("\n");
    body.push('\n');
    MailText { subject, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_activation_mail_names_what_the_app_needs_and_no_password() {
        let expires_at = DateTime::from_timestamp(1_795_944_600, 0).expect("time");
        let mail = activation_mail(&ActivationMailFacts {
            bank_name_ja: "きたしん",
            bank_name_en: "Kitashin",
            service_id: "kitashin",
            user_id: "0123456789",
            expires_at,
            public_url: "https://otp.example.jp",
        });
        assert!(mail.subject.starts_with("【きたしん】"), "{}", mail.subject);
        assert!(mail.subject.contains("Kitashin"), "{}", mail.subject);
        for needle in [
            "サービスID: kitashin",
            "ユーザID:   0123456789",
            "User ID:    0123456789",
            "mamori token activate --server https://otp.example.jp --service-id kitashin --user-id 0123456789",
            // 2026-11-29T09:30Z is 18:30 in Japan.
            "2026年11月29日 18:30（日本時間）",
            "2026-11-29 18:30 JST",
            "2026-11-29T09:30:00Z",
        ] {
            assert!(
                mail.body.contains(needle),
                "{needle} missing:\n{}",
                mail.body
            );
        }
        let ja = mail.body.find("サービスID").expect("ja");
        let en = mail.body.find("Service ID").expect("en");
        assert!(ja < en, "Japanese first");
    }

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
