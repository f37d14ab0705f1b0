//! What the keyless token routes share: a quota of failures per client and route.
//!
//! No key says who calls these routes, so a limit can only be keyed on the client (its address,
//! an IPv6 client by its /64, behind trusted proxies the address they report). A slot is
//! reserved before anything is checked — concurrent requests never overrun the quota — and
//! given back when the request turns out to succeed: only failures stay counted. A customer's
//! own successful reads never use the quota up, and one client's failures never touch another
//! client's quota. Nothing keyless is limited per credential: a per-credential quota of failures
//! is one a stranger who merely knows the credential ID can empty, locking its owner out.

use chrono::{DateTime, Utc};
use mamori_domain::RateLimit;
use mamori_store::{WriteTx, limits};

use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;

/// A keyless route with a failure quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// activateToken.
    Activate,
    /// listCredentialBanks.
    CredentialBanks,
    /// listPendingApprovals.
    PendingApprovals,
    /// answerPushApproval.
    AnswerApproval,
    /// createAdminSession: no key, and a login name is all a stranger needs to try one.
    AdminSignIn,
}

impl Route {
    fn key_prefix(self) -> &'static str {
        match self {
            // Kept from before failures alone were counted, so a deploy starts no new window.
            Self::Activate => "activate",
            Self::CredentialBanks => "banks",
            Self::PendingApprovals => "approvals",
            Self::AnswerApproval => "answer",
            Self::AdminSignIn => "admin-sign-in",
        }
    }
}

/// A failure slot reserved for one request; [`FailureSlot::forgive`] it when the request
/// succeeds, keep it when it fails.
#[derive(Debug)]
#[must_use = "a slot is either forgiven on success or kept by dropping it on failure"]
pub(crate) struct FailureSlot {
    key: String,
    limit: RateLimit,
    at: DateTime<Utc>,
}

/// Reserves one failure of `meta`'s client on `route`, or `rate_limited` when its quota for the
/// window is used up (then nothing is checked at all).
pub(crate) async fn reserve_failure(
    core: &Core,
    route: Route,
    meta: &RequestMeta,
) -> Result<FailureSlot, ServiceError> {
    let (limit, at) = (core.limits.keyless_failures_per_client, core.now());
    let key = format!("{}:{}", route.key_prefix(), meta.client());
    if !core.take_slot(&key, limit, at).await? {
        return Err(ServiceError::rate_limited(limit, at));
    }
    Ok(FailureSlot { key, limit, at })
}

/// [`reserve_failure`] inside the caller's unit of work, so a route that must write something
/// else before its check commits once. The slot counts only if `tx` commits.
pub(crate) async fn take_failure_slot(
    tx: &WriteTx,
    core: &Core,
    route: Route,
    meta: &RequestMeta,
) -> Result<FailureSlot, ServiceError> {
    let (limit, at) = (core.limits.keyless_failures_per_client, core.now());
    let key = format!("{}:{}", route.key_prefix(), meta.client());
    if !limits::take_slot(tx, &key, limit, at).await? {
        return Err(ServiceError::rate_limited(limit, at));
    }
    Ok(FailureSlot { key, limit, at })
}

impl FailureSlot {
    /// The request succeeded: the slot goes back to the client's quota.
    pub(crate) async fn forgive(self, core: &Core) -> Result<(), ServiceError> {
        core.give_back_slot(&self.key, self.limit, self.at).await
    }
}
