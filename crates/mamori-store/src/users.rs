//! Banks' contract users (契約者): inserted once, found only within their bank.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::users;
use crate::error::StoreError;

pub use crate::entities::users::Model as UserRow;

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
