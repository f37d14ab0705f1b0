//! The pure decision of what a presented code means for a credential, given its stored state
//! and the time. No I/O: the caller turns the decision into one conditional write.

use mamori_domain::CredentialKind;
use mamori_otp::{
    Code, OtpParams, Secret, resync_hotp, resync_totp, totp_step, verify_hotp, verify_totp,
};

/// What a credential's stored state says about which codes it accepts.
#[derive(Debug)]
pub struct CodeState<'a> {
    /// The secret.
    pub secret: &'a Secret,
    /// Algorithm, digits, period.
    pub params: OtpParams,
    /// Time or event based.
    pub kind: CredentialKind,
    /// TOTP: learned offset of the token's clock, in steps.
    pub drift_steps: i64,
    /// TOTP: the last spent step.
    pub last_used_step: Option<i64>,
    /// HOTP: the next counter value expected.
    pub hotp_next_counter: i64,
}

/// What a code (or pair of codes) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Valid: spend this TOTP step or HOTP counter (and learn this drift, on resync).
    Spend {
        /// The step or counter to spend.
        at: i64,
        /// The drift to record (resync only).
        drift: Option<i64>,
    },
    /// A real code of this token that was already spent: not counted as a failure.
    AlreadyUsed,
    /// Not a valid code now: counted as a failure.
    Wrong,
}

impl CodeState<'_> {
    fn current_step(&self, unix_seconds: u64) -> i64 {
        i64::try_from(totp_step(unix_seconds, self.params.period)).unwrap_or(i64::MAX)
    }

    fn expected_step(&self, unix_seconds: u64) -> u64 {
        u64::try_from(
            self.current_step(unix_seconds)
                .saturating_add(self.drift_steps),
        )
        .unwrap_or(0)
    }

    fn spent(&self, step: i64) -> bool {
        self.last_used_step.is_some_and(|last| step <= last)
    }

    /// One code, accepted within `window` steps either side of the drift-adjusted step (TOTP)
    /// or `look_ahead` counters ahead (HOTP).
    pub fn check_one(
        &self,
        code: &Code,
        unix_seconds: u64,
        window: u32,
        look_ahead: u32,
    ) -> Decision {
        match self.kind {
            CredentialKind::Totp => {
                let expected = self.expected_step(unix_seconds);
                match verify_totp(self.secret, self.params, code, expected, window, window) {
                    Some(step) => self.spend_or_used(to_i64(step), None),
                    None => Decision::Wrong,
                }
            }
            CredentialKind::Hotp => {
                let next = u64::try_from(self.hotp_next_counter).unwrap_or(0);
                if let Some(counter) = verify_hotp(self.secret, self.params, code, next, look_ahead)
                {
                    return spend_hotp(counter);
                }
                // The code just before the expected one is a resubmission, not a guess.
                match next.checked_sub(1) {
                    Some(prev)
                        if verify_hotp(self.secret, self.params, code, prev, 0).is_some() =>
                    {
                        Decision::AlreadyUsed
                    }
                    _ => Decision::Wrong,
                }
            }
        }
    }

    /// Two consecutive codes (OTP1 then OTP2) close to the drift-adjusted step: registration
    /// in two-code mode. The second code's step is the one spent.
    pub fn check_pair(
        &self,
        first: &Code,
        second: &Code,
        unix_seconds: u64,
        window: u32,
        look_ahead: u32,
    ) -> Decision {
        match self.kind {
            CredentialKind::Totp => {
                // Centre the search one step back so the second code's step, not the first's,
                // lies within the window: the second code must still be current.
                let center = self.expected_step(unix_seconds).saturating_sub(1);
                match resync_totp(self.secret, self.params, first, second, center, window) {
                    Some(step2) => self
                        .spend_or_used(to_i64(step2) - 1, None)
                        .then_second(to_i64(step2)),
                    None => Decision::Wrong,
                }
            }
            CredentialKind::Hotp => {
                let next = u64::try_from(self.hotp_next_counter).unwrap_or(0);
                match resync_hotp(self.secret, self.params, first, second, next, look_ahead) {
                    Some(counter2) => spend_hotp(counter2),
                    None => Decision::Wrong,
                }
            }
        }
    }

    /// Sync drift correction (同期ズレ補正): two consecutive codes searched within `window`
    /// steps of the *true* current step, ignoring the drift learned so far, so the learned
    /// drift can never leave the window however often resync is repeated.
    pub fn check_resync(
        &self,
        first: &Code,
        second: &Code,
        unix_seconds: u64,
        window: u32,
    ) -> Decision {
        match self.kind {
            CredentialKind::Totp => {
                let now_step = self.current_step(unix_seconds);
                let center = u64::try_from(now_step).unwrap_or(0);
                match resync_totp(self.secret, self.params, first, second, center, window) {
                    Some(step2) => {
                        let step2 = to_i64(step2);
                        self.spend_or_used(step2 - 1, None)
                            .then_second(step2)
                            .with_drift(step2 - now_step)
                    }
                    None => Decision::Wrong,
                }
            }
            CredentialKind::Hotp => {
                let next = u64::try_from(self.hotp_next_counter).unwrap_or(0);
                match resync_hotp(self.secret, self.params, first, second, next, window) {
                    Some(counter2) => spend_hotp(counter2),
                    None => Decision::Wrong,
                }
            }
        }
    }

    fn spend_or_used(&self, step: i64, drift: Option<i64>) -> Decision {
        if self.spent(step) {
            Decision::AlreadyUsed
        } else {
            Decision::Spend { at: step, drift }
        }
    }
}

impl Decision {
    /// For a pair whose first step was found unspent, spend the second step instead.
    fn then_second(self, step2: i64) -> Self {
        match self {
            Decision::Spend { drift, .. } => Decision::Spend { at: step2, drift },
            other => other,
        }
    }

    fn with_drift(self, drift: i64) -> Self {
        match self {
            Decision::Spend { at, .. } => Decision::Spend {
                at,
                drift: Some(drift),
            },
            other => other,
        }
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Spends HOTP counter `counter` — only if the store can hold it and the next counter after it
/// (an i64). Beyond that it is a wrong code: saturating would spend another counter, and a
/// wrapped next counter would make every spent code valid again.
fn spend_hotp(counter: u64) -> Decision {
    match i64::try_from(counter) {
        Ok(at) if at.checked_add(1).is_some() => Decision::Spend { at, drift: None },
        _ => Decision::Wrong,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_otp::{Digits, normalize_code, totp_at_step};

    fn secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    fn code_at(secret: &Secret, step: u64) -> Code {
        totp_at_step(secret, step, OtpParams::default())
    }

    fn state(secret: &Secret, drift: i64, last: Option<i64>) -> CodeState<'_> {
        CodeState {
            secret,
            params: OtpParams::default(),
            kind: CredentialKind::Totp,
            drift_steps: drift,
            last_used_step: last,
            hotp_next_counter: 0,
        }
    }

    const NOW: u64 = 1_795_339_800; // step 59_844_660
    const STEP: u64 = NOW / 30;

    #[test]
    fn a_current_code_is_spent_once() {
        let s = secret();
        let code = code_at(&s, STEP);
        assert_eq!(
            state(&s, 0, None).check_one(&code, NOW, 1, 0),
            Decision::Spend {
                at: STEP as i64,
                drift: None
            }
        );
        assert_eq!(
            state(&s, 0, Some(STEP as i64)).check_one(&code, NOW, 1, 0),
            Decision::AlreadyUsed
        );
        // An older code inside the window, at or before the last used step, is never accepted.
        let older = code_at(&s, STEP - 1);
        assert_eq!(
            state(&s, 0, Some(STEP as i64)).check_one(&older, NOW, 1, 0),
            Decision::AlreadyUsed
        );
        let wrong = normalize_code("000000", Digits::SIX).unwrap();
        assert_eq!(
            state(&s, 0, None).check_one(&wrong, NOW, 1, 0),
            Decision::Wrong
        );
    }

    #[test]
    fn a_fast_clock_fails_until_resync_learns_its_drift() {
        let s = secret();
        // The phone runs 3 minutes fast: 6 steps ahead.
        let fast = STEP + 6;
        assert_eq!(
            state(&s, 0, None).check_one(&code_at(&s, fast), NOW, 1, 0),
            Decision::Wrong
        );
        let decision = state(&s, 0, None).check_resync(
            &code_at(&s, fast),
            &code_at(&s, fast + 1),
            NOW + 30,
            10,
        );
        assert_eq!(
            decision,
            Decision::Spend {
                at: (fast + 1) as i64,
                drift: Some(6)
            }
        );
        // With the drift learned, the next code is accepted.
        let later = state(&s, 6, Some((fast + 1) as i64));
        assert_eq!(
            later.check_one(&code_at(&s, fast + 2), NOW + 60, 1, 0),
            Decision::Spend {
                at: (fast + 2) as i64,
                drift: None
            }
        );
    }

    #[test]
    fn resync_cannot_walk_drift_beyond_its_window() {
        let s = secret();
        // Already drifted +10: a resync 11 steps out is refused even though it is within
        // window of the learned drift.
        let st = state(&s, 10, None);
        let far = STEP + 11;
        assert_eq!(
            st.check_resync(&code_at(&s, far), &code_at(&s, far + 1), NOW, 10),
            Decision::Wrong
        );
    }

    #[test]
    fn two_code_registration_needs_consecutive_codes_the_second_current() {
        let s = secret();
        let st = state(&s, 0, None);
        assert_eq!(
            st.check_pair(&code_at(&s, STEP - 1), &code_at(&s, STEP), NOW, 1, 0),
            Decision::Spend {
                at: STEP as i64,
                drift: None
            }
        );
        assert_eq!(
            st.check_pair(&code_at(&s, STEP - 2), &code_at(&s, STEP), NOW, 1, 0),
            Decision::Wrong
        );
        assert_eq!(
            st.check_pair(&code_at(&s, STEP), &code_at(&s, STEP - 1), NOW, 1, 0),
            Decision::Wrong
        );
    }

    fn hotp_state(secret: &Secret, next: i64) -> CodeState<'_> {
        CodeState {
            kind: CredentialKind::Hotp,
            hotp_next_counter: next,
            ..state(secret, 0, None)
        }
    }

    fn hotp_code(secret: &Secret, counter: u64) -> Code {
        let params = OtpParams::default();
        mamori_otp::hotp(secret, counter, params.algorithm, params.digits)
    }

    /// The stored next counter is an i64: a counter whose successor cannot be stored is never
    /// accepted (spending it would overflow `counter + 1`, and a wrapped next counter would make
    /// every spent code valid again). A code at the last storable counter, or beyond it within
    /// the look-ahead, is wrong — never a spend of some other, saturated counter.
    #[test]
    fn an_hotp_counter_without_a_successor_is_refused() {
        let s = secret();
        let last = i64::MAX;
        let at_max = hotp_code(&s, last as u64);
        assert_eq!(
            hotp_state(&s, last).check_one(&at_max, NOW, 1, 10),
            Decision::Wrong
        );
        let beyond = hotp_code(&s, last as u64 + 2);
        assert_eq!(
            hotp_state(&s, last - 3).check_one(&beyond, NOW, 1, 10),
            Decision::Wrong
        );
        let pair = (hotp_code(&s, last as u64 - 1), at_max);
        assert_eq!(
            hotp_state(&s, last - 5).check_resync(&pair.0, &pair.1, NOW, 10),
            Decision::Wrong
        );
        assert_eq!(
            hotp_state(&s, last - 5).check_pair(&pair.0, &pair.1, NOW, 1, 10),
            Decision::Wrong
        );
        // One below the edge still works: its successor is i64::MAX.
        let below = hotp_code(&s, last as u64 - 1);
        assert_eq!(
            hotp_state(&s, last - 1).check_one(&below, NOW, 1, 10),
            Decision::Spend {
                at: last - 1,
                drift: None
            }
        );
    }
}
