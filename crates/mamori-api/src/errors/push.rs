//! The problems of push approval (`push.rs`): the bank's side with its key, the device's side
//! with its device key.

use crate::errors::problem_family;

problem_family! {
    /// Problems of createPushApproval.
    CreatePushApprovalProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`), or the transaction breaks a rule or a `display` text is not 1 to 500 characters (`validation_failed`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, "The bank does not use push approval (`push_disabled`).", @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); the user has no live token (`otp_not_registered`).";
        Conflict = 409,
            "The user's token has no device key, so it cannot receive approvals: it is not Mamori's own token (`push_unavailable`).",
            @key_in_use;
        @json_body;
        Unprocessable = 422, @key_reused;
        Locked = 423, "The token is locked at this bank (`otp_locked`) or suspended on the whole platform (`credential_suspended`).";
    }
}

problem_family! {
    /// Problems of getPushApproval.
    GetPushApprovalProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such approval at this bank, or the path names another bank than the key's (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of listPendingApprovals.
    ListPendingApprovalsProblem {
        BadRequest = 400, "`wait` is not a number, or a control character is in the path or query (`bad_request`); `wait` is more than 30 seconds (`validation_failed`); the credential ID is not a Mamori credential ID (`credential_id_malformed`).";
        Forbidden = 403, "The device signature is missing or wrong, by another key, or its time is more than 5 minutes off; or no token has this credential ID, or it has no device key (`device_signature_invalid`: one answer for all).";
        @read;
        @limited "Too many failed listings from this client within the hour (`rate_limited`); retry after `Retry-After` seconds. Signed listings do not count.";
    }
}

problem_family! {
    /// Problems of answerPushApproval. None of them changes the approval, except
    /// `push_number_mismatch`, which denies it.
    AnswerPushApprovalProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`).";
        Forbidden = 403, "The signature is not the credential's device key over this answer, or its time is more than 5 minutes off; or there is no such approval for this credential, or the credential has no device key (`device_signature_invalid`: one answer for all).";
        NotFound = 404, "The token is no longer registered at the bank: revoked, stopped, released or replaced (`otp_not_registered`).";
        Conflict = 409, "The approval was answered or cancelled already, or this is a replay (`push_already_answered`).";
        Gone = 410, "No answer came in time; the transaction is cancelled (`push_approval_expired`).";
        @json_body;
        Unprocessable = 422, "The answer is for another transaction (`push_transaction_mismatch`), or the number is wrong or missing (`push_number_mismatch`: the approval is denied and cannot be tried again).";
        Locked = 423, "The token is locked at the bank (`otp_locked`) or suspended on the whole platform (`credential_suspended`).";
        @limited "Too many answers refused for their signature from this client within the hour (`rate_limited`); retry after `Retry-After` seconds. Answers with a valid signature do not count.";
    }
}
