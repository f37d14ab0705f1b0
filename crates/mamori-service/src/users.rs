//! Banks' contract users (契約者): created by the bank's system, found by Mamori's ID or by
//! contract number. Every lookup is scoped to the caller's bank: another bank's user is "not
//! found", exactly like a missing one.

use chrono::{DateTime, Utc};
use mamori_domain::password::remembered_passwords;
use mamori_domain::{ErrorCode, Operation};
use mamori_store::users::{self, UserRow};
use mamori_store::{StoreError, passwords as stored_passwords};

use crate::core::audit::AuditEntry;
use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::passwords::Passwords;

/// A contract user as a bank sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Mamori's ID for the user.
    pub id: String,
    /// 契約者番号 / 契約者ID.
    pub contract_number: String,
    /// 利用者ID under the contract, if the bank uses them.
    pub user_code: Option<String>,
    /// The name the bank gave.
    pub display_name: String,
    /// When the bank created the user.
    pub created_at: DateTime<Utc>,
    /// Whether Mamori holds a login password for the user.
    pub password_set: bool,
    /// Whether the login password is locked after too many wrong tries.
    pub password_locked: bool,
    /// Whether the next login must change the password.
    pub password_must_change: bool,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            contract_number: row.contract_number,
            user_code: (!row.user_code.is_empty()).then_some(row.user_code),
            display_name: row.display_name,
            created_at: row.created_at,
            password_set: row.password_hash.is_some(),
            password_locked: row.password_locked_at.is_some(),
            password_must_change: row.password_must_change,
        }
    }
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// 契約者番号.
    pub contract_number: String,
    /// 利用者ID, optional.
    pub user_code: Option<String>,
    /// Display name.
    pub display_name: String,
    /// The first (temporary) login password, if Mamori keeps the bank's passwords.
    pub initial_password: Option<String>,
}

/// The bank's contract users.
#[derive(Debug, Clone)]
pub struct Users {
    core: Core,
    passwords: Passwords,
}

impl Users {
    pub(crate) fn new(core: Core, passwords: Passwords) -> Self {
        Self { core, passwords }
    }

    /// Creates a contract user at the caller's bank.
    pub async fn create_user(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        new: NewUser,
    ) -> Result<User, ServiceError> {
        let contract_number = clean_identifier(&new.contract_number, "contract_number")?;
        let user_code = match new.user_code.as_deref().map(str::trim) {
            None | Some("") => String::new(),
            Some(code) => clean_identifier(code, "user_id")?,
        };
        let display_name = new.display_name.trim().to_owned();
        if display_name.chars().count() > 100 {
            return Err(ServiceError::invalid(
                "display_name: at most 100 characters",
            ));
        }
        let now = self.core.now();
        let mut row = UserRow {
            id: format!("usr_{}", uuid::Uuid::new_v4().simple()),
            tenant_id: caller.tenant_id.to_string(),
            contract_number,
            user_code,
            display_name,
            created_at: now,
            updated_at: now,
            password_hash: None,
            password_changed_at: None,
            password_must_change: false,
            password_failures: 0,
            password_locked_at: None,
        };
        let initial = match new.initial_password.as_deref() {
            Some(password) => {
                let policy = self.core.policy(caller).await?;
                let hash = self
                    .passwords
                    .prepare_initial(&policy, &row, password)
                    .await?;
                Some((hash, policy))
            }
            None => None,
        };
        let tx = self.core.write().await?;
        match users::insert_user(&tx, row.clone()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::rejected(ErrorCode::UserAlreadyExists));
            }
            Err(e) => return Err(e.into()),
        }
        if let Some((hash, policy)) = initial {
            let must_change = policy.password.force_change_on_first_login;
            stored_passwords::set_password(
                &tx,
                &row.id,
                &hash,
                must_change,
                remembered_passwords(&policy.password),
                now,
            )
            .await?;
            row.password_hash = Some(hash);
            row.password_must_change = must_change;
        }
        AuditEntry::bank(caller, meta, Operation::CreateUser, now)
            .user(&row.id)
            .append(&tx)
            .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// A user of the caller's bank.
    pub async fn get_user(&self, caller: &BankCaller, user_id: &str) -> Result<User, ServiceError> {
        self.core.bank_user(caller, user_id).await.map(User::from)
    }

    /// A user of the caller's bank by contract number (and user ID).
    pub async fn find_user(
        &self,
        caller: &BankCaller,
        contract_number: &str,
        user_code: Option<&str>,
    ) -> Result<User, ServiceError> {
        let row = users::find_user_by_contract(
            self.core.db(),
            caller.tenant_id.as_str(),
            &identifier_key(contract_number),
            &identifier_key(user_code.unwrap_or("")),
        )
        .await?
        .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        Ok(row.into())
    }
}

/// Contract numbers and user IDs: printable ASCII after folding full-width characters and
/// trimming, 1–32 characters, so a customer's typing habit never creates a second identity.
fn clean_identifier(raw: &str, field: &str) -> Result<String, ServiceError> {
    let folded = identifier_key(raw);
    let ok = (1..=32).contains(&folded.len())
        && folded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(folded)
    } else {
        Err(ServiceError::invalid(format!(
            "{field}: 1 to 32 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// A contract number or user ID as a lookup reads it: trimmed and full-width folded exactly as
/// [`clean_identifier`] stores it, so `ＡＢ１２` finds the user created as `AB12`. Never refused:
/// what is no identifier simply matches no user.
pub(crate) fn identifier_key(raw: &str) -> String {
    raw.trim().chars().map(mamori_otp::fold_width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_read_identifiers_as_they_are_stored() {
        for typed in ["AB-12.x_9", " ＡＢ-１２.ｘ_９\u{3000}"] {
            assert_eq!(identifier_key(typed), "AB-12.x_9");
            assert_eq!(
                clean_identifier(typed, "contract_number").ok().as_deref(),
                Some("AB-12.x_9")
            );
        }
        // Full-width punctuation is not folded, so it is no identifier.
        assert!(clean_identifier("AB－12", "contract_number").is_err());
        assert!(clean_identifier(" ", "contract_number").is_err());
        assert!(clean_identifier(&"9".repeat(33), "contract_number").is_err());
    }
}
