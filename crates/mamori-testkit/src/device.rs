//! Mamori's own token as tests hold it: a TOTP credential plus the device's Ed25519 key, with
//! the signatures the phone sends to list and answer push approvals.

use mamori_crypto::DeviceKeyPair;
use mamori_domain::push::{PushDecision, SignedAnswer, listing_message};
use serde_json::{Value, json};

use crate::token::TestToken;

/// A phone running Mamori's token: its codes and its device key.
#[derive(Debug)]
pub struct TestDevice {
    /// The credential and its code generator.
    pub token: TestToken,
    /// The device's key pair (the server holds only the public half).
    pub keys: DeviceKeyPair,
}

/// What a device answers, before it is signed.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// The approval.
    pub approval_id: &'a str,
    /// The bank.
    pub bank_id: &'a str,
    /// The transaction hash the device signs.
    pub transaction_hash: &'a str,
    /// Approve or deny.
    pub decision: PushDecision,
    /// The number picked, with a number challenge.
    pub number: Option<&'a str>,
    /// Unix seconds of signing.
    pub signed_at: i64,
}

impl TestDevice {
    /// The credential ID.
    pub fn credential_id(&self) -> &str {
        &self.token.credential_id
    }

    /// The `Mamori-Device-Time` and `Mamori-Device-Signature` headers of a listing signed at
    /// `at`.
    pub fn listing_headers(&self, at: i64) -> Vec<(&'static str, String)> {
        vec![
            ("mamori-device-time", at.to_string()),
            (
                "mamori-device-signature",
                self.keys.sign(&listing_message(self.credential_id(), at)),
            ),
        ]
    }

    /// The signature of `answer` by this device.
    pub fn sign_answer(&self, answer: &Answer<'_>) -> String {
        self.keys.sign(
            &SignedAnswer {
                approval_id: answer.approval_id,
                tenant_id: answer.bank_id,
                transaction_hash: answer.transaction_hash,
                decision: answer.decision,
                number: answer.number,
                signed_at: answer.signed_at,
            }
            .message(),
        )
    }

    /// The body of answerPushApproval for `answer`, signed by this device.
    pub fn answer_body(&self, answer: &Answer<'_>) -> Value {
        self.answer_body_signed(answer, &self.sign_answer(answer))
    }

    /// The body of answerPushApproval for `answer` with any `signature` (forgeries).
    pub fn answer_body_signed(&self, answer: &Answer<'_>, signature: &str) -> Value {
        let mut body = json!({
            "credential_id": self.credential_id(),
            "decision": answer.decision.as_str(),
            "transaction_hash": answer.transaction_hash,
            "signed_at": answer.signed_at,
            "signature": signature,
        });
        if let Some(number) = answer.number {
            body["number"] = Value::String(number.to_owned());
        }
        body
    }
}
