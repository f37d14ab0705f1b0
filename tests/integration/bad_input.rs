//! What customers and bank systems really send: the bad-input catalogue against `verifyOtp` and
//! `registerCredential`. Every refusal is an RFC 9457 problem with a stable code, changes
//! nothing and counts nothing; the harmless variants (full-width digits, spaces) of a current
//! code are accepted.

use mamori_otp::CredentialId;
use mamori_testkit::{Answer, Bank, TestApp, TestEngine, on_both_engines};
use serde_json::{Value, json};

use crate::support::assert_problem;

/// A request body: JSON, or raw text for what JSON values cannot express.
enum Body {
    Json(Value),
    Raw(String),
}

/// One bad request and the problem it must get.
struct Case {
    label: &'static str,
    with_key: bool,
    body: Body,
    status: u16,
    code: &'static str,
}

impl Case {
    fn json(label: &'static str, body: Value, status: u16, code: &'static str) -> Self {
        Self {
            label,
            with_key: true,
            body: Body::Json(body),
            status,
            code,
        }
    }
}

/// Sends `body` as `application/json` to a path under the bank, with or without its key.
async fn send(app: &TestApp, bank: &Bank<'_>, path: &str, with_key: bool, body: &Body) -> Answer {
    let text = match body {
        Body::Json(value) => value.to_string(),
        Body::Raw(text) => text.clone(),
    };
    let mut req = app
        .client
        .post(format!("/v1/banks/{}{path}", bank.id))
        .content_type("application/json")
        .body(text);
    if with_key {
        req = req.header("authorization", format!("Bearer {}", bank.key));
    }
    Answer::from_response(req.send().await).await
}

/// The codes a customer's fingers or input method produce that are not a code.
const MALFORMED_CODES: [(&str, &str); 8] = [
    ("5 digits", "12345"),
    ("7 digits", "1234567"),
    ("a letter", "12a456"),
    ("a plus sign", "+12345"),
    ("a minus sign", "-12345"),
    ("Arabic-Indic digits", "١٢٣٤٥٦"),
    ("circled digits", "①②③④⑤⑥"),
    ("empty", ""),
];

/// The same six digits in full-width form (what a Japanese IME types).
fn full_width(code: &str) -> String {
    code.chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap())
        .collect()
}

/// "123456" → "12 34 56".
fn spaced(code: &str) -> String {
    format!("{} {} {}", &code[..2], &code[2..4], &code[4..])
}

/// Runs each case against `path` and checks the problem and that the user's OTP status did
/// not move.
async fn refuse_all(app: &TestApp, bank: &Bank<'_>, user: &str, path: &str, cases: &[Case]) {
    for case in cases {
        let before = bank.status(user).await;
        let answer = send(app, bank, path, case.with_key, &case.body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (case.status, Some(case.code)),
            "{path} with {}: {:?}",
            case.label,
            answer.body
        );
        assert_problem(answer.status, &answer.content_type, &answer.body, case.code);
        let after = bank.status(user).await;
        assert_eq!(
            after, before,
            "{path} with {} changed the status",
            case.label
        );
    }
}

/// Cases that are refused before a code is looked at, on any code route.
fn edge_cases(otp_field: &str, current: &str) -> Vec<Case> {
    vec![
        Case {
            label: "duplicate JSON keys",
            with_key: true,
            body: Body::Raw(format!(
                r#"{{"{otp_field}":"{current}","{otp_field}":"{current}"}}"#
            )),
            status: 400,
            code: "bad_request",
        },
        Case {
            label: "a 1 MB body",
            with_key: true,
            body: Body::Raw(format!(
                r#"{{"{otp_field}":"{}"}}"#,
                "1".repeat(1024 * 1024)
            )),
            status: 413,
            code: "payload_too_large",
        },
    ]
}

/// verifyOtp: malformed codes are `otp_malformed` (400) and not counted; wrong JSON is
/// `bad_request`; a huge body is `payload_too_large`; no key is `unauthorized`. A current code
/// in full-width digits, or with spaces, logs in.
async fn bad_codes_at_login(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("5000001", None).await;
    let token = app.provision().await;
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    // One real failure, so "not counted" is visible as "still one".
    app.next_step();
    let now = app.now_unix();
    let path = format!("/users/{user}/otp/verify");
    let wrong = bank
        .post(&path, json!({ "otp": token.wrong_code_at(now) }))
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (422, Some("otp_invalid")),
        "{:?}",
        wrong.body
    );
    let counted = bank.status(&user).await;
    assert_eq!(counted["failures"], 1, "{counted}");

    let current = token.code_at(now);
    let mut cases: Vec<Case> = MALFORMED_CODES
        .iter()
        .map(|(label, code)| Case::json(label, json!({ "otp": code }), 400, "otp_malformed"))
        .collect();
    cases.extend(edge_cases("otp", &current));
    cases.push(Case {
        label: "no Authorization header (with the current code)",
        with_key: false,
        body: Body::Json(json!({ "otp": current })),
        status: 401,
        code: "unauthorized",
    });
    refuse_all(&app, &bank, &user, &path, &cases).await;
    assert_eq!(bank.status(&user).await["failures"], 1);

    // None of that spent the current code: typed in full-width digits it logs in.
    let login = bank
        .post(&path, json!({ "otp": full_width(&current) }))
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(
        bank.status(&user).await["failures"],
        0,
        "a success resets the count"
    );

    // Grouped with spaces, as the token shows it.
    app.next_step();
    let login = bank
        .post(
            &path,
            json!({ "otp": spaced(&token.code_at(app.now_unix())) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}
on_both_engines!(bad_codes_at_login);

/// registerCredential: malformed codes (`otp_malformed`), unknown and malformed credential IDs
/// (`credential_unknown` 404, `credential_id_malformed` 400), wrong JSON, a huge body and no
/// key are refused and create no binding; the current code in full-width digits registers.
async fn bad_input_at_registration(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("5000002", None).await;
    let token = app.provision().await;
    let id = token.credential_id.clone();
    let current = token.code_at(app.now_unix());
    let path = format!("/users/{user}/credential");

    // A valid-looking ID (right check digit) that no token has.
    let unknown = CredentialId::generate("VSMT", 389).unwrap().to_string();
    assert!(CredentialId::parse(&unknown).is_ok());
    // The real ID with its check digit changed: a typo.
    let last = id.chars().last().unwrap().to_digit(10).unwrap();
    let typo = format!("{}{}", &id[..id.len() - 1], (last + 1) % 10);

    let mut cases: Vec<Case> = MALFORMED_CODES
        .iter()
        .map(|(label, code)| {
            Case::json(
                label,
                json!({ "credential_id": id, "otp": code }),
                400,
                "otp_malformed",
            )
        })
        .collect();
    cases.extend([
        Case::json(
            "an unknown credential ID",
            json!({ "credential_id": unknown, "otp": current }),
            404,
            "credential_unknown",
        ),
        Case::json(
            "an 11-character ID",
            json!({ "credential_id": "VSMT0000389", "otp": current }),
            400,
            "credential_id_malformed",
        ),
        Case::json(
            "digits before letters",
            json!({ "credential_id": "12345678ABCD", "otp": current }),
            400,
            "credential_id_malformed",
        ),
        Case::json(
            "a wrong check digit",
            json!({ "credential_id": typo, "otp": current }),
            400,
            "credential_id_malformed",
        ),
        Case {
            label: "duplicate JSON keys",
            with_key: true,
            body: Body::Raw(format!(
                r#"{{"credential_id":"{id}","otp":"{current}","otp":"{current}"}}"#
            )),
            status: 400,
            code: "bad_request",
        },
        Case {
            label: "a 1 MB body",
            with_key: true,
            body: Body::Raw(format!(
                r#"{{"credential_id":"{id}","otp":"{}"}}"#,
                "1".repeat(1024 * 1024)
            )),
            status: 413,
            code: "payload_too_large",
        },
        Case {
            label: "no Authorization header (with the current code)",
            with_key: false,
            body: Body::Json(json!({ "credential_id": id, "otp": current })),
            status: 401,
            code: "unauthorized",
        },
    ]);
    refuse_all(&app, &bank, &user, &path, &cases).await;
    let status = bank.status(&user).await;
    assert_eq!(status["status"], "none", "no binding was created: {status}");

    // The same current code, typed in full-width digits, registers: nothing above spent it.
    let reg = bank
        .post(
            &path,
            json!({ "credential_id": id, "otp": full_width(&current) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    assert_eq!(reg.body["credential_id"], id.as_str(), "{:?}", reg.body);
}
on_both_engines!(bad_input_at_registration);

/// A code sent as a JSON number instead of a string (the spec's type is string: leading zeros
/// matter) is `bad_request` at login and at registration, and changes and counts nothing.
async fn json_number_instead_of_code_string(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let registered = bank.create_user("5000003", None).await;
    let fresh = bank.create_user("5000004", None).await;
    let token = app.provision().await;
    let reg = bank
        .post(
            &format!("/users/{registered}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();
    // Six digits without a leading zero, so the number's text is a well-formed (wrong) code.
    let now = app.now_unix();
    let near: Vec<String> = (-3..=3).map(|s| token.code_after(now, s)).collect();
    let number: u32 = (123_456..)
        .step_by(111_111)
        .find(|n: &u32| !near.contains(&n.to_string()))
        .unwrap();

    let mut wrong_answers = Vec::new();
    for (user, path, body) in [
        (
            &registered,
            format!("/users/{registered}/otp/verify"),
            json!({ "otp": number }),
        ),
        (
            &fresh,
            format!("/users/{fresh}/credential"),
            json!({ "credential_id": token.credential_id, "otp": number }),
        ),
    ] {
        let before = bank.status(user).await;
        let answer = send(&app, &bank, &path, true, &Body::Json(body)).await;
        let after = bank.status(user).await;
        if (answer.status, answer.code()) != (400, Some("bad_request")) || after != before {
            wrong_answers.push(format!(
                "{path}: {} {:?}; status before {before}, after {after}",
                answer.status, answer.body
            ));
        }
    }
    assert!(
        wrong_answers.is_empty(),
        "a JSON number for a code must be 400 bad_request and change nothing:\n{}",
        wrong_answers.join("\n")
    );
}
on_both_engines!(json_number_instead_of_code_string);
