//! Device keys of Mamori's own token: one Ed25519 public key per credential, registered in the
//! same transaction that creates the credential and never replaced, so a phished code can never
//! attach an attacker's device to a customer's token. Each key carries its MAC (see
//! [`crate::account_mac`]), so a database writer cannot replace it with their own either.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::account_mac::AccountMac;
use crate::entities::device_keys;
use crate::error::StoreError;

/// Registers the device key of a credential being created.
pub async fn insert_device_key<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    credential_id: &str,
    public_key: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    device_keys::Entity::insert(device_keys::ActiveModel {
        credential_id: Set(credential_id.to_owned()),
        public_key: Set(public_key.to_owned()),
        created_at: Set(now),
        mac: Set(Some(mac.device_key(credential_id, public_key))),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The device key of a credential (base64url), if the credential is a Mamori token and its
/// key's MAC checks.
pub async fn find_device_key<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    credential_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(device_keys::Entity::find_by_id(credential_id.to_owned())
        .one(conn)
        .await?
        .filter(|row| mac.device_key_holds(row))
        .map(|row| row.public_key))
}
