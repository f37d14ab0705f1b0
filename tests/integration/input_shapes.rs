//! The constraints the server enforces are in the spec, so banks' generated clients know them,
//! and the spec never says more than the server: progenitor turns a constrained string into a
//! newtype that refuses what does not match, so a schema stricter than the server would make a
//! bank's client refuse input Mamori takes.
//!
//! The spec test pins the constraints field by field, so none can silently disappear. The table
//! test sends, for each constrained field, one value just outside the constraint (the schema
//! refuses it, and so does the server: with the field's usual code, changing nothing) and one
//! awkward value a customer really types (full-width, spaces, hyphens; the schema admits it,
//! and so does the server).

use mamori_testkit::{Answer, Bank, TestApp, TestEngine, TestToken, on_both_engines};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::support::assert_problem;

/// Where a field's schema is in the spec.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// A property of a component schema (`Schema.property`).
    Property(&'static str, &'static str),
    /// A parameter of an operation (`operationId`, name).
    Parameter(&'static str, &'static str),
}

impl Field {
    fn schema(self, spec: &Value) -> &Value {
        let found = match self {
            Field::Property(schema, property) => {
                &spec["components"]["schemas"][schema]["properties"][property]
            }
            Field::Parameter(operation, name) => spec["paths"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|item| item.as_object().unwrap().values())
                .find(|op| op["operationId"] == operation)
                .and_then(|op| op["parameters"].as_array())
                .and_then(|params| params.iter().find(|p| p["name"] == name))
                .map_or(&Value::Null, |p| &p["schema"]),
        };
        assert!(found.is_object(), "{self:?} is not in the spec");
        found
    }
}

fn spec(app: &TestApp) -> Value {
    serde_json::from_str(&mamori_api::spec_json(app.state.clone())).unwrap()
}

/// Whether `value` satisfies the constraints of `schema` that generated clients check:
/// `minLength`/`maxLength` in characters (as JSON Schema counts), `pattern` as ECMA-262 (with
/// regress, as progenitor's clients do), `minimum`/`maximum`.
fn admits(schema: &Value, value: &Value) -> bool {
    let bound = |key: &str| schema[key].as_u64().map(|n| n as usize);
    match value {
        Value::String(text) => {
            let chars = text.chars().count();
            bound("minLength").is_none_or(|min| chars >= min)
                && bound("maxLength").is_none_or(|max| chars <= max)
                && schema["pattern"].as_str().is_none_or(|pattern| {
                    regress::Regex::new(pattern)
                        .unwrap_or_else(|e| panic!("pattern {pattern}: {e}"))
                        .find(text)
                        .is_some()
                })
        }
        Value::Number(n) => {
            let n = n.as_f64().unwrap();
            schema["minimum"].as_f64().is_none_or(|min| n >= min)
                && schema["maximum"].as_f64().is_none_or(|max| n <= max)
        }
        other => panic!("no such input: {other}"),
    }
}

/// What a field's schema must say: `minLength`, `maxLength`, and whether it has a pattern.
struct Promise {
    field: Field,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: bool,
}

const fn promise(field: Field, min: Option<u64>, max: Option<u64>, pattern: bool) -> Promise {
    Promise {
        field,
        min_length: min,
        max_length: max,
        pattern,
    }
}

use Field::{Parameter as Param, Property as Prop};

/// Every constrained input of the Bank and token APIs.
const PROMISES: &[Promise] = &[
    promise(Param("getUser", "bank_id"), Some(3), Some(40), true),
    promise(Param("createUser", "bank_id"), Some(3), Some(40), true),
    promise(
        Prop("CreateUserRequest", "contract_number"),
        Some(1),
        None,
        true,
    ),
    promise(Prop("CreateUserRequest", "user_id"), None, None, true),
    promise(
        Prop("CreateUserRequest", "initial_password"),
        Some(1),
        Some(128),
        true,
    ),
    promise(Param("findUser", "contract_number"), Some(1), None, true),
    promise(Param("findUser", "user_id"), None, None, true),
    promise(
        Prop("StartLoginRequest", "contract_number"),
        Some(1),
        None,
        true,
    ),
    promise(
        Prop("StartLoginRequest", "password"),
        Some(1),
        Some(128),
        true,
    ),
    promise(Prop("CompleteLoginRequest", "otp"), Some(6), None, true),
    promise(
        Prop("PasswordChangeInLogin", "new_password"),
        Some(1),
        Some(128),
        true,
    ),
    promise(
        Prop("PasswordChangeWithCurrent", "current_password"),
        Some(1),
        Some(128),
        true,
    ),
    promise(
        Prop("RegisterCredentialRequest", "credential_id"),
        Some(4),
        None,
        true,
    ),
    promise(
        Prop("RegisterCredentialRequest", "otp"),
        Some(6),
        None,
        true,
    ),
    promise(
        Prop("RegisterCredentialRequest", "otp2"),
        Some(6),
        None,
        true,
    ),
    promise(Prop("OtpRequest", "otp"), Some(6), None, true),
    promise(Prop("ResyncRequest", "otp1"), Some(6), None, true),
    promise(Prop("ResyncRequest", "otp2"), Some(6), None, true),
    promise(Prop("ChangeDeviceRequest", "old_otp"), Some(6), None, true),
    promise(
        Prop("ChangeDeviceRequest", "new_credential_id"),
        Some(4),
        None,
        true,
    ),
    promise(Prop("ChangeDeviceRequest", "new_otp"), Some(6), None, true),
    promise(Prop("TransactionOtpRequest", "otp"), Some(6), None, true),
    promise(Prop("TransactionDto", "amount"), Some(1), Some(37), true),
    promise(Prop("TransactionDto", "currency"), Some(3), Some(3), true),
    promise(Prop("PayeeDto", "bank_code"), Some(1), Some(16), true),
    promise(Prop("PayeeDto", "branch_code"), Some(1), Some(16), true),
    promise(Prop("PayeeDto", "account_number"), Some(1), Some(32), true),
    promise(Prop("PayeeDto", "account_name"), Some(1), Some(100), true),
    promise(Prop("DisplayTexts", "ja"), Some(1), Some(500), false),
    promise(Prop("DisplayTexts", "en"), Some(1), Some(500), false),
    promise(
        Prop("IssueTokenRequest", "activation_password"),
        Some(8),
        Some(32),
        true,
    ),
    promise(
        Prop("ActivateTokenRequest", "service_id"),
        Some(3),
        None,
        true,
    ),
    promise(
        Prop("ActivateTokenRequest", "user_id"),
        Some(10),
        None,
        true,
    ),
    promise(
        Prop("ActivateTokenRequest", "activation_password"),
        Some(8),
        Some(32),
        true,
    ),
    promise(
        Prop("ActivateTokenRequest", "device_public_key"),
        Some(43),
        None,
        true,
    ),
    promise(Prop("StartOtpUseRequest", "otp"), Some(6), None, true),
    promise(
        Prop("ProvisionRequest", "device_public_key"),
        Some(43),
        None,
        true,
    ),
    promise(Prop("CredentialBanksRequest", "otp"), Some(6), None, true),
    promise(
        Param("listCredentialBanks", "credential_id"),
        Some(4),
        None,
        true,
    ),
    promise(
        Param("listPendingApprovals", "credential_id"),
        Some(12),
        None,
        true,
    ),
    promise(Prop("AnswerRequest", "credential_id"), Some(12), None, true),
    promise(
        Prop("AnswerRequest", "transaction_hash"),
        Some(64),
        Some(64),
        true,
    ),
    promise(Prop("AnswerRequest", "signature"), Some(86), None, true),
];

/// The spec carries every constraint above; `wait` and `limit` carry their bounds; and
/// changePassword's body is exactly one of its two shapes.
#[tokio::test]
async fn the_spec_states_what_the_server_enforces() {
    let app = TestApp::new(TestEngine::Sqlite).await;
    let spec = spec(&app);
    let mut missing = Vec::new();
    for p in PROMISES {
        let schema = p.field.schema(&spec);
        let said = (
            schema["minLength"].as_u64(),
            schema["maxLength"].as_u64(),
            schema["pattern"].is_string(),
        );
        if said != (p.min_length, p.max_length, p.pattern) {
            missing.push(format!(
                "{:?}: expected (minLength, maxLength, pattern) = {:?}, found {said:?} in {schema}",
                p.field,
                (p.min_length, p.max_length, p.pattern)
            ));
        }
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
                || matches!(p.field, Param(..)),
            "{:?} has no description",
            p.field
        );
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));

    for (operation, name, max) in [
        ("listPendingApprovals", "wait", 30.0),
        ("listAuditEvents", "limit", 200.0),
    ] {
        let schema = Param(operation, name).schema(&spec);
        assert_eq!(schema["maximum"].as_f64(), Some(max), "{operation} {name}");
        assert!(schema["minimum"].is_number(), "{operation} {name}");
    }

    // changePassword: a login ID or the current password, never both, never neither.
    let body = &spec["components"]["schemas"]["ChangePasswordRequest"];
    let shapes: Vec<Vec<&str>> = body["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("changePassword's body is no oneOf: {body}"))
        .iter()
        .map(|shape| {
            let name = shape["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
            spec["components"]["schemas"][name]["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        shapes,
        [
            vec!["new_password", "login_id"],
            vec!["new_password", "current_password"]
        ]
    );
}

/// How a row's value reaches the server.
enum Via<'a> {
    /// POST a JSON body to a bank route, the value at a JSON pointer.
    Bank(&'a Bank<'a>, String, Value, &'static str),
    /// GET a bank route with the value as a query parameter.
    BankQuery(&'a Bank<'a>, String, &'static str),
    /// POST a JSON body to a token route (no key).
    Token(String, Value, &'static str),
    /// GET a token route with the value as a query parameter and extra headers.
    TokenQuery(String, &'static str, Vec<(&'static str, String)>),
}

impl Via<'_> {
    async fn with(&self, app: &TestApp, value: &Value) -> Answer {
        let body = |template: &Value, pointer: &str| {
            let mut body = template.clone();
            *body.pointer_mut(pointer).unwrap() = value.clone();
            body
        };
        let query = |path: &str, name: &str| {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            let sep = if path.contains('?') { '&' } else { '?' };
            format!(
                "{path}{sep}{name}={}",
                utf8_percent_encode(&text, NON_ALPHANUMERIC)
            )
        };
        match self {
            Via::Bank(bank, path, template, pointer) => {
                bank.post(path, body(template, pointer)).await
            }
            Via::BankQuery(bank, path, name) => bank.get(&query(path, name)).await,
            Via::Token(path, template, pointer) => {
                app.call("POST", path, None, Some(body(template, pointer)))
                    .await
            }
            Via::TokenQuery(path, name, headers) => {
                app.call_with_headers("GET", &query(path, name), None, headers, None)
                    .await
            }
        }
    }
}

/// One constrained field: a value just outside (refused with `refused`), an awkward valid one
/// (answered `accepted`), and a bank route whose answer the refusal must not change.
struct Row<'a> {
    field: Field,
    send: Via<'a>,
    outside: Value,
    refused: (u16, &'static str),
    valid: Value,
    accepted: u16,
    unchanged: Option<(&'a Bank<'a>, String)>,
}

/// What a bank reads at `path`, without the answer's own request ID.
async fn observe(bank: &Bank<'_>, path: &str) -> Value {
    let mut answer = bank.get(path).await;
    if let Some(body) = answer.body.as_object_mut() {
        body.remove("request_id");
    }
    json!({ "status": answer.status, "body": answer.body })
}

/// A new user of `bank` with a token registered (its code at the current step is spent).
async fn registered(app: &TestApp, bank: &Bank<'_>, contract: &str) -> (String, TestToken) {
    let user = bank.create_user(contract, None).await;
    let token = app.provision().await;
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    (user, token)
}

/// How a customer types a credential ID: lower case, full-width, with hyphens and a space.
fn as_typed(id: &str) -> String {
    let wide: String = id
        .to_lowercase()
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    let chars: Vec<char> = wide.chars().collect();
    format!(
        "{}-{} {}",
        chars[..4].iter().collect::<String>(),
        chars[4..8].iter().collect::<String>(),
        chars[8..].iter().collect::<String>()
    )
}

/// A code as a customer types it: full-width digits, grouped by an ideographic space.
fn code_as_typed(code: &str) -> String {
    let wide: String = code
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    let chars: Vec<char> = wide.chars().collect();
    let (a, b) = chars.split_at(chars.len() / 2);
    format!(
        " {}\u{3000}{} ",
        a.iter().collect::<String>(),
        b.iter().collect::<String>()
    )
}

fn transfer(amount: &str) -> Value {
    json!({
        "kind": "transfer",
        "amount": amount,
        "currency": "JPY",
        "payee": {
            "bank_code": "0191",
            "branch_code": "101",
            "account_number": "7654321",
            "account_name": "ｷﾀｷﾕｳ ﾊﾅｺ"
        }
    })
}

async fn each_constraint_refuses_just_outside_and_admits_awkward_input(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let spec = spec(&app);
    let jonan = app.bank("jonan-shinkin").await;
    let push_bank = app.bank("kitakyushu-bank").await;
    let kitashin = app.bank("kitashin").await;

    // Fixtures, each spending its token's current code once; then a fresh step for the rows.
    let login_user = {
        let created = jonan
            .post(
                "/users",
                json!({ "contract_number": "7000001", "initial_password": "temp1234" }),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        created.body["id"].as_str().unwrap().to_owned()
    };
    let (verify_user, verify_token) = registered(&app, &jonan, "7000002").await;
    let (amount_user, amount_token) = registered(&app, &jonan, "7000003").await;
    let (currency_user, currency_token) = registered(&app, &jonan, "7000004").await;
    let (payee_user, payee_token) = registered(&app, &jonan, "7000005").await;
    let new_user = jonan.create_user("7000006", None).await;
    let new_token = app.provision().await;
    let push_user = push_bank.create_user("7000007", None).await;
    let device = app.provision_device().await;
    let reg = push_bank
        .post(
            &format!("/users/{push_user}/credential"),
            json!({ "credential_id": device.credential_id(), "otp": device.token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    let issue_user = kitashin.create_user("7000008", None).await;
    // Another phone's key, for a second credential.
    let device_key = app.provision_device().await.keys.public().to_base64();
    app.next_step();
    let now = app.now_unix();

    let status_of = |bank, user: &str| Some((bank, format!("/users/{user}/otp-status")));
    let txn =
        |token: &TestToken| json!({ "otp": token.code_at(now), "transaction": transfer("150000") });
    let txn_path = |user: &str| format!("/users/{user}/transactions/verify");
    let rows = vec![
        Row {
            field: Prop("CreateUserRequest", "contract_number"),
            send: Via::Bank(
                &jonan,
                "/users".into(),
                json!({ "contract_number": "" }),
                "/contract_number",
            ),
            outside: json!("1".repeat(33)),
            refused: (400, "validation_failed"),
            valid: json!(" ＡＢ-１２.x_9\u{3000}"),
            accepted: 201,
            unchanged: Some((&jonan, format!("/users?contract_number={}", "1".repeat(33)))),
        },
        Row {
            field: Prop("CreateUserRequest", "user_id"),
            send: Via::Bank(
                &jonan,
                "/users".into(),
                json!({ "contract_number": "7000009", "user_id": "" }),
                "/user_id",
            ),
            outside: json!("user 01"),
            refused: (400, "validation_failed"),
            valid: json!("ｕｓｅｒ０１"),
            accepted: 201,
            unchanged: Some((&jonan, "/users?contract_number=7000009".into())),
        },
        Row {
            field: Param("findUser", "contract_number"),
            send: Via::BankQuery(&jonan, "/users".into(), "contract_number"),
            outside: json!(""),
            refused: (404, "not_found"),
            valid: json!("\u{3000}７０００００２ "),
            accepted: 200,
            unchanged: None,
        },
        Row {
            field: Prop("StartLoginRequest", "contract_number"),
            send: Via::Bank(
                &jonan,
                "/logins".into(),
                json!({ "contract_number": "", "password": "temp1234" }),
                "/contract_number",
            ),
            outside: json!(""),
            refused: (401, "login_failed"),
            valid: json!("７０００００１"),
            accepted: 200,
            unchanged: Some((&jonan, format!("/users/{login_user}"))),
        },
        Row {
            field: Prop("OtpRequest", "otp"),
            send: Via::Bank(
                &jonan,
                format!("/users/{verify_user}/otp/verify"),
                json!({ "otp": "" }),
                "/otp",
            ),
            outside: json!(&verify_token.code_at(now)[..5]),
            refused: (400, "otp_malformed"),
            valid: json!(code_as_typed(&verify_token.code_at(now))),
            accepted: 200,
            unchanged: status_of(&jonan, &verify_user),
        },
        Row {
            field: Prop("RegisterCredentialRequest", "credential_id"),
            send: Via::Bank(
                &jonan,
                format!("/users/{new_user}/credential"),
                json!({ "credential_id": "", "otp": new_token.code_at(now) }),
                "/credential_id",
            ),
            outside: json!(&new_token.credential_id[..3]),
            refused: (400, "credential_id_malformed"),
            valid: json!(as_typed(&new_token.credential_id)),
            accepted: 201,
            unchanged: status_of(&jonan, &new_user),
        },
        Row {
            field: Prop("TransactionDto", "amount"),
            send: Via::Bank(
                &jonan,
                txn_path(&amount_user),
                txn(&amount_token),
                "/transaction/amount",
            ),
            outside: json!("１５００００"),
            refused: (400, "validation_failed"),
            valid: json!("000150000.50"),
            accepted: 200,
            unchanged: status_of(&jonan, &amount_user),
        },
        Row {
            field: Prop("TransactionDto", "currency"),
            send: Via::Bank(
                &jonan,
                txn_path(&currency_user),
                txn(&currency_token),
                "/transaction/currency",
            ),
            outside: json!("jpy"),
            refused: (400, "validation_failed"),
            valid: json!("USD"),
            accepted: 200,
            unchanged: status_of(&jonan, &currency_user),
        },
        Row {
            field: Prop("PayeeDto", "account_name"),
            send: Via::Bank(
                &jonan,
                txn_path(&payee_user),
                txn(&payee_token),
                "/transaction/payee/account_name",
            ),
            outside: json!("ｱ".repeat(101)),
            refused: (400, "validation_failed"),
            // Characters outside the BMP: 100 of them are 200 UTF-16 units, still 100 characters.
            valid: json!("𠮷".repeat(100)),
            accepted: 200,
            unchanged: status_of(&jonan, &payee_user),
        },
        Row {
            field: Prop("DisplayTexts", "ja"),
            send: Via::Bank(
                &push_bank,
                format!("/users/{push_user}/push-approvals"),
                json!({ "transaction": transfer("150000"), "display": { "ja": "", "en": "Transfer" } }),
                "/display/ja",
            ),
            outside: json!("あ".repeat(501)),
            refused: (400, "validation_failed"),
            valid: json!(format!(" {} ", "あ".repeat(498))),
            accepted: 201,
            unchanged: status_of(&push_bank, &push_user),
        },
        Row {
            field: Prop("IssueTokenRequest", "activation_password"),
            send: Via::Bank(
                &kitashin,
                format!("/users/{issue_user}/token-issues"),
                json!({ "mail_address": "taro@example.jp", "activation_password": "" }),
                "/activation_password",
            ),
            outside: json!("kita 2026"),
            refused: (400, "validation_failed"),
            valid: json!("k2!\"#$%&'()*+,-./[\\]^_`{|}~"),
            accepted: 201,
            unchanged: status_of(&kitashin, &issue_user),
        },
        Row {
            field: Prop("ProvisionRequest", "device_public_key"),
            send: Via::Token(
                "/v1/token/credentials".into(),
                json!({ "device_public_key": "" }),
                "/device_public_key",
            ),
            outside: json!(&device_key[..42]),
            refused: (400, "validation_failed"),
            valid: json!(format!("\u{3000}{device_key} ")),
            accepted: 201,
            unchanged: None,
        },
        Row {
            field: Param("listPendingApprovals", "wait"),
            send: Via::TokenQuery(
                format!("/v1/token/credentials/{}/approvals", device.credential_id()),
                "wait",
                device.listing_headers(now),
            ),
            outside: json!(31),
            refused: (400, "validation_failed"),
            valid: json!(0),
            accepted: 200,
            unchanged: status_of(&push_bank, &push_user),
        },
    ];

    for row in &rows {
        let schema = row.field.schema(&spec);
        assert!(
            !admits(schema, &row.outside),
            "{:?}: the schema {schema} admits {}, which the server refuses",
            row.field,
            row.outside
        );
        assert!(
            admits(schema, &row.valid),
            "{:?}: the schema {schema} refuses {}, which the server accepts",
            row.field,
            row.valid
        );

        let before = match &row.unchanged {
            Some((bank, path)) => Some(observe(bank, path).await),
            None => None,
        };
        let refused = row.send.with(&app, &row.outside).await;
        assert_eq!(
            (refused.status, refused.code()),
            (row.refused.0, Some(row.refused.1)),
            "{:?} = {}: {:?}",
            row.field,
            row.outside,
            refused.body
        );
        assert_problem(
            refused.status,
            &refused.content_type,
            &refused.body,
            row.refused.1,
        );
        if let (Some((bank, path)), Some(before)) = (&row.unchanged, before) {
            assert_eq!(
                observe(bank, path).await,
                before,
                "{:?} = {} changed {path}",
                row.field,
                row.outside
            );
        }

        let accepted = row.send.with(&app, &row.valid).await;
        assert_eq!(
            accepted.status, row.accepted,
            "{:?} = {}: {:?}",
            row.field, row.valid, accepted.body
        );
    }

    // What was typed awkwardly was read as its canonical form.
    let found = jonan.get("/users?contract_number=AB-12.x_9").await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    let found = jonan
        .get("/users?contract_number=7000009&user_id=user01")
        .await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(
        jonan.status(&new_user).await["credential_id"],
        new_token.credential_id.as_str()
    );
}
on_both_engines!(each_constraint_refuses_just_outside_and_admits_awkward_input);
