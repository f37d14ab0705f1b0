//! Token provisioning: a new soft credential for any RFC 6238 authenticator app (the secret is
//! returned this once and only stored sealed), and the import of hardware tokens from their
//! vendor's seed file by a platform admin.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use data_encoding::{HEXLOWER, HEXLOWER_PERMISSIVE};
use mamori_crypto::DevicePublicKey;
use mamori_domain::Operation;
use mamori_domain::policy::CredentialKind;
pub use mamori_import::Format as SeedFormat;
use mamori_import::{Fault, LineError, TokenSeed};
use mamori_otp::{CredentialId, OtpAuthUri, OtpKind, OtpParams, Secret};
use mamori_store::audit::PLATFORM_TENANT;
use mamori_store::credentials::{self, CredentialRow};
use mamori_store::devices;
use mamori_store::{StoreError, WriteTx};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::admin::OperatorCaller;
use crate::core::audit::{AuditEntry, append_all};
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

/// A token seed file an operator uploads.
#[derive(Debug)]
pub struct SeedFile<'a> {
    /// PSKC or CSV.
    pub format: SeedFormat,
    /// The file's text.
    pub text: &'a str,
    /// The pre-shared key of an encrypted PSKC file, hex (32, 48 or 64 digits).
    pub psk_hex: Option<&'a str>,
    /// Check the file and report what it holds, storing nothing.
    pub check_only: bool,
}

/// A token an import stored (or, checking only, would store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSummary {
    /// The line of the file it came from.
    pub line: u32,
    /// Its credential ID: the token's serial.
    pub credential_id: String,
    /// Time or event based.
    pub kind: CredentialKind,
    /// Algorithm, digits and period.
    pub params: OtpParams,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct SeedImport {
    /// The tokens, in file order.
    pub tokens: Vec<SeedSummary>,
    /// Whether they were stored (false when only checking).
    pub stored: bool,
    /// SHA-256 of the file, hex, as the audit trail records it.
    pub file_sha256: String,
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
        let (limit, now) = (core.limits.keyless_per_client, core.now());
        if !core.take_slot(&key, limit, now).await? {
            return Err(ServiceError::rate_limited(limit, now));
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

    /// Imports a vendor's seed file, by a platform admin: every token or none. Each stored
    /// token is audited in the platform's trail with the file's SHA-256, so an auditor can
    /// match the tokens to the delivery they came in.
    pub async fn import_seed_file(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        file: &SeedFile<'_>,
    ) -> Result<SeedImport, ServiceError> {
        caller.require_platform_admin()?;
        self.import_seed_file_by(&caller.login, meta, file).await
    }

    /// [`Self::import_seed_file`] by `operator` at the server's console (`mamori credentials
    /// import`), where whoever holds the database URL and master key is a platform admin.
    pub async fn import_seed_file_by(
        &self,
        operator: &str,
        meta: &RequestMeta,
        file: &SeedFile<'_>,
    ) -> Result<SeedImport, ServiceError> {
        let psk = file
            .psk_hex
            .map(str::trim)
            .filter(|hex| !hex.is_empty())
            .map(|hex| {
                HEXLOWER_PERMISSIVE
                    .decode(hex.as_bytes())
                    .ok()
                    .filter(|key| [16, 24, 32].contains(&key.len()))
                    .ok_or_else(|| ServiceError::invalid("pre_shared_key: 32, 48 or 64 hex digits"))
            })
            .transpose()?;
        let seeds = mamori_import::parse(file.format, file.text, psk.as_deref())
            .map_err(ServiceError::FileRejected)?;
        let file_sha256 = HEXLOWER.encode(&Sha256::digest(file.text.as_bytes()));
        let tokens: Vec<SeedSummary> = seeds
            .iter()
            .map(|seed| SeedSummary {
                line: seed.line,
                credential_id: seed.serial.to_string(),
                kind: seed.kind,
                params: seed.params,
            })
            .collect();
        let taken = self.taken_serials(&seeds).await?;
        if !taken.is_empty() {
            return Err(ServiceError::FileRejected(taken));
        }
        if file.check_only {
            return Ok(SeedImport {
                tokens,
                stored: false,
                file_sha256,
            });
        }
        let now = self.core.now();
        let format = match file.format {
            SeedFormat::Pskc => "pskc",
            SeedFormat::Csv => "csv",
        };
        let mut rows = Vec::with_capacity(seeds.len());
        let mut entries = Vec::with_capacity(seeds.len());
        for seed in &seeds {
            let token = ImportedToken {
                id: None,
                kind: seed.kind,
                counter: seed.counter,
                secret: seed.secret.clone(),
                params: seed.params,
            };
            rows.push(self.sealed_row(seed.serial.as_str(), &token, now)?);
            entries.push(
                AuditEntry::operator(
                    operator,
                    PLATFORM_TENANT,
                    meta,
                    Operation::ImportCredential,
                    now,
                )
                .credential(seed.serial.as_str())
                .details(json!({
                    "kind": seed.kind.as_str(),
                    "format": format,
                    "line": seed.line,
                    "file_sha256": file_sha256,
                })),
            );
        }
        let tx = self.core.write().await?;
        match credentials::insert_credentials(&tx, rows).await {
            Ok(()) => {}
            // Another import took a serial since the check: answer as the check would have.
            Err(StoreError::Conflict(_)) => {
                tx.rollback().await?;
                return Err(ServiceError::FileRejected(
                    self.taken_serials(&seeds).await?,
                ));
            }
            Err(err) => return Err(err.into()),
        }
        append_all(&tx, entries).await?;
        tx.commit().await?;
        Ok(SeedImport {
            tokens,
            stored: true,
            file_sha256,
        })
    }

    /// The seeds whose serial names an existing credential, as faults at their lines. Read in
    /// a unit of work: on SQLite the import that won may still wait for its group's COMMIT,
    /// and only the writer sees its rows yet.
    async fn taken_serials(&self, seeds: &[TokenSeed]) -> Result<Vec<LineError>, ServiceError> {
        let serials: Vec<&str> = seeds.iter().map(|s| s.serial.as_str()).collect();
        let tx = self.core.write().await?;
        let taken: HashSet<String> = credentials::taken_ids(&tx, &serials)
            .await?
            .into_iter()
            .collect();
        tx.rollback().await?;
        Ok(seeds
            .iter()
            .filter(|seed| taken.contains(seed.serial.as_str()))
            .map(|seed| LineError {
                line: seed.line,
                fault: Fault::SerialTaken,
            })
            .take(mamori_import::MAX_FAULTS)
            .collect())
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

    /// The row for a new credential, its secret sealed to its ID.
    fn sealed_row(
        &self,
        id: &str,
        token: &ImportedToken,
        now: DateTime<Utc>,
    ) -> Result<CredentialRow, ServiceError> {
        let sealed = self
            .core
            .keyring()
            .seal(token.secret.as_bytes(), id.as_bytes())
            .map_err(ServiceError::internal)?;
        let next_counter = match token.kind {
            CredentialKind::Totp => 0,
            // Refused rather than clamped: a clamped counter is another token's counter.
            CredentialKind::Hotp => i64::try_from(token.counter).map_err(|_| {
                ServiceError::invalid(format!(
                    "HOTP counter {} is beyond the largest counter Mamori stores ({})",
                    token.counter,
                    i64::MAX
                ))
            })?,
        };
        Ok(CredentialRow {
            id: id.to_owned(),
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
        })
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
            let row = self.sealed_row(id.as_str(), token, now)?;
            if !credentials::insert_unless_taken(tx, row).await? {
                if token.id.is_some() {
                    return Err(ServiceError::invalid(format!(
                        "credential {id} exists already"
                    )));
                }
                continue;
            }
            if let Some(key) = device_key {
                devices::insert_device_key(
                    tx,
                    self.core.account_mac().await?,
                    id.as_str(),
                    &key.to_base64(),
                    now,
                )
                .await?;
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
