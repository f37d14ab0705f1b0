//! Webhooks to the bank: every final state of a push approval (approved, denied, expired,
//! cancelled) is POSTed to the bank's `push.webhook_url`, signed with HMAC-SHA256 under the
//! bank's webhook secret, so the bank learns of a timeout without polling. The secret is an
//! HKDF subkey of the sealed subkey root (never of the raw master key): a master-key rotation
//! does not change it.
//!
//! Delivery runs after the change is committed, in a spawned task (5-second timeout, 3 tries);
//! a failure is logged and never reaches the API caller.
//!
//! Mamori posts from inside its own network to an address a config names, so the target is
//! held to [`mamori_domain::webhook`]'s rules at every try: the URL again (a config stored
//! before a rule tightened gets no pass), then every address its host resolves to now. The
//! request connects only to those checked addresses (no lookup of its own, no proxy), so a DNS
//! answer that changes between check and connect (rebinding) cannot send the POST elsewhere.
//! A refused target is logged and not tried again.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, SecondsFormat, Utc};
use data_encoding::HEXLOWER;
use mamori_domain::TenantId;
use mamori_domain::policy::PushPolicy;
use mamori_domain::push::ApprovalState;
use mamori_domain::webhook::{TargetHost, TargetRefused, WebhookTarget, check_addresses};
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

/// Looks up the addresses of a webhook's host name. Production asks the system's resolver
/// ([`SystemResolver`]); tests answer with the addresses they need.
#[async_trait::async_trait]
pub trait HostResolver: Send + Sync + fmt::Debug {
    /// The addresses `host` (a DNS name, never an IP literal) has now, each with `port`.
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system's resolver (`getaddrinfo`, through [`tokio::net::lookup_host`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

#[async_trait::async_trait]
impl HostResolver for SystemResolver {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// Why a try did not send.
enum NotSent {
    /// The target is not one Mamori posts to: not tried again.
    Refused(TargetRefused),
    /// Something that may pass (DNS down, no client): tried again.
    Failed(String),
}

/// The banks' push-approval webhooks.
#[derive(Debug, Clone)]
pub struct Webhooks {
    core: Core,
    resolver: Arc<dyn HostResolver>,
}

impl Webhooks {
    pub(crate) fn new(core: Core, resolver: Arc<dyn HostResolver>) -> Self {
        Self { core, resolver }
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
        let Some((push, target)) = self.target(&tenant, &row.id).await else {
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
        for attempt in 1..=TRIES {
            let failure = match self.try_once(&push, &target, &secret, &body).await {
                Ok(()) => {
                    tracing::info!(
                        tenant.id = %tenant,
                        approval.id = %row.id,
                        status = state.as_str(),
                        "webhook delivered"
                    );
                    return;
                }
                Err(NotSent::Failed(failure)) => failure,
                Err(NotSent::Refused(refused)) => {
                    tracing::warn!(
                        tenant.id = %tenant,
                        approval.id = %row.id,
                        host = %target.host(),
                        reason = %refused,
                        "webhook refused: the host resolves to an address Mamori does not post to"
                    );
                    return;
                }
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

    /// The bank's push policy and its webhook's target, if it has one Mamori posts to. The URL
    /// is checked again here: a config stored before a rule tightened gets no pass.
    async fn target(
        &self,
        tenant: &TenantId,
        approval_id: &str,
    ) -> Option<(PushPolicy, WebhookTarget)> {
        let push = match self.core.db().find_tenant_config(tenant).await {
            Ok(config) => config?.policy.push,
            Err(e) => {
                tracing::warn!(tenant.id = %tenant, error = %e, "webhook: bank config unreadable");
                return None;
            }
        };
        match push.webhook_target(push.webhook_url.as_deref()?) {
            Ok(target) => Some((push, target)),
            Err(refused) => {
                // Without the URL: it may carry a token in its query.
                tracing::warn!(
                    tenant.id = %tenant,
                    approval.id = %approval_id,
                    reason = %refused,
                    "webhook refused: push.webhook_url is not a target Mamori posts to"
                );
                None
            }
        }
    }

    /// One try: the target's addresses checked now, then the signed POST to them.
    async fn try_once(
        &self,
        push: &PushPolicy,
        target: &WebhookTarget,
        secret: &[u8],
        body: &str,
    ) -> Result<(), NotSent> {
        let client = self.pinned_client(target, push).await?;
        let t = self.core.now().timestamp();
        let sent = client
            .post(target.url().clone())
            .timeout(TIMEOUT)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature_header(secret, t, body))
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(NotSent::Failed(format!(
                "HTTP {}",
                response.status().as_u16()
            ))),
            // Without the URL: it may carry a token in its query.
            Err(e) => Err(NotSent::Failed(e.without_url().to_string())),
        }
    }

    /// A client for one try that connects only to addresses checked now. A host name is
    /// looked up, every address it has is checked under the bank's allowance, and the client
    /// is told to use exactly those: it makes no lookup of its own, so an answer that changes
    /// after the check cannot redirect the POST. No proxy either, since a proxy would resolve
    /// the name itself; and no redirects, which would lead past the check.
    async fn pinned_client(
        &self,
        target: &WebhookTarget,
        push: &PushPolicy,
    ) -> Result<reqwest::Client, NotSent> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let TargetHost::Name(name) = target.host() {
            let addresses = self
                .resolver
                .lookup(name, target.port())
                .await
                .map_err(|e| NotSent::Failed(format!("cannot resolve {name}: {e}")))?;
            if addresses.is_empty() {
                return Err(NotSent::Failed(format!("{name} has no address")));
            }
            let ips: Vec<IpAddr> = addresses.iter().map(SocketAddr::ip).collect();
            check_addresses(&ips, push.webhook_allow_private).map_err(NotSent::Refused)?;
            builder = builder.resolve_to_addrs(name, &addresses);
        }
        builder
            .build()
            .map_err(|e| NotSent::Failed(format!("no HTTP client: {e}")))
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
