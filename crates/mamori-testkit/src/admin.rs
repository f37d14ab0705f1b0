//! The admin console as tests drive it: a signed-in operator's session cookie and
//! anti-forgery token, and the authenticator app they enrolled (an independent TOTP).

use mamori_domain::OperatorRole;
use mamori_service::NewOperator;
use serde_json::{Value, json};

use crate::app::{Answer, TestApp};
use crate::token::TestToken;

/// The new password every test operator sets at the first sign-in.
pub const OPERATOR_PASSWORD: &str = "correct-horse-battery-7";

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Admin<'a> {
    app: &'a TestApp,
    /// The login name.
    pub login: String,
    /// The session cookie (`mamori_admin=…`).
    pub cookie: String,
    /// The session's anti-forgery token.
    pub csrf: String,
    /// The operator's authenticator app.
    pub totp: TestToken,
}

impl TestApp {
    /// Signs in (raw): login name, password and an optional code.
    pub async fn admin_sign_in(&self, login: &str, password: &str, code: Option<String>) -> Answer {
        let mut body = json!({ "login_name": login, "password": password });
        if let Some(code) = code {
            body["code"] = Value::String(code);
        }
        self.call("POST", "/v1/admin/session", None, Some(body))
            .await
    }

    /// The first platform admin (made as the first start makes it), through the first
    /// login's setup: one-time password, new password, authenticator enrolled.
    pub async fn first_admin(&self) -> Admin<'_> {
        let first = self
            .state
            .services
            .operators
            .bootstrap()
            .await
            .expect("bootstrap")
            .expect("no operator before the first admin");
        self.set_up_operator(&first.operator.login_name, &first.one_time_password)
            .await
    }

    /// An operator created with `role` (and `bank`) by the command line, set up and signed in.
    pub async fn operator(&self, login: &str, role: OperatorRole, bank: Option<&str>) -> Admin<'_> {
        let created = self
            .state
            .services
            .operators
            .create_by_cli(NewOperator {
                login_name: login.into(),
                display_name: format!("テスト {login}"),
                role,
                bank_id: bank.map(str::to_owned),
            })
            .await
            .expect("create operator");
        self.set_up_operator(login, &created.one_time_password)
            .await
    }

    /// The first login's setup of an operator with a one-time password.
    pub async fn set_up_operator(&self, login: &str, one_time_password: &str) -> Admin<'_> {
        let answer = self.admin_sign_in(login, one_time_password, None).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(answer.body["stage"], "setup", "{:?}", answer.body);
        let mut admin = Admin::from_sign_in(
            self,
            login,
            &answer,
            TestToken::new("none", "AAAAAAAAAAAAAAAA"),
        );
        let changed = admin
            .post(
                "/v1/admin/session/password",
                json!({ "current_password": one_time_password, "new_password": OPERATOR_PASSWORD }),
            )
            .await;
        assert_eq!(changed.status, 200, "{:?}", changed.body);
        let enrollment = admin.post("/v1/admin/session/totp", json!({})).await;
        assert_eq!(enrollment.status, 200, "{:?}", enrollment.body);
        admin.totp = TestToken::new(login, enrollment.body["secret"].as_str().expect("secret"));
        self.next_step();
        let confirmed = admin
            .post(
                "/v1/admin/session/totp/confirm",
                json!({ "code": admin.totp.code_at(self.now_unix()) }),
            )
            .await;
        assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
        assert_eq!(confirmed.body["stage"], "active", "{:?}", confirmed.body);
        admin
    }
}

impl<'a> Admin<'a> {
    /// The session a sign-in answer set.
    pub fn from_sign_in(app: &'a TestApp, login: &str, answer: &Answer, totp: TestToken) -> Self {
        let set_cookie = answer.header("set-cookie").expect("Set-Cookie");
        let cookie = set_cookie.split(';').next().expect("cookie").to_owned();
        Self {
            app,
            login: login.to_owned(),
            cookie,
            csrf: answer.body["csrf_token"]
                .as_str()
                .expect("csrf_token")
                .to_owned(),
            totp,
        }
    }

    /// Signs in again with the operator's password and a fresh code, as a new session.
    pub async fn sign_in_again(&self) -> Admin<'a> {
        self.app.next_step();
        let answer = self
            .app
            .admin_sign_in(
                &self.login,
                OPERATOR_PASSWORD,
                Some(self.totp.code_at(self.app.now_unix())),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        Admin::from_sign_in(self.app, &self.login, &answer, self.totp.clone())
    }

    /// The session cookie and the anti-forgery token, as request headers (e.g. for a request
    /// to [`crate::Node`]).
    pub fn session_headers(&self) -> [(&'static str, String); 2] {
        [
            ("cookie", self.cookie.clone()),
            ("x-csrf-token", self.csrf.clone()),
        ]
    }

    /// A request with the session cookie and the anti-forgery token.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.app
            .call_with_headers(method, path, None, &self.session_headers(), body)
            .await
    }

    /// A request with the session, asking for answers in `lang` (`Accept-Language`).
    pub async fn send_in(
        &self,
        lang: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let [cookie, csrf] = self.session_headers();
        let headers = [cookie, csrf, ("accept-language", lang.to_owned())];
        self.app
            .call_with_headers(method, path, None, &headers, body)
            .await
    }

    /// GET with the session.
    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    /// POST with the session.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    /// PUT with the session.
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send("PUT", path, Some(body)).await
    }

    /// DELETE with the session.
    pub async fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None).await
    }
}
