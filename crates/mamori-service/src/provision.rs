//! Token provisioning: a new soft credential for any RFC 6238 authenticator app (the secret is
//! returned this once and only stored sealed), and the import of existing tokens by an operator.

use mamori_crypto::DevicePublicKey;
use mamori_domain::policy::CredentialKind;
use mamori_domain::{ErrorCode, Operation};
use mamori_otp::{CredentialId, OtpAuthUri, OtpKind, OtpParams, Secret};
use mamori_store::WriteTx;
use mamori_store::audit::PLATFORM_TENANT;
use mamori_store::credentials::{self, CredentialRow};
use mamori_store::devices;
use serde_json::json;

use crate::core::audit::AuditEntry;
use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Mamori";

/// The prefix of credential IDs Mamori issues (Mamori soft token).
pub const CREDENTIAL_PREFIX: &str = "MAMO";

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

/// An existing token to import (e.g. a hardware token delivered with its seed).
#[derive(Debug)]
pub struct ImportedToken {
    /// Its credential ID (a hardware token's serial); `None` draws a new `MAMO` ID.
    pub id: Option<CredentialId>,
    /// Time or event based.
    pub kind: CredentialKind,
    /// HOTP: the next counter the token will show (ignored for TOTP).
    pub counter: u64,
    /// The seed.
    pub secret: Secret,
    /// Algorithm, digits, period.
    pub params: OtpParams,
}

/// Provisioning and import of credentials.
#[derive(Debug, Clone)]
pub struct Provisioning {
    core: Core,
}

impl Provisioning {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// Creates a new TOTP credential (SHA1, 6 digits, 30 s), rate-limited per client address.
    /// A Mamori token sends its device key, registered with the credential for push approval;
    /// any other RFC 6238 app sends none.
    pub async fn provision_credential(
        &self,
        meta: &RequestMeta,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<Provisioned, ServiceError> {
        let core = &self.core;
        let key = format!("provision:{}", meta.client());
        if !core
            .take_slot(&key, core.limits.keyless_per_client, core.now())
            .await?
        {
            return Err(ServiceError::rejected(ErrorCode::RateLimited));
        }
        let tx = core.write().await?;
        let entry = AuditEntry::platform_token(meta, Operation::ProvisionCredential, core.now());
        let provisioned = self.new_soft_credential_in(&tx, entry, device_key).await?;
        tx.commit().await?;
        Ok(provisioned)
    }

    /// A new TOTP credential with its otpauth URI and QR code, inside the caller's unit of work
    /// so the credential exists only if what it is made for (e.g. an activation) commits too.
    pub(crate) async fn new_soft_credential_in(
        &self,
        tx: &WriteTx,
        entry: AuditEntry,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<Provisioned, ServiceError> {
        let params = OtpParams::default();
        let secret = Secret::generate().map_err(ServiceError::internal)?;
        let token = ImportedToken {
            id: None,
            kind: CredentialKind::Totp,
            counter: 0,
            secret,
            params,
        };
        let id = self.store_credential(tx, &token, entry, device_key).await?;
        let uri = OtpAuthUri {
            issuer: ISSUER.into(),
            account: id.to_string(),
            secret: token.secret.clone(),
            params,
            kind: OtpKind::Totp,
        }
        .to_uri()
        .map_err(ServiceError::internal)?;
        let qr_svg = crate::qr::svg(&uri)?;
        Ok(Provisioned {
            credential_id: id.to_string(),
            secret_base32: token.secret.to_base32(),
            otpauth_uri: uri,
            qr_svg,
            params,
        })
    }

    /// Imports an existing token, by `operator` (audited in the platform's trail).
    pub async fn import_credential(
        &self,
        operator: &str,
        meta: &RequestMeta,
        token: &ImportedToken,
    ) -> Result<CredentialId, ServiceError> {
        let entry = AuditEntry::operator(
            operator,
            PLATFORM_TENANT,
            meta,
            Operation::ImportCredential,
            self.core.now(),
        );
        let tx = self.core.write().await?;
        let id = self.store_credential(&tx, token, entry, None).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn store_credential(
        &self,
        tx: &WriteTx,
        token: &ImportedToken,
        entry: AuditEntry,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<CredentialId, ServiceError> {
        let now = self.core.now();
        // A collision of 7 random digits is possible; the primary key refuses it and we draw
        // again rather than overwrite another customer's token.
        for _ in 0..5 {
            let id = match &token.id {
                Some(id) => id.clone(),
                None => CredentialId::random(CREDENTIAL_PREFIX).map_err(ServiceError::internal)?,
            };
            let sealed = self
                .core
                .keyring()
                .seal(token.secret.as_bytes(), id.as_str().as_bytes())
                .map_err(ServiceError::internal)?;
            let next_counter = match token.kind {
                CredentialKind::Totp => 0,
                CredentialKind::Hotp => i64::try_from(token.counter).unwrap_or(i64::MAX),
            };
            let row = CredentialRow {
                id: id.to_string(),
                kind: token.kind,
                algorithm: token.params.algorithm.as_str().into(),
                digits: i16::from(token.params.digits.get()),
                period: i32::try_from(token.params.period.seconds()).unwrap_or(30),
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
            if !credentials::insert_unless_taken(tx, row).await? {
                if token.id.is_some() {
                    return Err(ServiceError::invalid(format!(
                        "credential {id} exists already"
                    )));
                }
                continue;
            }
            if let Some(key) = device_key {
                devices::insert_device_key(tx, id.as_str(), &key.to_base64(), now).await?;
            }
            entry
                .credential(id.as_str())
                .details(json!({
                    "kind": token.kind.as_str(),
                    "device_key": device_key.is_some(),
                }))
                .append(tx)
                .await?;
            return Ok(id);
        }
        Err(ServiceError::internal(
            "could not draw a free credential ID",
        ))
    }
}
