//! Checking a typed code against a window of time steps or counters, and finding a
//! drifted token again from two consecutive codes.
//!
//! These functions only answer "which step (or counter) does this code belong to?".
//! Replay protection, failure counting and storing the learned drift are the caller's:
//! they need an atomic conditional write (`... WHERE last_step < :step`), which pure maths
//! cannot provide.
//!
//! Every candidate in the window is computed and compared, and the match is selected
//! with constant-time operations, so the running time depends only on the window (public
//! policy), never on which step matched or whether one did. Each candidate costs one
//! HMAC (two for resynchronisation); callers bound the windows by policy.
//!
//! When more than one candidate matches (with 6 digits a one-in-a-million coincidence
//! per extra candidate) the one nearest the expected position wins, and of two equally
//! near the earlier one, so the outcome is deterministic.

use subtle::{Choice, ConditionallySelectable, CtOption};

use crate::algorithm::OtpParams;
use crate::code::Code;
use crate::generate::{hotp, totp_at_step};
use crate::secret::Secret;

/// Finds the time step of a TOTP code within `window_before` steps before and
/// `window_after` steps after `expected_step`, both inclusive; `(0, 0)` checks only
/// `expected_step`.
///
/// `expected_step` is the server's current step ([`crate::totp_step`]) plus the drift
/// learned for this token. Returns the matched step: the caller must still reject it if
/// it is at or before the token's last used step, and on success store it as the new
/// last used step. [`verify_totp_after`] does that filtering here instead.
///
/// Candidates that would fall below 0 or above `u64::MAX` are skipped, not wrapped.
#[must_use = "the code counts as verified only if this result is checked"]
pub fn verify_totp(
    secret: &Secret,
    params: OtpParams,
    code: &Code,
    expected_step: u64,
    window_before: u32,
    window_after: u32,
) -> Option<u64> {
    verify_totp_after(
        secret,
        params,
        code,
        expected_step,
        window_before,
        window_after,
        None,
    )
}

/// Like [`verify_totp`], but never matches a step at or before `last_used_step`, so a
/// replayed code, or one older than the last accepted code, is simply not found. The
/// caller must still store the matched step with a conditional write (`... WHERE
/// last_step < :step`): two concurrent requests can both pass this filter.
///
/// With `None` (the token has never been used) this is exactly [`verify_totp`]. Use
/// [`verify_totp`] instead when the caller wants to tell a replay apart from a wrong
/// code, for example to audit it differently.
#[must_use = "the code counts as verified only if this result is checked"]
pub fn verify_totp_after(
    secret: &Secret,
    params: OtpParams,
    code: &Code,
    expected_step: u64,
    window_before: u32,
    window_after: u32,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let unused = |step: &u64| last_used_step.is_none_or(|last| *step > last);
    let candidates = nearest_first(expected_step, window_before, window_after).filter(unused);
    first_match(candidates, |step| {
        totp_at_step(secret, step, params).ct_choice(code)
    })
}

/// Finds the counter of an HOTP code among `next_counter ..= next_counter + look_ahead`
/// (RFC 4226 §7.4's look-ahead window; counters before `next_counter` are spent).
///
/// Returns the matched counter; the caller stores `matched + 1` as the next counter, so a
/// counter without a successor (`u64::MAX`) is never matched. `params.period` is ignored.
#[must_use = "the code counts as verified only if this result is checked"]
pub fn verify_hotp(
    secret: &Secret,
    params: OtpParams,
    code: &Code,
    next_counter: u64,
    look_ahead: u32,
) -> Option<u64> {
    let with_successor = nearest_first(next_counter, 0, look_ahead).filter(has_successor);
    first_match(with_successor, |counter| {
        hotp(secret, counter, params.algorithm, params.digits).ct_choice(code)
    })
}

/// Re-finds a drifted TOTP token from two consecutive codes: looks for a step `n` in
/// `expected_step - window ..= expected_step + window` with `code1 == TOTP(n)` and
/// `code2 == TOTP(n + 1)`.
///
/// Returns `n + 1`, **the step of the second code** (the newest one the user saw). The
/// caller's new drift is `returned - current_step`, and it stores `returned` as the last
/// used step after checking that `returned - 1` is after the previous last used step
/// (neither code may have been used before).
///
/// Two codes make a lucky guess across a wide window implausible where one would not
/// (RFC 4226 §7.4 and RFC 6238 §6 recommend resynchronisation for exactly this).
/// Codes in the wrong order or with a step between them are not found.
#[must_use = "the code counts as verified only if this result is checked"]
pub fn resync_totp(
    secret: &Secret,
    params: OtpParams,
    code1: &Code,
    code2: &Code,
    expected_step: u64,
    window: u32,
) -> Option<u64> {
    let second_steps =
        nearest_first(expected_step, window, window).filter_map(|n| n.checked_add(1));
    first_match(second_steps, |second| {
        let first = totp_at_step(secret, second - 1, params).ct_choice(code1);
        first & totp_at_step(secret, second, params).ct_choice(code2)
    })
}

/// Re-finds an HOTP token whose counter ran ahead (buttons pressed without logging in):
/// looks for a counter `c` in `next_counter ..= next_counter + window` with
/// `code1 == HOTP(c)` and `code2 == HOTP(c + 1)`.
///
/// Returns `c + 1`, **the counter of the second code**; the caller stores
/// `returned + 1` as the next counter, so a second counter without a successor (`u64::MAX`)
/// is never returned. The search only goes forward: counters before
/// `next_counter` are spent, and accepting them would allow replays.
/// `params.period` is ignored.
#[must_use = "the code counts as verified only if this result is checked"]
pub fn resync_hotp(
    secret: &Secret,
    params: OtpParams,
    code1: &Code,
    code2: &Code,
    next_counter: u64,
    window: u32,
) -> Option<u64> {
    let code_at = |counter| hotp(secret, counter, params.algorithm, params.digits);
    let second_counters = nearest_first(next_counter, 0, window)
        .filter_map(|c| c.checked_add(1))
        .filter(has_successor);
    first_match(second_counters, |second| {
        code_at(second - 1).ct_choice(code1) & code_at(second).ct_choice(code2)
    })
}

/// Whether an HOTP counter has a next counter for the caller to store.
fn has_successor(counter: &u64) -> bool {
    counter.checked_add(1).is_some()
}

/// Positions around `center`, nearest first and, of two equally near, the earlier
/// first: `center, center - 1, center + 1, center - 2, ...`. Positions beyond 0 or
/// `u64::MAX` are left out rather than wrapped or repeated.
fn nearest_first(center: u64, before: u32, after: u32) -> impl Iterator<Item = u64> {
    let reach = u64::from(before.max(after));
    let around = (1..=reach).flat_map(move |distance| {
        let earlier = (distance <= u64::from(before))
            .then(|| center.checked_sub(distance))
            .flatten();
        let later = (distance <= u64::from(after))
            .then(|| center.checked_add(distance))
            .flatten();
        earlier.into_iter().chain(later)
    });
    std::iter::once(center).chain(around)
}

/// The first candidate for which `matches` holds, evaluating `matches` for every
/// candidate and selecting without branching on the results.
fn first_match(
    candidates: impl Iterator<Item = u64>,
    mut matches: impl FnMut(u64) -> Choice,
) -> Option<u64> {
    let mut found = Choice::from(0);
    let mut chosen = 0u64;
    for candidate in candidates {
        let hit = matches(candidate);
        chosen.conditional_assign(&candidate, hit & !found);
        found |= hit;
    }
    CtOption::new(chosen, found).into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    fn collect(center: u64, before: u32, after: u32) -> Vec<u64> {
        nearest_first(center, before, after).collect()
    }

    #[test]
    fn candidates_nearest_first_earlier_on_ties() {
        assert_eq!(collect(10, 2, 3), [10, 9, 11, 8, 12, 13]);
        assert_eq!(collect(10, 0, 0), [10]);
        assert_eq!(collect(10, 2, 0), [10, 9, 8]);
    }

    #[test]
    fn candidates_stop_at_the_ends_of_u64() {
        assert_eq!(collect(1, 3, 1), [1, 0, 2]);
        assert_eq!(
            collect(u64::MAX - 1, 1, 3),
            [u64::MAX - 1, u64::MAX - 2, u64::MAX]
        );
    }

    #[test]
    fn first_match_takes_the_first_hit_and_checks_all() {
        let mut seen = Vec::new();
        let result = first_match([5, 4, 6, 3].into_iter(), |c| {
            seen.push(c);
            Choice::from(u8::from(c == 4 || c == 3))
        });
        assert_eq!(result, Some(4));
        assert_eq!(seen, [5, 4, 6, 3]);
        assert_eq!(first_match([1, 2].into_iter(), |_| Choice::from(0)), None);
    }

    #[test]
    fn totp_window_finds_the_step() {
        let params = OtpParams::default();
        let code = totp_at_step(&secret(), 1000, params);
        assert_eq!(
            verify_totp(&secret(), params, &code, 1000, 0, 0),
            Some(1000)
        );
        assert_eq!(
            verify_totp(&secret(), params, &code, 1001, 1, 0),
            Some(1000)
        );
        assert_eq!(verify_totp(&secret(), params, &code, 1001, 0, 1), None);
        assert_eq!(verify_totp(&secret(), params, &code, 998, 0, 2), Some(1000));
    }

    #[test]
    fn last_used_step_excludes_replays() {
        let params = OtpParams::default();
        let code = totp_at_step(&secret(), 1000, params);
        let check = |last| verify_totp_after(&secret(), params, &code, 1000, 1, 1, last);
        assert_eq!(check(None), Some(1000));
        assert_eq!(check(Some(999)), Some(1000));
        assert_eq!(check(Some(1000)), None);
        assert_eq!(check(Some(1001)), None);
    }

    #[test]
    fn windows_saturate_at_zero_and_max() {
        let params = OtpParams::default();
        let at_zero = totp_at_step(&secret(), 0, params);
        assert_eq!(verify_totp(&secret(), params, &at_zero, 2, 5, 5), Some(0));
        let at_max = totp_at_step(&secret(), u64::MAX, params);
        assert_eq!(
            verify_totp(&secret(), params, &at_max, u64::MAX - 2, 5, 5),
            Some(u64::MAX)
        );
        let c1 = totp_at_step(&secret(), u64::MAX - 1, params);
        assert_eq!(
            resync_totp(&secret(), params, &c1, &at_max, u64::MAX, 3),
            Some(u64::MAX)
        );
    }

    /// The caller stores the counter after the one matched: `u64::MAX` has none, so it is
    /// never matched (rather than matched and left to overflow in the caller's `+ 1`).
    #[test]
    fn an_hotp_counter_without_a_successor_is_never_matched() {
        let params = OtpParams::default();
        let code = |c| hotp(&secret(), c, params.algorithm, params.digits);
        assert_eq!(
            verify_hotp(&secret(), params, &code(u64::MAX), u64::MAX - 1, 10),
            None
        );
        assert_eq!(
            verify_hotp(&secret(), params, &code(u64::MAX - 1), u64::MAX - 1, 10),
            Some(u64::MAX - 1)
        );
        assert_eq!(
            resync_hotp(
                &secret(),
                params,
                &code(u64::MAX - 1),
                &code(u64::MAX),
                u64::MAX - 5,
                10
            ),
            None
        );
        assert_eq!(
            resync_hotp(
                &secret(),
                params,
                &code(u64::MAX - 2),
                &code(u64::MAX - 1),
                u64::MAX - 5,
                10
            ),
            Some(u64::MAX - 1)
        );
    }

    #[test]
    fn hotp_look_ahead_is_forward_only() {
        let params = OtpParams::default();
        let code = hotp(&secret(), 5, params.algorithm, params.digits);
        assert_eq!(verify_hotp(&secret(), params, &code, 5, 0), Some(5));
        assert_eq!(verify_hotp(&secret(), params, &code, 2, 3), Some(5));
        assert_eq!(verify_hotp(&secret(), params, &code, 2, 2), None);
        assert_eq!(verify_hotp(&secret(), params, &code, 6, 10), None);
    }

    #[test]
    fn hotp_resync_returns_the_second_counter() {
        let params = OtpParams::default();
        let code = |c| hotp(&secret(), c, params.algorithm, params.digits);
        assert_eq!(
            resync_hotp(&secret(), params, &code(40), &code(41), 10, 30),
            Some(41)
        );
        assert_eq!(
            resync_hotp(&secret(), params, &code(40), &code(41), 10, 29),
            None
        );
        assert_eq!(
            resync_hotp(&secret(), params, &code(40), &code(41), 41, 30),
            None
        );
        assert_eq!(
            resync_hotp(&secret(), params, &code(41), &code(40), 10, 30),
            None
        );
    }

    #[test]
    fn equally_near_collisions_resolve_to_the_earlier_step() {
        // Find two steps an even distance apart that share a 6-digit code, then verify
        // with the expected step exactly between them.
        let params = OtpParams::default();
        let mut first_seen = HashMap::new();
        let (earlier, later) = (0u64..20_000)
            .find_map(|step| {
                let code = totp_at_step(&secret(), step, params).as_str().to_owned();
                match first_seen.get(&code) {
                    Some(&prev) if (step - prev) % 2 == 0 => Some((prev, step)),
                    Some(_) => None,
                    None => {
                        first_seen.insert(code, step);
                        None
                    }
                }
            })
            .expect("a collision within 20000 steps");
        let code = totp_at_step(&secret(), later, params);
        let middle = (earlier + later) / 2;
        let half = u32::try_from((later - earlier) / 2).unwrap();
        assert_eq!(
            verify_totp(&secret(), params, &code, middle, half, half),
            Some(earlier)
        );
    }
}
