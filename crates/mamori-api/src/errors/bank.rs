//! The problems of the Bank operations on users, tokens and the audit trail (`bank.rs`).
//!
//! Every one of them passes the bank's key first: `unauthorized` (401) for a bad key,
//! `not_found` (404) for a path naming another bank than the key's, `bank_suspended` (403).

use crate::errors::problem_family;

problem_family! {
    /// Problems of createUser.
    CreateUserProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`), or a field breaks a rule (`validation_failed`): the contract number or user ID is not 1 to 32 letters, digits, `-`, `_` or `.`, or the display name is longer than 100 characters.",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "The path names another bank than the key's (`not_found`).";
        Conflict = 409,
            "A user with this contract number and user ID exists already (`user_already_exists`), or an `initial_password` was sent to a bank that keeps its customers' passwords itself (`password_not_managed`).",
            @key_in_use;
        @json_body;
        Unprocessable = 422,
            "The initial password breaks the bank's password rules (`password_rejected`; `violations` lists each).",
            @key_reused;
    }
}

problem_family! {
    /// Problems of findUser.
    FindUserProblem {
        BadRequest = 400, "`contract_number` is missing, or a control character is in the path or query (`bad_request`).";
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No user of this bank has this contract number (and user ID), or the path names another bank than the key's (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of reading one user (getUser, getOtpStatus): only the key and the user can be
    /// wrong.
    UserReadProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of registerCredential.
    RegisterCredentialProblem {
        BadRequest = 400,
            "Malformed input, not counted: the body is not valid JSON of this shape (`bad_request`); the credential ID is not one (`credential_id_malformed`, also for a serial of no imported token); a code is not 6 to 8 digits (`otp_malformed`); or `otp2` is missing at a bank that registers with two codes, or sent to one that registers with one (`validation_failed`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); no token has this Mamori credential ID (`credential_unknown`).";
        Conflict = 409,
            "The user has a live token at this bank already (`credential_already_registered`), or the code was used already (`otp_already_used`: wait for the next one).",
            @key_in_use;
        @json_body;
        Unprocessable = 422,
            "The code is wrong (`otp_invalid`; counted against this user's registration attempts, never against the token), or the bank does not allow this kind of token (`credential_kind_not_allowed`).",
            @key_reused;
        Locked = 423, "The token is suspended on the whole platform (`credential_suspended`).";
        @limited "This user used up their 10 registration attempts of the hour, or this client its hourly budget of wrong registration codes (`rate_limited`); retry after `Retry-After` seconds.";
    }
}

problem_family! {
    /// Problems of checking one current code of the user's token (verifyOtp, stopCredential):
    /// the same checks, counted the same way.
    CurrentCodeProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`), or the code is not 6 to 8 digits (`otp_malformed`). Not counted.",
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
        Locked = 423, "The token is locked at this bank after too many wrong codes (`otp_locked`; the bank unlocks it), or suspended on the whole platform (`credential_suspended`).";
    }
}

problem_family! {
    /// Problems of resyncCredential.
    ResyncCredentialProblem {
        BadRequest = 400,
            "The body is not valid JSON of this shape (`bad_request`), or a code is not 6 to 8 digits (`otp_malformed`). Not counted.",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); the user has no live token here (`otp_not_registered`).";
        Conflict = 409,
            "The codes were used already (`otp_already_used`): wait for the next two. Not counted.",
            @key_in_use;
        @json_body;
        Unprocessable = 422,
            "The codes are not two consecutive codes within the bank's resync window (`resync_failed`), counted as one failure at this bank; `attempts_left` says how many tries remain before the lock.",
            @key_reused;
        Locked = 423, "The token is locked at this bank after too many wrong codes (`otp_locked`; the bank unlocks it), or suspended on the whole platform (`credential_suspended`).";
    }
}

problem_family! {
    /// Problems of changeDevice.
    ChangeDeviceProblem {
        BadRequest = 400,
            "Malformed input, nothing changed or counted: the body is not valid JSON of this shape (`bad_request`); the new credential ID is not one (`credential_id_malformed`); a code is not 6 to 8 digits (`otp_malformed`); the number of new codes does not match the bank's registration mode, or the new credential is the one registered already (`validation_failed`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); no token has the new Mamori credential ID (`credential_unknown`); the user has no live token to replace (`otp_not_registered`).";
        Conflict = 409,
            "A code was used already (`otp_already_used`: wait for the next one), or the new token was registered to the user meanwhile (`credential_already_registered`). Nothing changed.",
            @key_in_use;
        @json_body;
        Unprocessable = 422,
            "A code is wrong (`otp_invalid`): the old token's counts at this bank, with `attempts_left`; the new token's counts against this user's registration attempts. Or the bank does not allow the new token's kind (`credential_kind_not_allowed`). Nothing else changed.",
            @key_reused;
        Locked = 423, "The old token is locked at this bank (`otp_locked`), or the old or the new token is suspended on the whole platform (`credential_suspended`).";
        @limited "This user used up their 10 registration attempts of the hour, or this client its hourly budget of wrong registration codes (`rate_limited`); retry after `Retry-After` seconds.";
    }
}

problem_family! {
    /// Problems of revokeCredential.
    RevokeCredentialProblem {
        BadRequest = 400,
            "A control character in the path or query, or a body sent as JSON that is not JSON (`bad_request`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); the user has no live token to revoke (`otp_not_registered`).";
        Conflict = 409, @key_in_use;
        @no_body;
        Unprocessable = 422, @key_reused;
    }
}

problem_family! {
    /// Problems of unlockCredential.
    UnlockCredentialProblem {
        BadRequest = 400,
            "A control character in the path or query, or a body sent as JSON that is not JSON (`bad_request`).",
            @malformed_key;
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "No such user at this bank, or the path names another bank than the key's (`not_found`); the user has no live token to unlock (`otp_not_registered`).";
        Conflict = 409, @key_in_use;
        @no_body;
        Unprocessable = 422, @key_reused;
        Locked = 423, "The token is suspended on the whole platform (`platform_operator_required`): only a platform operator lifts that. Nothing was changed.";
    }
}

problem_family! {
    /// Problems of listAuditEvents.
    ListAuditEventsProblem {
        BadRequest = 400, "`limit` is not 1 to 200, or a control character is in the path or query (`bad_request`); `cursor` is not a `next_cursor` of this API (`validation_failed`).";
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "The path names another bank than the key's (`not_found`).";
        @read;
    }
}

problem_family! {
    /// Problems of verifyAuditChain.
    VerifyAuditChainProblem {
        BadRequest = 400, "A control character in the path or query (`bad_request`).";
        @bank_key;
        Forbidden = 403, @bank_suspended;
        NotFound = 404, "The path names another bank than the key's (`not_found`).";
        @read;
    }
}
