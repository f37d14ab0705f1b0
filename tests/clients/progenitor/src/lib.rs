//! The Rust client progenitor generates from `openapi/mamori.json` at build time (see
//! `build.rs`), compiled as a bank's Rust program would compile it. Its tests check that every
//! operation of the spec has a method and a typed success, and that the raw error body reads
//! as the generated `types::Problem`.
//!
//! progenitor types only `application/json` bodies: Mamori's errors are
//! `application/problem+json`, so a method's error is `Error::ErrorResponse` with the body as a
//! `ByteStream`, which a caller reads into `types::Problem` (see the test below).

#[expect(
    clippy::unwrap_used,
    reason = "progenitor's generated Client::new unwraps reqwest's builder"
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/client.rs"));
}

pub use generated::*;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::types;

    /// The generated source.
    const CLIENT: &str = include_str!(concat!(env!("OUT_DIR"), "/client.rs"));

    /// The committed spec.
    const SPEC: &str = include_str!("../../../../openapi/mamori.json");

    fn snake(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    /// operationId -> the operation.
    fn operations() -> BTreeMap<String, Value> {
        let spec: Value = serde_json::from_str(SPEC).unwrap();
        let mut ops = BTreeMap::new();
        for item in spec["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                if let Some(id) = op["operationId"].as_str() {
                    ops.insert(id.to_owned(), op.clone());
                }
            }
        }
        ops
    }

    /// The return type of the generated method `name`, without whitespace, if there is one.
    fn return_type(name: &str) -> Option<String> {
        let start = CLIENT.find(&format!("pub async fn {name}<'a>("))?;
        let rest = &CLIENT[start..];
        let arrow = rest.find(") -> ")? + 5;
        let end = rest[arrow..].find('{')? + arrow;
        let compact: String = rest[arrow..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        Some(compact.replace(",>", ">"))
    }

    #[test]
    fn every_operation_has_a_method_with_a_typed_success() {
        let ops = operations();
        assert!(ops.len() > 60, "{} operations", ops.len());
        let mut faults = Vec::new();
        for (id, op) in &ops {
            let method = snake(id);
            let Some(returns) = return_type(&method) else {
                faults.push(format!("{id}: no method `{method}` on Client"));
                continue;
            };
            let (success, error) = returns
                .strip_prefix("Result<ResponseValue<")
                .and_then(|r| r.strip_suffix(">>"))
                .and_then(|r| r.split_once(">,Error<"))
                .unwrap_or_else(|| panic!("{id}: unexpected return type {returns}"));
            let responses = op["responses"].as_object().unwrap();
            let (status, response) = responses
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .unwrap();
            let media_type = response["content"]
                .as_object()
                .and_then(|c| c.keys().next())
                .map(String::as_str);
            let expected_ok = match media_type {
                None => success == "()",
                Some(m) if m.starts_with("application/json") => {
                    success.starts_with("types::") || success.starts_with("::std::vec::Vec<types::")
                }
                // A CSV download is a stream of bytes to the caller.
                Some(m) if m.starts_with("text/csv") => success == "ByteStream",
                Some(_) => false,
            };
            if !expected_ok {
                faults.push(format!(
                    "{id} {status} {media_type:?}: success is {success}"
                ));
            }
            // Errors are problem+json, which progenitor hands over as the raw body.
            if !matches!(error, "types::Problem" | "ByteStream" | "()") {
                faults.push(format!("{id}: error is {error}"));
            }
            if !CLIENT.contains(&format!("operation_id: \"{method}\"")) {
                faults.push(format!("{id}: no OperationInfo for `{method}`"));
            }
        }
        assert!(faults.is_empty(), "{}", faults.join("\n"));
    }

    #[test]
    fn an_error_body_reads_as_the_generated_problem() {
        let body = json!({
            "type": "urn:mamori:problem:otp_invalid",
            "title": "Wrong one-time password",
            "status": 422,
            "detail": "ワンタイムパスワードが正しくありません。",
            "code": "otp_invalid",
            "request_id": "req-1",
            "attempts_left": 9
        });
        let problem: types::Problem = serde_json::from_value(body).unwrap();
        assert!(matches!(problem.code, types::ErrorCode::OtpInvalid));
        assert_eq!(problem.attempts_left, Some(9));
        assert_eq!(problem.status, 422);
    }

    /// The spec's constraints become checking newtypes in a bank's Rust client: what Mamori
    /// accepts (full-width, spaces, hyphens) passes, what it refuses does not, and
    /// changePassword's body is one of its two shapes.
    #[test]
    fn constrained_fields_check_what_the_server_checks() {
        use types::{
            ChangePasswordRequest, CreateUserRequestContractNumber, OtpRequestOtp,
            PasswordChangeWithCurrent, RegisterCredentialRequestCredentialId, TransactionDtoAmount,
        };
        assert!(CreateUserRequestContractNumber::try_from(" ＡＢ-１２.x_9\u{3000}").is_ok());
        assert!(CreateUserRequestContractNumber::try_from("").is_err());
        assert!(CreateUserRequestContractNumber::try_from("AB－12").is_err());
        assert!(OtpRequestOtp::try_from("１２３\u{3000}４５６").is_ok());
        assert!(OtpRequestOtp::try_from("12345").is_err());
        assert!(RegisterCredentialRequestCredentialId::try_from("ｍａｍｏ-0000 1234").is_ok());
        assert!(RegisterCredentialRequestCredentialId::try_from("MAM").is_err());
        assert!(TransactionDtoAmount::try_from("1500.50").is_ok());
        assert!(TransactionDtoAmount::try_from("１５００").is_err());

        let body: ChangePasswordRequest = PasswordChangeWithCurrent {
            current_password: "temp1234".parse().unwrap(),
            new_password: "Winter2026".parse().unwrap(),
        }
        .into();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({ "current_password": "temp1234", "new_password": "Winter2026" })
        );
    }

    #[test]
    fn a_client_is_made_from_a_base_url() {
        use super::ClientInfo;
        let client = super::Client::new("http://127.0.0.1:8080");
        assert_eq!(client.baseurl(), "http://127.0.0.1:8080");
    }
}
