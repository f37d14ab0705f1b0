//! The problems of tokens issued by mail (`self_issue.rs`).

use crate::errors::problem_family;

problem_family! {
    /// Problems of issueToken.
    IssueTokenProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`), or the mail address or the activation password breaks a rule (`validation_failed`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, "This bank does not issue tokens by mail (`self_issue_disabled`).", @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`).";
        Conflict = 409,
            "The user has a live token (`credential_already_registered`), or a concurrent issueToken for the user won (`token_not_activated`).",
            @key_in_use;
        @json_body;
        Unprocessable = 422, @key_reused;
    }
}

problem_family! {
    /// Problems of activateToken. Every failure is one answer, `activation_failed`, by design.
    ActivateTokenProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the device key is not a 32-byte Ed25519 key in base64url (`validation_failed`).";
        @json_body;
        Unprocessable = 422, "The service ID, user ID or activation password is wrong, or the issue expired, was activated already, was replaced by a reissue, or is locked after too many wrong passwords (`activation_failed`: one answer for all, without an attempt count). The customer checks the mail; otherwise the bank issues again.";
        @limited "Too many failed activations from this client within the hour (`rate_limited`); retry after `Retry-After` seconds. A successful activation does not count.";
    }
}

problem_family! {
    /// Problems of startOtpUse.
    StartOtpUseProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`), or the code is not 6 to 8 digits (`otp_malformed`). Not counted.",
            @malformed_key;
        @bank_key;
        Forbidden = 403, "This bank does not issue tokens by mail (`self_issue_disabled`).", @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); no open issue, or it was released or started meanwhile (`otp_not_registered`).";
        Conflict = 409,
            "The app has not activated the token yet (`token_not_activated`), the code was used already (`otp_already_used`), or the user has a live token (`credential_already_registered`). Not counted.",
            @key_in_use;
        @json_body;
        Unprocessable = 422,
            "The code is wrong (`otp_invalid`; counted against this user's registration attempts, never against the token), or the bank does not allow the issued token's kind (`credential_kind_not_allowed`).",
            @key_reused;
        Locked = 423, "The token is suspended on the whole platform (`credential_suspended`).";
        @limited "This user used up their 10 registration attempts of the hour, or this client its hourly budget of wrong registration codes (`rate_limited`); retry after `Retry-After` seconds.";
    }
}

problem_family! {
    /// Problems of releaseOtpUse.
    ReleaseOtpUseProblem {
        BadRequest = 400, "A control character in the path or query, or a body sent as JSON that is not JSON (`bad_request`).";
        @bank_key;
        Forbidden = 403, "This bank does not issue tokens by mail (`self_issue_disabled`).", @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); the user has neither a live token nor an open issue (`otp_not_registered`).";
        @no_body;
    }
}

problem_family! {
    /// Problems of listOutboxMails.
    ListOutboxMailsProblem {
        BadRequest = 400, "`limit` is not 1 to 200, or a control character is in the path or query (`bad_request`).";
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "The path names another bank than the key's (`not_found`).";
        @read;
    }
}
