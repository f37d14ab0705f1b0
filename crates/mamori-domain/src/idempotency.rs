//! Idempotency keys of the Bank API: a bank that retries a POST after a timeout sends the same
//! `Idempotency-Key` and gets the first answer instead of a second effect (a second wrong code
//! counted, a `409 otp_already_used` for a code that was in fact accepted).
//!
//! A key belongs to one bank, lives 24 hours, and names one request: the same key with another
//! method, path or body is refused. This module holds the rules; the store keeps the records
//! and decides races with conditional writes.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How long a key and its answer are kept: a bank's retry window is minutes; a day covers a
/// batch re-run the next morning too.
pub const KEEP_FOR: Duration = Duration::hours(24);

/// How long a claimed key waits for its answer before another request may take the key over.
/// Well above any request's time (a request waits at most a few seconds for the database), so
/// only a node that died mid-request leaves a claim this old.
pub const CLAIM_LEASE: Duration = Duration::seconds(60);

/// Longest key accepted: a UUID is 36 characters; 255 leaves room for banks' own schemes.
pub const MAX_KEY_LEN: usize = 255;

/// A well-formed `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a header value; `None` for an empty, too long or non-visible-ASCII key.
    pub fn parse(value: &str) -> Option<Self> {
        let visible = |c: char| c.is_ascii_graphic();
        let ok = !value.is_empty() && value.len() <= MAX_KEY_LEN && value.chars().all(visible);
        ok.then(|| Self(value.to_owned()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What identifies a request under its key: SHA-256 over method, path with query, and the
/// body's exact bytes, in lower-case hex. A client that retries resends the same bytes; one
/// that sends other bytes sent another request.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b"\n");
    hash.update(path_and_query.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    data_encoding::HEXLOWER.encode(&hash.finalize())
}

/// A key's record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The fingerprint of the request that claimed the key.
    pub fingerprint: String,
    /// Whether that request's answer is stored.
    pub answered: bool,
    /// Until when the claim of an unanswered request holds.
    pub lease_until: DateTime<Utc>,
    /// When the key may be used afresh.
    pub expires_at: DateTime<Utc>,
}

/// What to do with a request whose key is already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Answer with the stored answer, doing nothing.
    Replay,
    /// The first request is still being answered: `409 idempotency_key_in_use`.
    InUse,
    /// The key names another request: `422 idempotency_key_reused`.
    Reused,
    /// The record is expired, or its claimer died: take the key over and run the request.
    TakeOver,
}

/// Decides a request with `fingerprint` against the record of its key at `now`.
pub fn decide(record: &KeyRecord, fingerprint: &str, now: DateTime<Utc>) -> Decision {
    if now >= record.expires_at {
        return Decision::TakeOver;
    }
    // Fingerprints are digests of what the caller itself sent: nothing secret to time.
    if record.fingerprint != fingerprint {
        return Decision::Reused;
    }
    match (record.answered, now >= record.lease_until) {
        (true, _) => Decision::Replay,
        (false, false) => Decision::InUse,
        (false, true) => Decision::TakeOver,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_339_800 + seconds, 0).unwrap()
    }

    fn record(answered: bool) -> KeyRecord {
        KeyRecord {
            fingerprint: fingerprint("POST", "/v1/banks/b/users", b"{}"),
            answered,
            lease_until: at(0) + CLAIM_LEASE,
            expires_at: at(0) + KEEP_FOR,
        }
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("4f1c2a9e-0b7d-4d6e-9a51-3c2f8e7b1d00").is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_some());
        assert!(IdempotencyKey::parse("").is_none());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_none());
        assert!(IdempotencyKey::parse("two words").is_none());
        assert!(IdempotencyKey::parse("キー").is_none());
        assert!(IdempotencyKey::parse("a\tb").is_none());
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_every_body_byte() {
        let base = fingerprint("POST", "/v1/banks/b/users", br#"{"a":1}"#);
        assert_eq!(
            base,
            fingerprint("POST", "/v1/banks/b/users", br#"{"a":1}"#)
        );
        assert_ne!(base, fingerprint("PUT", "/v1/banks/b/users", br#"{"a":1}"#));
        assert_ne!(
            base,
            fingerprint("POST", "/v1/banks/c/users", br#"{"a":1}"#)
        );
        assert_ne!(
            base,
            fingerprint("POST", "/v1/banks/b/users", br#"{"a":2}"#)
        );
        assert_ne!(
            base,
            fingerprint("POST", "/v1/banks/b/users", br#"{"a": 1}"#)
        );
        // The separator keeps the path and body apart.
        assert_ne!(
            fingerprint("POST", "/x\n{}", b""),
            fingerprint("POST", "/x", b"{}")
        );
    }

    #[test]
    fn an_answered_key_replays_the_same_request_only() {
        let same = record(true).fingerprint.clone();
        assert_eq!(decide(&record(true), &same, at(1)), Decision::Replay);
        assert_eq!(decide(&record(true), "other", at(1)), Decision::Reused);
        // Long after the claim's lease, within the day: still the stored answer.
        assert_eq!(decide(&record(true), &same, at(3600)), Decision::Replay);
    }

    #[test]
    fn a_claim_in_progress_holds_until_its_lease_ends() {
        let same = record(false).fingerprint.clone();
        assert_eq!(decide(&record(false), &same, at(59)), Decision::InUse);
        assert_eq!(decide(&record(false), &same, at(60)), Decision::TakeOver);
        // Another request never takes over a key, whatever the state of its claim.
        assert_eq!(decide(&record(false), "other", at(61)), Decision::Reused);
    }

    #[test]
    fn after_a_day_the_key_is_free_for_any_request() {
        let later = at(0) + KEEP_FOR;
        assert_eq!(decide(&record(true), "other", later), Decision::TakeOver);
        assert_eq!(
            decide(&record(true), "other", later - Duration::seconds(1)),
            Decision::Reused
        );
    }
}
