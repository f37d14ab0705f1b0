//! Token provisioning: a new soft credential for any RFC 6238 authenticator app. The secret is
//! returned this once and only stored sealed.

use chrono::{DateTime, Duration, DurationRound, Utc};
use mamori_crypto::DevicePublicKey;
use mamori_domain::ErrorCode;
use mamori_otp::{CredentialId, OtpAuthUri, OtpKind, OtpParams, Secret};
use mamori_store::audit::{self, NewAuditEvent, PLATFORM_TENANT};
use mamori_store::entities::counters;
use mamori_store::records::{self, CredentialRow};
use mamori_store::{StoreError, devices};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait,
};

use crate::{RequestMeta, ServiceError, Services};

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Mamori";

/// The prefix of credential IDs Mamori issues (Mamori soft token).
pub const CREDENTIAL_PREFIX: &str = "MAMO";

/// How many provisionings one client address may make per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub max: i64,
    /// The window.
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            max: 20,
            window: Duration::hours(1),
        }
    }
}

/// Registration attempts (registerCredential, changeDevice's new token, startOtpUse) one bank
/// user may make per hour. Each is reserved before its code is checked, so a wrong code at
/// registration is paid for by the user who typed it, never by the credential's owner.
pub const REGISTRATION_ATTEMPTS_PER_USER: RateLimit = RateLimit {
    max: 10,
    window: Duration::hours(1),
};

/// Wrong registration codes one client address (a bank's IB server) may send per hour: a
/// backstop against a looping or compromised IB system, sized far above a bank's launch-day
/// rate of honest mistakes. Only wrong codes stay counted; every other outcome gives its slot
/// back.
pub const REGISTRATION_FAILURES_PER_CLIENT: RateLimit = RateLimit {
    max: 1000,
    window: Duration::hours(1),
};

/// The kind of a credential being stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKindSpec {
    /// Time-based (RFC 6238).
    Totp,
    /// Event-based (RFC 4226), starting at this counter.
    Hotp {
        /// The next counter the token will show.
        counter: u64,
    },
}

/// A newly provisioned credential.
#[derive(Debug)]
pub struct Provisioned {
    /// The credential ID (shown by the app).
    pub credential_id: String,
    /// The secret, base32 — shown this once.
    pub secret_base32: String,
    /// `otpauth://totp/Mamori:<id>?secret=…&issuer=Mamori&algorithm=SHA1&digits=6&period=30`.
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG.
    pub qr_svg: String,
    /// The parameters.
    pub params: OtpParams,
}

impl Services {
    /// Creates a new TOTP credential (SHA1, 6 digits, 30 s), rate-limited per client address.
    /// A Mamori token sends its device key, registered with the credential for push approval;
    /// any other RFC 6238 app sends none.
    pub async fn provision_credential(
        &self,
        meta: &RequestMeta,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<Provisioned, ServiceError> {
        let now = self.now();
        let client = meta.client_addr.clone().unwrap_or_else(|| "unknown".into());
        if !self
            .take_rate_slot(&format!("provision:{client}"), self.provision_limit, now)
            .await?
        {
            return Err(ServiceError::rejected(ErrorCode::RateLimited));
        }
        self.new_soft_credential(meta, "provisionCredential", device_key)
            .await
    }

    /// A new TOTP credential with its otpauth URI and QR code, audited as `operation`.
    pub(crate) async fn new_soft_credential(
        &self,
        meta: &RequestMeta,
        operation: &str,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<Provisioned, ServiceError> {
        let txn = self.begin().await?;
        let provisioned = self
            .new_soft_credential_in(&txn, meta, operation, device_key)
            .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(provisioned)
    }

    /// [`Self::new_soft_credential`] inside the caller's transaction, so the credential exists
    /// only if what it is made for (e.g. an activation) commits too.
    pub(crate) async fn new_soft_credential_in(
        &self,
        txn: &DatabaseTransaction,
        meta: &RequestMeta,
        operation: &str,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<Provisioned, ServiceError> {
        let params = OtpParams::default();
        let secret = Secret::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let id = self
            .store_credential(
                txn,
                None,
                CredentialKindSpec::Totp,
                &secret,
                params,
                ("token", operation),
                meta,
                device_key,
            )
            .await?;
        let uri = OtpAuthUri {
            issuer: ISSUER.into(),
            account: id.to_string(),
            secret: secret.clone(),
            params,
            kind: OtpKind::Totp,
        }
        .to_uri()
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let qr_svg = qr_svg(&uri)?;
        Ok(Provisioned {
            credential_id: id.to_string(),
            secret_base32: secret.to_base32(),
            otpauth_uri: uri,
            qr_svg,
            params,
        })
    }

    /// Imports an existing token (e.g. a hardware HOTP event token delivered with its seed) by
    /// an operator. With `id` None a new `MAMO` credential ID is drawn.
    pub async fn import_credential(
        &self,
        id: Option<CredentialId>,
        kind: CredentialKindSpec,
        secret: &Secret,
        params: OtpParams,
        meta: &RequestMeta,
    ) -> Result<CredentialId, ServiceError> {
        let txn = self.begin().await?;
        let id = self
            .store_credential(
                &txn,
                id,
                kind,
                secret,
                params,
                ("operator", "importCredential"),
                meta,
                None,
            )
            .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(id)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a credential has that many facts"
    )]
    async fn store_credential(
        &self,
        txn: &DatabaseTransaction,
        fixed_id: Option<CredentialId>,
        kind: CredentialKindSpec,
        secret: &Secret,
        params: OtpParams,
        (actor, operation): (&str, &str),
        meta: &RequestMeta,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<CredentialId, ServiceError> {
        let now = self.now();
        // A collision of 7 random digits is possible; the primary key refuses it and we draw
        // again rather than overwrite another customer's token.
        for _ in 0..5 {
            let id = match &fixed_id {
                Some(id) => id.clone(),
                None => CredentialId::random(CREDENTIAL_PREFIX)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
            };
            let sealed = self
                .keyring()
                .seal(secret.as_bytes(), id.as_str().as_bytes())
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let (kind_name, next_counter) = match kind {
                CredentialKindSpec::Totp => ("totp", 0),
                CredentialKindSpec::Hotp { counter } => {
                    ("hotp", i64::try_from(counter).unwrap_or(i64::MAX))
                }
            };
            let row = CredentialRow {
                id: id.to_string(),
                kind: kind_name.into(),
                algorithm: params.algorithm.as_str().into(),
                digits: i16::from(params.digits.get()),
                period: i32::try_from(params.period.seconds()).unwrap_or(30),
                secret_ciphertext: sealed.blob,
                secret_key_id: sealed.key_id,
                drift_steps: 0,
                last_used_step: None,
                hotp_next_counter: next_counter,
                failures: 0,
                suspended_at: None,
                created_at: now,
                updated_at: now,
            };
            // A savepoint, so a refused ID leaves the caller's transaction usable (PostgreSQL
            // aborts a whole transaction on a failed statement).
            let attempt = txn.begin().await.map_err(StoreError::from)?;
            match records::insert_credential(&attempt, row).await {
                Err(StoreError::Conflict(_)) if fixed_id.is_none() => {
                    attempt.rollback().await.map_err(StoreError::from)?;
                    continue;
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(ServiceError::invalid(format!(
                        "credential {id} exists already"
                    )));
                }
                other => other?,
            }
            attempt.commit().await.map_err(StoreError::from)?;
            if let Some(key) = device_key {
                devices::insert_device_key(txn, id.as_str(), &key.to_base64(), now).await?;
            }
            audit::append(
                txn,
                NewAuditEvent {
                    tenant_id: PLATFORM_TENANT.into(),
                    actor: actor.into(),
                    operation: operation.into(),
                    outcome: "success".into(),
                    credential_id: Some(id.to_string()),
                    request_id: meta.request_id.clone(),
                    client_addr: meta.client_addr.clone(),
                    details: Some(serde_json::json!({
                        "kind": kind_name,
                        "device_key": device_key.is_some(),
                    })),
                    ..NewAuditEvent::default()
                },
                now,
            )
            .await?;
            return Ok(id);
        }
        Err(ServiceError::Internal(
            "could not draw a free credential ID".into(),
        ))
    }

    /// Takes one slot of a fixed-window rate limit shared by all nodes: one conditional
    /// increment, or the start of a new window. Returns whether the request may go on.
    pub(crate) async fn take_rate_slot(
        &self,
        key: &str,
        limit: RateLimit,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let window_start = now.duration_trunc(limit.window).unwrap_or(now);
        let conn = self.db().connection();
        let bump = || async {
            let bumped = counters::Entity::update_many()
                .col_expr(
                    counters::Column::Count,
                    Expr::col(counters::Column::Count).add(1),
                )
                .filter(counters::Column::Key.eq(key))
                .filter(counters::Column::WindowStart.eq(window_start))
                .filter(counters::Column::Count.lt(limit.max))
                .exec(conn)
                .await
                .map_err(StoreError::from)?;
            Ok::<_, ServiceError>(bumped.rows_affected == 1)
        };
        if bump().await? {
            return Ok(true);
        }
        // No row for this window yet (or the window is full): start the window if it is new.
        let started = counters::Entity::insert(counters::ActiveModel {
            key: Set(key.to_owned()),
            window_start: Set(window_start),
            count: Set(1),
        })
        .on_conflict(
            OnConflict::column(counters::Column::Key)
                .update_columns([counters::Column::WindowStart, counters::Column::Count])
                .action_and_where(counters::Column::WindowStart.lt(window_start))
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(StoreError::from)?;
        if started == 1 {
            return Ok(limit.max >= 1);
        }
        // A concurrent request started this window between our two statements: its row is
        // there now, so the conditional increment decides.
        bump().await
    }

    /// Gives back a slot taken with [`Self::take_rate_slot`] in the same window (an attempt
    /// that turned out not to be what the limit counts).
    pub(crate) async fn give_back_rate_slot(
        &self,
        key: &str,
        limit: RateLimit,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let window_start = now.duration_trunc(limit.window).unwrap_or(now);
        counters::Entity::update_many()
            .col_expr(
                counters::Column::Count,
                Expr::col(counters::Column::Count).sub(1),
            )
            .filter(counters::Column::Key.eq(key))
            .filter(counters::Column::WindowStart.eq(window_start))
            .filter(counters::Column::Count.gt(0))
            .exec(self.db().connection())
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }
}

fn qr_svg(uri: &str) -> Result<String, ServiceError> {
    let code =
        qrcode::QrCode::new(uri.as_bytes()).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}
