//! Property tests for window verification, resynchronisation and code normalisation.
//!
//! Different steps of one secret can share a code by chance (one in a million per pair
//! with 6 digits). Where that would make a property flaky, the test either recognises
//! the coincidence explicitly or uses 8-digit codes, noted at each place.

use mamori_otp::{
    Algorithm, Code, CodeError, Digits, OtpParams, Period, Secret, hotp, normalize_code,
    resync_hotp, resync_totp, totp_at_step, verify_hotp, verify_totp, verify_totp_after,
};
use proptest::prelude::*;

/// A fixed set of secrets, so a failure reproduces from the printed index alone.
fn secrets() -> Vec<Secret> {
    (0u8..8)
        .map(|i| {
            Secret::from_bytes(&[i.wrapping_mul(37).wrapping_add(11); 20]).expect("20-byte secret")
        })
        .collect()
}

fn params_strategy() -> impl Strategy<Value = OtpParams> {
    (
        prop_oneof![
            Just(Algorithm::Sha1),
            Just(Algorithm::Sha256),
            Just(Algorithm::Sha512)
        ],
        6u8..=8,
        prop_oneof![Just(30u32), Just(60), 1u32..=300],
    )
        .prop_map(|(algorithm, digits, period)| OtpParams {
            algorithm,
            digits: Digits::new(digits).expect("strategy yields 6..=8"),
            period: Period::new(period).expect("strategy yields 1..=300"),
        })
}

/// Expected steps anywhere, including next to 0 and `u64::MAX` where windows are cut off.
fn step_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..20,
        40_000_000u64..80_000_000,
        (u64::MAX - 20)..=u64::MAX
    ]
}

/// Same parameters with 8 digits, where a chance collision would break the property.
fn eight_digits(params: OtpParams) -> OtpParams {
    OtpParams {
        digits: Digits::EIGHT,
        ..params
    }
}

fn offset(base: u64, delta: i64) -> Option<u64> {
    base.checked_add_signed(delta)
}

proptest! {
    #[test]
    fn totp_code_is_accepted_iff_its_step_is_in_the_window(
        index in 0usize..8,
        params in params_strategy(),
        expected in step_strategy(),
        before in 0u32..=10,
        after in 0u32..=10,
        delta in -15i64..=15,
    ) {
        let secret = &secrets()[index];
        let Some(true_step) = offset(expected, delta) else { return Ok(()) };
        let code = totp_at_step(secret, true_step, params);
        let in_window = -i64::from(before) <= delta && delta <= i64::from(after);
        let found = verify_totp(secret, params, &code, expected, before, after);
        match found {
            Some(step) if step == true_step => prop_assert!(in_window),
            Some(other) => {
                // Only a genuine coincidence may match another step, and it must be one
                // the window covers and no further from `expected` than the true step.
                prop_assert!(totp_at_step(secret, other, params).ct_eq(&code));
                prop_assert!(other.abs_diff(expected) <= true_step.abs_diff(expected) || !in_window);
                prop_assert!(expected.saturating_sub(u64::from(before)) <= other);
                prop_assert!(other <= expected.saturating_add(u64::from(after)));
            }
            None => prop_assert!(!in_window),
        }
    }

    #[test]
    fn totp_never_accepts_a_step_at_or_before_the_last_used_one(
        index in 0usize..8,
        params in params_strategy(),
        expected in 1_000u64..1_000_000,
        window in 0u32..=5,
        delta in -5i64..=5,
        last_delta in -7i64..=7,
    ) {
        let secret = &secrets()[index];
        let step = expected.strict_add_signed(delta);
        let last_used = expected.strict_add_signed(last_delta);
        let code = totp_at_step(secret, step, params);
        let found = verify_totp_after(secret, params, &code, expected, window, window, Some(last_used));
        if let Some(matched) = found {
            prop_assert!(matched > last_used);
        }
        if step > last_used && delta.unsigned_abs() <= u64::from(window) {
            prop_assert!(found.is_some());
        }
    }

    #[test]
    fn hotp_code_is_accepted_iff_its_counter_is_in_the_look_ahead(
        index in 0usize..8,
        params in params_strategy(),
        next in step_strategy(),
        look_ahead in 0u32..=20,
        delta in -5i64..=25,
    ) {
        // Eight digits: the true counter may be outside the window while a chance
        // collision inside it would be accepted.
        let params = eight_digits(params);
        let secret = &secrets()[index];
        let Some(counter) = offset(next, delta) else { return Ok(()) };
        let code = hotp(secret, counter, params.algorithm, params.digits);
        // A counter with no successor is never accepted: the next counter could not be stored.
        let in_window = 0 <= delta && delta <= i64::from(look_ahead) && counter < u64::MAX;
        let found = verify_hotp(secret, params, &code, next, look_ahead);
        prop_assert_eq!(found, in_window.then_some(counter));
    }

    #[test]
    fn totp_resync_finds_any_drift_within_the_window(
        index in 0usize..8,
        params in params_strategy(),
        expected in step_strategy(),
        window in 0u32..=12,
        delta in -15i64..=15,
    ) {
        // Two consecutive codes colliding by chance is a one-in-10^12 event per step
        // even with 6 digits, so the property is asserted exactly.
        let secret = &secrets()[index];
        let Some(first) = offset(expected, delta) else { return Ok(()) };
        let Some(second) = first.checked_add(1) else { return Ok(()) };
        let code1 = totp_at_step(secret, first, params);
        let code2 = totp_at_step(secret, second, params);
        let found = resync_totp(secret, params, &code1, &code2, expected, window);
        let in_window = delta.unsigned_abs() <= u64::from(window);
        prop_assert_eq!(found, in_window.then_some(second));
        if let Some(step) = found {
            // What the caller turns into the new drift.
            prop_assert_eq!(i128::from(step) - i128::from(expected), i128::from(delta) + 1);
        }
    }

    #[test]
    fn totp_resync_rejects_non_consecutive_or_reversed_codes(
        index in 0usize..8,
        params in params_strategy(),
        expected in 1_000u64..1_000_000_000,
        window in 0u32..=12,
        delta in -12i64..=12,
    ) {
        // Eight digits: with 6, TOTP(n+1) == TOTP(n+2) by chance would be one in a
        // million per case, often enough to make the property flaky.
        let params = eight_digits(params);
        let secret = &secrets()[index];
        let n = expected.strict_add_signed(delta);
        let code = |step| totp_at_step(secret, step, params);
        prop_assert_eq!(resync_totp(secret, params, &code(n), &code(n + 2), expected, window), None);
        prop_assert_eq!(resync_totp(secret, params, &code(n + 1), &code(n), expected, window), None);
        prop_assert_eq!(resync_totp(secret, params, &code(n), &code(n), expected, window), None);
    }

    #[test]
    fn hotp_resync_finds_the_counter_ahead(
        index in 0usize..8,
        params in params_strategy(),
        next in step_strategy(),
        window in 0u32..=20,
        delta in -5i64..=25,
    ) {
        let secret = &secrets()[index];
        let Some(first) = offset(next, delta) else { return Ok(()) };
        let Some(second) = first.checked_add(1) else { return Ok(()) };
        let code = |c| hotp(secret, c, params.algorithm, params.digits);
        let found = resync_hotp(secret, params, &code(first), &code(second), next, window);
        // A second counter with no successor is never returned: the next could not be stored.
        let in_window = 0 <= delta && delta <= i64::from(window) && second < u64::MAX;
        prop_assert_eq!(found, in_window.then_some(second));
    }
}

// ---- normalisation ----

const BLANKS: [char; 3] = [' ', '\t', '\u{3000}'];

fn full_width(digit: char) -> char {
    char::from_u32(u32::from(digit) - u32::from('0') + 0xFF10).expect("U+FF10..=U+FF19")
}

/// A code as a user might type it: each digit ASCII or full-width, blanks around it.
fn typed(code: &str, wide: &[bool], blanks: &[Vec<usize>]) -> String {
    let mut out = String::new();
    for (i, digit) in code.chars().enumerate() {
        blanks[i].iter().for_each(|&b| out.push(BLANKS[b]));
        out.push(if wide[i] { full_width(digit) } else { digit });
    }
    blanks[code.len()].iter().for_each(|&b| out.push(BLANKS[b]));
    out
}

fn typing_strategy() -> impl Strategy<Value = (String, Vec<bool>, Vec<Vec<usize>>)> {
    (
        "[0-9]{6}",
        prop::collection::vec(any::<bool>(), 6),
        prop::collection::vec(prop::collection::vec(0usize..3, 0..3), 7),
    )
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_digit() || ('\u{FF10}'..='\u{FF19}').contains(&c) || BLANKS.contains(&c)
}

fn six(input: &str) -> Result<Code, CodeError> {
    normalize_code(input, Digits::SIX)
}

proptest! {
    #[test]
    fn ascii_six_digit_codes_round_trip(code in "[0-9]{6}") {
        let normalised = six(&code).unwrap();
        prop_assert_eq!(normalised.as_str(), code.as_str());
    }

    #[test]
    fn blanks_and_full_width_digits_normalise_to_the_same_code(
        (code, wide, blanks) in typing_strategy()
    ) {
        let input = typed(&code, &wide, &blanks);
        let normalised = six(&input).unwrap();
        prop_assert_eq!(normalised.as_str(), code.as_str());
        prop_assert!(normalised.ct_eq(&six(&code).unwrap()));
    }

    #[test]
    fn any_other_character_is_rejected(
        (code, wide, blanks) in typing_strategy(),
        intruder in any::<char>().prop_filter("not allowed in codes", |&c| !is_allowed(c)),
        position in 0usize..=20,
    ) {
        let mut chars: Vec<char> = typed(&code, &wide, &blanks).chars().collect();
        chars.insert(position.min(chars.len()), intruder);
        let input: String = chars.into_iter().collect();
        prop_assert_eq!(six(&input), Err(CodeError::NotDigits));
    }

    #[test]
    fn codes_are_equal_iff_their_digits_are(a in "[0-9]{6}", b in "[0-9]{6}") {
        prop_assert_eq!(six(&a).unwrap().ct_eq(&six(&b).unwrap()), a == b);
    }
}
