//! The stable error codes of Mamori's API.
//!
//! Banks' IB systems branch on these strings, so they are part of the contract: a code is never
//! renamed or reused for another meaning; new ones are only added. Each code carries a short
//! English title and a localised detail (ja/en) for the RFC 9457 problem body.

/// A stable, machine-readable error code (`snake_case` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request body or parameters could not be read: malformed JSON, a wrong type, a
    /// missing or duplicated field.
    BadRequest,
    /// A field was well-formed JSON but its value breaks a rule (length, format, range).
    ValidationFailed,
    /// The request body is not `application/json`.
    UnsupportedMediaType,
    /// The request body is larger than the server accepts.
    PayloadTooLarge,
    /// The API key is missing, unknown or revoked.
    Unauthorized,
    /// No such resource for this caller. Another bank's resources answer the same.
    NotFound,
    /// The HTTP method is not allowed on this path.
    MethodNotAllowed,
    /// Too many requests from this client; retry after the indicated time.
    RateLimited,
    /// The service cannot reach its database right now; nothing was changed or counted.
    /// Retry after the indicated time.
    ServiceUnavailable,
    /// An unexpected error; nothing secret is disclosed. Quote the request ID to support.
    InternalError,
    /// The code is not exactly the policy's number of digits (after removing spaces and
    /// converting full-width digits). Not counted as a failure.
    OtpMalformed,
    /// The code is wrong or expired. Counted as a failure.
    OtpInvalid,
    /// The code was already used (here or at another bank); wait for the next code.
    /// Not counted as a failure.
    OtpAlreadyUsed,
    /// Too many consecutive wrong codes: the token is locked at this bank until the bank
    /// unlocks it.
    OtpLocked,
    /// The user has no registered token at this bank.
    OtpNotRegistered,
    /// The credential ID is not 4 letters and 8 digits, or its check digit is wrong.
    CredentialIdMalformed,
    /// No token with this credential ID exists.
    CredentialUnknown,
    /// The token is suspended on the whole platform after too many failed codes across all
    /// banks; only an operator can reinstate it.
    CredentialSuspended,
    /// The user already has an active token at this bank; stop or revoke it first.
    CredentialAlreadyRegistered,
    /// The bank's policy does not allow this kind of token (TOTP / HOTP).
    CredentialKindNotAllowed,
    /// The two codes were not two consecutive codes of this token within the resync window.
    ResyncFailed,
    /// A user with this contract number (and user ID) already exists at this bank.
    UserAlreadyExists,
    /// The Idempotency-Key was already used with a different request.
    IdempotencyKeyReused,
    /// The contract number, user ID or password is wrong, or the user is locked. The same
    /// answer for each, so it cannot be used to find users or locks.
    LoginFailed,
    /// The login ID is unknown, expired (5 minutes), already used, or not at this step.
    LoginExpired,
    /// The new password breaks the bank's password rules; `violations` lists each one.
    PasswordRejected,
    /// This bank keeps passwords itself; only the OTP operations are available.
    PasswordNotManaged,
}

impl ErrorCode {
    /// Every code, in documentation order.
    pub const ALL: &'static [ErrorCode] = &[
        Self::BadRequest,
        Self::ValidationFailed,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::Unauthorized,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::RateLimited,
        Self::ServiceUnavailable,
        Self::InternalError,
        Self::OtpMalformed,
        Self::OtpInvalid,
        Self::OtpAlreadyUsed,
        Self::OtpLocked,
        Self::OtpNotRegistered,
        Self::CredentialIdMalformed,
        Self::CredentialUnknown,
        Self::CredentialSuspended,
        Self::CredentialAlreadyRegistered,
        Self::CredentialKindNotAllowed,
        Self::ResyncFailed,
        Self::UserAlreadyExists,
        Self::IdempotencyKeyReused,
        Self::LoginFailed,
        Self::LoginExpired,
        Self::PasswordRejected,
        Self::PasswordNotManaged,
    ];

    /// The code as it appears in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::ValidationFailed => "validation_failed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RateLimited => "rate_limited",
            Self::ServiceUnavailable => "service_unavailable",
            Self::InternalError => "internal_error",
            Self::OtpMalformed => "otp_malformed",
            Self::OtpInvalid => "otp_invalid",
            Self::OtpAlreadyUsed => "otp_already_used",
            Self::OtpLocked => "otp_locked",
            Self::OtpNotRegistered => "otp_not_registered",
            Self::CredentialIdMalformed => "credential_id_malformed",
            Self::CredentialUnknown => "credential_unknown",
            Self::CredentialSuspended => "credential_suspended",
            Self::CredentialAlreadyRegistered => "credential_already_registered",
            Self::CredentialKindNotAllowed => "credential_kind_not_allowed",
            Self::ResyncFailed => "resync_failed",
            Self::UserAlreadyExists => "user_already_exists",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::LoginFailed => "login_failed",
            Self::LoginExpired => "login_expired",
            Self::PasswordRejected => "password_rejected",
            Self::PasswordNotManaged => "password_not_managed",
        }
    }

    /// Looks a code up by its API string.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|code| code.as_str() == s)
    }

    /// A short English title (RFC 9457 `title`), the same for every occurrence.
    pub const fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad request",
            Self::ValidationFailed => "Validation failed",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Payload too large",
            Self::Unauthorized => "Unauthorized",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::RateLimited => "Too many requests",
            Self::ServiceUnavailable => "Service unavailable",
            Self::InternalError => "Internal error",
            Self::OtpMalformed => "Malformed security code",
            Self::OtpInvalid => "Invalid security code",
            Self::OtpAlreadyUsed => "Security code already used",
            Self::OtpLocked => "Token locked",
            Self::OtpNotRegistered => "No token registered",
            Self::CredentialIdMalformed => "Malformed credential ID",
            Self::CredentialUnknown => "Unknown credential",
            Self::CredentialSuspended => "Credential suspended",
            Self::CredentialAlreadyRegistered => "Token already registered",
            Self::CredentialKindNotAllowed => "Token kind not allowed",
            Self::ResyncFailed => "Sync drift correction failed",
            Self::UserAlreadyExists => "User already exists",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::LoginFailed => "Login failed",
            Self::LoginExpired => "Login expired",
            Self::PasswordRejected => "Password rejected",
            Self::PasswordNotManaged => "Passwords not managed by Mamori",
        }
    }

    /// The default human-readable explanation (RFC 9457 `detail`) in the given language.
    pub const fn detail(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Ja => self.detail_ja(),
            Lang::En => self.detail_en(),
        }
    }

    const fn detail_en(self) -> &'static str {
        match self {
            Self::BadRequest => {
                "The request could not be read. Check the JSON body and parameters."
            }
            Self::ValidationFailed => "A field has a value that is not allowed.",
            Self::UnsupportedMediaType => "Send the request body as application/json.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::Unauthorized => "A valid API key is required.",
            Self::NotFound => "The requested resource does not exist.",
            Self::MethodNotAllowed => "This method is not allowed on this path.",
            Self::RateLimited => "Too many requests. Please retry later.",
            Self::ServiceUnavailable => {
                "The service is temporarily unavailable. Nothing was changed; please retry."
            }
            Self::InternalError => {
                "An unexpected error occurred. Please contact support with the request ID."
            }
            Self::OtpMalformed => "Enter the security code shown by your token, digits only.",
            Self::OtpInvalid => "The security code is incorrect or has expired.",
            Self::OtpAlreadyUsed => {
                "This security code has already been used. Please wait for the next code."
            }
            Self::OtpLocked => {
                "The token is locked after too many incorrect codes. Please contact your bank."
            }
            Self::OtpNotRegistered => "No token is registered for this user.",
            Self::CredentialIdMalformed => {
                "The credential ID must be 4 letters and 8 digits; please check it for typos."
            }
            Self::CredentialUnknown => "No token with this credential ID exists.",
            Self::CredentialSuspended => {
                "This token has been suspended for security reasons. Please contact your bank."
            }
            Self::CredentialAlreadyRegistered => {
                "A token is already registered for this user. Stop or revoke it first."
            }
            Self::CredentialKindNotAllowed => "This kind of token cannot be used at this bank.",
            Self::ResyncFailed => {
                "Sync drift correction failed. Enter two consecutive codes from your token."
            }
            Self::UserAlreadyExists => "A user with this contract number already exists.",
            Self::IdempotencyKeyReused => {
                "This Idempotency-Key was already used for a different request."
            }
            Self::LoginFailed => {
                "The contract number, user ID or password is incorrect, or the user is locked."
            }
            Self::LoginExpired => "The login has expired or was already used. Please log in again.",
            Self::PasswordRejected => "The new password does not meet the password rules.",
            Self::PasswordNotManaged => "This bank does not manage login passwords with Mamori.",
        }
    }

    const fn detail_ja(self) -> &'static str {
        match self {
            Self::BadRequest => {
                "リクエストを読み取れませんでした。JSON本文とパラメータをご確認ください。"
            }
            Self::ValidationFailed => "入力値が正しくありません。",
            Self::UnsupportedMediaType => "リクエスト本文は application/json で送信してください。",
            Self::PayloadTooLarge => "リクエスト本文が大きすぎます。",
            Self::Unauthorized => "有効なAPIキーが必要です。",
            Self::NotFound => "指定されたリソースは存在しません。",
            Self::MethodNotAllowed => "このパスではこのメソッドは使用できません。",
            Self::RateLimited => "リクエストが多すぎます。しばらくしてから再度お試しください。",
            Self::ServiceUnavailable => {
                "ただいまサービスをご利用いただけません。処理は行われていません。再度お試しください。"
            }
            Self::InternalError => {
                "予期しないエラーが発生しました。リクエストIDを添えてサポートまでご連絡ください。"
            }
            Self::OtpMalformed => {
                "トークンに表示されたセキュリティコードを数字のみで入力してください。"
            }
            Self::OtpInvalid => "ワンタイムパスワードが正しくないか、有効期限が切れています。",
            Self::OtpAlreadyUsed => {
                "このワンタイムパスワードは使用済みです。次のワンタイムパスワードが表示されるまでお待ちください。"
            }
            Self::OtpLocked => {
                "ワンタイムパスワードを連続して誤入力したため、ロックされています。お取引店までご連絡ください。"
            }
            Self::OtpNotRegistered => "ワンタイムパスワードの利用登録がされていません。",
            Self::CredentialIdMalformed => {
                "クレデンシャルID（トークンID）は英字4文字と数字8桁です。入力内容をご確認ください。"
            }
            Self::CredentialUnknown => "このクレデンシャルIDのトークンは存在しません。",
            Self::CredentialSuspended => {
                "セキュリティ上の理由によりこのトークンは利用停止されています。お取引店までご連絡ください。"
            }
            Self::CredentialAlreadyRegistered => {
                "すでにトークンが登録されています。利用停止または失効の後に登録してください。"
            }
            Self::CredentialKindNotAllowed => {
                "この種類のトークンは当金融機関ではご利用いただけません。"
            }
            Self::ResyncFailed => {
                "同期ズレ補正に失敗しました。連続して表示される2つのワンタイムパスワードを入力してください。"
            }
            Self::UserAlreadyExists => "この契約者番号の利用者はすでに登録されています。",
            Self::IdempotencyKeyReused => "このIdempotency-Keyは別のリクエストで使用済みです。",
            Self::LoginFailed => {
                "契約者番号・利用者ID・ログインパスワードのいずれかが正しくないか、ご利用いただけない状態です。"
            }
            Self::LoginExpired => {
                "ログインの有効期限が切れたか、すでに使用されています。再度ログインしてください。"
            }
            Self::PasswordRejected => "新しいパスワードがパスワードの条件を満たしていません。",
            Self::PasswordNotManaged => {
                "当金融機関ではログインパスワードをMamoriで管理していません。"
            }
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The languages Mamori's messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Japanese, the default for Japanese banks' customers.
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// Chooses a language from an HTTP `Accept-Language` header value by RFC 9110 quality
    /// weights; Japanese when the header is absent or names neither language.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Self::default();
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("ja") => Lang::Ja,
                Some("en") => Lang::En,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or_else(Self::default, |(_, lang)| lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert_eq!(ErrorCode::parse(s), Some(*code));
            assert!(!code.detail(Lang::Ja).is_empty() && !code.detail(Lang::En).is_empty());
        }
    }

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(Lang::from_accept_language(None), Lang::Ja);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("ja-JP")), Lang::Ja);
        assert_eq!(
            Lang::from_accept_language(Some("fr, en;q=0.5, ja;q=0.8")),
            Lang::Ja
        );
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Ja);
        assert_eq!(Lang::from_accept_language(Some("ja;q=0, en")), Lang::En);
    }
}
