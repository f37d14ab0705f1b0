//! Signed results a bank can verify offline: a JWT (EdDSA) on every completed login and every
//! accepted transaction code, with the keys published as a JWKS.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use mamori_crypto::{JwtSigningKey, SealedSecret, jwk};
use mamori_domain::transaction::Transaction;
use mamori_store::signing_keys::{self, SigningKeyRow};
use serde::Serialize;

use crate::core::{BankCaller, Core};
use crate::error::ServiceError;

/// The `iss` of every receipt.
pub const ISSUER: &str = "mamori";

/// How long a receipt is valid.
pub const RECEIPT_TTL_SECONDS: i64 = 300;

/// How long a node keeps using the signing key it loaded: a rotation on one node reaches every
/// node within this time. Old keys stay published far longer (see [`Receipts::jwks`]).
pub const SIGNING_KEY_CACHE_SECONDS: u64 = 30;

/// The signing key a process uses, reloaded after [`SIGNING_KEY_CACHE_SECONDS`].
type KeyCache = moka::sync::Cache<(), Arc<JwtSigningKey>>;

/// Signed receipts and the keys that sign them.
#[derive(Debug, Clone)]
pub struct Receipts {
    core: Core,
    keys: KeyCache,
}

#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    amr: &'a [&'a str],
    auth_time: i64,
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    txn_kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    txn_hash: Option<&'a str>,
    /// Push receipts: the approval the receipt is of.
    #[serde(skip_serializing_if = "Option::is_none")]
    approval_id: Option<&'a str>,
}

/// When a receipt was issued and what makes it unique.
struct Issue<'a> {
    /// `iat`; `exp` is [`RECEIPT_TTL_SECONDS`] later.
    at: DateTime<Utc>,
    /// `jti`.
    id: String,
    /// `approval_id`, for a push receipt.
    approval_id: Option<&'a str>,
}

impl Receipts {
    pub(crate) fn new(core: Core) -> Self {
        Self {
            core,
            keys: moka::sync::Cache::builder()
                .max_capacity(1)
                .time_to_live(StdDuration::from_secs(SIGNING_KEY_CACHE_SECONDS))
                .build(),
        }
    }

    /// A receipt of a completed login.
    pub(crate) async fn login_receipt(
        &self,
        caller: &BankCaller,
        user_id: &str,
        amr: &[&str],
        auth_time: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        let issue = self.fresh_issue();
        self.sign_receipt(caller, user_id, amr, auth_time, None, issue)
            .await
    }

    /// A receipt of an accepted transaction code, carrying the transaction's hash.
    pub(crate) async fn transaction_receipt(
        &self,
        caller: &BankCaller,
        user_id: &str,
        amr: &[&str],
        auth_time: DateTime<Utc>,
        transaction: &Transaction,
    ) -> Result<String, ServiceError> {
        let issue = self.fresh_issue();
        self.sign_receipt(caller, user_id, amr, auth_time, Some(transaction), issue)
            .await
    }

    /// The receipt of an approved push approval, bound to the approval and its answer: its
    /// `approval_id`, `jti` the approval's ID, `iat` and `auth_time` the answer time, `exp`
    /// [`RECEIPT_TTL_SECONDS`] after the answer. Every read gives the same receipt (Ed25519 is
    /// deterministic) until it expires; after that, none, so a late read cannot mint a fresh
    /// one.
    pub(crate) async fn push_receipt(
        &self,
        caller: &BankCaller,
        user_id: &str,
        approval_id: &str,
        answered_at: DateTime<Utc>,
        transaction: &Transaction,
    ) -> Result<Option<String>, ServiceError> {
        if self.core.now() >= answered_at + Duration::seconds(RECEIPT_TTL_SECONDS) {
            return Ok(None);
        }
        let issue = Issue {
            at: answered_at,
            id: approval_id.to_owned(),
            approval_id: Some(approval_id),
        };
        let amr = ["push"];
        self.sign_receipt(caller, user_id, &amr, answered_at, Some(transaction), issue)
            .await
            .map(Some)
    }

    /// A receipt issued now, with a new `jti`.
    fn fresh_issue(&self) -> Issue<'static> {
        Issue {
            at: self.core.now(),
            id: uuid::Uuid::new_v4().to_string(),
            approval_id: None,
        }
    }

    async fn sign_receipt(
        &self,
        caller: &BankCaller,
        user_id: &str,
        amr: &[&str],
        auth_time: DateTime<Utc>,
        transaction: Option<&Transaction>,
        issue: Issue<'_>,
    ) -> Result<String, ServiceError> {
        let key = self.signing_key().await?;
        let issued_at = issue.at.timestamp();
        let hash = transaction.map(Transaction::hash);
        let claims = Claims {
            iss: ISSUER,
            aud: caller.tenant_id.as_str(),
            sub: user_id,
            amr,
            auth_time: auth_time.timestamp(),
            iat: issued_at,
            exp: issued_at + RECEIPT_TTL_SECONDS,
            jti: issue.id,
            txn_kind: transaction.map(|t| t.kind.as_str()),
            txn_hash: hash.as_deref(),
            approval_id: issue.approval_id,
        };
        key.sign(&claims).map_err(ServiceError::internal)
    }

    /// The key that signs now: the newest unretired one (made on first use).
    async fn signing_key(&self) -> Result<Arc<JwtSigningKey>, ServiceError> {
        if let Some(key) = self.keys.get(&()) {
            return Ok(key);
        }
        let row = match signing_keys::current_signing_key(self.core.db()).await? {
            Some(row) => row,
            None => self.create_signing_key(false).await?,
        };
        let key = Arc::new(self.open_signing_key(&row)?);
        self.keys.insert((), key.clone());
        Ok(key)
    }

    /// Start-up check: the current signing key, if there is one, opens with this process's
    /// master keys (a node that could not open it would fail every receipt). Returns its kid.
    pub async fn check_signing_key(&self) -> Result<Option<String>, ServiceError> {
        let Some(row) = signing_keys::current_signing_key(self.core.db()).await? else {
            return Ok(None);
        };
        self.open_signing_key(&row)?;
        Ok(Some(row.kid))
    }

    /// `mamori keys rotate`: a new signing key; the old ones are retired but stay published
    /// until every receipt they signed has expired. Returns the new `kid`.
    pub async fn rotate_signing_key(&self) -> Result<String, ServiceError> {
        let row = self.create_signing_key(true).await?;
        self.keys.invalidate_all();
        Ok(row.kid)
    }

    async fn create_signing_key(&self, retire_others: bool) -> Result<SigningKeyRow, ServiceError> {
        let key = JwtSigningKey::generate().map_err(ServiceError::internal)?;
        let seed = key.seed().map_err(ServiceError::internal)?;
        let sealed = self
            .core
            .keyring()
            .seal(&seed, key.kid().as_bytes())
            .map_err(ServiceError::internal)?;
        let now = self.core.now();
        let row = SigningKeyRow {
            kid: key.kid().to_owned(),
            algorithm: "EdDSA".into(),
            public_x: key.public_x().to_owned(),
            sealed_seed: sealed.blob,
            sealed_with: sealed.key_id,
            created_at: now,
            retired_at: None,
        };
        let tx = self.core.write().await?;
        signing_keys::insert_signing_key(&tx, row.clone()).await?;
        if retire_others {
            signing_keys::retire_signing_keys_except(&tx, &row.kid, now).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    fn open_signing_key(&self, row: &SigningKeyRow) -> Result<JwtSigningKey, ServiceError> {
        let sealed = SealedSecret {
            key_id: row.sealed_with.clone(),
            blob: row.sealed_seed.clone(),
        };
        let seed = self
            .core
            .keyring()
            .open(&sealed, row.kid.as_bytes())
            .map_err(|e| ServiceError::Internal(format!("signing key {}: {e}", row.kid)))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| ServiceError::Internal(format!("signing key {}: bad seed", row.kid)))?;
        JwtSigningKey::from_seed(&row.kid, seed).map_err(ServiceError::internal)
    }

    /// The public keys to verify receipts: the current key and every key retired recently
    /// enough that a receipt it signed may still be unexpired (plus the nodes' cache time).
    ///
    /// Each key published is derived from its sealed seed, never taken from the stored public
    /// key: a database writer without the master key can neither add a key of their own (its
    /// seed would not open) nor swap a stored public key, so banks never trust a key that did
    /// not come from Mamori.
    pub async fn jwks(&self) -> Result<serde_json::Value, ServiceError> {
        // Make sure there is a key to publish before any receipt is asked for.
        self.signing_key().await?;
        let keep = Duration::seconds(
            RECEIPT_TTL_SECONDS + i64::try_from(SIGNING_KEY_CACHE_SECONDS).unwrap_or(30) + 60,
        );
        let rows =
            signing_keys::published_signing_keys(self.core.db(), self.core.now() - keep).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            match self.open_signing_key(row) {
                Ok(key) => {
                    if key.public_x() != row.public_x {
                        tracing::error!(
                            kid = %row.kid,
                            "a stored receipt public key differs from its sealed seed; the seed's key is published"
                        );
                    }
                    keys.push(jwk(key.kid(), key.public_x()));
                }
                Err(err) => tracing::error!(
                    kid = %row.kid,
                    error = %err,
                    "a receipt signing key does not open with the master key; it is not published"
                ),
            }
        }
        Ok(serde_json::json!({ "keys": keys }))
    }
}
