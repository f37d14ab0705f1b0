//! Banks' API keys: created by an operator (`mamori api-keys create`), shown once, stored
//! hashed, checked on every bank request.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mamori_crypto::{ApiKey, ApiKeyHash};
use mamori_domain::{ErrorCode, TenantId};
use mamori_store::api_keys::{self, ApiKeyRow};

use crate::core::{BankCaller, Core};
use crate::error::ServiceError;

/// A key just created: the only time its full text exists.
#[derive(Debug)]
pub struct CreatedApiKey {
    /// The key's id.
    pub id: String,
    /// The full key, to hand to the bank once.
    pub key: String,
}

/// A key as listed (never its secret).
#[derive(Debug, Clone)]
pub struct ApiKeyInfo {
    /// The key's id.
    pub id: String,
    /// The public prefix (`mmr_<prefix>_…`).
    pub prefix: String,
    /// A label for people.
    pub label: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How often a key's last use is written at most.
const LAST_USE_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// Banks' API keys.
#[derive(Debug, Clone)]
pub struct Access {
    core: Core,
    /// Keys whose use this node recorded within the last minute.
    recently_used: moka::sync::Cache<String, ()>,
}

impl Access {
    pub(crate) fn new(core: Core) -> Self {
        Self {
            core,
            recently_used: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
        }
    }

    /// Creates an API key for a bank.
    pub async fn create_api_key(
        &self,
        tenant_id: &TenantId,
        label: &str,
    ) -> Result<CreatedApiKey, ServiceError> {
        if self.core.db().find_tenant(tenant_id).await?.is_none() {
            return Err(ServiceError::invalid(format!(
                "no bank with id {tenant_id}"
            )));
        }
        let key = ApiKey::generate().map_err(ServiceError::internal)?;
        let id = format!("key_{}", uuid::Uuid::new_v4().simple());
        api_keys::insert_api_key(
            self.core.db(),
            self.core.account_mac().await?,
            ApiKeyRow {
                id: id.clone(),
                tenant_id: tenant_id.to_string(),
                prefix: key.prefix().to_owned(),
                key_hash: key.hash().0,
                label: label.to_owned(),
                created_at: self.core.now(),
                revoked_at: None,
                last_used_at: None,
                mac: None,
            },
        )
        .await?;
        Ok(CreatedApiKey {
            id,
            key: key.reveal(),
        })
    }

    /// Revokes a key by id or prefix; returns whether one was revoked.
    pub async fn revoke_api_key(&self, id_or_prefix: &str) -> Result<bool, ServiceError> {
        let revoked =
            api_keys::revoke_api_key(self.core.db(), id_or_prefix, self.core.now()).await?;
        self.core.forget_banks();
        Ok(revoked)
    }

    /// A bank's keys.
    pub async fn list_api_keys(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Vec<ApiKeyInfo>, ServiceError> {
        Ok(api_keys::list_api_keys(self.core.db(), tenant_id.as_str())
            .await?
            .into_iter()
            .map(|row| ApiKeyInfo {
                id: row.id,
                prefix: row.prefix,
                label: row.label,
                created_at: row.created_at,
                revoked_at: row.revoked_at,
                last_used_at: row.last_used_at,
            })
            .collect())
    }

    /// Authenticates a bank's request: the bearer key must be valid, unrevoked, and belong to
    /// the bank named in the path. A key of another bank gets `not_found`, as if the bank did
    /// not exist, so a key never learns which other banks are on the platform.
    pub async fn authenticate_bank(
        &self,
        bearer: &str,
        bank_in_path: &str,
    ) -> Result<BankCaller, ServiceError> {
        let unauthorized = || ServiceError::rejected(ErrorCode::Unauthorized);
        let key = ApiKey::parse(bearer.trim()).map_err(|_| unauthorized())?;
        let found = match self.core.caches.bank_keys.get(key.prefix()) {
            Some(found) => found,
            None => {
                // The MAC is checked here, as the row enters the cache: a row a database writer
                // made is refused like an unknown key, and never cached.
                let mac = self.core.account_mac().await?;
                let found = Arc::new(
                    api_keys::find_active_api_key_with_bank(self.core.db(), mac, key.prefix())
                        .await?
                        .ok_or_else(unauthorized)?,
                );
                self.core
                    .caches
                    .bank_keys
                    .insert(key.prefix().to_owned(), found.clone());
                found
            }
        };
        let (row, bank_suspended) = (&found.0, found.1);
        if !key.matches(&ApiKeyHash(row.key_hash.clone())) {
            return Err(unauthorized());
        }
        if row.tenant_id != bank_in_path {
            return Err(ServiceError::rejected(ErrorCode::NotFound));
        }
        if bank_suspended {
            return Err(ServiceError::rejected(ErrorCode::BankSuspended));
        }
        self.note_use(&row.id);
        let tenant_id = TenantId::parse(&row.tenant_id).map_err(ServiceError::internal)?;
        Ok(BankCaller::with_api_key(tenant_id, row.id.clone()))
    }

    /// Records a key's last use for the console, at most once a minute per key and node, in
    /// the background: a request never waits for it.
    fn note_use(&self, key_id: &str) {
        if self.recently_used.contains_key(key_id) {
            return;
        }
        self.recently_used.insert(key_id.to_owned(), ());
        let (db, key_id, now) = (self.core.db().clone(), key_id.to_owned(), self.core.now());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = api_keys::touch_api_key(&db, &key_id, now, LAST_USE_EVERY).await {
                    tracing::debug!(api_key.id = %key_id, error = %err, "last use not recorded");
                }
            });
        }
    }
}
