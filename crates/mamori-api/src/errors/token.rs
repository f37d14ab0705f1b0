//! The problems of the token operations without a bank key (`token.rs`): what a customer's
//! token app calls, limited per client.

use crate::errors::problem_family;

problem_family! {
    /// Problems of provisionCredential.
    ProvisionCredentialProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`), or the device key is not a 32-byte Ed25519 key in base64url (`validation_failed`).";
        @json_body;
        @limited "Too many tokens provisioned from this address within the hour (`rate_limited`); retry after `Retry-After` seconds.";
    }
}

problem_family! {
    /// Problems of listCredentialBanks. Nothing here counts towards a lock or a quota of the
    /// credential: without a bank key, a stranger must not be able to suspend a token, or use
    /// up its listings, by knowing its ID.
    ListCredentialBanksProblem {
        BadRequest = 400, "The body is not valid JSON of this shape (`bad_request`); the credential ID is not 4 to 32 letters and digits (`credential_id_malformed`); the code is not 6 to 8 digits (`otp_malformed`).";
        Conflict = 409, "The code was used already (`otp_already_used`): wait for the next one.";
        @json_body;
        Unprocessable = 422, "The code is wrong, or no token has this credential ID or serial (`otp_invalid`: one answer for both).";
        Locked = 423, "The token is suspended on the whole platform (`credential_suspended`); said only when the code is right.";
        @limited "Too many failed listings from this client within the hour (`rate_limited`); retry after `Retry-After` seconds. Successful listings do not count.";
    }
}
