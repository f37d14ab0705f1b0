//! Banks' idempotency keys: the first request with a key runs and its answer is kept for a
//! day; a retry with the same key and the same request gets that answer on any node, without
//! a second effect. The rules are in `mamori_domain::idempotency`; races are decided by the
//! store's conditional writes.

use mamori_domain::idempotency::{Decision, IdempotencyKey, decide};
use mamori_domain::{ErrorCode, TenantId};
use mamori_store::idempotency::{self as records, Claim};

pub use mamori_store::idempotency::StoredAnswer;

use crate::core::Core;
use crate::error::ServiceError;

/// A request's hold on its bank's key, to answer or release it.
#[derive(Debug)]
pub struct KeyClaim {
    tenant_id: TenantId,
    key: IdempotencyKey,
    claim_id: String,
}

impl KeyClaim {
    fn as_claim(&self) -> Claim<'_> {
        Claim {
            tenant_id: self.tenant_id.as_str(),
            key: self.key.as_str(),
            claim_id: &self.claim_id,
        }
    }
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Admission {
    /// Run it, then [`Idempotency::keep`] or [`Idempotency::release`] its answer.
    Run(KeyClaim),
    /// Answer with this, doing nothing: it is the first request's answer.
    Replay(StoredAnswer),
}

/// How many times a request re-reads a key whose record changed under it before it gives up
/// with `idempotency_key_in_use` (each round means another request won a race on the key).
const MAX_ROUNDS: usize = 3;

/// Banks' idempotency keys.
#[derive(Debug, Clone)]
pub struct Idempotency {
    core: Core,
}

impl Idempotency {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// Admits a bank's request with `key` and `fingerprint` (see
    /// [`mamori_domain::idempotency::fingerprint`]): run it, or replay the first answer, or
    /// refuse it (`idempotency_key_in_use` while the first runs, `idempotency_key_reused` for
    /// another request under the same key).
    pub async fn admit(
        &self,
        tenant_id: &TenantId,
        key: IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Admission, ServiceError> {
        let held = KeyClaim {
            tenant_id: tenant_id.clone(),
            key,
            claim_id: uuid::Uuid::new_v4().simple().to_string(),
        };
        let db = self.core.db();
        for _ in 0..MAX_ROUNDS {
            let now = self.core.now();
            if records::claim(db, held.as_claim(), fingerprint, now).await? {
                return Ok(Admission::Run(held));
            }
            let Some(found) = records::find(db, held.tenant_id.as_str(), held.key.as_str()).await?
            else {
                // Released between our insert and our read: try to claim it again.
                continue;
            };
            match decide(&found.record, fingerprint, now) {
                Decision::Replay => {
                    if let Some(answer) = found.answer {
                        return Ok(Admission::Replay(answer));
                    }
                }
                Decision::InUse => {
                    return Err(ServiceError::rejected(ErrorCode::IdempotencyKeyInUse));
                }
                Decision::Reused => {
                    return Err(ServiceError::rejected(ErrorCode::IdempotencyKeyReused));
                }
                Decision::TakeOver => {
                    let stale = found.claim_id.as_str();
                    if records::take_over(db, held.as_claim(), stale, fingerprint, now).await? {
                        return Ok(Admission::Run(held));
                    }
                }
            }
        }
        Err(ServiceError::rejected(ErrorCode::IdempotencyKeyInUse))
    }

    /// Keeps the answer of a request admitted to run, for its retries. If its claim was taken
    /// over meanwhile (it ran past the lease), the newer request's answer stands.
    pub async fn keep(&self, claim: KeyClaim, answer: StoredAnswer) -> Result<(), ServiceError> {
        if !records::answer(self.core.db(), claim.as_claim(), answer).await? {
            tracing::warn!(
                bank = %claim.tenant_id,
                "idempotency claim was taken over before its answer was kept"
            );
        }
        Ok(())
    }

    /// Frees the key of a request that ended with nothing to keep (the database was away, a
    /// rate limit, a body that could not be read), so its retry runs afresh.
    pub async fn release(&self, claim: KeyClaim) -> Result<(), ServiceError> {
        Ok(records::release(self.core.db(), claim.as_claim()).await?)
    }

    /// Deletes every bank's expired keys; returns how many.
    pub async fn forget_expired(&self) -> Result<u64, ServiceError> {
        Ok(records::forget_expired(self.core.db(), self.core.now()).await?)
    }
}
