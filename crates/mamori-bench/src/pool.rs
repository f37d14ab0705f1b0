//! Which user the next request is for, and with which code — the bench's bookkeeping of what
//! the server must answer. Pure: the time is a parameter.
//!
//! - A **correct** code is a fresh one: a step of the user's token that this run has not spent
//!   and that the server will accept when the request arrives. A step is spent once per token,
//!   so at most one correct code per user and step (or, with `spend_window`, the steps of the
//!   bank's window, oldest first). When no user has one, the request is not sent and counted
//!   as `no_fresh_user` instead.
//! - A **replay** re-sends a code this run had accepted, while its step is still inside the
//!   window (outside it the server would count it as a wrong code): the server answers 409
//!   `otp_already_used` and counts nothing.
//! - A **wrong** code matches no step near now. It goes only to a user whose last answer in
//!   this run was a success (so their count at the bank is known) and who has had fewer than
//!   `lock_threshold - 2` wrong codes since: the bench never locks a token.
//!
//! No user ever has two requests in flight, so the expected answer is known exactly; an
//! answer other than the expected one is an error of the server (or of a second bench run on
//! the same users within a minute).

use std::collections::VecDeque;

use mamori_otp::{Secret, totp_at_step};

use crate::secrets::{BankOtp, SeededUser};

/// How long before a step ends a code is no longer counted on (a request takes time to arrive).
pub const MARGIN_MS: i64 = 2_000;

/// How many users a pick looks at before it gives up.
const SCAN: usize = 512;

/// How many accepted codes are kept to replay.
const REPLAYS: usize = 4_096;

/// What a request is meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A fresh correct code: 200.
    Correct,
    /// A code accepted before, again: 409 `otp_already_used`.
    Replay,
    /// A wrong code: 422 `otp_invalid`.
    Wrong,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::Correct, Kind::Replay, Kind::Wrong];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Correct => "correct",
            Kind::Replay => "replay",
            Kind::Wrong => "wrong",
        }
    }

    /// The status and problem code the server must answer with.
    pub fn expected(self) -> (u16, Option<&'static str>) {
        match self {
            Kind::Correct => (200, None),
            Kind::Replay => (409, Some("otp_already_used")),
            Kind::Wrong => (422, Some("otp_invalid")),
        }
    }

    /// Why no request of this kind could be made.
    pub fn shortage(self) -> &'static str {
        match self {
            Kind::Correct => "no_fresh_user",
            Kind::Replay => "no_replay_candidate",
            Kind::Wrong => "no_wrong_candidate",
        }
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Job {
    /// The user's index.
    pub user: usize,
    /// Their bank's index.
    pub bank: usize,
    /// What it is.
    pub kind: Kind,
    /// The code to send.
    pub code: String,
    /// The step the code belongs to (for a wrong code, the current step).
    pub step: i64,
}

/// What the server answered, as the pool needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The answer the job's kind expects.
    Expected,
    /// Another answer: status and whether it says the token is now locked or suspended (423).
    Unexpected {
        /// The HTTP status (0: no answer).
        status: u16,
    },
}

#[derive(Debug)]
struct UserState {
    bank: usize,
    secret: Secret,
    busy: bool,
    /// Never used again (locked, or in a state the run cannot know).
    retired: bool,
    /// The highest step known spent.
    last_spent: Option<i64>,
    /// A success in this run and wrong codes since.
    since_success: Option<u32>,
}

/// The users and what this run knows of them.
#[derive(Debug)]
pub struct Pool {
    users: Vec<UserState>,
    banks: Vec<BankOtp>,
    spend_window: bool,
    fresh_cursor: usize,
    wrong_cursor: usize,
    accepted: VecDeque<(usize, String, i64)>,
}

impl Pool {
    /// A pool over `users` of `banks`. With `spend_window`, correct codes also use the steps
    /// either side of the current one that the bank accepts (its `window`), oldest first.
    pub fn new(users: Vec<SeededUser>, banks: Vec<BankOtp>, spend_window: bool) -> Self {
        Self {
            users: users
                .into_iter()
                .map(|u| UserState {
                    bank: u.bank,
                    secret: u.secret,
                    busy: false,
                    retired: false,
                    last_spent: None,
                    since_success: None,
                })
                .collect(),
            banks,
            spend_window,
            fresh_cursor: 0,
            wrong_cursor: 0,
            accepted: VecDeque::with_capacity(REPLAYS),
        }
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The user's bank index.
    pub fn bank_of(&self, user: usize) -> usize {
        self.users[user].bank
    }

    /// A job of `kind` at `now_ms` (Unix milliseconds), marking its user busy; `None` when no
    /// user can take one now.
    pub fn take(&mut self, kind: Kind, now_ms: i64) -> Option<Job> {
        let job = match kind {
            Kind::Correct => self.take_fresh(now_ms, None),
            Kind::Replay => self.take_replay(now_ms),
            Kind::Wrong => self.take_wrong(now_ms),
        }?;
        self.users[job.user].busy = true;
        Some(job)
    }

    /// A fresh correct code for `user` if they have one now (setup checks).
    pub fn take_fresh_for(&mut self, user: usize, now_ms: i64) -> Option<Job> {
        let job = self.take_fresh(now_ms, Some(user))?;
        self.users[job.user].busy = true;
        Some(job)
    }

    /// Frees the job's user without sending it.
    pub fn release(&mut self, job: &Job) {
        self.users[job.user].busy = false;
    }

    /// Records the answer to `job` and frees its user.
    pub fn settle(&mut self, job: &Job, answer: Answer) {
        let user = &mut self.users[job.user];
        user.busy = false;
        match (job.kind, answer) {
            (Kind::Correct, Answer::Expected) => {
                user.last_spent = Some(user.last_spent.map_or(job.step, |s| s.max(job.step)));
                user.since_success = Some(0);
                if self.accepted.len() == REPLAYS {
                    self.accepted.pop_front();
                }
                self.accepted
                    .push_back((job.user, job.code.clone(), job.step));
            }
            (Kind::Wrong, Answer::Expected) => {
                if let Some(wrongs) = &mut user.since_success {
                    *wrongs += 1;
                }
            }
            (Kind::Replay, Answer::Expected) => {}
            (Kind::Correct, Answer::Unexpected { status: 409 }) => {
                // Spent before this run knew of it (another run on the same users): skip the
                // step, keep the user.
                user.last_spent = Some(user.last_spent.map_or(job.step, |s| s.max(job.step)));
            }
            (_, Answer::Unexpected { .. }) => {
                // The user's state at the bank is no longer known: never use them again.
                user.retired = true;
            }
        }
    }

    fn steps(&self, bank: usize, now_ms: i64) -> Steps {
        let otp = &self.banks[bank];
        let period = i64::from(otp.params.period.seconds()) * 1000;
        let window = i64::from(otp.window);
        let now = now_ms.div_euclid(period);
        let late = (now_ms + MARGIN_MS).div_euclid(period);
        let use_window = if self.spend_window { window } else { 0 };
        Steps {
            now,
            // Still inside the server's window when the request arrives.
            lowest_accepted: late - window,
            lowest_fresh: (now - use_window).max(late - window),
            highest_fresh: now + use_window,
            window,
        }
    }

    fn fresh_step(&self, user: usize, now_ms: i64) -> Option<i64> {
        let state = &self.users[user];
        if state.busy || state.retired {
            return None;
        }
        let steps = self.steps(state.bank, now_ms);
        let step = state.last_spent.map_or(steps.lowest_fresh, |last| {
            (last + 1).max(steps.lowest_fresh)
        });
        (step <= steps.highest_fresh).then_some(step)
    }

    fn take_fresh(&mut self, now_ms: i64, only: Option<usize>) -> Option<Job> {
        let count = self.users.len();
        let candidates: Vec<usize> = match only {
            Some(user) => vec![user],
            None => (0..SCAN.min(count))
                .map(|i| (self.fresh_cursor + i) % count)
                .collect(),
        };
        for user in candidates {
            let Some(step) = self.fresh_step(user, now_ms) else {
                continue;
            };
            let window = self.steps(self.users[user].bank, now_ms).window;
            let code = self.code(user, step);
            // A code that is also another nearby step's (one in a million) could be taken for
            // that step: skip it rather than predict wrongly.
            if self.matches_other_step(user, &code, step, 2 * window + 1) {
                continue;
            }
            if only.is_none() {
                self.fresh_cursor = (user + 1) % count;
            }
            return Some(Job {
                user,
                bank: self.users[user].bank,
                kind: Kind::Correct,
                code,
                step,
            });
        }
        None
    }

    fn take_replay(&mut self, now_ms: i64) -> Option<Job> {
        // Codes too old to be inside the window on arrival are dropped from the front.
        while let Some(&(user, _, step)) = self.accepted.front() {
            if step < self.steps(self.users[user].bank, now_ms).lowest_accepted {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        let found = self
            .accepted
            .iter()
            .rev()
            .take(SCAN)
            .find(|(user, code, step)| {
                let state = &self.users[*user];
                let window = self.steps(state.bank, now_ms).window;
                !state.busy
                    && !state.retired
                    && *step >= self.steps(state.bank, now_ms).lowest_accepted
                    && !self.matches_other_step(*user, code, *step, 2 * window + 2)
            })?;
        let (user, code, step) = found.clone();
        Some(Job {
            user,
            bank: self.users[user].bank,
            kind: Kind::Replay,
            code,
            step,
        })
    }

    fn take_wrong(&mut self, now_ms: i64) -> Option<Job> {
        let count = self.users.len();
        for i in 0..SCAN.min(count) {
            let user = (self.wrong_cursor + i) % count;
            let state = &self.users[user];
            let limit = self.banks[state.bank].lock_threshold.saturating_sub(2);
            let fits = !state.busy
                && !state.retired
                && state.since_success.is_some_and(|wrongs| wrongs < limit);
            if !fits {
                continue;
            }
            let steps = self.steps(state.bank, now_ms);
            let right = self.code(user, steps.now);
            let code = self.wrong_code(user, &right, steps.now, steps.window + 2);
            self.wrong_cursor = (user + 1) % count;
            return Some(Job {
                user,
                bank: state.bank,
                kind: Kind::Wrong,
                code,
                step: steps.now,
            });
        }
        None
    }

    fn code(&self, user: usize, step: i64) -> String {
        let state = &self.users[user];
        let params = self.banks[state.bank].params;
        totp_at_step(&state.secret, u64::try_from(step).unwrap_or(0), params)
            .as_str()
            .to_owned()
    }

    fn matches_other_step(&self, user: usize, code: &str, step: i64, around: i64) -> bool {
        (step - around..=step + around)
            .filter(|other| *other != step && *other >= 0)
            .any(|other| self.code(user, other) == code)
    }

    /// A code of the right length that matches none of the user's steps within `around` of
    /// `step`.
    fn wrong_code(&self, user: usize, right: &str, step: i64, around: i64) -> String {
        let digits = right.len();
        let modulus = 10_u64.pow(u32::try_from(digits).unwrap_or(6));
        let mut value: u64 = right.parse().unwrap_or(0);
        loop {
            value = (value + modulus / 2 + 7) % modulus;
            let code = format!("{value:0digits$}");
            if code != right && !self.matches_other_step(user, &code, step, around) {
                return code;
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Steps {
    now: i64,
    lowest_accepted: i64,
    lowest_fresh: i64,
    highest_fresh: i64,
    window: i64,
}

#[cfg(test)]
mod tests {
    use mamori_otp::OtpParams;

    use super::*;

    fn pool(users: usize, spend_window: bool) -> Pool {
        let users = (0..users)
            .map(|i| SeededUser {
                bank: 0,
                user_id: format!("usr_{i}"),
                secret: Secret::generate().unwrap(),
            })
            .collect();
        let bank = BankOtp {
            params: OtpParams::default(),
            window: 1,
            lock_threshold: 10,
        };
        Pool::new(users, vec![bank], spend_window)
    }

    /// 10 s into a step.
    const NOW: i64 = 1_795_339_810_000;
    const STEP: i64 = 1_795_339_800 / 30;

    #[test]
    fn each_user_spends_each_step_once() {
        let mut pool = pool(3, false);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let job = pool.take(Kind::Correct, NOW).unwrap();
            assert_eq!(job.step, STEP);
            seen.push(job.user);
            pool.settle(&job, Answer::Expected);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2]);
        assert!(pool.take(Kind::Correct, NOW).is_none(), "pool exhausted");
        let next = pool.take(Kind::Correct, NOW + 30_000).unwrap();
        assert_eq!(next.step, STEP + 1);
    }

    #[test]
    fn the_window_gives_each_user_the_steps_oldest_first() {
        let mut early = pool(1, true);
        let mut steps = Vec::new();
        while let Some(job) = early.take(Kind::Correct, NOW) {
            steps.push(job.step);
            early.settle(&job, Answer::Expected);
        }
        assert_eq!(steps, [STEP - 1, STEP, STEP + 1]);
        // Near the end of the step the oldest step would leave the window on the way.
        let mut late = pool(1, true);
        let job = late.take(Kind::Correct, NOW + 19_000).unwrap();
        assert_eq!(job.step, STEP);
    }

    #[test]
    fn busy_users_are_not_picked_and_replays_reuse_accepted_codes() {
        let mut pool = pool(2, false);
        let a = pool.take(Kind::Correct, NOW).unwrap();
        let b = pool.take(Kind::Correct, NOW).unwrap();
        assert_ne!(a.user, b.user);
        assert!(
            pool.take(Kind::Replay, NOW).is_none(),
            "nothing accepted yet"
        );
        assert!(
            pool.take(Kind::Wrong, NOW).is_none(),
            "no user with a known count"
        );
        pool.settle(&a, Answer::Expected);
        let replay = pool.take(Kind::Replay, NOW).unwrap();
        assert_eq!((replay.user, &replay.code), (a.user, &a.code));
        pool.settle(&replay, Answer::Expected);
        // Two steps later the code would be out of the window: a wrong code, not a replay.
        assert!(pool.take(Kind::Replay, NOW + 60_000).is_none());
    }

    #[test]
    fn wrong_codes_stop_short_of_the_lock() {
        let mut pool = pool(1, false);
        let ok = pool.take(Kind::Correct, NOW).unwrap();
        pool.settle(&ok, Answer::Expected);
        let mut wrongs = 0;
        while let Some(job) = pool.take(Kind::Wrong, NOW) {
            assert_ne!(job.code, ok.code);
            assert_eq!(job.code.len(), 6);
            pool.settle(&job, Answer::Expected);
            wrongs += 1;
        }
        assert_eq!(
            wrongs, 8,
            "threshold 10: at most 8 wrong codes between successes"
        );
        let next = pool.take(Kind::Correct, NOW + 30_000).unwrap();
        pool.settle(&next, Answer::Expected);
        assert!(pool.take(Kind::Wrong, NOW + 30_000).is_some());
    }

    #[test]
    fn an_unexpected_answer_retires_the_user() {
        let mut pool = pool(1, false);
        let job = pool.take(Kind::Correct, NOW).unwrap();
        pool.settle(&job, Answer::Unexpected { status: 500 });
        assert!(pool.take(Kind::Correct, NOW + 30_000).is_none());
    }
}
