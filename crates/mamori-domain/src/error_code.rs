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
    /// The request target (path and query) is longer than any Mamori route needs.
    UriTooLong,
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
    /// The token is suspended on the whole platform (`credential_suspended`): the bank cannot
    /// unlock it; only a platform operator lifts the suspension.
    PlatformOperatorRequired,
    /// The user already has an active token at this bank; stop or revoke it first.
    CredentialAlreadyRegistered,
    /// The bank's policy does not allow this kind of token (TOTP / HOTP).
    CredentialKindNotAllowed,
    /// The two codes were not two consecutive codes of this token within the resync window.
    ResyncFailed,
    /// A user with this contract number (and user ID) already exists at this bank.
    UserAlreadyExists,
    /// The Idempotency-Key was already used with a different request (another method, path
    /// or body). Nothing was done.
    IdempotencyKeyReused,
    /// A request with this Idempotency-Key is still being answered; retry shortly to get its
    /// answer. Nothing was done.
    IdempotencyKeyInUse,
    /// The contract number, user ID or password is wrong, or the user is locked. The same
    /// answer for each, so it cannot be used to find users or locks.
    LoginFailed,
    /// The login ID is unknown, expired (5 minutes), already used, or not at this step.
    LoginExpired,
    /// The new password breaks the bank's password rules; `violations` lists each one.
    PasswordRejected,
    /// This bank keeps passwords itself; only the OTP operations are available.
    PasswordNotManaged,
    /// This bank does not issue tokens by mail (`self_issue.enabled = false`).
    SelfIssueDisabled,
    /// The activation failed: the service ID, user ID or activation password is wrong, or the
    /// issued token expired, was already activated, was replaced by a newer issue, or is locked
    /// after too many wrong passwords. One answer for all, without an attempt count, so it tells
    /// a stranger nothing; the bank's audit trail records which.
    ActivationFailed,
    /// Too many wrong activation passwords: the issued token is invalidated; the bank must issue
    /// a new one. No longer answered: activateToken says `activation_failed` instead.
    ActivationLocked,
    /// The issued token expired, was already activated, or was replaced by a newer issue. No
    /// longer answered: activateToken says `activation_failed` instead.
    ActivationExpired,
    /// The bank issued a token but the customer's app has not activated it yet.
    TokenNotActivated,
    /// This bank does not use push approval (`push.enabled = false`).
    PushDisabled,
    /// The user's token cannot receive push approvals: it has no device key (not a Mamori token), or no token is in use.
    PushUnavailable,
    /// The approval's time ran out; the transaction was cancelled. Nothing was changed.
    PushApprovalExpired,
    /// The approval was already answered or replaced by a newer one. Nothing was changed.
    PushAlreadyAnswered,
    /// The device's signature is missing, malformed, not by this credential's device key, or
    /// its time is more than 5 minutes off; on the token routes also an unknown credential or
    /// approval, or a credential without a device key (one answer for all). Nothing was changed.
    DeviceSignatureInvalid,
    /// The answer was signed over another transaction than this approval's. Nothing was changed.
    PushTransactionMismatch,
    /// The customer picked another number than the one the bank's screen shows; the approval is denied.
    PushNumberMismatch,
    /// The operator ID, password or security code is wrong, or the operator is locked. The same answer for each.
    AdminLoginFailed,
    /// No admin session: not signed in, signed out, or 30 minutes without use.
    AdminSessionRequired,
    /// The operator must first replace the one-time password and enroll an authenticator app.
    AdminSetupRequired,
    /// The operator's role does not allow this.
    Forbidden,
    /// A state-changing admin request without this session's anti-forgery token (`X-CSRF-Token`).
    CsrfTokenInvalid,
    /// The bank's use of Mamori is suspended by the platform operator; its API keys are refused.
    BankSuspended,
    /// The bank is declared by a tenant config file: change the file (a restart applies it), not the console.
    BankFileManaged,
    /// A bank with this ID exists already.
    BankAlreadyExists,
    /// An operator with this login name exists already.
    OperatorAlreadyExists,
    /// The bank's settings break a rule; `violations` lists each one with its key.
    PolicyInvalid,
    /// A token seed file cannot be imported whole; `errors` lists each fault with its line.
    ImportInvalid,
}

impl ErrorCode {
    /// Every code, in documentation order.
    pub const ALL: &'static [ErrorCode] = &[
        Self::BadRequest,
        Self::ValidationFailed,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::UriTooLong,
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
        Self::PlatformOperatorRequired,
        Self::CredentialAlreadyRegistered,
        Self::CredentialKindNotAllowed,
        Self::ResyncFailed,
        Self::UserAlreadyExists,
        Self::IdempotencyKeyReused,
        Self::IdempotencyKeyInUse,
        Self::LoginFailed,
        Self::LoginExpired,
        Self::PasswordRejected,
        Self::PasswordNotManaged,
        Self::SelfIssueDisabled,
        Self::ActivationFailed,
        Self::ActivationLocked,
        Self::ActivationExpired,
        Self::TokenNotActivated,
        Self::PushDisabled,
        Self::PushUnavailable,
        Self::PushApprovalExpired,
        Self::PushAlreadyAnswered,
        Self::DeviceSignatureInvalid,
        Self::PushTransactionMismatch,
        Self::PushNumberMismatch,
        Self::AdminLoginFailed,
        Self::AdminSessionRequired,
        Self::AdminSetupRequired,
        Self::Forbidden,
        Self::CsrfTokenInvalid,
        Self::BankSuspended,
        Self::BankFileManaged,
        Self::BankAlreadyExists,
        Self::OperatorAlreadyExists,
        Self::PolicyInvalid,
        Self::ImportInvalid,
    ];

    /// The code as it appears in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::ValidationFailed => "validation_failed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UriTooLong => "uri_too_long",
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
            Self::PlatformOperatorRequired => "platform_operator_required",
            Self::CredentialAlreadyRegistered => "credential_already_registered",
            Self::CredentialKindNotAllowed => "credential_kind_not_allowed",
            Self::ResyncFailed => "resync_failed",
            Self::UserAlreadyExists => "user_already_exists",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInUse => "idempotency_key_in_use",
            Self::LoginFailed => "login_failed",
            Self::LoginExpired => "login_expired",
            Self::PasswordRejected => "password_rejected",
            Self::PasswordNotManaged => "password_not_managed",
            Self::SelfIssueDisabled => "self_issue_disabled",
            Self::ActivationFailed => "activation_failed",
            Self::ActivationLocked => "activation_locked",
            Self::ActivationExpired => "activation_expired",
            Self::TokenNotActivated => "token_not_activated",
            Self::PushDisabled => "push_disabled",
            Self::PushUnavailable => "push_unavailable",
            Self::PushApprovalExpired => "push_approval_expired",
            Self::PushAlreadyAnswered => "push_already_answered",
            Self::DeviceSignatureInvalid => "device_signature_invalid",
            Self::PushTransactionMismatch => "push_transaction_mismatch",
            Self::PushNumberMismatch => "push_number_mismatch",
            Self::AdminLoginFailed => "admin_login_failed",
            Self::AdminSessionRequired => "admin_session_required",
            Self::AdminSetupRequired => "admin_setup_required",
            Self::Forbidden => "forbidden",
            Self::CsrfTokenInvalid => "csrf_token_invalid",
            Self::BankSuspended => "bank_suspended",
            Self::BankFileManaged => "bank_file_managed",
            Self::BankAlreadyExists => "bank_already_exists",
            Self::OperatorAlreadyExists => "operator_already_exists",
            Self::PolicyInvalid => "policy_invalid",
            Self::ImportInvalid => "import_invalid",
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
            Self::UriTooLong => "URI too long",
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
            Self::PlatformOperatorRequired => "Platform operator required",
            Self::CredentialAlreadyRegistered => "Token already registered",
            Self::CredentialKindNotAllowed => "Token kind not allowed",
            Self::ResyncFailed => "Sync drift correction failed",
            Self::UserAlreadyExists => "User already exists",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::IdempotencyKeyInUse => "Idempotency key in use",
            Self::LoginFailed => "Login failed",
            Self::LoginExpired => "Login expired",
            Self::PasswordRejected => "Password rejected",
            Self::PasswordNotManaged => "Passwords not managed by Mamori",
            Self::SelfIssueDisabled => "Self-issued tokens disabled",
            Self::ActivationFailed => "Activation failed",
            Self::ActivationLocked => "Activation locked",
            Self::ActivationExpired => "Activation expired",
            Self::TokenNotActivated => "Token not activated",
            Self::PushDisabled => "Push approval disabled",
            Self::PushUnavailable => "Push approval unavailable",
            Self::PushApprovalExpired => "Push approval expired",
            Self::PushAlreadyAnswered => "Push approval already answered",
            Self::DeviceSignatureInvalid => "Invalid device signature",
            Self::PushTransactionMismatch => "Transaction mismatch",
            Self::PushNumberMismatch => "Wrong number",
            Self::AdminLoginFailed => "Admin login failed",
            Self::AdminSessionRequired => "Sign-in required",
            Self::AdminSetupRequired => "Setup required",
            Self::Forbidden => "Forbidden",
            Self::CsrfTokenInvalid => "Anti-forgery token invalid",
            Self::BankSuspended => "Bank suspended",
            Self::BankFileManaged => "Bank managed by file",
            Self::BankAlreadyExists => "Bank already exists",
            Self::OperatorAlreadyExists => "Operator already exists",
            Self::PolicyInvalid => "Policy invalid",
            Self::ImportInvalid => "Import invalid",
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
            Self::UriTooLong => "The request's path and query are too long.",
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
            Self::PlatformOperatorRequired => {
                "This token is suspended on the whole platform after too many incorrect codes. A bank cannot unlock it; please ask the platform operator to lift the suspension."
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
            Self::IdempotencyKeyInUse => {
                "A request with this Idempotency-Key is still in progress. Retry shortly."
            }
            Self::LoginFailed => {
                "The contract number, user ID or password is incorrect, or the user is locked."
            }
            Self::LoginExpired => "The login has expired or was already used. Please log in again.",
            Self::PasswordRejected => "The new password does not meet the password rules.",
            Self::PasswordNotManaged => "This bank does not manage login passwords with Mamori.",
            Self::SelfIssueDisabled => "This bank does not issue tokens by mail.",
            Self::ActivationFailed => {
                "The token could not be set up: the service ID, user ID or activation password is incorrect, or this token issue can no longer be used (it expired, was already set up, was replaced by a newer mail, or was locked after too many incorrect passwords). Check the details in the mail; if it still fails, please ask your bank to issue the token again."
            }
            Self::ActivationLocked => {
                "Too many incorrect activation passwords. Please ask your bank to issue a new token."
            }
            Self::ActivationExpired => {
                "This token issue has expired or has already been used. Please ask your bank to issue a new token."
            }
            Self::TokenNotActivated => {
                "The issued token has not been set up in the app yet. Please complete the initial setup first."
            }
            Self::PushDisabled => "This bank does not use push approval.",
            Self::PushUnavailable => "The registered token cannot receive push approvals.",
            Self::PushApprovalExpired => {
                "The approval request has expired and the transaction was cancelled."
            }
            Self::PushAlreadyAnswered => {
                "This approval request has already been answered or cancelled."
            }
            Self::DeviceSignatureInvalid => {
                "The device signature could not be verified: this token is not registered with this device's key, or the device's clock is more than 5 minutes off."
            }
            Self::PushTransactionMismatch => {
                "The answer does not match the transaction to approve."
            }
            Self::PushNumberMismatch => {
                "The number does not match the one shown on the bank's screen. The transaction was cancelled."
            }
            Self::AdminLoginFailed => {
                "The operator ID, password or security code is wrong, or the account is locked."
            }
            Self::AdminSessionRequired => {
                "Please sign in to the admin console (the session ended, or expired after 30 minutes without use)."
            }
            Self::AdminSetupRequired => {
                "Change the one-time password and register the authenticator app first."
            }
            Self::Forbidden => "Your role does not allow this operation.",
            Self::CsrfTokenInvalid => {
                "The request could not be verified as coming from the console. Please reload the page."
            }
            Self::BankSuspended => {
                "This bank's use of Mamori is suspended. Please contact the platform operator."
            }
            Self::BankFileManaged => {
                "This bank's settings are managed by its tenant config file. Put the edited settings into the file instead."
            }
            Self::BankAlreadyExists => "A bank with this ID already exists.",
            Self::OperatorAlreadyExists => "An operator with this login name already exists.",
            Self::PolicyInvalid => "The settings contain errors. Please check each item.",
            Self::ImportInvalid => {
                "The file cannot be imported; nothing was imported. Please correct each listed line."
            }
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
            Self::UriTooLong => "リクエストのパスとクエリが長すぎます。",
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
            Self::PlatformOperatorRequired => {
                "このトークンは誤ったワンタイムパスワードが多すぎたため、全金融機関で一時停止されています。金融機関ではロック解除できません。プラットフォーム運用担当者に停止の解除を依頼してください。"
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
            Self::IdempotencyKeyInUse => {
                "このIdempotency-Keyのリクエストを処理中です。しばらくしてから再試行してください。"
            }
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
            Self::SelfIssueDisabled => {
                "当金融機関ではメールによるトークン発行をご利用いただけません。"
            }
            Self::ActivationFailed => {
                "初期設定できませんでした。サービスID・ユーザID・利用開始パスワードのいずれかが正しくないか、このトークン発行はもう利用できません（有効期限切れ、初期設定済み、新しいメールによる再発行、または利用開始パスワードの誤りが規定回数に達したため）。メールの内容をご確認のうえ、解決しない場合はお取引店で再発行の手続きをしてください。"
            }
            Self::ActivationLocked => {
                "利用開始パスワードを規定回数以上誤って入力したため、発行されたトークンは無効になりました。お取引店で再発行の手続きをしてください。"
            }
            Self::ActivationExpired => {
                "このトークン発行は有効期限切れか、すでに利用開始済みです。お取引店で再発行の手続きをしてください。"
            }
            Self::TokenNotActivated => {
                "発行されたトークンの初期設定がまだ完了していません。先にアプリの初期設定を行ってください。"
            }
            Self::PushDisabled => "当金融機関ではプッシュ通知認証をご利用いただけません。",
            Self::PushUnavailable => "登録されているトークンはプッシュ通知認証に対応していません。",
            Self::PushApprovalExpired => "承認の有効期限が切れたため、取引は取り消されました。",
            Self::PushAlreadyAnswered => "この承認依頼はすでに回答済みか、取り消されています。",
            Self::DeviceSignatureInvalid => {
                "端末の署名を確認できませんでした。このトークンがこの端末の鍵で登録されていないか、端末の時刻が5分以上ずれています。"
            }
            Self::PushTransactionMismatch => "回答が承認対象の取引内容と一致しません。",
            Self::PushNumberMismatch => {
                "選択された番号がインターネットバンキング画面の番号と一致しないため、取引は取り消されました。"
            }
            Self::AdminLoginFailed => {
                "運用担当者ID、パスワード、セキュリティコードのいずれかが正しくないか、アカウントがロックされています。"
            }
            Self::AdminSessionRequired => {
                "管理コンソールにサインインしてください（セッションが終了したか、30分間操作がなかったため期限切れになりました）。"
            }
            Self::AdminSetupRequired => {
                "先に初回パスワードの変更と認証アプリの登録を行ってください。"
            }
            Self::Forbidden => "この操作を行う権限がありません。",
            Self::CsrfTokenInvalid => {
                "リクエストが管理コンソールからのものであることを確認できませんでした。画面を再読み込みしてください。"
            }
            Self::BankSuspended => {
                "この金融機関のMamoriのご利用は停止されています。プラットフォーム運用担当者にお問い合わせください。"
            }
            Self::BankFileManaged => {
                "この金融機関の設定はテナント設定ファイルで管理されています。編集した設定をファイルに反映してください。"
            }
            Self::BankAlreadyExists => "このIDの金融機関はすでに存在します。",
            Self::OperatorAlreadyExists => "このログイン名の運用担当者はすでに存在します。",
            Self::PolicyInvalid => "設定に誤りがあります。各項目をご確認ください。",
            Self::ImportInvalid => {
                "ファイルを取り込めません（1件も取り込んでいません）。示した各行を修正してください。"
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
