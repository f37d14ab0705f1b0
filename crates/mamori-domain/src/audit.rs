//! The audit trail's vocabulary: what was done ([`Operation`], named like the API's
//! operationIds) and how it ended ([`AuditOutcome`]).

use std::fmt;

/// Something Mamori does that goes into an audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum Operation {
    /// A bank created a contract user.
    CreateUser,
    /// 利用開始登録: a token registered to a user.
    RegisterCredential,
    /// A code checked at login.
    VerifyOtp,
    /// 同期ズレ補正 with two consecutive codes.
    ResyncCredential,
    /// 利用停止 by the customer with a code.
    StopCredential,
    /// 機種変更: the old token replaced by a new one.
    ChangeDevice,
    /// 失効 by the bank.
    RevokeCredential,
    /// ロック解除 of a token by the bank.
    UnlockCredential,
    /// The password step of a login.
    StartLogin,
    /// The OTP step of a login.
    CompleteLogin,
    /// A login password changed.
    ChangePassword,
    /// A temporary password set by the support desk.
    ResetPassword,
    /// A locked login password unlocked by the support desk.
    UnlockUser,
    /// A locked login password unlocked when the bank's lock time ran out.
    AutoUnlockUser,
    /// 取引認証: a code checked for a transaction.
    VerifyTransactionOtp,
    /// A transaction sent to the phone for approval.
    CreatePushApproval,
    /// The phone approved or denied a transaction.
    AnswerPushApproval,
    /// No answer came in time; the transaction is cancelled.
    PushApprovalExpired,
    /// Several approvals in a row went unapproved.
    PushBombingSuspected,
    /// トークン発行: a token issued to a mail address.
    IssueToken,
    /// The app activated an issued token.
    ActivateToken,
    /// 利用開始 with the first code of an issued token.
    StartOtpUse,
    /// 利用解除 by the bank.
    ReleaseOtpUse,
    /// A new soft token provisioned.
    ProvisionCredential,
    /// A token imported by an operator (e.g. a hardware token).
    ImportCredential,
    /// A token listed the banks it is registered at.
    ListCredentialBanks,
    /// A platform operator lifted a token's platform-wide suspension.
    LiftCredentialSuspension,
    /// An operator signed in to the admin console.
    AdminSignIn,
    /// An operator signed out.
    AdminSignOut,
    /// A platform admin created an operator.
    OperatorCreated,
    /// An operator changed their password.
    OperatorPasswordChanged,
    /// An operator enrolled their authenticator app.
    OperatorTotpEnrolled,
    /// A platform admin unlocked an operator.
    OperatorUnlocked,
    /// A platform admin created a bank in the console.
    BankCreated,
    /// A platform admin changed a console-managed bank's policy.
    BankPolicyChanged,
    /// A platform admin suspended a bank's use of Mamori.
    BankSuspended,
    /// A platform admin resumed a bank's use of Mamori.
    BankResumed,
    /// An API key was created for the bank.
    ApiKeyCreated,
    /// One of the bank's API keys was revoked.
    ApiKeyRevoked,
    /// An operator cancelled a pending push approval.
    CancelPushApproval,
    /// An operator sent an activation mail again.
    ResendActivationMail,
    /// The sealer re-linked a chain written before the trail was keyed, with the key.
    KeyAuditChain,
    /// The sealer refused a waiting entry whose MAC did not check: written by someone
    /// without the key, e.g. straight into the database.
    RefuseAuditEntry,
    /// An operator gave the bindings, device keys and API keys written before they carried a
    /// MAC their MAC, once, at the upgrade (`mamori keys mac-accounts`).
    MacAccountRows,
    /// Password hashes made before the pepper were wrapped with it (`mamori passwords pepper`).
    WrapPasswordHashes,
}

impl Operation {
    /// Every operation.
    pub const ALL: &'static [Operation] = &[
        Self::CreateUser,
        Self::RegisterCredential,
        Self::VerifyOtp,
        Self::ResyncCredential,
        Self::StopCredential,
        Self::ChangeDevice,
        Self::RevokeCredential,
        Self::UnlockCredential,
        Self::StartLogin,
        Self::CompleteLogin,
        Self::ChangePassword,
        Self::ResetPassword,
        Self::UnlockUser,
        Self::AutoUnlockUser,
        Self::VerifyTransactionOtp,
        Self::CreatePushApproval,
        Self::AnswerPushApproval,
        Self::PushApprovalExpired,
        Self::PushBombingSuspected,
        Self::IssueToken,
        Self::ActivateToken,
        Self::StartOtpUse,
        Self::ReleaseOtpUse,
        Self::ProvisionCredential,
        Self::ImportCredential,
        Self::ListCredentialBanks,
        Self::LiftCredentialSuspension,
        Self::AdminSignIn,
        Self::AdminSignOut,
        Self::OperatorCreated,
        Self::OperatorPasswordChanged,
        Self::OperatorTotpEnrolled,
        Self::OperatorUnlocked,
        Self::BankCreated,
        Self::BankPolicyChanged,
        Self::BankSuspended,
        Self::BankResumed,
        Self::ApiKeyCreated,
        Self::ApiKeyRevoked,
        Self::CancelPushApproval,
        Self::ResendActivationMail,
        Self::KeyAuditChain,
        Self::RefuseAuditEntry,
        Self::MacAccountRows,
        Self::WrapPasswordHashes,
    ];

    /// The stored name: the API's operationId where there is one.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreateUser => "createUser",
            Self::RegisterCredential => "registerCredential",
            Self::VerifyOtp => "verifyOtp",
            Self::ResyncCredential => "resyncCredential",
            Self::StopCredential => "stopCredential",
            Self::ChangeDevice => "changeDevice",
            Self::RevokeCredential => "revokeCredential",
            Self::UnlockCredential => "unlockCredential",
            Self::StartLogin => "startLogin",
            Self::CompleteLogin => "completeLogin",
            Self::ChangePassword => "changePassword",
            Self::ResetPassword => "resetPassword",
            Self::UnlockUser => "unlockUser",
            Self::AutoUnlockUser => "autoUnlockUser",
            Self::VerifyTransactionOtp => "verifyTransactionOtp",
            Self::CreatePushApproval => "createPushApproval",
            Self::AnswerPushApproval => "answerPushApproval",
            Self::PushApprovalExpired => "pushApprovalExpired",
            Self::PushBombingSuspected => "pushBombingSuspected",
            Self::IssueToken => "issueToken",
            Self::ActivateToken => "activateToken",
            Self::StartOtpUse => "startOtpUse",
            Self::ReleaseOtpUse => "releaseOtpUse",
            Self::ProvisionCredential => "provisionCredential",
            Self::ImportCredential => "importCredential",
            Self::ListCredentialBanks => "listCredentialBanks",
            Self::LiftCredentialSuspension => "liftCredentialSuspension",
            Self::AdminSignIn => "adminSignIn",
            Self::AdminSignOut => "adminSignOut",
            Self::OperatorCreated => "createOperator",
            Self::OperatorPasswordChanged => "changeOperatorPassword",
            Self::OperatorTotpEnrolled => "enrollOperatorTotp",
            Self::OperatorUnlocked => "unlockOperator",
            Self::BankCreated => "createBank",
            Self::BankPolicyChanged => "updateBankPolicy",
            Self::BankSuspended => "suspendBank",
            Self::BankResumed => "resumeBank",
            Self::ApiKeyCreated => "createApiKey",
            Self::ApiKeyRevoked => "revokeApiKey",
            Self::CancelPushApproval => "cancelPushApproval",
            Self::ResendActivationMail => "resendActivationMail",
            Self::KeyAuditChain => "keyAuditChain",
            Self::RefuseAuditEntry => "refuseAuditEntry",
            Self::MacAccountRows => "macAccountRows",
            Self::WrapPasswordHashes => "wrapPasswordHashes",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|op| op.as_str() == s)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::stored::stored_as_text!(Operation, "operation", Operation::parse);

/// How an audited attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum AuditOutcome {
    /// It did what was asked.
    Success,
    /// It was refused; the entry names the error code.
    Failure,
}

impl AuditOutcome {
    /// Both outcomes.
    pub const ALL: [AuditOutcome; 2] = [Self::Success, Self::Failure];

    /// The stored and API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::stored::stored_as_text!(AuditOutcome, "audit outcome", AuditOutcome::parse);
