//! Several `mamori serve` processes on one PostgreSQL behave as one, and a node killed with
//! `kill -9` under load loses nothing it acknowledged: the real binary, three times, over HTTP.
//!
//! The nodes read the real clock, so the codes are computed from it here, as a phone would;
//! nothing waits for a 30-second step (a registration spends the current step, and the check
//! after it uses the next one, which the window of one step admits).

use std::path::Path;
use std::sync::{Arc, Barrier};

use mamori_testkit::{
    HttpResponse, Mamori, Server, TestDb, TestEngine, http_request, shipped_tenant_configs,
};
use serde_json::{Value, json};
use totp_rs::{Algorithm, TOTP};

const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));

/// A bank that registers with one code.
const BANK: &str = "demo-shinkin";

/// Its lock threshold (tenant-configs/demo-shinkin.toml, `[otp]`).
const LOCK_THRESHOLD: u64 = 10;

struct Token {
    serial: String,
    totp: TOTP,
}

impl Token {
    fn new(i: usize) -> Self {
        let secret = format!("nodes-test-secret-{i:06}").into_bytes();
        Self {
            serial: format!("NODE{i:06}"),
            totp: TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, secret),
        }
    }

    /// The code the token shows `steps` steps from now.
    fn code(&self, steps: i64) -> String {
        let at = now_unix() + steps * 30;
        self.totp
            .generate(u64::try_from(at).expect("a time after 1970"))
    }
}

/// The real time: the servers under test read it too.
#[allow(clippy::disallowed_methods)] // the servers read the real clock; so must the phone
fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `mamori <args>` against the test's database in `work`; returns standard output.
fn mamori(work: &Path, database_url: &str, args: &[&str]) -> String {
    let output = MAMORI
        .command()
        .current_dir(work)
        .args(args)
        .args(["--database-url", database_url])
        .output()
        .expect("run mamori");
    assert!(
        output.status.success(),
        "mamori {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn call(node: &Server, key: &str, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
    let auth = format!("Bearer {key}");
    http_request(
        node.port(),
        method,
        &format!("/v1/banks/{BANK}{path}"),
        &[("authorization", &auth)],
        body.as_ref(),
    )
}

/// As [`call`] with our own request ID; `None` when the connection failed (the node died).
fn try_verify(port: u16, key: &str, user: &str, code: &str, request_id: &str) -> Option<u16> {
    let auth = format!("Bearer {key}");
    let body = json!({ "otp": code }).to_string();
    let request = format!(
        "POST /v1/banks/{BANK}/users/{user}/otp/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Connection: close\r\nAuthorization: {auth}\r\nX-Request-Id: {request_id}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

fn code_of(answer: &HttpResponse) -> String {
    answer.json()["code"].as_str().unwrap_or("ok").to_owned()
}

/// Imports `n` tokens, makes the bank's key, and starts three nodes sharing the database and
/// the master key file.
fn cluster(work: &Path, database_url: &str, n: usize) -> (Vec<Token>, String, Vec<Server>) {
    mamori(work, database_url, &["migrate"]);
    let tokens: Vec<Token> = (0..n).map(Token::new).collect();
    let mut csv = String::from("serial,secret,type,digits,period\n");
    for token in &tokens {
        csv.push_str(&format!(
            "{},{},totp,6,30\n",
            token.serial,
            token.totp.get_secret_base32()
        ));
    }
    std::fs::write(work.join("tokens.csv"), csv).expect("write the seed file");
    mamori(work, database_url, &["credentials", "import", "tokens.csv"]);
    let configs = shipped_tenant_configs();
    let key = mamori(
        work,
        database_url,
        &[
            "api-keys",
            "create",
            "--tenant",
            BANK,
            "--tenant-configs",
            configs.to_str().expect("a UTF-8 path"),
        ],
    )
    .trim()
    .to_owned();
    let nodes = (0..3)
        .map(|_| {
            MAMORI
                .serve()
                .work_dir(work)
                .database_url(database_url)
                .start()
        })
        .collect();
    (tokens, key, nodes)
}

/// Creates a user on `node` and registers `token` to them with its current code.
fn register(node: &Server, key: &str, contract: &str, token: &Token) -> String {
    let created = call(
        node,
        key,
        "POST",
        "/users",
        Some(json!({ "contract_number": contract })),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let user = created.json()["id"]
        .as_str()
        .expect("the new user's id")
        .to_owned();
    let registered = call(
        node,
        key,
        "POST",
        &format!("/users/{user}/credential"),
        Some(json!({ "credential_id": token.serial, "otp": token.code(0) })),
    );
    assert_eq!(registered.status, 201, "{}", registered.text());
    user
}

/// Stops the nodes (each seals what it audited) and checks the bank's chain with the CLI.
fn stop_and_verify_the_chain(nodes: Vec<Server>, work: &Path, database_url: &str) {
    for node in nodes {
        node.stop();
    }
    let verified = mamori(work, database_url, &["audit", "verify", "--tenant", BANK]);
    assert!(verified.contains("intact"), "{verified}");
}

/// Sends the same request to every node at once; returns the answers.
fn at_once(nodes: &[Server], key: &str, path: &str, body: &Value) -> Vec<HttpResponse> {
    let barrier = Arc::new(Barrier::new(nodes.len()));
    std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|node| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    barrier.wait();
                    call(node, key, "POST", path, Some(body.clone()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a request thread"))
            .collect()
    })
}

/// Three nodes, 100 users: the same correct code to all three at once succeeds exactly once
/// per user; 60 wrong codes spread over the three count exactly the lock threshold; a revoke on
/// one node is refused on another at once; an API key revoked in the database stops working
/// on every node within the cache's TTL; the audit chain verifies.
#[test]
fn three_nodes_on_one_postgres_behave_as_one() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let test_db = runtime.block_on(TestDb::create(TestEngine::Postgres));
    let work = tempfile::tempdir().unwrap();
    let (tokens, key, nodes) = cluster(work.path(), &test_db.url, 101);

    let mut tally = std::collections::BTreeMap::<(u16, String), usize>::new();
    for (i, token) in tokens.iter().take(100).enumerate() {
        let user = register(&nodes[i % 3], &key, &format!("71{i:05}"), token);
        let answers = at_once(
            &nodes,
            &key,
            &format!("/users/{user}/otp/verify"),
            &json!({ "otp": token.code(1) }),
        );
        let ok = answers.iter().filter(|a| a.status == 200).count();
        assert_eq!(
            ok,
            1,
            "user {i}: {:?}",
            answers.iter().map(code_of).collect::<Vec<_>>()
        );
        for answer in &answers {
            *tally.entry((answer.status, code_of(answer))).or_default() += 1;
        }
    }
    assert_eq!(tally.get(&(200, "ok".into())), Some(&100), "{tally:?}");
    assert_eq!(
        tally.get(&(409, "otp_already_used".into())),
        Some(&200),
        "{tally:?}"
    );

    // 60 wrong codes over the three nodes, 20 each at once: exactly the threshold counted.
    let victim = register(&nodes[0], &key, "7199999", &tokens[100]);
    std::thread::scope(|scope| {
        for node in &nodes {
            for _ in 0..20 {
                let (key, victim) = (&key, &victim);
                scope.spawn(move || {
                    let answer = call(
                        node,
                        key,
                        "POST",
                        &format!("/users/{victim}/otp/verify"),
                        Some(json!({ "otp": "000000" })),
                    );
                    assert!([422, 423].contains(&answer.status), "{}", answer.text());
                });
            }
        }
    });
    let status = call(
        &nodes[1],
        &key,
        "GET",
        &format!("/users/{victim}/otp-status"),
        None,
    )
    .json();
    assert_eq!(
        status["failures"].as_u64(),
        Some(LOCK_THRESHOLD),
        "{status}"
    );
    assert_eq!(status["status"], "locked", "{status}");

    // A revoke on node 1 is refused on node 2 at once (decided in the database, never cached).
    let user0 = call(
        &nodes[0],
        &key,
        "GET",
        "/users?contract_number=7100000",
        None,
    );
    let user0 = user0.json()["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!("find user: {}", user0.text());
        });
    let revoked = call(
        &nodes[0],
        &key,
        "POST",
        &format!("/users/{user0}/credential/revoke"),
        None,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    let after = call(
        &nodes[1],
        &key,
        "POST",
        &format!("/users/{user0}/otp/verify"),
        Some(json!({ "otp": tokens[0].code(1) })),
    );
    assert_eq!(code_of(&after), "otp_not_registered", "{}", after.text());

    // The key revoked straight in the database (the CLI): every node refuses it once its cache
    // entry (3 s) is gone; this waits at most 10 s for that.
    let key_id = mamori(
        work.path(),
        &test_db.url,
        &["api-keys", "list", "--tenant", BANK],
    );
    let key_id = key_id
        .split_whitespace()
        .find(|word| word.starts_with("key_"))
        .unwrap_or_else(|| panic!("no key id in {key_id}"))
        .to_owned();
    mamori(work.path(), &test_db.url, &["api-keys", "revoke", &key_id]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for node in &nodes {
        loop {
            let answer = call(
                node,
                &key,
                "GET",
                &format!("/users/{victim}/otp-status"),
                None,
            );
            if answer.status == 401 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "node on port {} still takes a revoked key",
                node.port()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    stop_and_verify_the_chain(nodes, work.path(), &test_db.url);
    drop(runtime);
}

/// `kill -9` of a node in the middle of a load of correct codes: every check it acknowledged
/// with 200 is in the database (its code is refused as already used on the other node, and its
/// audit entry is in the trail), and the chain verifies once the survivor has sealed.
#[test]
fn a_node_killed_under_load_loses_nothing_it_acknowledged() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let test_db = runtime.block_on(TestDb::create(TestEngine::Postgres));
    let work = tempfile::tempdir().unwrap();
    let (tokens, key, mut nodes) = cluster(work.path(), &test_db.url, 200);
    let users: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| register(&nodes[i % 3], &key, &format!("72{i:05}"), token))
        .collect();
    let victim = nodes.remove(0);
    let victim_port = victim.port();

    // Four clients send each user's next code to the victim, one after another; the victim is
    // killed once 30 checks were acknowledged.
    let acknowledged = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for client in 0..4 {
            let (users, tokens, key, acknowledged) = (&users, &tokens, &key, &acknowledged);
            scope.spawn(move || {
                for i in (client..users.len()).step_by(4) {
                    let request_id = format!("kill9-{i}");
                    let code = tokens[i].code(1);
                    if try_verify(victim_port, key, &users[i], &code, &request_id) == Some(200) {
                        acknowledged.lock().unwrap().push((i, code, request_id));
                    }
                }
            });
        }
        while acknowledged.lock().unwrap().len() < 30 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        victim.kill();
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        !acknowledged.is_empty(),
        "some checks were answered before the kill"
    );
    assert!(
        acknowledged.len() < users.len(),
        "the kill came before the load ended ({} of {})",
        acknowledged.len(),
        users.len()
    );

    for (i, code, _) in &acknowledged {
        let replay = call(
            &nodes[0],
            &key,
            "POST",
            &format!("/users/{}/otp/verify", users[*i]),
            Some(json!({ "otp": code })),
        );
        assert_eq!(
            code_of(&replay),
            "otp_already_used",
            "user {i}: {}",
            replay.text()
        );
    }
    // The survivor seals what the dead node left waiting; every acknowledged check is there.
    let mut seen = std::collections::HashSet::new();
    let mut path = "/audit-events?limit=200".to_owned();
    loop {
        let page = call(&nodes[0], &key, "GET", &path, None).json();
        for item in page["items"].as_array().unwrap() {
            if let Some(id) = item["request_id"].as_str() {
                seen.insert(id.to_owned());
            }
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/audit-events?limit=200&cursor={cursor}"),
            None => break,
        }
    }
    for (i, _, request_id) in &acknowledged {
        assert!(
            seen.contains(request_id),
            "user {i}: the trail lost {request_id}"
        );
    }
    stop_and_verify_the_chain(nodes, work.path(), &test_db.url);
    drop(runtime);
}
