//! `mamori token approvals` against a stand-in server that speaks the push contract: the
//! listing is signed by the device key, the answer is signed over the hash the device computed
//! from what it showed, and a transaction that does not match its hash is never answered.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

mod common;

use std::process::ExitCode;

use common::{CREDENTIAL, NOW, push_server, run, token_file};
use mamori_crypto::{DeviceKeyPair, DevicePublicKey};
use mamori_domain::PushDecision;
use mamori_domain::policy::TransactionKind;
use mamori_domain::push::{SignedAnswer, listing_message};
use mamori_domain::transaction::{Payee, Transaction};
use mamori_token::TokenError;
use serde_json::{Value, json};

fn transfer() -> Transaction {
    Transaction {
        kind: TransactionKind::Transfer,
        amount: "150000".into(),
        currency: "JPY".into(),
        payee: Some(Payee {
            bank_code: "0191".into(),
            branch_code: "001".into(),
            account_number: "1234567".into(),
            account_name: "ｷﾀｷｭｳ ﾊﾅｺ".into(),
        }),
    }
}

fn listing(amount_shown: &str, hash: &str, number_challenge: bool) -> Value {
    json!({ "approvals": [{
        "approval_id": "pa_1",
        "bank_id": "kitakyushu-bank",
        "bank_name": { "ja": "北九州銀行", "en": "Kitakyushu Bank" },
        "transaction": {
            "kind": "transfer", "amount": amount_shown, "currency": "JPY",
            "payee": { "bank_code": "0191", "branch_code": "001",
                       "account_number": "1234567", "account_name": "ｷﾀｷｭｳ ﾊﾅｺ" }
        },
        "transaction_hash": hash,
        "display": { "ja": "振込の承認", "en": "Approve the transfer" },
        "number_challenge": number_challenge,
        "created_at": "2026-11-22T09:30:00Z",
        "expires_at": "2026-11-22T09:32:00Z"
    }]})
}

#[tokio::test]
async fn an_approval_is_shown_asked_and_answered_with_the_devices_signature() {
    let device = DeviceKeyPair::generate().unwrap();
    let public = DevicePublicKey::parse(&device.public().to_base64()).unwrap();
    let hash = transfer().hash();
    let (server, seen) = push_server(listing("150000", &hash, true)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = token_file(dir.path(), &server, &device);

    // The customer types "y", then the number the bank's screen shows (full-width, as phones do).
    let (result, out, err) = run(
        &path,
        &["approvals", "--once", "--wait", "5", "--lang", "ja"],
        "y\n４２\n",
    )
    .await;
    assert!(
        matches!(result, Ok(code) if code == ExitCode::SUCCESS),
        "{result:?} {err}"
    );
    for part in [
        "北九州銀行 (kitakyushu-bank) からの承認依頼",
        "150,000 円",
        "承認しますか？ [y/n]",
        "銀行の画面に表示されている番号",
        "結果: 承認しました (approved)",
    ] {
        assert!(out.contains(part), "{part} missing:\n{out}");
    }

    let seen = seen.lock().unwrap().clone();
    let [list, answer] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!(list.method, "GET");
    assert_eq!(
        list.path,
        format!("/v1/token/credentials/{CREDENTIAL}/approvals?wait=5")
    );
    assert_eq!(list.header("accept-language"), Some("ja"));
    let time: i64 = list.header("mamori-device-time").unwrap().parse().unwrap();
    assert_eq!(time, NOW + 5);
    assert_eq!(
        public.verify(
            &listing_message(CREDENTIAL, time),
            list.header("mamori-device-signature").unwrap()
        ),
        Ok(true)
    );

    assert_eq!(answer.method, "POST");
    assert_eq!(answer.path, "/v1/token/approvals/pa_1/answer");
    let body = &answer.body;
    assert_eq!(body["credential_id"], CREDENTIAL);
    assert_eq!(body["decision"], "approve");
    assert_eq!(body["number"], "42");
    assert_eq!(body["transaction_hash"], hash.as_str());
    assert_eq!(body["signed_at"], NOW + 5);
    let message = SignedAnswer {
        approval_id: "pa_1",
        tenant_id: "kitakyushu-bank",
        transaction_hash: &hash,
        decision: PushDecision::Approve,
        number: Some("42"),
        signed_at: NOW + 5,
    }
    .message();
    assert_eq!(
        public.verify(&message, body["signature"].as_str().unwrap()),
        Ok(true)
    );
}

#[tokio::test]
async fn a_denial_from_the_command_line_carries_no_number() {
    let device = DeviceKeyPair::generate().unwrap();
    let (server, seen) = push_server(listing("150000", &transfer().hash(), true)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = token_file(dir.path(), &server, &device);
    let (result, out, _) = run(
        &path,
        &["approvals", "--once", "--answer", "deny", "--lang", "en"],
        "",
    )
    .await;
    assert!(result.is_ok(), "{result:?}");
    assert!(out.contains("Result: denied"), "{out}");
    assert!(!out.contains("Approve? [y/n]"), "not asked: {out}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[1].body["decision"], "deny");
    assert!(seen[1].body.get("number").is_none(), "{:?}", seen[1].body);
}

#[tokio::test]
async fn a_transaction_that_does_not_match_its_hash_is_never_answered() {
    let device = DeviceKeyPair::generate().unwrap();
    // The bank hashed 150,000 yen; the phone is shown 1,500,000.
    let (server, seen) = push_server(listing("1500000", &transfer().hash(), false)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = token_file(dir.path(), &server, &device);
    let (result, out, _) = run(
        &path,
        &["approvals", "--once", "--answer", "approve", "--lang", "en"],
        "",
    )
    .await;
    assert!(matches!(result, Err(TokenError::Refused(_))), "{result:?}");
    assert!(
        out.contains("1,500,000 JPY") && out.contains("WARNING"),
        "{out}"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|s| s.method == "GET"),
        "nothing was answered: {seen:?}"
    );
}

#[tokio::test]
async fn with_nothing_pending_once_exits_non_zero() {
    let device = DeviceKeyPair::generate().unwrap();
    let (server, _) = push_server(json!({ "approvals": [] })).await;
    let dir = tempfile::tempdir().unwrap();
    let path = token_file(dir.path(), &server, &device);
    let (result, _, err) = run(&path, &["approvals", "--once", "--lang", "en"], "").await;
    assert!(
        matches!(result, Ok(code) if code == ExitCode::FAILURE),
        "{result:?}"
    );
    assert!(err.contains("no approval request is waiting"), "{err}");
}
