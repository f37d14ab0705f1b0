//! The problems of the admin console's operations (`admin/`).
//!
//! Every one but createAdminSession passes the session first: `admin_session_required` (401)
//! without a live session, and on a state-changing request `csrf_token_invalid` (403) without
//! the session's anti-forgery token. Then the operator's stage (`admin_setup_required`), role
//! (`forbidden`) and the banks they may see (`not_found`, as if another bank did not exist),
//! where the operation asks for them.

use crate::errors::problem_family;

// ------------------------------------------------------------------ session and operators

problem_family! {
    /// Problems of createAdminSession. An unknown operator, a wrong password or code and a
    /// locked operator are one answer, `admin_login_failed`, by design.
    CreateAdminSessionProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`).";
        Unauthorized = 401, "The login name, password or code is wrong, or the operator is locked (`admin_login_failed`). Five wrong passwords or codes in a row lock the operator.";
        @limited "Too many failed sign-ins from this client within the hour (`rate_limited`); retry after `Retry-After` seconds. A successful sign-in does not count.";
        @json_body;
    }
}

problem_family! {
    /// Problems of getAdminSession.
    GetAdminSessionProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @admin_session;
        @read;
    }
}

problem_family! {
    /// Problems of deleteAdminSession.
    DeleteAdminSessionProblem {
        BadRequest = 400, "A control character in the path or query, or a body sent as JSON that is not JSON (`bad_request`).";
        @admin_session;
        Forbidden = 403, @csrf;
        @no_body;
    }
}

problem_family! {
    /// Problems of changeOwnPassword (allowed during the first login's setup).
    ChangeOwnPasswordProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`).";
        Unauthorized = 401, "No admin session (`admin_session_required`); or the current password is wrong or the operator is locked (`admin_login_failed`), counted like a sign-in.";
        Forbidden = 403, @csrf;
        @json_body;
        Unprocessable = 422, "The new password breaks the rules: at least 12 characters, letters and digits, printable ASCII, not the current one (`password_rejected`; `violations` lists each).";
    }
}

problem_family! {
    /// Problems of startTotpEnrollment.
    StartTotpEnrollmentProblem {
        BadRequest = 400, "A control character in the path or query, or a body sent as JSON that is not JSON (`bad_request`); an authenticator app is enrolled already (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, "The one-time password is not replaced yet (`admin_setup_required`): changeOwnPassword first.";
        @no_body;
    }
}

problem_family! {
    /// Problems of confirmTotpEnrollment.
    ConfirmTotpEnrollmentProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the code is not 6 digits (`otp_malformed`); no enrollment was started, or an app is enrolled already (`validation_failed`).";
        Unauthorized = 401, "No admin session (`admin_session_required`); or five wrong codes in a row (`admin_login_failed`): the operator is locked.";
        Forbidden = 403, @csrf;
        @json_body;
        Unprocessable = 422, "The code is wrong (`otp_invalid`), counted towards the operator's lock.";
    }
}

problem_family! {
    /// Problems of listOperators.
    ListOperatorsProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup, "Only platform admins list operators (`forbidden`).";
        @read;
    }
}

problem_family! {
    /// Problems of createOperator.
    CreateOperatorProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or a field breaks a rule (`validation_failed`): the login name is not 3 to 40 of `a-z 0-9 . _ -`, the display name not 1 to 100 characters, the role and bank do not fit together, or there is no such bank.";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins create operators (`forbidden`).";
        Conflict = 409, "An operator has this login name already (`operator_already_exists`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of unlockOperator.
    UnlockOperatorProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the reason is not 1 to 500 characters, or the operator is not locked (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins unlock operators (`forbidden`).";
        NotFound = 404, "No such operator (`not_found`).";
        @json_body;
    }
}

// ------------------------------------------------------------------ banks

problem_family! {
    /// Problems of listBanks.
    ListBanksProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup;
        @read;
    }
}

problem_family! {
    /// Problems of createBank.
    CreateBankProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the ID is not 3 to 40 of `a-z 0-9 -` starting with a letter, the config has a problem (the first one, as `mamori tenants check` says it), or the reason is not 1 to 500 characters (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins create banks (`forbidden`).";
        Conflict = 409, "A bank has this ID already (`bank_already_exists`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of reading one bank's page (getBank, listBankPolicyVersions, getBankFigures):
    /// only the session and the bank can be wrong.
    BankReadProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup;
        NotFound = 404, "No bank with this ID for this operator (`not_found`): a bank operator sees only their own.";
        @read;
    }
}

problem_family! {
    /// Problems of reviewBankPolicy. An invalid config is an answer (`valid`, `problems`),
    /// not a problem.
    ReviewBankPolicyProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins review configs (`forbidden`).";
        NotFound = 404, "The path's bank ID is not a bank ID (`not_found`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of updateBankPolicy.
    UpdateBankPolicyProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the config has a problem (the first one, as `mamori tenants check` says it), the reason is not 1 to 500 characters, or the policy was saved meanwhile by someone else (`validation_failed`: reload it and edit again).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins change policies (`forbidden`).";
        NotFound = 404, "No such bank (`not_found`).";
        Conflict = 409, "The bank is managed by its config file (`bank_file_managed`): put the reviewed TOML into the file instead.";
        @json_body;
    }
}

problem_family! {
    /// Problems of suspendBank.
    SuspendBankProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the reason is not 1 to 500 characters, or the bank is suspended already (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins suspend banks (`forbidden`).";
        NotFound = 404, "No such bank (`not_found`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of resumeBank.
    ResumeBankProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the reason is not 1 to 500 characters, or the bank is not suspended (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins resume banks (`forbidden`).";
        NotFound = 404, "No such bank (`not_found`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of listBankApiKeys.
    ListBankApiKeysProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup, "Only platform admins see API keys (`forbidden`).";
        NotFound = 404, "The path's bank ID is not a bank ID (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of createBankApiKey.
    CreateBankApiKeyProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the label is longer than 100 characters, or there is no bank with this ID (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins create API keys (`forbidden`).";
        NotFound = 404, "The path's bank ID is not a bank ID (`not_found`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of revokeBankApiKey.
    RevokeBankApiKeyProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the reason is not 1 to 500 characters, or the key is revoked already (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins revoke API keys (`forbidden`).";
        NotFound = 404, "The bank has no key with this ID, or the path's bank ID is not one (`not_found`).";
        @json_body;
    }
}

// ------------------------------------------------------------------ customers

problem_family! {
    /// Problems of searchCustomers.
    SearchCustomersProblem {
        BadRequest = 400, "`limit` is not 1 to 100, or a control character is in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup;
        NotFound = 404, "No bank with this ID for this operator (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of getCustomer.
    GetCustomerProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup;
        NotFound = 404, "No bank with this ID for this operator, or no such user at the bank (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of unlockCustomerToken.
    UnlockCustomerTokenProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the reason is not 1 to 500 characters (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Auditors only read (`forbidden`).";
        NotFound = 404, "No bank with this ID for this operator, or no such user at the bank (`not_found`); the user has no live token to unlock (`otp_not_registered`).";
        @json_body;
        Locked = 423, "The token is suspended on the whole platform (`platform_operator_required`): lift the suspension on the credential's page instead. Nothing was changed.";
    }
}

problem_family! {
    /// Problems of revokeCustomerToken.
    RevokeCustomerTokenProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the reason is not 1 to 500 characters (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Auditors only read (`forbidden`).";
        NotFound = 404, "No bank with this ID for this operator, or no such user at the bank (`not_found`); the user has no live token to revoke (`otp_not_registered`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of unlockCustomerPassword.
    UnlockCustomerPasswordProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the reason is not 1 to 500 characters (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Auditors only read (`forbidden`).";
        NotFound = 404, "No bank with this ID for this operator, or no such user at the bank (`not_found`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of resetCustomerPassword.
    ResetCustomerPasswordProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the reason is not 1 to 500 characters (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Auditors only read (`forbidden`).";
        NotFound = 404, "No bank with this ID for this operator, or no such user at the bank (`not_found`).";
        Conflict = 409, "The bank keeps its customers' passwords itself (`password_not_managed`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of resendActivationMail.
    ResendActivationMailProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the reason is not 1 to 500 characters (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Auditors only read (`forbidden`).";
        NotFound = 404, "No bank with this ID for this operator, or no such user at the bank (`not_found`); no issue is waiting for activation (`otp_not_registered`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of cancelCustomerPushApproval.
    CancelCustomerPushApprovalProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the reason is not 1 to 500 characters (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Auditors only read (`forbidden`).";
        NotFound = 404, "No bank with this ID for this operator, or no such approval at the bank (`not_found`).";
        Conflict = 409, "The approval was answered, cancelled or expired already (`push_already_answered`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of getCredential.
    GetCredentialProblem {
        BadRequest = 400, "The credential ID is neither a Mamori credential ID nor a serial (`credential_id_malformed`), or a control character is in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup;
        NotFound = 404, "No such credential, or, for a bank's operator, none registered at their bank (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of liftCredentialSuspension.
    LiftCredentialSuspensionProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the reason is not 1 to 500 characters, or the credential is not suspended (`validation_failed`); the credential ID is neither a Mamori credential ID nor a serial (`credential_id_malformed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins lift suspensions (`forbidden`).";
        NotFound = 404, "No such credential (`credential_unknown`).";
        @json_body;
    }
}

problem_family! {
    /// Problems of importTokens.
    ImportTokensProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the pre-shared key is not 32, 48 or 64 hex digits (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @csrf, @setup, "Only platform admins import tokens (`forbidden`).";
        @json_body "The body is larger than 16 MiB, or than 64 KiB without a session cookie (`payload_too_large`): split the file.";
        Unprocessable = 422, "The file cannot be imported whole (`import_invalid`): `errors` lists every fault with its line. Nothing was imported.";
    }
}

// ------------------------------------------------------------------ trails and outbox

problem_family! {
    /// Problems of listAdminAuditEvents.
    ListAdminAuditEventsProblem {
        BadRequest = 400, "`trail` is missing, `from` or `to` is not an RFC 3339 time, `limit` is not 1 to 200, or a control character is in the path or query (`bad_request`); `operation` or `outcome` is not one of theirs, or `cursor` is not a `next_cursor` of this API (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @setup, "The platform's trail is for operators who see every bank (`forbidden`).";
        NotFound = 404, "No bank with this `trail` ID for this operator (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of verifyAdminAuditChain.
    VerifyAdminAuditChainProblem {
        BadRequest = 400, "`trail` is missing, or a control character is in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup, "The platform's trail is for operators who see every bank (`forbidden`).";
        NotFound = 404, "No bank with this `trail` ID for this operator (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of exporting a trail (exportAdminAuditEventsCsv, exportAdminAuditEventsJson):
    /// checked before the first byte is sent.
    AuditExportProblem {
        BadRequest = 400, "`trail` is missing, `from` or `to` is not an RFC 3339 time, or a control character is in the path or query (`bad_request`); `operation` or `outcome` is not one of theirs (`validation_failed`).";
        @admin_session;
        Forbidden = 403, @setup, "The platform's trail is for operators who see every bank (`forbidden`).";
        NotFound = 404, "No bank with this `trail` ID for this operator (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of listAdminOutbox.
    ListAdminOutboxProblem {
        BadRequest = 400, "`limit` is not 1 to 200, or a control character is in the path or query (`bad_request`).";
        @admin_session;
        Forbidden = 403, @setup, "Every bank's outbox (no `bank_id`) is for operators who see every bank (`forbidden`).";
        NotFound = 404, "No bank with this `bank_id` for this operator (`not_found`).";
        @read;
    }
}
