//! Operators and their sessions: accounts created by a platform admin (or the CLI) with a
//! one-time password; sign-in with password and TOTP code; the first login's password change
//! and authenticator enrollment; sessions kept server-side so a sign-out ends them on every node.
//!
//! Sign-in has no oracle: an unknown operator, a wrong password, a wrong code and a locked
//! account answer alike (`admin_login_failed`) after the same argon2 work. Every attempt is
//! reserved before it is checked, so concurrent guesses cannot overrun the lock threshold.

use chrono::{DateTime, Duration, Utc};
use data_encoding::BASE64URL_NOPAD;
use mamori_crypto::hmac_sha256;
use mamori_domain::operator::{
    OPERATOR_LOCK_THRESHOLD, SESSION_IDLE_MINUTES, operator_password_policy,
};
use mamori_domain::password::check_new_password;
use mamori_domain::{ErrorCode, Operation, OperatorRole, OperatorScope, SessionStage, TenantId};
use mamori_otp::{
    Digits, OtpAuthUri, OtpKind, OtpParams, Secret, normalize_code, totp_step, verify_totp_after,
};
use mamori_store::audit::PLATFORM_TENANT;
use mamori_store::operators::{self as stored, OperatorRow, SessionRow};
use mamori_store::{StoreError, tenants};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::admin::{OperatorCaller, clean_reason};
use crate::core::audit::AuditEntry;
use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;
use crate::keyless::{self, Route};
use crate::passwords::Passwords;

/// The issuer operators see in their authenticator app.
const TOTP_ISSUER: &str = "Mamori Admin";

/// The login name of the first platform admin made at the first start.
pub const FIRST_ADMIN: &str = "admin";

/// An operator as the console lists it (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorView {
    /// `opr_…`.
    pub id: String,
    /// The login name.
    pub login_name: String,
    /// The name shown.
    pub display_name: String,
    /// The role.
    pub role: OperatorRole,
    /// The bank of a bank operator or one-bank auditor.
    pub bank_id: Option<String>,
    /// Whether the authenticator app is enrolled.
    pub totp_enrolled: bool,
    /// Whether the next login must replace the password.
    pub password_must_change: bool,
    /// When the operator was locked after too many wrong passwords or codes.
    pub locked_at: Option<DateTime<Utc>>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

impl From<OperatorRow> for OperatorView {
    fn from(row: OperatorRow) -> Self {
        Self {
            id: row.id,
            login_name: row.login_name,
            display_name: row.display_name,
            role: row.role,
            bank_id: row.tenant_id,
            totp_enrolled: row.totp_enrolled_at.is_some(),
            password_must_change: row.password_must_change,
            locked_at: row.locked_at,
            created_at: row.created_at,
        }
    }
}

/// A new operator.
#[derive(Debug, Clone)]
pub struct NewOperator {
    /// Login name: 3–40 of `a-z 0-9 . _ -`.
    pub login_name: String,
    /// The name shown (at most 100 characters).
    pub display_name: String,
    /// The role.
    pub role: OperatorRole,
    /// The bank, for a bank operator (required) or an auditor limited to one bank.
    pub bank_id: Option<String>,
}

/// An operator just created: the only time its one-time password exists in clear.
#[derive(Debug)]
pub struct CreatedOperator {
    /// The operator.
    pub operator: OperatorView,
    /// The one-time password, to hand over once; the first login replaces it.
    pub one_time_password: String,
}

/// A successful sign-in: the session's token (for the cookie) and anti-forgery token.
#[derive(Debug)]
pub struct SignedIn {
    /// The session token: goes into the `HttpOnly` cookie, never into a page.
    pub session_token: String,
    /// The signed-in operator.
    pub caller: OperatorCaller,
    /// Whether the one-time password must be replaced before anything else.
    pub password_must_change: bool,
}

/// A TOTP enrollment in progress: what the operator scans.
#[derive(Debug)]
pub struct TotpEnrollment {
    /// The secret, base32 (for typing when scanning is impossible).
    pub secret_base32: String,
    /// `otpauth://totp/Mamori%20Admin:<login>?…`.
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG.
    pub qr_svg: String,
}

/// Operators and their sessions.
#[derive(Debug, Clone)]
pub struct Operators {
    core: Core,
    passwords: Passwords,
}

impl Operators {
    pub(crate) fn new(core: Core, passwords: Passwords) -> Self {
        Self { core, passwords }
    }

    /// At the first start, when no operator exists: a platform admin `admin` with a one-time
    /// password, returned to print once. `None` when operators exist already.
    pub async fn bootstrap(&self) -> Result<Option<CreatedOperator>, ServiceError> {
        if stored::count_operators(self.core.db()).await? > 0 {
            return Ok(None);
        }
        let new = NewOperator {
            login_name: FIRST_ADMIN.into(),
            display_name: "Platform admin".into(),
            role: OperatorRole::PlatformAdmin,
            bank_id: None,
        };
        match self.insert(None, &RequestMeta::default(), new).await {
            Ok(created) => Ok(Some(created)),
            // Another node started at the same time and made it.
            Err(ServiceError::Rejected {
                code: ErrorCode::OperatorAlreadyExists,
                ..
            }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Creates an operator with a one-time password (`mamori operators create`).
    pub async fn create_by_cli(&self, new: NewOperator) -> Result<CreatedOperator, ServiceError> {
        self.insert(None, &RequestMeta::default(), new).await
    }

    /// Creates an operator with a one-time password; platform admins only.
    pub async fn create(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        new: NewOperator,
    ) -> Result<CreatedOperator, ServiceError> {
        caller.require_platform_admin()?;
        self.insert(Some(caller), meta, new).await
    }

    async fn insert(
        &self,
        by: Option<&OperatorCaller>,
        meta: &RequestMeta,
        new: NewOperator,
    ) -> Result<CreatedOperator, ServiceError> {
        let login = new.login_name.trim().to_ascii_lowercase();
        let login_ok = (3..=40).contains(&login.len())
            && login.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if !login_ok {
            return Err(ServiceError::invalid(
                "login_name: 3 to 40 of a-z, 0-9, '.', '_', '-'",
            ));
        }
        let display_name = new.display_name.trim().to_owned();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(ServiceError::invalid("display_name: 1 to 100 characters"));
        }
        let bank = new
            .bank_id
            .as_deref()
            .map(|id| {
                TenantId::parse(id).map_err(|_| ServiceError::invalid("bank_id: no such bank"))
            })
            .transpose()?;
        OperatorScope::new(new.role, bank.clone())
            .map_err(|e| ServiceError::invalid(format!("role: {e}")))?;
        if let Some(bank) = &bank
            && tenants::is_suspended(self.core.db(), bank.as_str())
                .await?
                .is_none()
        {
            return Err(ServiceError::invalid("bank_id: no such bank"));
        }
        let one_time_password = one_time_password()?;
        let hash = self.passwords.hash(&one_time_password).await?;
        let now = self.core.now();
        let row = OperatorRow {
            id: format!("opr_{}", uuid::Uuid::new_v4().simple()),
            login_name: login,
            display_name,
            role: new.role,
            tenant_id: bank.map(|b| b.to_string()),
            password_hash: hash,
            password_changed_at: None,
            password_must_change: true,
            password_failures: 0,
            code_failures: 0,
            locked_at: None,
            totp_ciphertext: None,
            totp_key_id: None,
            totp_enrolled_at: None,
            totp_last_step: None,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        };
        let tx = self.core.write().await?;
        match stored::insert_operator(&tx, row.clone()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::rejected(ErrorCode::OperatorAlreadyExists));
            }
            Err(e) => return Err(e.into()),
        }
        let actor = by.map_or("cli", |caller| caller.login.as_str());
        AuditEntry::operator(
            actor,
            PLATFORM_TENANT,
            meta,
            Operation::OperatorCreated,
            now,
        )
        .details(json!({
            "operator": row.login_name,
            "role": row.role.as_str(),
            "bank": row.tenant_id,
        }))
        .append(&tx)
        .await?;
        tx.commit().await?;
        Ok(CreatedOperator {
            operator: row.into(),
            one_time_password,
        })
    }

    /// Every operator, for the command line.
    pub async fn list_all(&self) -> Result<Vec<OperatorView>, ServiceError> {
        Ok(stored::list_operators(self.core.db())
            .await?
            .into_iter()
            .map(OperatorView::from)
            .collect())
    }

    /// Every operator; platform admins only.
    pub async fn list(&self, caller: &OperatorCaller) -> Result<Vec<OperatorView>, ServiceError> {
        caller.require_platform_admin()?;
        Ok(stored::list_operators(self.core.db())
            .await?
            .into_iter()
            .map(OperatorView::from)
            .collect())
    }

    /// Unlocks an operator locked after wrong passwords or codes; platform admins only.
    pub async fn unlock(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        operator_id: &str,
        reason: &str,
    ) -> Result<OperatorView, ServiceError> {
        caller.require_platform_admin()?;
        let reason = clean_reason(reason)?;
        let now = self.core.now();
        let tx = self.core.write().await?;
        let Some(row) = stored::find_operator(&tx, operator_id).await? else {
            return Err(ServiceError::rejected(ErrorCode::NotFound));
        };
        if !stored::unlock_operator(&tx, &row.id, now).await? {
            return Err(ServiceError::invalid("the operator is not locked"));
        }
        AuditEntry::operator(
            &caller.login,
            PLATFORM_TENANT,
            meta,
            Operation::OperatorUnlocked,
            now,
        )
        .details(json!({ "operator": row.login_name, "reason": reason }))
        .append(&tx)
        .await?;
        tx.commit().await?;
        let row = stored::find_operator(self.core.db(), operator_id)
            .await?
            .ok_or_else(|| ServiceError::internal("operator vanished"))?;
        Ok(row.into())
    }

    /// Signs in with login name, password and (once enrolled) the authenticator's code.
    pub async fn sign_in(
        &self,
        meta: &RequestMeta,
        login_name: &str,
        password: &str,
        code: Option<&str>,
    ) -> Result<SignedIn, ServiceError> {
        let core = &self.core;
        let db = core.db();
        let now = core.now();
        let login = login_name.trim().to_ascii_lowercase();
        let failed = || ServiceError::rejected(ErrorCode::AdminLoginFailed);
        let entry =
            AuditEntry::operator(&login, PLATFORM_TENANT, meta, Operation::AdminSignIn, now);
        // Before any password is hashed: one client's failures are bounded whatever login
        // names it tries, so it can neither queue argon2 work nor lock operators at will.
        let slot = keyless::reserve_failure(core, Route::AdminSignIn, meta).await?;
        let Some(operator) = stored::find_by_login(db, &login).await? else {
            self.passwords.verify_dummy(password).await?;
            return core
                .refuse(
                    entry.details(json!({ "note": "unknown_operator" })),
                    failed(),
                )
                .await;
        };
        // Reserve first, then check: no password is checked beyond the threshold.
        let granted =
            stored::reserve_password_attempt(db, &operator.id, OPERATOR_LOCK_THRESHOLD).await?;
        let right = if granted {
            self.passwords
                .verify(password, &operator.password_hash)
                .await?
        } else {
            self.passwords.verify_dummy(password).await?;
            false
        };
        if !right {
            let note = if !granted {
                "locked"
            } else if stored::lock_if_at_limit(db, &operator.id, OPERATOR_LOCK_THRESHOLD, now)
                .await?
            {
                "locked_now"
            } else {
                "wrong_password"
            };
            return core
                .refuse(entry.details(json!({ "note": note })), failed())
                .await;
        }
        // The password's reserved attempt is given back only when the whole sign-in succeeds,
        // so wrong passwords and wrong codes count towards one lock.
        let stage = if operator.totp_enrolled_at.is_some() {
            if let Err(note) = self.check_code(&operator, code, now).await? {
                return core
                    .refuse(entry.details(json!({ "note": note })), failed())
                    .await;
            }
            if operator.password_must_change {
                SessionStage::Setup
            } else {
                SessionStage::Active
            }
        } else {
            SessionStage::Setup
        };
        stored::password_succeeded(db, &operator.id).await?;
        if let Some(fresh) = self
            .passwords
            .rehash(password, &operator.password_hash)
            .await?
        {
            // Only over the hash that was checked: a password changed meanwhile stays.
            stored::replace_password_hash(db, &operator.id, &operator.password_hash, &fresh)
                .await?;
        }
        let token = random_token()?;
        let session_id = session_id_of(&token);
        let tx = core.write().await?;
        stored::insert_session(
            &tx,
            SessionRow {
                id: session_id.clone(),
                operator_id: operator.id.clone(),
                stage,
                client_addr: meta.client_addr.clone(),
                created_at: now,
                last_seen_at: now,
                ended_at: None,
            },
        )
        .await?;
        entry
            .details(json!({ "stage": stage.as_str() }))
            .append(&tx)
            .await?;
        tx.commit().await?;
        slot.forgive(core).await?;
        tracing::info!(operator.login = %operator.login_name, stage = stage.as_str(), "operator signed in");
        let password_must_change = operator.password_must_change;
        Ok(SignedIn {
            session_token: token,
            caller: caller_of(operator, session_id, stage)?,
            password_must_change,
        })
    }

    /// A code of the operator's enrolled authenticator, checked like a bank's code: an
    /// attempt reserved first, the matched step spent with one conditional write.
    async fn check_code(
        &self,
        operator: &OperatorRow,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Result<(), &'static str>, ServiceError> {
        let db = self.core.db();
        if !stored::reserve_code_attempt(db, &operator.id, OPERATOR_LOCK_THRESHOLD).await? {
            return Ok(Err("locked"));
        }
        let secret = self.open_totp(operator)?;
        let step = code
            .and_then(|c| normalize_code(c, Digits::SIX).ok())
            .and_then(|c| {
                let unix = u64::try_from(now.timestamp()).unwrap_or(0);
                let expected = totp_step(unix, OtpParams::default().period);
                let last = operator.totp_last_step.and_then(|s| u64::try_from(s).ok());
                verify_totp_after(&secret, OtpParams::default(), &c, expected, 1, 1, last)
            })
            .and_then(|step| i64::try_from(step).ok());
        let spent = match step {
            Some(step) => stored::spend_code_step(db, &operator.id, step, now).await?,
            None => false,
        };
        if spent {
            return Ok(Ok(()));
        }
        let locked =
            stored::lock_if_at_limit(db, &operator.id, OPERATOR_LOCK_THRESHOLD, now).await?;
        Ok(Err(if locked { "locked_now" } else { "wrong_code" }))
    }

    fn open_totp(&self, operator: &OperatorRow) -> Result<Secret, ServiceError> {
        let (Some(blob), Some(key_id)) = (&operator.totp_ciphertext, &operator.totp_key_id) else {
            return Err(ServiceError::internal(format!(
                "operator {}: no TOTP secret",
                operator.id
            )));
        };
        let sealed = mamori_crypto::SealedSecret {
            key_id: key_id.clone(),
            blob: blob.clone(),
        };
        let bytes = self
            .core
            .keyring()
            .open(&sealed, operator.id.as_bytes())
            .map_err(|e| ServiceError::internal(format!("operator {}: {e}", operator.id)))?;
        Secret::from_bytes(&bytes).map_err(ServiceError::internal)
    }

    /// The operator behind a session cookie, if the session lives (signed in, not signed out,
    /// used within the last 30 minutes) and, for a state-changing request, the anti-forgery
    /// token matches. Every use moves the idle deadline.
    pub async fn authenticate(
        &self,
        session_token: &str,
        csrf_token: Option<&str>,
        state_changing: bool,
    ) -> Result<OperatorCaller, ServiceError> {
        let required = || ServiceError::rejected(ErrorCode::AdminSessionRequired);
        let db = self.core.db();
        let now = self.core.now();
        let idle_since = now - Duration::minutes(SESSION_IDLE_MINUTES);
        let session_id = session_id_of(session_token);
        let Some(session) = stored::find_live_session(db, &session_id, idle_since).await? else {
            return Err(required());
        };
        if state_changing {
            let expected = self.csrf_token(&session_id).await?;
            let given = csrf_token.unwrap_or_default();
            let same = given.len() == expected.len()
                && bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
            if !same {
                return Err(ServiceError::rejected(ErrorCode::CsrfTokenInvalid));
            }
        }
        let Some(operator) = stored::find_operator(db, &session.operator_id).await? else {
            return Err(required());
        };
        if operator.locked_at.is_some() || operator.disabled_at.is_some() {
            stored::end_sessions_of(db, &operator.id, now).await?;
            return Err(required());
        }
        if !stored::touch_session(db, &session_id, idle_since, now).await? {
            return Err(required());
        }
        caller_of(operator, session_id, session.stage)
    }

    /// The anti-forgery token of a session: HMAC of its ID under an HKDF subkey of the sealed
    /// subkey root, so it can be given again after a reload without being stored, and every
    /// node gives the same one, before and after a master-key rotation.
    pub async fn csrf_token(&self, session_id: &str) -> Result<String, ServiceError> {
        let key = crate::keys::subkey(&self.core, "mamori/admin-csrf/v1").await?;
        Ok(BASE64URL_NOPAD.encode(&hmac_sha256(&key, session_id.as_bytes())))
    }

    /// The operator as the console shows them.
    pub async fn me(&self, caller: &OperatorCaller) -> Result<OperatorView, ServiceError> {
        stored::find_operator(self.core.db(), &caller.operator_id)
            .await?
            .map(OperatorView::from)
            .ok_or_else(|| ServiceError::rejected(ErrorCode::AdminSessionRequired))
    }

    /// Ends the session (on every node: the next request anywhere finds it ended).
    pub async fn sign_out(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
    ) -> Result<(), ServiceError> {
        let now = self.core.now();
        let tx = self.core.write().await?;
        if stored::end_session(&tx, &caller.session_id, now).await? {
            AuditEntry::operator(
                &caller.login,
                PLATFORM_TENANT,
                meta,
                Operation::AdminSignOut,
                now,
            )
            .append(&tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the operator's own password (the one-time password at the first login, or any
    /// time later), checked and counted like a sign-in.
    pub async fn change_password(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        current: &str,
        new: &str,
    ) -> Result<OperatorView, ServiceError> {
        let core = &self.core;
        let db = core.db();
        let now = core.now();
        let operator = self.row(caller).await?;
        let entry = AuditEntry::operator(
            &caller.login,
            PLATFORM_TENANT,
            meta,
            Operation::OperatorPasswordChanged,
            now,
        );
        let granted =
            stored::reserve_password_attempt(db, &operator.id, OPERATOR_LOCK_THRESHOLD).await?;
        let right = granted
            && self
                .passwords
                .verify(current, &operator.password_hash)
                .await?;
        if !right {
            if !granted {
                self.passwords.verify_dummy(current).await?;
            }
            stored::lock_if_at_limit(db, &operator.id, OPERATOR_LOCK_THRESHOLD, now).await?;
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::AdminLoginFailed))
                .await;
        }
        stored::password_succeeded(db, &operator.id).await?;
        let ids = [operator.login_name.as_str(), operator.display_name.as_str()];
        let same_as_before = self.passwords.verify(new, &operator.password_hash).await?;
        check_new_password(&operator_password_policy(), new, &ids, same_as_before)
            .map_err(ServiceError::PasswordRejected)?;
        let hash = self.passwords.hash(new).await?;
        let tx = core.write().await?;
        stored::set_password(&tx, &operator.id, &hash, false, now).await?;
        if operator.totp_enrolled_at.is_some() {
            stored::set_session_stage(&tx, &caller.session_id, SessionStage::Active).await?;
        }
        entry.append(&tx).await?;
        tx.commit().await?;
        self.me(caller).await
    }

    /// Starts the enrollment of the operator's authenticator app: a new secret, sealed, to
    /// scan. Allowed once the one-time password is replaced, and only while none is enrolled.
    pub async fn begin_enrollment(
        &self,
        caller: &OperatorCaller,
    ) -> Result<TotpEnrollment, ServiceError> {
        let operator = self.row(caller).await?;
        if operator.password_must_change {
            return Err(ServiceError::rejected(ErrorCode::AdminSetupRequired));
        }
        if operator.totp_enrolled_at.is_some() {
            return Err(ServiceError::invalid(
                "an authenticator app is enrolled already",
            ));
        }
        let secret = Secret::generate().map_err(ServiceError::internal)?;
        let sealed = self
            .core
            .keyring()
            .seal(secret.as_bytes(), operator.id.as_bytes())
            .map_err(ServiceError::internal)?;
        if !stored::set_pending_totp(
            self.core.db(),
            &operator.id,
            sealed.blob,
            &sealed.key_id,
            self.core.now(),
        )
        .await?
        {
            return Err(ServiceError::invalid(
                "an authenticator app is enrolled already",
            ));
        }
        let uri = OtpAuthUri {
            issuer: TOTP_ISSUER.into(),
            account: operator.login_name.clone(),
            secret: secret.clone(),
            params: OtpParams::default(),
            kind: OtpKind::Totp,
        }
        .to_uri()
        .map_err(ServiceError::internal)?;
        Ok(TotpEnrollment {
            secret_base32: secret.to_base32(),
            qr_svg: crate::qr::svg(&uri)?,
            otpauth_uri: uri,
        })
    }

    /// Confirms the enrollment with a current code of the new authenticator; the session
    /// becomes active.
    pub async fn confirm_enrollment(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        code: &str,
    ) -> Result<OperatorView, ServiceError> {
        let core = &self.core;
        let db = core.db();
        let now = core.now();
        let operator = self.row(caller).await?;
        if operator.totp_enrolled_at.is_some() || operator.totp_ciphertext.is_none() {
            return Err(ServiceError::invalid("start the enrollment first"));
        }
        if !stored::reserve_code_attempt(db, &operator.id, OPERATOR_LOCK_THRESHOLD).await? {
            return Err(ServiceError::rejected(ErrorCode::AdminLoginFailed));
        }
        let secret = self.open_totp(&operator)?;
        let unix = u64::try_from(now.timestamp()).unwrap_or(0);
        let step = normalize_code(code, Digits::SIX)
            .map_err(|_| ServiceError::rejected(ErrorCode::OtpMalformed))
            .map(|c| {
                let expected = totp_step(unix, OtpParams::default().period);
                verify_totp_after(&secret, OtpParams::default(), &c, expected, 1, 1, None)
            })?;
        let entry = AuditEntry::operator(
            &caller.login,
            PLATFORM_TENANT,
            meta,
            Operation::OperatorTotpEnrolled,
            now,
        );
        let Some(step) = step.and_then(|s| i64::try_from(s).ok()) else {
            stored::lock_if_at_limit(db, &operator.id, OPERATOR_LOCK_THRESHOLD, now).await?;
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpInvalid))
                .await;
        };
        let tx = core.write().await?;
        if !stored::enroll_totp(&tx, &operator.id, step, now).await? {
            return Err(ServiceError::invalid(
                "an authenticator app is enrolled already",
            ));
        }
        stored::set_session_stage(&tx, &caller.session_id, SessionStage::Active).await?;
        entry.append(&tx).await?;
        tx.commit().await?;
        self.me(caller).await
    }

    async fn row(&self, caller: &OperatorCaller) -> Result<OperatorRow, ServiceError> {
        stored::find_operator(self.core.db(), &caller.operator_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::AdminSessionRequired))
    }
}

fn caller_of(
    operator: OperatorRow,
    session_id: String,
    stage: SessionStage,
) -> Result<OperatorCaller, ServiceError> {
    let bank = operator
        .tenant_id
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .map_err(ServiceError::internal)?;
    let scope = OperatorScope::new(operator.role, bank).map_err(ServiceError::internal)?;
    Ok(OperatorCaller {
        operator_id: operator.id,
        login: operator.login_name,
        display_name: operator.display_name,
        scope,
        stage,
        session_id,
    })
}

/// 32 random bytes, base64url: a session token.
fn random_token() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ServiceError::internal)?;
    Ok(BASE64URL_NOPAD.encode(&bytes))
}

/// What the database keeps of a session token: its SHA-256, so a database reader cannot sign
/// in with it.
fn session_id_of(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// A one-time password that meets the operator rules: 16 characters from the OS CSPRNG,
/// without look-alikes, with a letter and a digit.
fn one_time_password() -> Result<String, ServiceError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    loop {
        let out: String = (0..16)
            .map(|_| {
                crate::random::below(ALPHABET.len() as u8)
                    .map(|i| char::from(ALPHABET[usize::from(i)]))
            })
            .collect::<Result<_, _>>()?;
        if out.chars().any(|c| c.is_ascii_digit()) && out.chars().any(|c| c.is_ascii_alphabetic()) {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_passwords_meet_the_operator_rules() {
        for _ in 0..50 {
            let password = one_time_password().unwrap();
            assert_eq!(password.len(), 16);
            assert!(check_new_password(&operator_password_policy(), &password, &[], false).is_ok());
        }
    }

    #[test]
    fn sessions_are_stored_as_hashes() {
        let token = random_token().unwrap();
        assert_eq!(token.len(), 43);
        assert_ne!(session_id_of(&token), token);
        assert_eq!(session_id_of(&token).len(), 64);
    }
}
