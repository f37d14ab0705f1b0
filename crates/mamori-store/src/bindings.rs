//! Bindings (利用登録): one bank's registration of a credential to one of its users, with that
//! bank's failure count and lock. Every move between states is one conditional write.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::account_mac::AccountMac;
use crate::entities::{bindings, tenants};
use crate::error::StoreError;
use mamori_domain::BindingState;

pub use crate::entities::bindings::Model as BindingRow;

/// The states in which a binding is the user's registered token at its bank.
pub(crate) const LIVE: [BindingState; 2] = [BindingState::Active, BindingState::Locked];

/// Inserts a live binding with its MAC under `mac`; a user who already has one at this bank
/// is a `Conflict` (the partial unique index decides, not a prior read).
pub async fn insert_binding<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    row: BindingRow,
) -> Result<(), StoreError> {
    let tag = mac.binding(&row);
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
        mac: Set(Some(tag)),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The user's live (active or locked) binding at this bank; one whose MAC does not check is
/// absent.
pub async fn find_live_binding<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<BindingRow>, StoreError> {
    Ok(bindings::Entity::find()
        .filter(bindings::Column::TenantId.eq(tenant_id))
        .filter(bindings::Column::UserId.eq(user_id))
        .filter(bindings::Column::State.is_in(LIVE))
        .one(conn)
        .await?
        .filter(|row| mac.binding_holds(row)))
}

/// A binding by its ID, read with a shared row lock inside the caller's transaction (on
/// PostgreSQL; SQLite's write transaction already excludes writers), so a concurrent revoke or
/// lock either commits before the read or waits until the caller commits. One whose MAC does
/// not check is absent.
pub async fn find_binding_locked<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    binding_id: &str,
) -> Result<Option<BindingRow>, StoreError> {
    Ok(bindings::Entity::find_by_id(binding_id.to_owned())
        .lock_shared()
        .one(conn)
        .await?
        .filter(|row| mac.binding_holds(row)))
}

/// The user's most recent binding at this bank, live or not; none when its MAC does not check.
pub async fn find_latest_binding<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<BindingRow>, StoreError> {
    Ok(bindings::Entity::find()
        .filter(bindings::Column::TenantId.eq(tenant_id))
        .filter(bindings::Column::UserId.eq(user_id))
        .order_by_desc(bindings::Column::CreatedAt)
        .order_by_desc(bindings::Column::UpdatedAt)
        .one(conn)
        .await?
        .filter(|row| mac.binding_holds(row)))
}

/// Reserves one attempt on an active binding before its code is checked: `failures + 1`, only
/// while the binding is active and under `limit`. Once `limit` attempts are reserved without a
/// success no further code is even checked. Returns the count with this attempt, if granted.
pub async fn reserve_attempt<C: ConnectionTrait>(
    conn: &C,
    binding_id: &str,
    limit: i32,
    now: DateTime<Utc>,
) -> Result<Option<i32>, StoreError> {
    let reserved = bindings::Entity::update_many()
        .col_expr(
            bindings::Column::Failures,
            Expr::col(bindings::Column::Failures).add(1),
        )
        .col_expr(bindings::Column::UpdatedAt, Expr::value(now))
        .filter(bindings::Column::Id.eq(binding_id))
        .filter(bindings::Column::State.eq(BindingState::Active))
        .filter(bindings::Column::Failures.lt(limit))
        .exec_with_returning(conn)
        .await?;
    Ok(reserved.first().map(|binding| binding.failures))
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

/// Moves a binding from one of `from` states to `to`; returns whether it moved. With
/// `reset_failures`, the count starts again (unlock).
pub async fn transition_binding<C: ConnectionTrait>(
    conn: &C,
    binding_id: &str,
    from: &[BindingState],
    to: BindingState,
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

/// The banks where a credential has a live (active or locked) binding whose MAC checks.
pub async fn banks_of_credential<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    credential_id: &str,
) -> Result<Vec<String>, StoreError> {
    let mut banks: Vec<String> = bindings::Entity::find()
        .filter(bindings::Column::CredentialId.eq(credential_id))
        .filter(bindings::Column::State.is_in(LIVE))
        .all(conn)
        .await?
        .into_iter()
        .filter(|b| mac.binding_holds(b))
        .map(|b| b.tenant_id)
        .collect();
    banks.sort();
    banks.dedup();
    Ok(banks)
}

/// Every binding of a credential at every bank (live and ended), newest first; for the
/// platform operator's view of a credential, never for a bank.
pub async fn all_bindings_of_credential<C: ConnectionTrait>(
    conn: &C,
    credential_id: &str,
) -> Result<Vec<BindingRow>, StoreError> {
    Ok(bindings::Entity::find()
        .filter(bindings::Column::CredentialId.eq(credential_id))
        .order_by_desc(bindings::Column::CreatedAt)
        .limit(200)
        .all(conn)
        .await?)
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
/// bank ever sees another bank's registrations. A binding whose MAC does not check is left out.
pub async fn live_registrations_of_credential<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    credential_id: &str,
) -> Result<Vec<Registration>, StoreError> {
    let mut live = bindings::Entity::find()
        .filter(bindings::Column::CredentialId.eq(credential_id))
        .filter(bindings::Column::State.is_in(LIVE))
        .order_by_asc(bindings::Column::CreatedAt)
        .order_by_asc(bindings::Column::Id)
        .all(conn)
        .await?;
    live.retain(|row| mac.binding_holds(row));
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
