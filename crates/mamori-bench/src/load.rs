//! `mamori bench`: drives `verifyOtp` on a running server at a fixed concurrency for a bounded
//! time (and, if asked, a bounded number of requests), with codes it computes itself from a
//! `mamori seed` secrets file — a chosen mix of fresh correct codes, replays and wrong codes —
//! and reports throughput, latency and every answer by kind, status and problem code.
//!
//! Only a loopback server is driven: this is a measuring tool, not a load test of somebody
//! else's service.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use mamori_domain::{Clock, SystemClock};
use rand::Rng;
use url::{Host, Url};

use crate::pool::{Answer, Job, Kind, Pool};
use crate::report::{Report, Settings, Tally, Unexpected};
use crate::secrets::{self, SeededBank};

/// At most this many concurrent requests.
pub const MAX_CONCURRENCY: usize = 1024;

/// At most this long.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a worker waits when no user can take a request of the kind it drew.
const SHORTAGE_PAUSE: Duration = Duration::from_millis(2);

/// The share of each kind of request, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Fresh correct codes.
    pub correct: u32,
    /// Replays of accepted codes.
    pub replay: u32,
    /// Wrong codes.
    pub wrong: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            correct: 100,
            replay: 0,
            wrong: 0,
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;

    /// `correct=90,replay=5,wrong=5`: kinds left out are 0; the shares must add up to 100.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut mix = Mix {
            correct: 0,
            replay: 0,
            wrong: 0,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected kind=percent, found {part:?}"))?;
            let value: u32 = value
                .trim()
                .parse()
                .map_err(|_| format!("{name}: expected a whole percentage, found {value:?}"))?;
            match name.trim() {
                "correct" => mix.correct = value,
                "replay" => mix.replay = value,
                "wrong" => mix.wrong = value,
                other => {
                    return Err(format!(
                        "unknown kind {other:?} (expected correct, replay, wrong)"
                    ));
                }
            }
        }
        let total = mix.correct + mix.replay + mix.wrong;
        if total != 100 {
            return Err(format!("the shares add up to {total}, not 100"));
        }
        Ok(mix)
    }
}

impl Mix {
    fn pick(self, roll: u32) -> Kind {
        if roll < self.correct {
            Kind::Correct
        } else if roll < self.correct + self.replay {
            Kind::Replay
        } else {
            Kind::Wrong
        }
    }

    fn shares(self) -> BTreeMap<Kind, u32> {
        BTreeMap::from([
            (Kind::Correct, self.correct),
            (Kind::Replay, self.replay),
            (Kind::Wrong, self.wrong),
        ])
    }
}

/// Parses `20s`, `2m`, `500ms` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 20s, 2m or 500ms, found {text:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit {unit:?} (ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// Refuses a server that is not on this machine's loopback interface.
pub fn require_loopback(url: &str) -> anyhow::Result<Url> {
    let parsed = Url::parse(url).with_context(|| format!("--url {url:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("--url {url:?}: only http and https");
    }
    let loopback = match parsed.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback {
        bail!(
            "--url {url:?}: the bench drives only a server on this machine's loopback \
             interface (127.0.0.0/8, ::1 or localhost)"
        );
    }
    Ok(parsed)
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The server's base URL (loopback only).
    pub url: String,
    /// The secrets file of `mamori seed`.
    pub secrets: PathBuf,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// How long to send.
    pub duration: Duration,
    /// Use only the first `banks` banks.
    pub banks: Option<usize>,
    /// Use only the first `users` users (of those banks).
    pub users: Option<usize>,
    /// The share of each kind.
    pub mix: Mix,
    /// Stop after this many requests.
    pub max_requests: Option<u64>,
    /// First check one fresh code per bank and stop if it is refused.
    pub setup_check: bool,
    /// Correct codes also use the steps either side of the current one that the bank accepts.
    pub spend_window: bool,
    /// Send at most this many requests a second in all, evenly spaced (the workers still bound
    /// what is in flight): two runs compare at the same offered load, whatever either could
    /// reach.
    pub rate: Option<u32>,
}

/// The send times of a paced run: one request every `interval`, never two in one slot, and a
/// slot missed (all workers busy) is not made up by a burst.
#[derive(Debug)]
pub struct Pace {
    interval: Duration,
    next: Option<Instant>,
}

impl Pace {
    /// `rate` requests a second.
    pub fn new(rate: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / rate.max(1),
            next: None,
        }
    }

    /// When a request asked for at `now` may go.
    pub fn slot(&mut self, now: Instant) -> Instant {
        let slot = self.next.map_or(now, |next| next.max(now));
        self.next = Some(slot + self.interval);
        slot
    }
}

struct Shared {
    client: reqwest::Client,
    base: String,
    banks: Vec<SeededBank>,
    user_ids: Vec<String>,
    pool: Mutex<Pool>,
    issued: std::sync::atomic::AtomicU64,
    pace: Option<Mutex<Pace>>,
}

impl Shared {
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs the bench.
pub async fn run(options: LoadOptions) -> anyhow::Result<Report> {
    let url = require_loopback(&options.url)?;
    if options.concurrency == 0 || options.concurrency > MAX_CONCURRENCY {
        bail!("--concurrency: 1..={MAX_CONCURRENCY}");
    }
    if options.duration.is_zero() || options.duration > MAX_DURATION {
        bail!("--duration: more than 0 and at most {MAX_DURATION:?}");
    }
    if options.rate == Some(0) {
        bail!("--rate: at least 1 request a second");
    }
    let path = options.secrets.clone();
    let (banks_limit, users_limit) = (options.banks, options.users);
    let seeded =
        tokio::task::spawn_blocking(move || secrets::read(&path, banks_limit, users_limit))
            .await??;
    if seeded.users.is_empty() {
        bail!(
            "{}: no users of the chosen banks",
            options.secrets.display()
        );
    }
    let banks: Vec<SeededBank> = seeded
        .banks
        .into_iter()
        .take(options.banks.unwrap_or(usize::MAX))
        .collect();
    let user_ids = seeded.users.iter().map(|u| u.user_id.clone()).collect();
    let users_used = seeded.users.len();
    let pool = Pool::new(
        seeded.users,
        banks.iter().map(|b| b.otp).collect(),
        options.spend_window,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let shared = Arc::new(Shared {
        client,
        base: url.as_str().trim_end_matches('/').to_owned(),
        banks,
        user_ids,
        pool: Mutex::new(pool),
        issued: std::sync::atomic::AtomicU64::new(0),
        pace: options.rate.map(|rate| Mutex::new(Pace::new(rate))),
    });
    if options.setup_check {
        setup_check(&shared).await?;
    }

    let started = Instant::now();
    let deadline = started + options.duration;
    let mut workers = Vec::with_capacity(options.concurrency);
    for _ in 0..options.concurrency {
        let shared = shared.clone();
        let (mix, max) = (options.mix, options.max_requests);
        workers.push(tokio::spawn(async move {
            worker(&shared, mix, deadline, max).await
        }));
    }
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await?);
    }
    let elapsed = started.elapsed();
    let settings = Settings {
        url: shared.base.clone(),
        concurrency: options.concurrency,
        duration_s: options.duration.as_secs_f64(),
        max_requests: options.max_requests,
        banks: shared.banks.len(),
        users: users_used,
        mix: options.mix.shares(),
        spend_window: options.spend_window,
        rate: options.rate,
    };
    Ok(Report::new(settings, elapsed, tally))
}

/// One fresh code per bank, each of which must be accepted. A user whose current step was
/// spent before (an earlier run) is skipped for the next one, a few times.
async fn setup_check(shared: &Shared) -> anyhow::Result<()> {
    const TRIES: usize = 5;
    for bank in 0..shared.banks.len() {
        let candidates: Vec<usize> = {
            let pool = shared.pool();
            (0..pool.len())
                .filter(|&u| pool.bank_of(u) == bank)
                .take(TRIES)
                .collect()
        };
        let name = &shared.banks[bank].id;
        let mut refused = None;
        let mut accepted = false;
        for user in candidates {
            let taken = shared.pool().take_fresh_for(user, now_ms());
            let Some(job) = taken else { continue };
            let (status, body) = send(shared, &job).await;
            let (_, answer) = classify(&job, status, &body);
            shared.pool().settle(&job, answer);
            if status == 200 {
                accepted = true;
                break;
            }
            refused = Some(format!(
                "a fresh code of {} at {name} was answered {status}: {}",
                shared.user_ids[user],
                shorten(&body)
            ));
            if status != 409 {
                break;
            }
        }
        if !accepted {
            bail!(
                "setup check: {}",
                refused.unwrap_or_else(|| format!("no user of {name} has a fresh step now"))
            );
        }
    }
    Ok(())
}

async fn worker(shared: &Shared, mix: Mix, deadline: Instant, max: Option<u64>) -> Tally {
    use std::sync::atomic::Ordering;
    let mut tally = Tally::default();
    loop {
        if let Some(pace) = &shared.pace {
            let slot = pace
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .slot(Instant::now());
            tokio::time::sleep_until(slot.into()).await;
        }
        if Instant::now() >= deadline {
            break;
        }
        let kind = mix.pick(rand::rng().random_range(0..100));
        let taken = shared.pool().take(kind, now_ms());
        let Some(job) = taken else {
            *tally.skipped.entry(kind.shortage()).or_default() += 1;
            tokio::time::sleep(SHORTAGE_PAUSE).await;
            continue;
        };
        if let Some(max) = max
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= max
        {
            shared.pool().release(&job);
            break;
        }
        let sent = Instant::now();
        let (status, body) = send(shared, &job).await;
        let took = sent.elapsed();
        let (code, answer) = classify(&job, status, &body);
        shared.pool().settle(&job, answer);
        if matches!(answer, Answer::Unexpected { .. }) {
            tally.unexpected(Unexpected {
                kind: job.kind,
                bank: shared.banks[job.bank].id.clone(),
                user_id: shared.user_ids[job.user].clone(),
                status,
                detail: shorten(&body),
            });
        }
        tally.answer(job.kind, status, code, took);
    }
    tally
}

/// Sends the job: status (0 when no answer came) and the body or the error.
async fn send(shared: &Shared, job: &Job) -> (u16, String) {
    let bank = &shared.banks[job.bank];
    let url = format!(
        "{}/v1/banks/{}/users/{}/otp/verify",
        shared.base, bank.id, shared.user_ids[job.user]
    );
    let result = shared
        .client
        .post(url)
        .bearer_auth(&bank.api_key)
        .json(&serde_json::json!({ "otp": job.code }))
        .send()
        .await;
    match result {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.text().await {
                Ok(body) => (status, body),
                Err(err) => (0, format!("reading the answer: {err}")),
            }
        }
        Err(err) => (0, format!("no answer: {err}")),
    }
}

/// The answer's problem code and whether it is the one the job expects.
fn classify(job: &Job, status: u16, body: &str) -> (Option<String>, Answer) {
    let code = if status >= 400 {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
    } else {
        None
    };
    let (want_status, want_code) = job.kind.expected();
    let answer = if status == want_status && code.as_deref() == want_code {
        Answer::Expected
    } else {
        Answer::Unexpected { status }
    };
    (code, answer)
}

fn shorten(body: &str) -> String {
    body.chars().take(300).collect()
}

/// The wall clock, in Unix milliseconds: the bench computes the codes a token shows now.
fn now_ms() -> i64 {
    SystemClock.now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paced_run_spaces_its_requests_and_does_not_make_up_missed_slots() {
        let start = Instant::now();
        let mut pace = Pace::new(100);
        let ms = |at: Instant| (at - start).as_millis();
        // Four workers ask at once: one slot each, 10 ms apart.
        let slots: Vec<u128> = (0..4).map(|_| ms(pace.slot(start))).collect();
        assert_eq!(slots, [0, 10, 20, 30]);
        // Nobody asked for a while: the next goes at once, then every 10 ms again.
        let late = start + Duration::from_millis(500);
        assert_eq!(ms(pace.slot(late)), 500);
        assert_eq!(ms(pace.slot(late)), 510);
    }

    #[test]
    fn only_loopback_servers_are_driven() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:8080/",
            "http://[::1]:8080",
        ] {
            assert!(require_loopback(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "https://mamori.example.jp",
            "http://0.0.0.0:8080",
            "http://[::]:8080",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(require_loopback(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn mixes_and_durations_parse() {
        let mix: Mix = "correct=90,replay=5,wrong=5".parse().unwrap();
        assert_eq!((mix.correct, mix.replay, mix.wrong), (90, 5, 5));
        assert_eq!(mix.pick(89), Kind::Correct);
        assert_eq!(mix.pick(90), Kind::Replay);
        assert_eq!(mix.pick(99), Kind::Wrong);
        assert!("correct=90".parse::<Mix>().is_err());
        assert!("right=100".parse::<Mix>().is_err());
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("15").unwrap(), Duration::from_secs(15));
        assert!(parse_duration("5h").is_err());
    }
}
