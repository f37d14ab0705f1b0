//! Seed 000 (北九州銀行, kitakyushu-bank) プッシュ通知認証: after the transfer password, the phone
//! shows the transaction; 承認 completes the transfer; 拒否, or no answer in time, cancels it.
//! The phone is Mamori's own token: a credential with a device key, registered at the bank.

use chrono::Duration;
use hmac::{Hmac, Mac};
use mamori_domain::push::PushDecision;
use mamori_domain::tenant_config::load_dir;
use mamori_domain::{Clock, SystemClock, TenantId};
use mamori_service::HostResolver;
use mamori_testkit::{
    Answer, Bank, DeviceAnswer, TestApp, TestDevice, TestEngine, on_both_engines,
    shipped_tenant_configs,
};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BANK: &str = "kitakyushu-bank";

/// The bank's push timeout, read from its shipped config file.
fn timeout_seconds() -> i64 {
    let configs = load_dir(&shipped_tenant_configs()).unwrap();
    let config = configs.iter().find(|c| c.id == BANK).unwrap();
    i64::from(config.policy.push.timeout_seconds.get())
}

fn transfer(amount: &str) -> Value {
    json!({
        "kind": "transfer",
        "amount": amount,
        "payee": {
            "bank_code": "0191",
            "branch_code": "101",
            "account_number": "7654321",
            "account_name": "ｷﾀｷﾕｳ ﾊﾅｺ"
        }
    })
}

fn approval_request(amount: &str) -> Value {
    json!({
        "transaction": transfer(amount),
        "display": { "ja": format!("振込 {amount}円 ｷﾀｷﾕｳ ﾊﾅｺ"), "en": format!("Transfer JPY {amount} to KITAKYU HANAKO") }
    })
}

/// A customer of the bank with Mamori's token registered (one code).
async fn customer<'a>(app: &'a TestApp, contract: &str) -> (Bank<'a>, String, TestDevice) {
    let bank = app.bank(BANK).await;
    let user = bank.create_user(contract, Some("user01")).await;
    let device = app.provision_device().await;
    app.next_step();
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": device.credential_id(), "otp": device.token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    (bank, user, device)
}

async fn create(bank: &Bank<'_>, user: &str, body: Value) -> Answer {
    bank.post(&format!("/users/{user}/push-approvals"), body)
        .await
}

/// Creates an approval and returns its ID.
async fn create_ok(bank: &Bank<'_>, user: &str, amount: &str) -> String {
    let created = create(bank, user, approval_request(amount)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["status"], "pending", "{:?}", created.body);
    created.body["approval_id"].as_str().unwrap().to_owned()
}

async fn get(bank: &Bank<'_>, approval_id: &str) -> Answer {
    bank.get(&format!("/push-approvals/{approval_id}")).await
}

async fn status(bank: &Bank<'_>, approval_id: &str) -> String {
    let view = get(bank, approval_id).await;
    assert_eq!(view.status, 200, "{:?}", view.body);
    view.body["status"].as_str().unwrap().to_owned()
}

/// The device's signed listing.
async fn list(app: &TestApp, device: &TestDevice, query: &str) -> Answer {
    app.call_with_headers(
        "GET",
        &format!(
            "/v1/token/credentials/{}/approvals{query}",
            device.credential_id()
        ),
        None,
        &device.listing_headers(app.now_unix()),
        None,
    )
    .await
}

/// The pending approval the device sees (exactly one).
async fn the_pending(app: &TestApp, device: &TestDevice) -> Value {
    let listed = list(app, device, "").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let approvals = listed.body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{:?}", listed.body);
    approvals[0].clone()
}

async fn answer(app: &TestApp, approval_id: &str, body: Value) -> Answer {
    app.call(
        "POST",
        &format!("/v1/token/approvals/{approval_id}/answer"),
        None,
        Some(body),
    )
    .await
}

/// The device's answer to `approval` (as listed), signed now.
fn decide<'a>(
    app: &TestApp,
    approval: &'a Value,
    decision: PushDecision,
    number: Option<&'a str>,
) -> DeviceAnswer<'a> {
    DeviceAnswer {
        approval_id: approval["approval_id"].as_str().unwrap(),
        bank_id: approval["bank_id"].as_str().unwrap(),
        transaction_hash: approval["transaction_hash"].as_str().unwrap(),
        decision,
        number,
        signed_at: app.now_unix(),
    }
}

async fn audit_operations(bank: &Bank<'_>) -> Vec<Value> {
    let page = bank.get("/audit-events?limit=200").await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    page.body["items"].as_array().unwrap().clone()
}

async fn count_operation(bank: &Bank<'_>, operation: &str) -> usize {
    audit_operations(bank)
        .await
        .iter()
        .filter(|e| e["operation"] == operation)
        .count()
}

/// 「取引内容を確認して承認」: the phone shows the transaction, the customer approves, and the
/// bank gets a receipt of exactly that transaction. The same signed answer sent again is a
/// replay: refused, nothing changes.
async fn seed_000_approve_completes_the_transfer(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    // The receipt is checked by jwt-simple against the real clock.
    app.clock.set(SystemClock.now());
    let (bank, user, device) = customer(&app, "9000001").await;
    let approval_id = create_ok(&bank, &user, "150000").await;

    let shown = the_pending(&app, &device).await;
    assert_eq!(shown["approval_id"], approval_id.as_str());
    assert_eq!(shown["bank_id"], BANK);
    assert_eq!(shown["bank_name"]["ja"], "北九州銀行");
    assert_eq!(shown["transaction"]["amount"], "150000");
    assert_eq!(shown["transaction"]["payee"]["account_name"], "ｷﾀｷﾕｳ ﾊﾅｺ");
    assert_eq!(shown["display"]["ja"], "振込 150000円 ｷﾀｷﾕｳ ﾊﾅｺ");
    assert_eq!(shown["number_challenge"], false);
    assert!(shown.get("number").is_none(), "{shown}");
    assert_eq!(status(&bank, &approval_id).await, "pending");

    let body = device.answer_body(&decide(&app, &shown, PushDecision::Approve, None));
    let answered = answer(&app, &approval_id, body.clone()).await;
    assert_eq!(answered.status, 200, "{:?}", answered.body);
    assert_eq!(answered.body["status"], "approved");

    let view = get(&bank, &approval_id).await;
    assert_eq!(view.body["status"], "approved", "{:?}", view.body);
    assert!(view.body["answered_at"].is_string(), "{:?}", view.body);
    let hash = view.body["transaction_hash"].as_str().unwrap();
    assert_eq!(hash, shown["transaction_hash"].as_str().unwrap());
    let claims = crate::receipts::verify(&app, view.body["receipt"].as_str().unwrap(), BANK).await;
    assert_eq!(claims.subject.as_deref(), Some(user.as_str()));
    assert_eq!(claims.custom.amr, ["push"]);
    assert_eq!(claims.custom.txn_hash.as_deref(), Some(hash));
    assert_eq!(claims.custom.txn_kind.as_deref(), Some("transfer"));

    // Replay of the very same signed answer.
    let replay = answer(&app, &approval_id, body).await;
    assert_eq!(
        (replay.status, replay.code()),
        (409, Some("push_already_answered")),
        "{:?}",
        replay.body
    );
    assert_eq!(status(&bank, &approval_id).await, "approved");
    assert!(
        list(&app, &device, "").await.body["approvals"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
on_both_engines!(seed_000_approve_completes_the_transfer);

/// The claims of a receipt (not verified: the signature is checked elsewhere).
fn receipt_claims(receipt: &str) -> Value {
    let payload = receipt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .unwrap(),
    )
    .unwrap()
}

/// A push receipt belongs to the approval, not to the read: it names the approval, its times
/// come from the answer, so every read gives the same receipt, and once the answer is older than
/// the receipt's lifetime no read gives one — a late read cannot mint a fresh one.
async fn seed_000_receipt_is_bound_to_the_answer(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000009").await;
    let approval_id = create_ok(&bank, &user, "150000").await;
    let shown = the_pending(&app, &device).await;
    let body = device.answer_body(&decide(&app, &shown, PushDecision::Approve, None));
    let answered = answer(&app, &approval_id, body).await;
    assert_eq!(answered.status, 200, "{:?}", answered.body);
    let answered_at = app.now_unix();

    app.advance(Duration::seconds(60));
    let first = get(&bank, &approval_id).await;
    assert_eq!(first.body["status"], "approved", "{:?}", first.body);
    let receipt = first.body["receipt"].as_str().unwrap().to_owned();
    let claims = receipt_claims(&receipt);
    assert_eq!(claims["approval_id"], approval_id.as_str(), "{claims}");
    assert_eq!(claims["auth_time"], answered_at, "{claims}");
    assert_eq!(claims["iat"], answered_at, "{claims}");
    assert_eq!(claims["exp"], answered_at + 300, "{claims}");

    app.advance(Duration::seconds(180));
    let second = get(&bank, &approval_id).await;
    assert_eq!(
        second.body["receipt"].as_str(),
        Some(receipt.as_str()),
        "a second read gives the same receipt"
    );

    // At answer + 300 s the receipt has expired: the state stays, no new receipt is minted.
    app.advance(Duration::seconds(60));
    let late = get(&bank, &approval_id).await;
    assert_eq!(late.body["status"], "approved", "{:?}", late.body);
    assert!(late.body.get("receipt").is_none(), "{:?}", late.body);
}
on_both_engines!(seed_000_receipt_is_bound_to_the_answer);

/// 「拒否を選択した場合…振込依頼を取消します」: a denial cancels the transfer; no receipt.
async fn seed_000_deny_cancels(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000002").await;
    let approval_id = create_ok(&bank, &user, "5000").await;
    let shown = the_pending(&app, &device).await;
    let denied = answer(
        &app,
        &approval_id,
        device.answer_body(&decide(&app, &shown, PushDecision::Deny, None)),
    )
    .await;
    assert_eq!(denied.status, 200, "{:?}", denied.body);
    assert_eq!(denied.body["status"], "denied");
    let view = get(&bank, &approval_id).await;
    assert_eq!(view.body["status"], "denied", "{:?}", view.body);
    assert!(view.body.get("receipt").is_none(), "{:?}", view.body);
}
on_both_engines!(seed_000_deny_cancels);

/// 「いずれも選択されない場合は振込依頼を取消します」: no answer within the bank's timeout expires
/// the approval (once, audited once); an approval arriving later is refused and changes
/// nothing.
async fn seed_000_no_answer_expires(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000003").await;
    let approval_id = create_ok(&bank, &user, "20000").await;
    let shown = the_pending(&app, &device).await;
    let created = get(&bank, &approval_id).await;
    let (created_at, expires_at) = (
        chrono::DateTime::parse_from_rfc3339(created.body["created_at"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(created.body["expires_at"].as_str().unwrap()).unwrap(),
    );
    assert_eq!((expires_at - created_at).num_seconds(), timeout_seconds());

    app.advance(Duration::seconds(timeout_seconds() - 1));
    assert_eq!(status(&bank, &approval_id).await, "pending");
    app.advance(Duration::seconds(1));
    assert_eq!(status(&bank, &approval_id).await, "expired");
    assert_eq!(status(&bank, &approval_id).await, "expired");
    assert_eq!(count_operation(&bank, "pushApprovalExpired").await, 1);
    assert!(
        list(&app, &device, "").await.body["approvals"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The customer approves too late (signed now, so the signature itself is fine).
    let late = answer(
        &app,
        &approval_id,
        device.answer_body(&decide(&app, &shown, PushDecision::Approve, None)),
    )
    .await;
    assert_eq!(
        (late.status, late.code()),
        (410, Some("push_approval_expired")),
        "{:?}",
        late.body
    );
    let view = get(&bank, &approval_id).await;
    assert_eq!(view.body["status"], "expired");
    assert!(view.body.get("receipt").is_none() && view.body.get("answered_at").is_none());
}
on_both_engines!(seed_000_no_answer_expires);

/// An approval that nobody reads expires when the device answers late: the answer itself
/// materialises the expiry.
async fn seed_000_late_answer_materialises_the_expiry(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000013").await;
    let approval_id = create_ok(&bank, &user, "20000").await;
    let shown = the_pending(&app, &device).await;
    app.advance(Duration::seconds(timeout_seconds() + 5));
    let late = answer(
        &app,
        &approval_id,
        device.answer_body(&decide(&app, &shown, PushDecision::Approve, None)),
    )
    .await;
    assert_eq!(
        late.code(),
        Some("push_approval_expired"),
        "{:?}",
        late.body
    );
    assert_eq!(count_operation(&bank, "pushApprovalExpired").await, 1);
    assert_eq!(status(&bank, &approval_id).await, "expired");
}
on_both_engines!(seed_000_late_answer_materialises_the_expiry);

/// Forged answers change nothing: another device's key, a signature over another transaction
/// (sent with that transaction's hash, or with the approval's), a stale signing time, a
/// mangled signature, another credential. The real answer still works afterwards.
async fn seed_000_forged_answers_change_nothing(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000004").await;
    let approval_id = create_ok(&bank, &user, "990000").await;
    let shown = the_pending(&app, &device).await;
    let attacker = app.provision_device().await;
    let real = decide(&app, &shown, PushDecision::Approve, None);

    let other_hash = "0".repeat(64);
    let over_other = DeviceAnswer {
        transaction_hash: &other_hash,
        ..real.clone()
    };
    let stale = DeviceAnswer {
        signed_at: real.signed_at - 301,
        ..real.clone()
    };
    let forgeries: Vec<(&str, Value, u16, &str)> = vec![
        (
            "another device's key",
            device.answer_body_signed(&real, &attacker.sign_answer(&real)),
            403,
            "device_signature_invalid",
        ),
        (
            "a signature over another transaction, with its hash",
            device.answer_body(&over_other),
            422,
            "push_transaction_mismatch",
        ),
        (
            "the approval's hash with a signature over another one",
            device.answer_body_signed(&real, &device.sign_answer(&over_other)),
            403,
            "device_signature_invalid",
        ),
        (
            "a signing time six minutes old",
            device.answer_body(&stale),
            403,
            "device_signature_invalid",
        ),
        (
            "a mangled signature",
            device.answer_body_signed(&real, "not-a-signature"),
            403,
            "device_signature_invalid",
        ),
        (
            "a deny signature sent as an approval",
            device.answer_body_signed(
                &real,
                &device.sign_answer(&DeviceAnswer {
                    decision: PushDecision::Deny,
                    ..real.clone()
                }),
            ),
            403,
            "device_signature_invalid",
        ),
        (
            "another credential",
            attacker.answer_body(&real),
            403,
            "device_signature_invalid",
        ),
    ];
    for (what, body, http, code) in forgeries {
        let refused = answer(&app, &approval_id, body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (http, Some(code)),
            "{what}: {:?}",
            refused.body
        );
        assert_eq!(status(&bank, &approval_id).await, "pending", "{what}");
    }
    let unknown = answer(
        &app,
        "pa_00000000000000000000000000000000",
        device.answer_body(&real),
    )
    .await;
    assert_eq!(
        unknown.code(),
        Some("device_signature_invalid"),
        "{:?}",
        unknown.body
    );

    let approved = answer(&app, &approval_id, device.answer_body(&real)).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(status(&bank, &approval_id).await, "approved");
}
on_both_engines!(seed_000_forged_answers_change_nothing);

/// Number challenge: the IB screen shows a number the phone never receives; approving with a
/// wrong number denies the approval for good (a phished approval cannot be retried), and the
/// right number approves.
async fn seed_000_number_challenge(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000005").await;
    let mut body = approval_request("300000");
    body["number_challenge"] = json!(true);

    let created = create(&bank, &user, body.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let number = created.body["number"].as_str().unwrap().to_owned();
    let n: u32 = number.parse().unwrap();
    assert!((10..=99).contains(&n), "{number}");
    let approval_id = created.body["approval_id"].as_str().unwrap().to_owned();
    let shown = the_pending(&app, &device).await;
    assert_eq!(shown["number_challenge"], true);
    assert!(
        !shown.to_string().contains(&format!("\"{number}\"")),
        "{shown}"
    );

    let wrong = if n == 99 {
        "10".to_owned()
    } else {
        (n + 1).to_string()
    };
    let refused = answer(
        &app,
        &approval_id,
        device.answer_body(&decide(&app, &shown, PushDecision::Approve, Some(&wrong))),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (422, Some("push_number_mismatch")),
        "{:?}",
        refused.body
    );
    assert_eq!(status(&bank, &approval_id).await, "denied");
    let retry = answer(
        &app,
        &approval_id,
        device.answer_body(&decide(&app, &shown, PushDecision::Approve, Some(&number))),
    )
    .await;
    assert_eq!(
        retry.code(),
        Some("push_already_answered"),
        "{:?}",
        retry.body
    );
    assert_eq!(status(&bank, &approval_id).await, "denied");

    // No number at all is as wrong as a wrong one.
    let created = create(&bank, &user, body.clone()).await;
    let second = created.body["approval_id"].as_str().unwrap().to_owned();
    let shown = the_pending(&app, &device).await;
    let refused = answer(
        &app,
        &second,
        device.answer_body(&decide(&app, &shown, PushDecision::Approve, None)),
    )
    .await;
    assert_eq!(
        refused.code(),
        Some("push_number_mismatch"),
        "{:?}",
        refused.body
    );

    let created = create(&bank, &user, body).await;
    let third = created.body["approval_id"].as_str().unwrap().to_owned();
    let number = created.body["number"].as_str().unwrap().to_owned();
    let shown = the_pending(&app, &device).await;
    let approved = answer(
        &app,
        &third,
        device.answer_body(&decide(&app, &shown, PushDecision::Approve, Some(&number))),
    )
    .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(status(&bank, &third).await, "approved");
}
on_both_engines!(seed_000_number_challenge);

/// A lost phone: once the bank revokes the token (失効), its approvals can no longer be
/// approved, and no new ones are sent.
async fn seed_000_revoked_token_cannot_approve(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000006").await;
    let approval_id = create_ok(&bank, &user, "70000").await;
    let shown = the_pending(&app, &device).await;
    let revoked = bank
        .post(&format!("/users/{user}/credential/revoke"), json!({}))
        .await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);

    let refused = answer(
        &app,
        &approval_id,
        device.answer_body(&decide(&app, &shown, PushDecision::Approve, None)),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (404, Some("otp_not_registered")),
        "{:?}",
        refused.body
    );
    assert_eq!(status(&bank, &approval_id).await, "pending");
    let again = create(&bank, &user, approval_request("1000")).await;
    assert_eq!(again.code(), Some("otp_not_registered"), "{:?}", again.body);
}
on_both_engines!(seed_000_revoked_token_cannot_approve);

/// A token locked by wrong codes at the bank cannot approve either.
async fn seed_000_locked_token_cannot_approve(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000016").await;
    let approval_id = create_ok(&bank, &user, "70000").await;
    let shown = the_pending(&app, &device).await;
    let now = app.now_unix();
    let near: Vec<String> = (-3..=3).map(|s| device.token.code_after(now, s)).collect();
    let wrong = (0..)
        .map(|n: u32| format!("{:06}", n * 111_111 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap();
    loop {
        let failed = bank
            .post(
                &format!("/users/{user}/otp/verify"),
                json!({ "otp": wrong }),
            )
            .await;
        if failed.code() == Some("otp_locked") {
            break;
        }
        assert_eq!(failed.code(), Some("otp_invalid"), "{:?}", failed.body);
    }
    let refused = answer(
        &app,
        &approval_id,
        device.answer_body(&decide(&app, &shown, PushDecision::Approve, None)),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (423, Some("otp_locked")),
        "{:?}",
        refused.body
    );
    assert_eq!(status(&bank, &approval_id).await, "pending");
    let create_locked = create(&bank, &user, approval_request("1000")).await;
    assert_eq!(
        create_locked.code(),
        Some("otp_locked"),
        "{:?}",
        create_locked.body
    );
}
on_both_engines!(seed_000_locked_token_cannot_approve);

/// One pending approval per user: a second one cancels the first, whose answer is then
/// refused. Ten concurrent creates leave exactly one pending.
async fn seed_000_one_pending_per_user(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000007").await;
    let first = create_ok(&bank, &user, "1000").await;
    let first_shown = the_pending(&app, &device).await;
    let second = create_ok(&bank, &user, "2000").await;
    assert_eq!(status(&bank, &first).await, "cancelled");
    assert_eq!(status(&bank, &second).await, "pending");
    assert_eq!(
        the_pending(&app, &device).await["approval_id"],
        second.as_str()
    );
    let late = answer(
        &app,
        &first,
        device.answer_body(&decide(&app, &first_shown, PushDecision::Approve, None)),
    )
    .await;
    assert_eq!(
        (late.status, late.code()),
        (409, Some("push_already_answered")),
        "{:?}",
        late.body
    );
    assert_eq!(status(&bank, &first).await, "cancelled");

    let creates = (0..10).map(|i| create(&bank, &user, approval_request(&format!("{}", 3000 + i))));
    let answers = futures_join_all(creates).await;
    // The unique index decides each race; the loser retries and cancels the winner, so every
    // request is answered with its own approval and the last to commit stays pending.
    let mut ids = Vec::new();
    for created in &answers {
        assert_eq!(created.status, 201, "{:?}", created.body);
        ids.push(created.body["approval_id"].as_str().unwrap().to_owned());
    }
    let mut pending = 0;
    for id in ids.iter().chain([&second]) {
        match status(&bank, id).await.as_str() {
            "pending" => pending += 1,
            "cancelled" => {}
            other => panic!("{id}: {other}"),
        }
    }
    assert_eq!(pending, 1, "exactly one pending approval");
    assert_eq!(
        list(&app, &device, "").await.body["approvals"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
on_both_engines!(seed_000_one_pending_per_user);

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in set.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => outputs[i] = Some(out),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

/// Push bombing: someone with the password keeps asking, the customer keeps refusing or
/// ignoring. Three unapproved approvals in a row put one alert in the bank's trail.
async fn seed_000_push_bombing_alert(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000008").await;

    let deny = |approval_id: String| {
        let app = &app;
        let device = &device;
        async move {
            let shown = the_pending(app, device).await;
            assert_eq!(shown["approval_id"], approval_id.as_str());
            let denied = answer(
                app,
                &approval_id,
                device.answer_body(&decide(app, &shown, PushDecision::Deny, None)),
            )
            .await;
            assert_eq!(denied.status, 200, "{:?}", denied.body);
        }
    };
    deny(create_ok(&bank, &user, "100").await).await;
    let ignored = create_ok(&bank, &user, "200").await;
    app.advance(Duration::seconds(timeout_seconds()));
    assert_eq!(status(&bank, &ignored).await, "expired");
    assert_eq!(count_operation(&bank, "pushBombingSuspected").await, 0);
    deny(create_ok(&bank, &user, "300").await).await;

    let events = audit_operations(&bank).await;
    let alerts: Vec<&Value> = events
        .iter()
        .filter(|e| e["operation"] == "pushBombingSuspected")
        .collect();
    assert_eq!(alerts.len(), 1, "{events:?}");
    assert_eq!(alerts[0]["user_id"], user.as_str());
    assert_eq!(alerts[0]["outcome"], "failure");
    let details: Value = serde_json::from_str(alerts[0]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["streak"], 3);

    // A fourth refusal does not repeat the alert; an approval resets the streak.
    deny(create_ok(&bank, &user, "400").await).await;
    assert_eq!(count_operation(&bank, "pushBombingSuspected").await, 1);
    let chain = bank.get("/audit-events/verify").await;
    assert_eq!(chain.body["intact"], true, "{:?}", chain.body);
}
on_both_engines!(seed_000_push_bombing_alert);

/// Another bank's key sees none of it: createPushApproval and getPushApproval answer 404 as
/// for a missing user or approval.
async fn seed_000_other_banks_see_nothing(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, _device) = customer(&app, "9000009").await;
    let approval_id = create_ok(&bank, &user, "100").await;
    let other = app.bank("jonan-shinkin").await;
    let on_a = app
        .call(
            "GET",
            &format!("/v1/banks/{BANK}/push-approvals/{approval_id}"),
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(
        (on_a.status, on_a.code()),
        (404, Some("not_found")),
        "{:?}",
        on_a.body
    );
    let create_on_a = app
        .call(
            "POST",
            &format!("/v1/banks/{BANK}/users/{user}/push-approvals"),
            Some(&other.key),
            Some(approval_request("100")),
        )
        .await;
    assert_eq!(
        create_on_a.code(),
        Some("not_found"),
        "{:?}",
        create_on_a.body
    );
    let own_path = get(&other, &approval_id).await;
    assert_eq!(own_path.code(), Some("not_found"), "{:?}", own_path.body);
    let own_user = create(&other, &user, approval_request("100")).await;
    assert_eq!(own_user.code(), Some("not_found"), "{:?}", own_user.body);
    assert_eq!(status(&bank, &approval_id).await, "pending");
}
on_both_engines!(seed_000_other_banks_see_nothing);

/// What createPushApproval refuses: a bank without push, a token that is not Mamori's own
/// (no device key), a user without a token, bad display texts and transactions.
async fn seed_000_create_refusals(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, _device) = customer(&app, "9000010").await;

    let jonan = app.bank("jonan-shinkin").await;
    let jonan_user = jonan.create_user("9100001", None).await;
    let disabled = create(&jonan, &jonan_user, approval_request("100")).await;
    assert_eq!(
        (disabled.status, disabled.code()),
        (403, Some("push_disabled")),
        "{:?}",
        disabled.body
    );

    let nobody = bank.create_user("9000011", None).await;
    let none = create(&bank, &nobody, approval_request("100")).await;
    assert_eq!(
        (none.status, none.code()),
        (404, Some("otp_not_registered")),
        "{:?}",
        none.body
    );

    let plain_user = bank.create_user("9000012", None).await;
    let plain = app.provision().await;
    app.next_step();
    let reg = bank
        .post(
            &format!("/users/{plain_user}/credential"),
            json!({ "credential_id": plain.credential_id, "otp": plain.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    let unavailable = create(&bank, &plain_user, approval_request("100")).await;
    assert_eq!(
        (unavailable.status, unavailable.code()),
        (409, Some("push_unavailable")),
        "{:?}",
        unavailable.body
    );

    for bad in [
        json!({ "transaction": transfer("1e5"), "display": { "ja": "振込", "en": "Transfer" } }),
        json!({ "transaction": transfer("100"), "display": { "ja": "", "en": "Transfer" } }),
        json!({ "transaction": transfer("100"), "display": { "ja": "振込", "en": "x".repeat(501) } }),
    ] {
        let refused = create(&bank, &user, bad).await;
        assert_eq!(
            (refused.status, refused.code()),
            (400, Some("validation_failed")),
            "{:?}",
            refused.body
        );
    }
    let not_a_string = create(
        &bank,
        &user,
        json!({ "transaction": transfer("100"), "display": { "ja": 1, "en": "Transfer" } }),
    )
    .await;
    assert_eq!(not_a_string.status, 400, "{:?}", not_a_string.body);
}
on_both_engines!(seed_000_create_refusals);

/// listPendingApprovals shows amounts and payees, so only the device holding the key may read
/// them: a missing, wrong, foreign or stale signature is refused.
async fn seed_000_listing_needs_a_fresh_device_signature(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000014").await;
    create_ok(&bank, &user, "100").await;
    let path = format!("/v1/token/credentials/{}/approvals", device.credential_id());
    let now = app.now_unix();
    let other = app.provision_device().await;
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no headers", vec![]),
        (
            "no signature",
            vec![("mamori-device-time", now.to_string())],
        ),
        (
            "another device's key",
            vec![
                ("mamori-device-time", now.to_string()),
                (
                    "mamori-device-signature",
                    other.keys.sign(&mamori_domain::push::listing_message(
                        device.credential_id(),
                        now,
                    )),
                ),
            ],
        ),
        ("a time six minutes old", device.listing_headers(now - 360)),
        (
            "a signature for another time",
            vec![
                ("mamori-device-time", (now - 1).to_string()),
                device.listing_headers(now)[1].clone(),
            ],
        ),
        (
            "garbage",
            vec![
                ("mamori-device-time", "soon".into()),
                ("mamori-device-signature", "xyz".into()),
            ],
        ),
    ];
    for (what, headers) in cases {
        let refused = app
            .call_with_headers("GET", &path, None, &headers, None)
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (403, Some("device_signature_invalid")),
            "{what}: {:?}",
            refused.body
        );
    }
    let five_minutes_off = app
        .call_with_headers("GET", &path, None, &device.listing_headers(now - 300), None)
        .await;
    assert_eq!(five_minutes_off.status, 200, "{:?}", five_minutes_off.body);

    let malformed = app
        .call_with_headers(
            "GET",
            "/v1/token/credentials/NOPE/approvals",
            None,
            &device.listing_headers(now),
            None,
        )
        .await;
    assert_eq!(
        malformed.code(),
        Some("credential_id_malformed"),
        "{:?}",
        malformed.body
    );
    let plain = app.provision().await;
    let unavailable = app
        .call_with_headers(
            "GET",
            &format!("/v1/token/credentials/{}/approvals", plain.credential_id),
            None,
            &device.listing_headers(now),
            None,
        )
        .await;
    assert_eq!(
        (unavailable.status, unavailable.code()),
        (403, Some("device_signature_invalid")),
        "a token without a device key answers like a wrong signature: {:?}",
        unavailable.body
    );
    let too_long = list(&app, &device, "?wait=31").await;
    assert_eq!(
        too_long.code(),
        Some("validation_failed"),
        "{:?}",
        too_long.body
    );
}
on_both_engines!(seed_000_listing_needs_a_fresh_device_signature);

/// Long poll: a device waiting with `wait` gets the approval created while it waits.
async fn seed_000_waiting_device_gets_the_new_approval(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (bank, user, device) = customer(&app, "9000015").await;
    let empty = list(&app, &device, "?wait=0").await;
    assert_eq!(empty.body["approvals"], json!([]), "{:?}", empty.body);
    let (listed, approval_id) = tokio::join!(list(&app, &device, "?wait=20"), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        create_ok(&bank, &user, "4200").await
    });
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(
        listed.body["approvals"][0]["approval_id"],
        approval_id.as_str()
    );
}
on_both_engines!(seed_000_waiting_device_gets_the_new_approval);

/// One HTTP request as the test's webhook receiver got it.
#[derive(Debug)]
struct Delivery {
    signature: String,
    body: String,
}

/// A bank's webhook endpoint on 127.0.0.1: answers 200 to every POST and hands each request
/// to the test.
async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Delivery>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mamori/push", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let head = text[..end].to_ascii_lowercase();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
                    };
                    let length: usize = header("content-length")
                        .unwrap_or_default()
                        .parse()
                        .unwrap_or(0);
                    if data.len() < end + 4 + length {
                        continue;
                    }
                    let original_head = &text[..end];
                    let signature = original_head
                        .lines()
                        .find_map(|l| {
                            l.split_once(": ")
                                .filter(|(n, _)| n.eq_ignore_ascii_case("mamori-signature"))
                                .map(|(_, v)| v.to_owned())
                        })
                        .unwrap_or_default();
                    let body =
                        String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                    let _ = tx.send(Delivery { signature, body });
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    return;
                }
            });
        }
    });
    (url, rx)
}

/// Gives the bank a webhook at `url`, private targets allowed or not. Applied to the database
/// as they are, past validation, like a config stored before the target rules: delivery holds
/// it to them again.
async fn set_webhook(app: &TestApp, url: &str, allow_private: bool) {
    let mut configs = load_dir(&shipped_tenant_configs()).unwrap();
    for config in &mut configs {
        if config.id == BANK {
            config.policy.push.webhook_url = Some(url.to_owned());
            config.policy.push.webhook_allow_private = allow_private;
        }
    }
    app.state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();
}

/// How long a test waits to see that nothing arrives, once the delivery has had its chance.
const NOTHING_ARRIVES: std::time::Duration = std::time::Duration::from_secs(1);

async fn next_delivery(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv())
        .await
        .expect("a webhook delivery")
        .expect("receiver open")
}

/// The bank's webhook hears of every final state, signed with its secret
/// (`Mamori-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`).
async fn seed_000_webhook_tells_the_bank(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (url, mut deliveries) = webhook_receiver().await;
    // The receiver is on 127.0.0.1: a private target the bank must allow.
    set_webhook(&app, &url, true).await;
    let secret = app
        .state
        .services
        .webhooks
        .webhook_secret(&TenantId::parse(BANK).unwrap())
        .await
        .unwrap();
    let secret = data_encoding::HEXLOWER.decode(secret.as_bytes()).unwrap();

    let (bank, user, device) = customer(&app, "9000020").await;
    let first = create_ok(&bank, &user, "100").await;
    let second = create_ok(&bank, &user, "200").await;
    let cancelled = next_delivery(&mut deliveries).await;
    let shown = the_pending(&app, &device).await;
    let denied = answer(
        &app,
        &second,
        device.answer_body(&decide(&app, &shown, PushDecision::Deny, None)),
    )
    .await;
    assert_eq!(denied.status, 200, "{:?}", denied.body);
    let denial = next_delivery(&mut deliveries).await;

    for (delivery, id, state) in [
        (&cancelled, &first, "cancelled"),
        (&denial, &second, "denied"),
    ] {
        let body: Value = serde_json::from_str(&delivery.body).unwrap();
        assert_eq!(body["approval_id"], id.as_str(), "{body}");
        assert_eq!(body["bank_id"], BANK);
        assert_eq!(body["user_id"], user.as_str());
        assert_eq!(body["status"], state);
        assert_eq!(body["transaction_hash"].as_str().map(str::len), Some(64));
        assert!(body["occurred_at"].is_string());
        let (t, v1) = delivery
            .signature
            .split_once(',')
            .map(|(t, v)| {
                (
                    t.strip_prefix("t=").unwrap(),
                    v.strip_prefix("v1=").unwrap(),
                )
            })
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(format!("{t}.{}", delivery.body).as_bytes());
        mac.verify_slice(&data_encoding::HEXLOWER.decode(v1.as_bytes()).unwrap())
            .expect("the bank verifies the HMAC");
        assert_eq!(t.parse::<i64>().unwrap(), app.now_unix());
    }
}
on_both_engines!(seed_000_webhook_tells_the_bank);

/// A first approval cancelled by a second; the second denied on the device. Two final states,
/// one at a time: the first is sent when this returns, the second when `deny` is awaited.
async fn cancel_then_deny<'a>(
    app: &'a TestApp,
    contract: &str,
) -> (String, impl std::future::Future<Output = String> + 'a) {
    let (bank, user, device) = customer(app, contract).await;
    let first = create_ok(&bank, &user, "100").await;
    let second = create_ok(&bank, &user, "200").await;
    let deny = async move {
        let shown = the_pending(app, &device).await;
        let denied = answer(
            app,
            &second,
            device.answer_body(&decide(app, &shown, PushDecision::Deny, None)),
        )
        .await;
        assert_eq!(denied.status, 200, "{:?}", denied.body);
        second
    };
    (first, deny)
}

/// A host name that resolves to loopback (`localhost`) gets no webhook while the bank does not
/// allow private targets, though its stored config names it; once allowed, it does.
async fn seed_000_webhook_to_a_loopback_name_needs_the_banks_allowance(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let (url, mut deliveries) = webhook_receiver().await;
    let url = url.replace("127.0.0.1", "localhost");
    set_webhook(&app, &url, false).await;

    let (first, deny) = cancel_then_deny(&app, "9000021").await;
    let refused = tokio::time::timeout(NOTHING_ARRIVES, deliveries.recv()).await;
    assert!(refused.is_err(), "delivered to loopback: {refused:?}");

    set_webhook(&app, &url, true).await;
    let second = deny.await;
    let delivery: Value = serde_json::from_str(&next_delivery(&mut deliveries).await.body).unwrap();
    // The first approval's cancellation never came, not even late.
    assert_ne!(delivery["approval_id"], first.as_str());
    assert_eq!(delivery["approval_id"], second.as_str(), "{delivery}");
    assert_eq!(delivery["status"], "denied");
}
on_both_engines!(seed_000_webhook_to_a_loopback_name_needs_the_banks_allowance);

/// Answers every lookup of one name with one address, and tells the test of each lookup.
#[derive(Debug)]
struct OneName {
    name: &'static str,
    address: std::net::SocketAddr,
    asked: tokio::sync::mpsc::UnboundedSender<String>,
}

#[async_trait::async_trait]
impl HostResolver for OneName {
    async fn lookup(&self, host: &str, _port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        let _ = self.asked.send(host.to_owned());
        if host == self.name {
            Ok(vec![self.address])
        } else {
            Err(std::io::Error::other(format!("no such host {host}")))
        }
    }
}

/// A TCP listener on 127.0.0.1 that hands the first bytes of every connection to the test (a
/// TLS ClientHello, for an https:// webhook) and closes it.
async fn connection_receiver() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            buf.truncate(n);
            let _ = tx.send(buf);
        }
    });
    (address, rx)
}

/// DNS rebinding: a public-looking name that resolves to 127.0.0.1 at delivery gets nothing
/// while the bank does not allow private targets. Once allowed, the POST connects to exactly
/// the address that was checked: the system's resolver cannot find `hooks.kitakyushu.example`,
/// so a client that looked the name up again would reach nothing.
async fn seed_000_webhook_connects_only_to_the_checked_address(engine: TestEngine) {
    const NAME: &str = "hooks.kitakyushu.example";
    let (address, mut connections) = connection_receiver().await;
    let (asked, mut lookups) = tokio::sync::mpsc::unbounded_channel();
    let resolver = std::sync::Arc::new(OneName {
        name: NAME,
        address,
        asked,
    });
    let app = TestApp::configured(engine, |services| services.webhook_resolver(resolver)).await;
    let url = format!("https://{NAME}:{}/mamori/push?token=t0", address.port());
    set_webhook(&app, &url, false).await;

    let (_, deny) = cancel_then_deny(&app, "9000022").await;
    let looked_up = tokio::time::timeout(std::time::Duration::from_secs(20), lookups.recv())
        .await
        .expect("the host looked up at delivery");
    assert_eq!(looked_up.as_deref(), Some(NAME));
    let refused = tokio::time::timeout(NOTHING_ARRIVES, connections.recv()).await;
    assert!(refused.is_err(), "connected to loopback: {refused:?}");
    assert!(
        lookups.try_recv().is_err(),
        "a refused target is not tried again"
    );

    set_webhook(&app, &url, true).await;
    deny.await;
    let hello = tokio::time::timeout(std::time::Duration::from_secs(20), connections.recv())
        .await
        .expect("a connection to the checked address")
        .unwrap();
    assert_eq!(hello.first(), Some(&0x16), "a TLS handshake: {hello:?}");
    assert!(
        hello.windows(NAME.len()).any(|w| w == NAME.as_bytes()),
        "the ClientHello names the webhook's host (SNI)"
    );
}
on_both_engines!(seed_000_webhook_connects_only_to_the_checked_address);
