//! Webhooks to the bank: every final state of a push approval (approved, denied, expired,
//! cancelled) is POSTed to the bank's `push.webhook_url`, signed with HMAC-SHA256 under the
//! bank's webhook secret, so the bank learns of a timeout without polling. The secret is an
//! HKDF subkey of the sealed subkey root (never of the raw master key): a master-key rotation
//! does not change it.
//!
//! Delivery runs after the change is committed, in a spawned task (5-second timeout, 3 tries);
//! a failure is logged and never reaches the API caller.

use std::time::Duration as StdDuration;

use chrono::{DateTime, SecondsFormat, Utc};
use data_encoding::HEXLOWER;
use mamori_domain::TenantId;
use mamori_domain::push::ApprovalState;
use mamori_store::push::PushApprovalRow;

use crate::core::Core;
use crate::error::ServiceError;
use crate::keys::subkey;

/// The header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "Mamori-Signature";

const TIMEOUT: StdDuration = StdDuration::from_secs(5);
const TRIES: u32 = 3;

/// The purpose a bank's webhook secret is derived for (the HKDF info string).
fn secret_purpose(tenant_id: &str) -> String {
    format!("mamori/webhook-secret/v1:{tenant_id}")
}

/// The `Mamori-Signature` value for `body` sent at `t` (Unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The bank recomputes it and rejects old
/// `t`s, so a captured delivery cannot be replayed later.
pub fn signature_header(secret: &[u8], t: i64, body: &str) -> String {
    let mac = mamori_crypto::hmac_sha256(secret, format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", HEXLOWER.encode(&mac))
}

/// The banks' push-approval webhooks.
#[derive(Debug, Clone)]
pub struct Webhooks {
    core: Core,
    client: reqwest::Client,
}

impl Webhooks {
    pub(crate) fn new(core: Core) -> Self {
        Self {
            core,
            // A bank's webhook endpoint must not bounce Mamori's request elsewhere.
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    /// `mamori webhooks secret --tenant <bank>`: the bank's webhook secret (hex), to give to
    /// the bank's operators. Derived, never stored; a master-key rotation does not change it.
    pub async fn webhook_secret(&self, tenant_id: &TenantId) -> Result<String, ServiceError> {
        if self.core.db().find_tenant(tenant_id).await?.is_none() {
            return Err(ServiceError::invalid(format!(
                "no bank with id {tenant_id}"
            )));
        }
        let secret = subkey(&self.core, &secret_purpose(tenant_id.as_str())).await?;
        Ok(HEXLOWER.encode(&secret))
    }

    /// Sends the final state of `row` to its bank's webhook, if the bank has one, in the
    /// background.
    pub(crate) fn deliver(&self, row: PushApprovalRow, state: ApprovalState, at: DateTime<Utc>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        runtime.spawn(async move { this.send(row, state, at).await });
    }

    async fn send(&self, row: PushApprovalRow, state: ApprovalState, at: DateTime<Utc>) {
        let tenant = match TenantId::parse(&row.tenant_id) {
            Ok(tenant) => tenant,
            Err(e) => {
                tracing::error!(tenant.id = %row.tenant_id, error = %e, "webhook: bad bank id");
                return;
            }
        };
        let url = match self.core.db().find_tenant_config(&tenant).await {
            Ok(Some(config)) => config.policy.push.webhook_url,
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(tenant.id = %tenant, error = %e, "webhook: bank config unreadable");
                None
            }
        };
        let Some(url) = url else {
            return;
        };
        let body = serde_json::json!({
            "approval_id": row.id,
            "bank_id": row.tenant_id,
            "user_id": row.user_id,
            "status": state.as_str(),
            "transaction_hash": row.transaction_hash,
            "occurred_at": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
        .to_string();
        let secret = match subkey(&self.core, &secret_purpose(tenant.as_str())).await {
            Ok(secret) => secret,
            Err(e) => {
                tracing::error!(tenant.id = %tenant, error = %e, "webhook: no secret to sign with");
                return;
            }
        };
        let client = &self.client;
        for attempt in 1..=TRIES {
            let t = self.core.now().timestamp();
            let sent = client
                .post(&url)
                .timeout(TIMEOUT)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, signature_header(&secret, t, &body))
                .body(body.clone())
                .send()
                .await;
            let failure = match sent {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(
                        tenant.id = %tenant,
                        approval.id = %row.id,
                        status = state.as_str(),
                        "webhook delivered"
                    );
                    return;
                }
                Ok(response) => format!("HTTP {}", response.status().as_u16()),
                // Without the URL: it may carry a token in its query.
                Err(e) => e.without_url().to_string(),
            };
            tracing::warn!(
                tenant.id = %tenant,
                approval.id = %row.id,
                attempt,
                error = %failure,
                "webhook delivery failed"
            );
            if attempt < TRIES {
                tokio::time::sleep(StdDuration::from_secs(u64::from(attempt))).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_time_and_body() {
        let header = signature_header(b"secret", 1_795_339_800, r#"{"a":1}"#);
        assert!(header.starts_with("t=1795339800,v1="), "{header}");
        assert_eq!(header.len(), "t=1795339800,v1=".len() + 64);
        assert_ne!(
            header,
            signature_header(b"secret", 1_795_339_801, r#"{"a":1}"#)
        );
        assert_ne!(
            header,
            signature_header(b"secret", 1_795_339_800, r#"{"a":2}"#)
        );
        assert_ne!(
            header,
            signature_header(b"other", 1_795_339_800, r#"{"a":1}"#)
        );
    }
}
