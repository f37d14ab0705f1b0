//! Throughput and latency of the login check (`verifyOtp`) through the whole stack — HTTP
//! handling, API-key check, policy, decryption, the conditional writes and the audit append —
//! on SQLite and on PostgreSQL. Prints figures; asserts nothing about time.
//!
//! `cargo bench -p mamori-tests --bench otp_check`

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_testkit::{TestApp, TestEngine};
use serde_json::json;

// Provisioning is rate-limited to 20 tokens per client address per hour.
const USERS: usize = 16;
const ROUNDS: usize = 8;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    for engine in [TestEngine::Sqlite, TestEngine::Postgres] {
        runtime.block_on(bench(engine));
    }
}

async fn bench(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    let bank = app.bank("jonan-shinkin").await;
    let mut users = Vec::new();
    // Each user has their own token, so codes never collide across users.
    for i in 0..USERS {
        let user = bank.create_user(&format!("9{i:06}"), None).await;
        let token = app.provision().await;
        let reg = bank
            .post(&format!("/users/{user}/credential"), json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }))
            .await;
        assert_eq!(reg.status, 201, "{:?}", reg.body);
        users.push((user, token));
    }

    // Sequential: one request at a time, latency per request.
    let mut latencies = Vec::new();
    for _ in 0..ROUNDS {
        app.next_step();
        for (user, token) in &users {
            let started = Instant::now();
            let answer = bank
                .post(
                    &format!("/users/{user}/otp/verify"),
                    json!({ "otp": token.code_at(app.now_unix()) }),
                )
                .await;
            latencies.push(started.elapsed());
            assert_eq!(answer.status, 200, "{:?}", answer.body);
        }
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];

    // Concurrent: every user logs in at once, ROUNDS times.
    let mut total = Duration::ZERO;
    let mut count = 0;
    for _ in 0..ROUNDS {
        app.next_step();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (user, token) in &users {
            let app = app.clone();
            let path = format!("/v1/banks/jonan-shinkin/users/{user}/otp/verify");
            let key = bank.key.clone();
            let body = json!({ "otp": token.code_at(app.now_unix()) });
            tasks.push(tokio::spawn(async move {
                app.call("POST", &path, Some(&key), Some(body)).await.status
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("task"), 200);
            count += 1;
        }
        total += started.elapsed();
    }
    println!(
        "{engine:?}: verifyOtp sequential p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms ({} requests); concurrent {} users: {:.0} checks/s",
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(pct(0.99)),
        latencies.len(),
        USERS,
        count as f64 / total.as_secs_f64(),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
