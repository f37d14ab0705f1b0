//! Every bank route is scoped to the key's tenant. Another bank's user, credential, binding or
//! audit entry answers 404 with the same body as a missing one, and changes nothing. The test
//! walks every bank operation in the spec with another bank's key and fails when a new
//! operation has no entry.

use std::collections::BTreeSet;

use mamori_testkit::{Answer, Bank, TestApp, TestEngine, TestToken, on_both_engines};
use serde_json::{Value, json};

/// The committed API spec.
const SPEC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../openapi/mamori.json"
));

/// Every operationId under `/v1/banks/`.
fn bank_operations() -> BTreeSet<String> {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/banks/") {
            continue;
        }
        for operation in item.as_object().unwrap().values() {
            if let Some(id) = operation["operationId"].as_str() {
                ops.insert(id.to_owned());
            }
        }
    }
    ops
}

/// What bank A owns and what the requests use.
struct Fixture {
    /// Bank A's user (registered, one failure counted).
    user: String,
    /// Bank A's contract number.
    contract: String,
    /// Bank A's customer's token.
    token: TestToken,
    /// A second token, for device change.
    other_token: TestToken,
    /// A code that is wrong for `token` now.
    wrong: String,
    /// A login ID bank A issued for its user.
    login_id: String,
    /// A push approval of a third bank (kitakyushu-bank; the two banks here have no push).
    approval_id: String,
}

/// How an operation is called: method, path below `/v1/banks/{bank}`, body.
struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
}

/// Whether the operation acts on one user (`{user}` in its path) or on the bank as a whole.
enum Scope {
    User(fn(&Fixture, &str) -> Call),
    Bank(fn(&Fixture) -> Call),
}

/// The request for every bank operation. A request that another bank could wrongly carry out
/// would change bank A's state visibly (a real or wrong code, a status change).
fn table() -> Vec<(&'static str, Scope)> {
    fn post(path: String, body: Value) -> Call {
        Call {
            method: "POST",
            path,
            body: Some(body),
        }
    }
    fn get(path: String) -> Call {
        Call {
            method: "GET",
            path,
            body: None,
        }
    }
    vec![
        (
            "createUser",
            Scope::Bank(|f| post("/users".into(), json!({ "contract_number": f.contract }))),
        ),
        (
            "findUser",
            Scope::Bank(|f| get(format!("/users?contract_number={}", f.contract))),
        ),
        ("getUser", Scope::User(|_, u| get(format!("/users/{u}")))),
        (
            "registerCredential",
            Scope::User(|f, u| {
                post(
                    format!("/users/{u}/credential"),
                    json!({ "credential_id": f.other_token.credential_id, "otp": f.wrong }),
                )
            }),
        ),
        (
            "verifyOtp",
            Scope::User(|f, u| post(format!("/users/{u}/otp/verify"), json!({ "otp": f.wrong }))),
        ),
        (
            "resyncCredential",
            Scope::User(|f, u| {
                post(
                    format!("/users/{u}/credential/resync"),
                    json!({ "otp1": f.wrong, "otp2": f.wrong }),
                )
            }),
        ),
        (
            "stopCredential",
            Scope::User(|f, u| {
                post(
                    format!("/users/{u}/credential/stop"),
                    json!({ "otp": f.wrong }),
                )
            }),
        ),
        (
            "changeDevice",
            Scope::User(|f, u| {
                post(
                    format!("/users/{u}/credential/change-device"),
                    json!({
                        "old_otp": f.wrong,
                        "new_credential_id": f.other_token.credential_id,
                        "new_otp": f.wrong,
                    }),
                )
            }),
        ),
        (
            "revokeCredential",
            Scope::User(|_, u| post(format!("/users/{u}/credential/revoke"), json!({}))),
        ),
        (
            "unlockCredential",
            Scope::User(|_, u| post(format!("/users/{u}/credential/unlock"), json!({}))),
        ),
        (
            "getOtpStatus",
            Scope::User(|_, u| get(format!("/users/{u}/otp-status"))),
        ),
        (
            "verifyTransactionOtp",
            Scope::User(|f, u| {
                post(
                    format!("/users/{u}/transactions/verify"),
                    json!({ "otp": f.wrong, "transaction": { "kind": "transfer", "amount": "1000" } }),
                )
            }),
        ),
        (
            "resetPassword",
            Scope::User(|_, u| post(format!("/users/{u}/password/reset"), json!({}))),
        ),
        (
            "unlockUser",
            Scope::User(|_, u| post(format!("/users/{u}/password/unlock"), json!({}))),
        ),
        (
            "startLogin",
            Scope::Bank(|f| {
                post(
                    "/logins".into(),
                    json!({ "contract_number": f.contract, "password": "abc12345" }),
                )
            }),
        ),
        (
            "completeLogin",
            Scope::Bank(|f| {
                post(
                    format!("/logins/{}/otp", f.login_id),
                    json!({ "otp": f.wrong }),
                )
            }),
        ),
        (
            "changePassword",
            Scope::User(|f, u| {
                post(
                    format!("/users/{u}/password"),
                    json!({ "new_password": "newpass123", "login_id": f.login_id }),
                )
            }),
        ),
        (
            "issueToken",
            Scope::User(|_, u| {
                post(
                    format!("/users/{u}/token-issues"),
                    json!({ "mail_address": "taro@example.jp", "activation_password": "kita2026" }),
                )
            }),
        ),
        (
            "createPushApproval",
            Scope::User(|_, u| {
                post(
                    format!("/users/{u}/push-approvals"),
                    json!({
                        "transaction": { "kind": "transfer", "amount": "1000" },
                        "display": { "ja": "振込 1000円", "en": "Transfer JPY 1000" }
                    }),
                )
            }),
        ),
        (
            "startOtpUse",
            Scope::User(|f, u| post(format!("/users/{u}/otp-use"), json!({ "otp": f.wrong }))),
        ),
        (
            "releaseOtpUse",
            Scope::User(|_, u| Call {
                method: "DELETE",
                path: format!("/users/{u}/otp-use"),
                body: None,
            }),
        ),
        (
            "listOutboxMails",
            Scope::Bank(|_| get("/outbox?limit=200".into())),
        ),
        (
            "getPushApproval",
            Scope::Bank(|f| get(format!("/push-approvals/{}", f.approval_id))),
        ),
        (
            "listAuditEvents",
            Scope::Bank(|_| get("/audit-events?limit=200".into())),
        ),
        (
            "verifyAuditChain",
            Scope::Bank(|_| get("/audit-events/verify".into())),
        ),
    ]
}

async fn call(app: &TestApp, key: &str, bank_id: &str, call: &Call) -> Answer {
    let path = format!("/v1/banks/{bank_id}{}", call.path);
    app.call(call.method, &path, Some(key), call.body.clone())
        .await
}

/// A problem body without its request ID, for comparing two answers.
fn without_request_id(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("request_id");
    }
    body
}

/// Everything bank A can see of its own state.
async fn snapshot(bank: &Bank<'_>, user: &str) -> (Value, Value, Vec<Value>, Value) {
    let user_view = bank.get(&format!("/users/{user}")).await;
    assert_eq!(user_view.status, 200, "{:?}", user_view.body);
    let audit = bank.get("/audit-events?limit=200").await;
    assert_eq!(audit.status, 200, "{:?}", audit.body);
    let chain = bank.get("/audit-events/verify").await;
    assert_eq!(chain.body["intact"], true, "{:?}", chain.body);
    (
        user_view.body,
        bank.status(user).await,
        audit.body["items"].as_array().unwrap().clone(),
        chain.body,
    )
}

/// The table covers exactly the spec's bank operations.
#[test]
fn every_bank_operation_has_an_isolation_entry() {
    let spec = bank_operations();
    let covered: BTreeSet<String> = table().iter().map(|(id, _)| (*id).to_owned()).collect();
    let missing: Vec<&String> = spec.difference(&covered).collect();
    let stale: Vec<&String> = covered.difference(&spec).collect();
    assert!(
        missing.is_empty(),
        "bank operations without an isolation entry: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "isolation entries for operations no longer in the spec: {stale:?}"
    );
}

/// A pending push approval at kitakyushu-bank, for a customer with Mamori's own token.
async fn third_banks_push_approval(app: &TestApp) -> String {
    let bank = app.bank("kitakyushu-bank").await;
    let user = bank.create_user("6100001", None).await;
    let device = app.provision_device().await;
    app.next_step();
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": device.credential_id(), "otp": device.token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    let created = bank
        .post(
            &format!("/users/{user}/push-approvals"),
            json!({
                "transaction": { "kind": "transfer", "amount": "1000" },
                "display": { "ja": "振込 1000円", "en": "Transfer JPY 1000" }
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body["approval_id"].as_str().unwrap().to_owned()
}

/// Bank B (shinkin-001) calls every bank operation (a) on bank A's path (jonan-shinkin) with
/// its own key, and (b) on its own path naming bank A's user or contract. (a) is always
/// `not_found`; (b) answers exactly like a user that does not exist. Bank A's user, OTP
/// status, audit trail and chain are unchanged afterwards, and A's customer still logs in.
async fn another_banks_key_sees_nothing_and_changes_nothing(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank_a = app.bank("jonan-shinkin").await;
    let bank_b = app.bank("shinkin-001").await;
    let contract = "6000001".to_owned();
    let user = bank_a.create_user(&contract, None).await;
    let token = app.provision().await;
    let reg = bank_a
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();
    let now = app.now_unix();
    let near: Vec<String> = (-3..=3).map(|s| token.code_after(now, s)).collect();
    let wrong = (0..)
        .map(|n: u32| format!("{:06}", n * 111_111 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap();
    let failed = bank_a
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": wrong }),
        )
        .await;
    assert_eq!(failed.code(), Some("otp_invalid"), "{:?}", failed.body);
    // A second customer of bank A with a password, half-way through a login.
    let with_password = bank_a
        .post(
            "/users",
            json!({ "contract_number": "6000009", "initial_password": "abc12345" }),
        )
        .await;
    assert_eq!(with_password.status, 201, "{:?}", with_password.body);
    let started = bank_a
        .post(
            "/logins",
            json!({ "contract_number": "6000009", "password": "abc12345" }),
        )
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let approval_id = third_banks_push_approval(&app).await;
    let fixture = Fixture {
        user: user.clone(),
        contract,
        token,
        other_token: app.provision().await,
        wrong,
        login_id: started.body["login_id"].as_str().unwrap().to_owned(),
        approval_id,
    };
    // Bank B has a user of its own, so its routes are not trivially empty.
    bank_b.create_user("7000001", None).await;
    let before = snapshot(&bank_a, &user).await;
    assert_eq!(before.1["failures"], 1, "{:?}", before.1);

    let missing_user = "usr_00000000000000000000000000000000";
    for (operation, scope) in table() {
        // (a) Bank B's key on bank A's path.
        let request = match &scope {
            Scope::User(make) => make(&fixture, &fixture.user),
            Scope::Bank(make) => make(&fixture),
        };
        let answer = call(&app, &bank_b.key, &bank_a.id, &request).await;
        assert_eq!(
            (answer.status, answer.code()),
            (404, Some("not_found")),
            "{operation} with another bank's key on bank A's path: {:?}",
            answer.body
        );
        assert_eq!(
            answer.content_type, "application/problem+json",
            "{operation}"
        );

        // (b) Bank B's key on its own path, naming bank A's things.
        match &scope {
            Scope::User(make) => {
                let theirs = call(&app, &bank_b.key, &bank_b.id, &make(&fixture, &user)).await;
                let nobody =
                    call(&app, &bank_b.key, &bank_b.id, &make(&fixture, missing_user)).await;
                assert_eq!(
                    (theirs.status, theirs.code()),
                    (404, Some("not_found")),
                    "{operation} on another bank's user: {:?}",
                    theirs.body
                );
                assert_eq!(
                    without_request_id(&theirs.body),
                    without_request_id(&nobody.body),
                    "{operation}: another bank's user must look exactly like a missing one"
                );
            }
            Scope::Bank(_) => match operation {
                "createUser" => {
                    // The same contract number at another bank is another customer: no
                    // `user_already_exists` that would reveal bank A's customer.
                    let created = call(&app, &bank_b.key, &bank_b.id, &request).await;
                    assert_eq!(created.status, 201, "{operation}: {:?}", created.body);
                    assert_ne!(created.body["id"], user.as_str(), "{:?}", created.body);
                }
                "findUser" => {
                    let nobody = Call {
                        method: "GET",
                        path: "/users?contract_number=6999999".into(),
                        body: None,
                    };
                    // Bank B's own user with this contract number (created just above) is
                    // found, and it is not bank A's.
                    let found = call(&app, &bank_b.key, &bank_b.id, &request).await;
                    assert_eq!(found.status, 200, "{operation}: {:?}", found.body);
                    assert_ne!(found.body["id"], user.as_str(), "{:?}", found.body);
                    let missing = call(&app, &bank_b.key, &bank_b.id, &nobody).await;
                    assert_eq!(missing.code(), Some("not_found"), "{:?}", missing.body);
                }
                "startLogin" => {
                    // Bank A's customer at bank B is an unknown user: the same answer as any.
                    let theirs = call(&app, &bank_b.key, &bank_b.id, &request).await;
                    let nobody = Call {
                        method: "POST",
                        path: "/logins".into(),
                        body: Some(json!({ "contract_number": "6999999", "password": "abc12345" })),
                    };
                    let nobody = call(&app, &bank_b.key, &bank_b.id, &nobody).await;
                    assert_eq!(theirs.code(), Some("login_failed"), "{:?}", theirs.body);
                    assert_eq!(
                        without_request_id(&theirs.body),
                        without_request_id(&nobody.body)
                    );
                }
                "completeLogin" => {
                    // Bank A's login ID at bank B is no login ID at all.
                    let theirs = call(&app, &bank_b.key, &bank_b.id, &request).await;
                    let mut fake = Call {
                        method: request.method,
                        path: request
                            .path
                            .replace(&fixture.login_id, "lgn_00000000000000000000000000000000"),
                        body: request.body.clone(),
                    };
                    fake.body = request.body.clone();
                    let nobody = call(&app, &bank_b.key, &bank_b.id, &fake).await;
                    assert_eq!(
                        theirs.code(),
                        Some("login_expired"),
                        "{operation}: {:?}",
                        theirs.body
                    );
                    assert_eq!(
                        without_request_id(&theirs.body),
                        without_request_id(&nobody.body)
                    );
                }
                "listOutboxMails" => {
                    // Bank B reads its own (empty) outbox, never bank A's mails.
                    let page = call(&app, &bank_b.key, &bank_b.id, &request).await;
                    assert_eq!(page.status, 200, "{:?}", page.body);
                    assert_eq!(page.body["mails"], json!([]), "{:?}", page.body);
                }
                "getPushApproval" => {
                    // Another bank's approval looks exactly like a missing one.
                    let theirs = call(&app, &bank_b.key, &bank_b.id, &request).await;
                    let nobody = Call {
                        method: "GET",
                        path: "/push-approvals/pa_00000000000000000000000000000000".into(),
                        body: None,
                    };
                    let nobody = call(&app, &bank_b.key, &bank_b.id, &nobody).await;
                    assert_eq!(theirs.code(), Some("not_found"), "{:?}", theirs.body);
                    assert_eq!(
                        without_request_id(&theirs.body),
                        without_request_id(&nobody.body)
                    );
                }
                "listAuditEvents" => {
                    let page = call(&app, &bank_b.key, &bank_b.id, &request).await;
                    assert_eq!(page.status, 200, "{:?}", page.body);
                    let items = page.body["items"].as_array().unwrap();
                    assert!(!items.is_empty(), "bank B sees its own entries");
                    for item in items {
                        assert_ne!(item["user_id"], user.as_str(), "bank A's entry: {item}");
                        assert!(
                            before.2.iter().all(|a| a["hash"] != item["hash"]),
                            "bank A's entry in bank B's trail: {item}"
                        );
                    }
                }
                "verifyAuditChain" => {
                    let chain = call(&app, &bank_b.key, &bank_b.id, &request).await;
                    assert_eq!(chain.body["intact"], true, "{:?}", chain.body);
                    let own_entries = call(
                        &app,
                        &bank_b.key,
                        &bank_b.id,
                        &Call {
                            method: "GET",
                            path: "/audit-events?limit=200".into(),
                            body: None,
                        },
                    )
                    .await;
                    assert_eq!(
                        chain.body["entries"].as_u64(),
                        Some(own_entries.body["items"].as_array().unwrap().len() as u64),
                        "bank B's chain counts only bank B's entries: {:?}",
                        chain.body
                    );
                }
                other => panic!("no bank-wide check for {other}"),
            },
        }
    }

    // Bank A sees exactly what it saw before: nothing was changed, counted or logged.
    let after = snapshot(&bank_a, &user).await;
    assert_eq!(after.0, before.0, "bank A's user");
    assert_eq!(after.1, before.1, "bank A's OTP status");
    assert_eq!(after.2, before.2, "bank A's audit trail");
    assert_eq!(after.3, before.3, "bank A's audit chain");

    // And bank A's customer still logs in with a fresh code.
    app.next_step();
    let login = bank_a
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": fixture.token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}
on_both_engines!(another_banks_key_sees_nothing_and_changes_nothing);
