//! The problems of the contract login and the bank's password desk (`login.rs`).

use crate::errors::problem_family;

problem_family! {
    /// Problems of startLogin. An unknown user, a wrong password and a locked user are one
    /// answer, `login_failed`, by design.
    StartLoginProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`).",
            @malformed_key;
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`); or `login_failed`: the contract number, user ID or password is wrong, or the user's password is locked — one answer for all. A wrong password of a known user counts towards the bank's lock.";
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "The path names another bank than the key's (`not_found`).";
        Conflict = 409,
            "The bank keeps its customers' passwords itself (`password_not_managed`).",
            @key_in_use;
        @json_body;
        Unprocessable = 422, @key_reused;
    }
}

problem_family! {
    /// Problems of completeLogin.
    CompleteLoginProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`), or the code is not 6 to 8 digits (`otp_malformed`). Not counted.",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "The login ID is unknown, expired, used, of another bank or at another step (`login_expired`); the user has no live token yet (`otp_not_registered`: register one, then complete with the same login ID); or the path names another bank than the key's (`not_found`).";
        Conflict = 409,
            "The code was used already (`otp_already_used`): wait for the next one. Not counted.",
            @key_in_use;
        @json_body;
        Unprocessable = 422,
            "The code is wrong (`otp_invalid`), counted at this bank; `attempts_left` says how many tries remain before the lock.",
            @key_reused;
        Locked = 423, "The token is locked at this bank (`otp_locked`) or suspended on the whole platform (`credential_suspended`).";
    }
}

problem_family! {
    /// Problems of changePassword.
    ChangePasswordProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`), or it has both or neither of `login_id` and `current_password` (`validation_failed`).",
            @malformed_key;
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`); or the current password is wrong or locked (`login_failed`), counted like a login.";
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); the login ID is unknown, expired, used, another user's or not at step `password_change_required` (`login_expired`).";
        Conflict = 409,
            "The bank keeps its customers' passwords itself (`password_not_managed`).",
            @key_in_use;
        @json_body;
        Unprocessable = 422,
            "The new password breaks the bank's rules or was used recently (`password_rejected`; `violations` lists each rule). Nothing changed.",
            @key_reused;
    }
}

problem_family! {
    /// Problems of verifyTransactionOtp.
    VerifyTransactionOtpProblem {
        BadRequest = 400,
            "Not counted: the body is not valid JSON of this shape (`bad_request`); the transaction breaks a rule, or the bank approves this kind of transaction by push (`validation_failed`); the code is not 6 to 8 digits (`otp_malformed`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); the user has no live token here (`otp_not_registered`).";
        Conflict = 409,
            "The code was used already (`otp_already_used`): wait for the next one. Not counted.",
            @key_in_use;
        @json_body;
        Unprocessable = 422,
            "The code is wrong (`otp_invalid`), counted at this bank; `attempts_left` says how many tries remain before the lock.",
            @key_reused;
        Locked = 423, "The token is locked at this bank (`otp_locked`) or suspended on the whole platform (`credential_suspended`).";
    }
}

problem_family! {
    /// Problems of resetPassword.
    ResetPasswordProblem {
        BadRequest = 400,
            "A control character in the path or query, or a body sent as JSON that is not JSON (`bad_request`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`).";
        Conflict = 409,
            "The bank keeps its customers' passwords itself (`password_not_managed`).",
            @key_in_use;
        @no_body;
        Unprocessable = 422, @key_reused;
    }
}

problem_family! {
    /// Problems of unlockUser.
    UnlockUserProblem {
        BadRequest = 400,
            "A control character in the path or query, or a body sent as JSON that is not JSON (`bad_request`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`).";
        Conflict = 409, @key_in_use;
        @no_body;
        Unprocessable = 422, @key_reused;
    }
}
