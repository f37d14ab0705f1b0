//! Users, credentials, bindings and API keys: reads, inserts, and the conditional writes every
//! security decision is made of. Each write that decides something returns whether it took
//! effect (`rows_affected == 1`); the caller never reads a value and writes it back.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::StoreError;
use crate::entities::{api_keys, bindings, credentials, tenants, users};

pub use crate::entities::api_keys::Model as ApiKeyRow;
pub use crate::entities::bindings::Model as BindingRow;
pub use crate::entities::credentials::Model as CredentialRow;
pub use crate::entities::users::Model as UserRow;

// ---- users ----

/// Inserts a user; a duplicate contract number (+ user ID) at the bank is a `Conflict`.
pub async fn insert_user<C: ConnectionTrait>(conn: &C, row: UserRow) -> Result<(), StoreError> {
    users::Entity::insert(users::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        contract_number: Set(row.contract_number),
        user_code: Set(row.user_code),
        display_name: Set(row.display_name),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        password_hash: Set(row.password_hash),
        password_changed_at: Set(row.password_changed_at),
        password_must_change: Set(row.password_must_change),
        password_failures: Set(row.password_failures),
        password_locked_at: Set(row.password_locked_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A user of this bank. Another bank's user is `None`, exactly like a missing one.
pub async fn find_user<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(users::Entity::find_by_id(user_id.to_owned())
        .filter(users::Column::TenantId.eq(tenant_id))
        .one(conn)
        .await?)
}

/// A user of this bank by contract number and user ID.
pub async fn find_user_by_contract<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    contract_number: &str,
    user_code: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(users::Entity::find()
        .filter(users::Column::TenantId.eq(tenant_id))
        .filter(users::Column::ContractNumber.eq(contract_number))
        .filter(users::Column::UserCode.eq(user_code))
        .one(conn)
        .await?)
}

// ---- credentials ----

/// Inserts a new credential.
pub async fn insert_credential<C: ConnectionTrait>(
    conn: &C,
    row: CredentialRow,
) -> Result<(), StoreError> {
    credentials::Entity::insert(credentials::ActiveModel {
        id: Set(row.id),
        kind: Set(row.kind),
        algorithm: Set(row.algorithm),
        digits: Set(row.digits),
        period: Set(row.period),
        secret_ciphertext: Set(row.secret_ciphertext),
        secret_key_id: Set(row.secret_key_id),
        drift_steps: Set(row.drift_steps),
        last_used_step: Set(row.last_used_step),
        hotp_next_counter: Set(row.hotp_next_counter),
        failures: Set(row.failures),
        suspended_at: Set(row.suspended_at),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A credential by its ID (credentials are platform-wide, shared by banks).
pub async fn find_credential<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
) -> Result<Option<CredentialRow>, StoreError> {
    Ok(credentials::Entity::find_by_id(credential_id.to_owned())
        .one(conn)
        .await?)
}

/// Spends TOTP step `step`: succeeds only if no step at or after it was spent before and the
/// credential is not suspended. Resets the platform-wide failure count. With `drift`, also
/// records the newly learned drift (resync).
pub async fn spend_totp_step<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
    step: i64,
    drift: Option<i64>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut update = credentials::Entity::update_many()
        .col_expr(credentials::Column::LastUsedStep, Expr::value(step))
        .col_expr(credentials::Column::Failures, Expr::value(0))
        .col_expr(credentials::Column::UpdatedAt, Expr::value(now));
    if let Some(drift) = drift {
        update = update.col_expr(credentials::Column::DriftSteps, Expr::value(drift));
    }
    let result = update
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_null())
        .filter(
            Condition::any()
                .add(credentials::Column::LastUsedStep.is_null())
                .add(credentials::Column::LastUsedStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Spends HOTP counter `counter`: succeeds only if it is not below the next expected counter.
pub async fn spend_hotp_counter<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
    counter: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = credentials::Entity::update_many()
        .col_expr(
            credentials::Column::HotpNextCounter,
            Expr::value(counter + 1),
        )
        .col_expr(credentials::Column::Failures, Expr::value(0))
        .col_expr(credentials::Column::UpdatedAt, Expr::value(now))
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_null())
        .filter(credentials::Column::HotpNextCounter.lte(counter))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Counts one platform-wide failure; at `budget` consecutive failures the credential is
/// suspended everywhere. Returns whether this failure suspended it.
pub async fn count_credential_failure<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
    budget: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    credentials::Entity::update_many()
        .col_expr(
            credentials::Column::Failures,
            Expr::col(credentials::Column::Failures).add(1),
        )
        .col_expr(credentials::Column::UpdatedAt, Expr::value(now))
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_null())
        .exec(conn)
        .await?;
    let suspended = credentials::Entity::update_many()
        .col_expr(credentials::Column::SuspendedAt, Expr::value(now))
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_null())
        .filter(credentials::Column::Failures.gte(budget))
        .exec(conn)
        .await?;
    Ok(suspended.rows_affected == 1)
}

/// Lifts a platform-wide suspension: the credential works again and its platform-wide count
/// starts from zero. Returns whether it was suspended.
pub async fn lift_suspension<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = credentials::Entity::update_many()
        .col_expr(
            credentials::Column::SuspendedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(credentials::Column::Failures, Expr::value(0))
        .col_expr(credentials::Column::UpdatedAt, Expr::value(now))
        .filter(credentials::Column::Id.eq(credential_id))
        .filter(credentials::Column::SuspendedAt.is_not_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The banks where a credential has a live (active or locked) binding.
pub async fn banks_of_credential<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
) -> Result<Vec<String>, StoreError> {
    let mut banks: Vec<String> = bindings::Entity::find()
        .filter(bindings::Column::CredentialId.eq(credential_id))
        .filter(bindings::Column::State.is_in(["active", "locked"]))
        .all(conn)
        .await?
        .into_iter()
        .map(|b| b.tenant_id)
        .collect();
    banks.sort();
    banks.dedup();
    Ok(banks)
}

// ---- bindings ----

/// Inserts a live binding; a user who already has one at this bank is a `Conflict` (the
/// partial unique index decides, not a prior read).
pub async fn insert_binding<C: ConnectionTrait>(
    conn: &C,
    row: BindingRow,
) -> Result<(), StoreError> {
    bindings::Entity::insert(bindings::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        user_id: Set(row.user_id),
        credential_id: Set(row.credential_id),
        state: Set(row.state),
        failures: Set(row.failures),
        last_success_at: Set(row.last_success_at),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The user's live (active or locked) binding at this bank.
pub async fn find_live_binding<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<BindingRow>, StoreError> {
    Ok(bindings::Entity::find()
        .filter(bindings::Column::TenantId.eq(tenant_id))
        .filter(bindings::Column::UserId.eq(user_id))
        .filter(bindings::Column::State.is_in(["active", "locked"]))
        .one(conn)
        .await?)
}

/// A binding by its ID, read with a shared row lock inside the caller's transaction (on
/// PostgreSQL; SQLite's write transaction already excludes writers), so a concurrent revoke or
/// lock either commits before the read or waits until the caller commits.
pub async fn find_binding_locked<C: ConnectionTrait>(
    conn: &C,
    binding_id: &str,
) -> Result<Option<BindingRow>, StoreError> {
    Ok(bindings::Entity::find_by_id(binding_id.to_owned())
        .lock_shared()
        .one(conn)
        .await?)
}

/// A credential, read with a shared row lock (PostgreSQL) so a concurrent suspension either
/// commits first and is seen, or waits for this transaction.
pub async fn find_credential_locked<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
) -> Result<Option<CredentialRow>, StoreError> {
    Ok(credentials::Entity::find_by_id(credential_id.to_owned())
        .lock_shared()
        .one(conn)
        .await?)
}

/// The user's most recent binding at this bank, live or not.
pub async fn find_latest_binding<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<BindingRow>, StoreError> {
    Ok(bindings::Entity::find()
        .filter(bindings::Column::TenantId.eq(tenant_id))
        .filter(bindings::Column::UserId.eq(user_id))
        .order_by_desc(bindings::Column::CreatedAt)
        .order_by_desc(bindings::Column::UpdatedAt)
        .one(conn)
        .await?)
}

/// Reserves one attempt on an active binding before its code is checked: `failures + 1`, only
/// while the binding is active and under `limit`. Once `limit` attempts are reserved without a
/// success no further code is even checked. Returns whether the attempt was granted.
pub async fn reserve_attempt<C: ConnectionTrait>(
    conn: &C,
    binding_id: &str,
    limit: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = bindings::Entity::update_many()
        .col_expr(
            bindings::Column::Failures,
            Expr::col(bindings::Column::Failures).add(1),
        )
        .col_expr(bindings::Column::UpdatedAt, Expr::value(now))
        .filter(bindings::Column::Id.eq(binding_id))
        .filter(bindings::Column::State.eq("active"))
        .filter(bindings::Column::Failures.lt(limit))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives a reserved attempt back (the code was not wrong, e.g. already used).
pub async fn release_attempt<C: ConnectionTrait>(
    conn: &C,
    binding_id: &str,
) -> Result<(), StoreError> {
    bindings::Entity::update_many()
        .col_expr(
            bindings::Column::Failures,
            Expr::col(bindings::Column::Failures).sub(1),
        )
        .filter(bindings::Column::Id.eq(binding_id))
        .filter(bindings::Column::Failures.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records a success: the count starts again from zero.
pub async fn record_success<C: ConnectionTrait>(
    conn: &C,
    binding_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    bindings::Entity::update_many()
        .col_expr(bindings::Column::Failures, Expr::value(0))
        .col_expr(bindings::Column::LastSuccessAt, Expr::value(now))
        .col_expr(bindings::Column::UpdatedAt, Expr::value(now))
        .filter(bindings::Column::Id.eq(binding_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The binding's current failure count (read inside the transaction that reserved).
pub async fn binding_failures<C: ConnectionTrait>(
    conn: &C,
    binding_id: &str,
) -> Result<i32, StoreError> {
    bindings::Entity::find_by_id(binding_id.to_owned())
        .one(conn)
        .await?
        .map(|b| b.failures)
        .ok_or_else(|| StoreError::Corrupt(format!("binding {binding_id} vanished")))
}

/// Moves a binding from one of `from` states to `to`; returns whether it moved. With
/// `reset_failures`, the count starts again (unlock).
pub async fn transition_binding<C: ConnectionTrait>(
    conn: &C,
    binding_id: &str,
    from: &[&str],
    to: &str,
    reset_failures: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut update = bindings::Entity::update_many()
        .col_expr(bindings::Column::State, Expr::value(to))
        .col_expr(bindings::Column::UpdatedAt, Expr::value(now));
    if reset_failures {
        update = update.col_expr(bindings::Column::Failures, Expr::value(0));
    }
    let result = update
        .filter(bindings::Column::Id.eq(binding_id))
        .filter(bindings::Column::State.is_in(from.iter().copied()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Every live binding of a credential at one bank (the banks a token is registered at are
/// never listed across tenants).
pub async fn bindings_of_credential_at<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    credential_id: &str,
) -> Result<Vec<BindingRow>, StoreError> {
    Ok(bindings::Entity::find()
        .filter(bindings::Column::TenantId.eq(tenant_id))
        .filter(bindings::Column::CredentialId.eq(credential_id))
        .all(conn)
        .await?)
}

/// A live registration of a credential, with the bank's names, as the token's own listing
/// shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The binding.
    pub binding: BindingRow,
    /// The bank's name in Japanese.
    pub bank_name_ja: String,
    /// The bank's name in English.
    pub bank_name_en: String,
}

/// Every live (active or locked) binding of a credential at every bank, oldest first. Only the
/// token-facing listing may call this, after the token proved itself with a fresh code: no
/// bank ever sees another bank's registrations.
pub async fn live_registrations_of_credential<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
) -> Result<Vec<Registration>, StoreError> {
    let live = bindings::Entity::find()
        .filter(bindings::Column::CredentialId.eq(credential_id))
        .filter(bindings::Column::State.is_in(["active", "locked"]))
        .order_by_asc(bindings::Column::CreatedAt)
        .order_by_asc(bindings::Column::Id)
        .all(conn)
        .await?;
    let banks = tenants::Entity::find()
        .filter(tenants::Column::Id.is_in(live.iter().map(|b| b.tenant_id.clone())))
        .all(conn)
        .await?;
    live.into_iter()
        .map(|binding| {
            let bank = banks
                .iter()
                .find(|t| t.id == binding.tenant_id)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "binding {} of unknown bank {}",
                        binding.id, binding.tenant_id
                    ))
                })?;
            Ok(Registration {
                bank_name_ja: bank.name_ja.clone(),
                bank_name_en: bank.name_en.clone(),
                binding,
            })
        })
        .collect()
}

// ---- API keys ----

/// Inserts an API key row.
pub async fn insert_api_key<C: ConnectionTrait>(
    conn: &C,
    row: ApiKeyRow,
) -> Result<(), StoreError> {
    api_keys::Entity::insert(api_keys::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        prefix: Set(row.prefix),
        key_hash: Set(row.key_hash),
        label: Set(row.label),
        created_at: Set(row.created_at),
        revoked_at: Set(row.revoked_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// An unrevoked API key by its public prefix.
pub async fn find_active_api_key<C: ConnectionTrait>(
    conn: &C,
    prefix: &str,
) -> Result<Option<ApiKeyRow>, StoreError> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::Prefix.eq(prefix))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(conn)
        .await?)
}

/// Revokes an API key by id or prefix; returns whether one was revoked.
pub async fn revoke_api_key<C: ConnectionTrait>(
    conn: &C,
    id_or_prefix: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Expr::value(now))
        .filter(
            Condition::any()
                .add(api_keys::Column::Id.eq(id_or_prefix))
                .add(api_keys::Column::Prefix.eq(id_or_prefix)),
        )
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Every API key of a tenant (for listing; hashes are not secrets but are not shown either).
pub async fn list_api_keys<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<ApiKeyRow>, StoreError> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(tenant_id))
        .order_by_asc(api_keys::Column::CreatedAt)
        .all(conn)
        .await?)
}
