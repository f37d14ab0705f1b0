//! MACs on the account rows that grant access, so a database writer without the master key
//! cannot forge them: a binding (which credential's codes log a bank user in), a device key
//! (whose signature approves a push) and an API key (which bank a caller is).
//!
//! Each MAC is made in the same statement that inserts its row, and checked in memory on every
//! read that decides access; a row whose MAC does not check is treated as absent (the same
//! answer as a missing row) and logged at error level by its id. The MACs cover only what
//! grants access, never the state and counters the hot path updates: a writer can still move a
//! binding between states, which grants nothing a writer of the users table could not.

use data_encoding::HEXLOWER;
use hmac::Mac as _;
use sha2::Sha256;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::audit::encode_fields;
use crate::entities::{api_keys, bindings, device_keys};
use crate::error::StoreError;

/// What a binding's MAC covers, ahead of its fields.
const BINDING_DOMAIN: &str = "mamori/account-mac/binding/v1";
/// What a device key's MAC covers, ahead of its fields.
const DEVICE_KEY_DOMAIN: &str = "mamori/account-mac/device-key/v1";
/// What an API key's MAC covers, ahead of its fields.
const API_KEY_DOMAIN: &str = "mamori/account-mac/api-key/v1";

/// The key of the account rows' MACs: an HMAC-SHA256 key derived from the master key (an HKDF
/// subkey of the sealed root, so a master-key rotation leaves it unchanged).
#[derive(Clone)]
pub struct AccountMac([u8; 32]);

impl std::fmt::Debug for AccountMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountMac(..)")
    }
}

/// Which kind of account row, for the log and the upgrade's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountTable {
    /// `bindings`.
    Bindings,
    /// `device_keys`.
    DeviceKeys,
    /// `api_keys`.
    ApiKeys,
}

impl AccountTable {
    /// Every table whose rows carry a MAC.
    pub const ALL: [AccountTable; 3] = [Self::Bindings, Self::DeviceKeys, Self::ApiKeys];

    /// The table's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bindings => "bindings",
            Self::DeviceKeys => "device_keys",
            Self::ApiKeys => "api_keys",
        }
    }
}

impl AccountMac {
    /// The key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Whether `other` is the same key (compared in constant time).
    pub fn same_as(&self, other: &AccountMac) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }

    fn hmac(&self, fields: &[Option<&str>]) -> hmac::Hmac<Sha256> {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        encode_fields(fields, |bytes| mac.update(bytes));
        mac
    }

    fn make(&self, fields: &[Option<&str>]) -> String {
        HEXLOWER.encode(&self.hmac(fields).finalize().into_bytes())
    }

    /// Whether `stored` is the MAC of `fields`: compared in constant time, and logged at error
    /// level (by the row's id only) when it is not.
    fn holds(
        &self,
        table: AccountTable,
        id: &str,
        fields: &[Option<&str>],
        stored: Option<&str>,
    ) -> bool {
        let holds = stored
            .and_then(|text| HEXLOWER.decode(text.as_bytes()).ok())
            .is_some_and(|tag| self.hmac(fields).verify_slice(&tag).is_ok());
        if !holds {
            tracing::error!(
                table = table.name(),
                row.id = id,
                "an account row's MAC does not check (written without the master key, e.g. straight into the database): treated as absent"
            );
        }
        holds
    }

    /// The MAC of a binding: which bank's user it binds to which credential.
    pub fn binding(&self, row: &bindings::Model) -> String {
        self.make(&binding_fields(row))
    }

    /// Whether a binding read back carries its MAC (see [`Self::holds`]).
    pub fn binding_holds(&self, row: &bindings::Model) -> bool {
        self.holds(
            AccountTable::Bindings,
            &row.id,
            &binding_fields(row),
            row.mac.as_deref(),
        )
    }

    /// The MAC of a credential's device key (Mamori's token has no key id: one key per
    /// credential).
    pub fn device_key(&self, credential_id: &str, public_key: &str) -> String {
        self.make(&device_key_fields(credential_id, public_key))
    }

    /// Whether a device key read back carries its MAC (see [`Self::holds`]).
    pub fn device_key_holds(&self, row: &device_keys::Model) -> bool {
        self.holds(
            AccountTable::DeviceKeys,
            &row.credential_id,
            &device_key_fields(&row.credential_id, &row.public_key),
            row.mac.as_deref(),
        )
    }

    /// The MAC of an API key: its id, bank, prefix and stored hash.
    pub fn api_key(&self, row: &api_keys::Model) -> String {
        self.make(&api_key_fields(row))
    }

    /// Whether an API key read back carries its MAC (see [`Self::holds`]).
    pub fn api_key_holds(&self, row: &api_keys::Model) -> bool {
        self.holds(
            AccountTable::ApiKeys,
            &row.id,
            &api_key_fields(row),
            row.mac.as_deref(),
        )
    }
}

/// How many rows of `table` carry no MAC yet (written before MACs were made): `mamori serve`
/// refuses to start while there are any.
pub async fn count_without_mac<C: ConnectionTrait>(
    conn: &C,
    table: AccountTable,
) -> Result<u64, StoreError> {
    Ok(match table {
        AccountTable::Bindings => {
            bindings::Entity::find()
                .filter(bindings::Column::Mac.is_null())
                .count(conn)
                .await?
        }
        AccountTable::DeviceKeys => {
            device_keys::Entity::find()
                .filter(device_keys::Column::Mac.is_null())
                .count(conn)
                .await?
        }
        AccountTable::ApiKeys => {
            api_keys::Entity::find()
                .filter(api_keys::Column::Mac.is_null())
                .count(conn)
                .await?
        }
    })
}

/// Gives up to `batch` rows of `table` without a MAC, after the id `after`, their MAC under
/// `mac`: each write conditional on the row still having none and still holding the fields the
/// MAC was made over, so a row changed meanwhile is left for a later run. Returns the rows read,
/// how many were given their MAC, and the last id read (the cursor of the next page).
pub async fn mac_missing<C: ConnectionTrait>(
    conn: &C,
    mac: &AccountMac,
    table: AccountTable,
    after: Option<&str>,
    batch: u64,
) -> Result<(u64, u64, Option<String>), StoreError> {
    let (mut read, mut macked, mut last) = (0, 0, None);
    match table {
        AccountTable::Bindings => {
            let mut query = bindings::Entity::find()
                .filter(bindings::Column::Mac.is_null())
                .order_by_asc(bindings::Column::Id)
                .limit(batch);
            if let Some(after) = after {
                query = query.filter(bindings::Column::Id.gt(after));
            }
            for row in query.all(conn).await? {
                read += 1;
                let done = bindings::Entity::update_many()
                    .col_expr(bindings::Column::Mac, Expr::value(mac.binding(&row)))
                    .filter(bindings::Column::Id.eq(&row.id))
                    .filter(bindings::Column::Mac.is_null())
                    .filter(bindings::Column::TenantId.eq(&row.tenant_id))
                    .filter(bindings::Column::UserId.eq(&row.user_id))
                    .filter(bindings::Column::CredentialId.eq(&row.credential_id))
                    .exec(conn)
                    .await?;
                macked += done.rows_affected;
                last = Some(row.id);
            }
        }
        AccountTable::DeviceKeys => {
            let mut query = device_keys::Entity::find()
                .filter(device_keys::Column::Mac.is_null())
                .order_by_asc(device_keys::Column::CredentialId)
                .limit(batch);
            if let Some(after) = after {
                query = query.filter(device_keys::Column::CredentialId.gt(after));
            }
            for row in query.all(conn).await? {
                read += 1;
                let tag = mac.device_key(&row.credential_id, &row.public_key);
                let done = device_keys::Entity::update_many()
                    .col_expr(device_keys::Column::Mac, Expr::value(tag))
                    .filter(device_keys::Column::CredentialId.eq(&row.credential_id))
                    .filter(device_keys::Column::Mac.is_null())
                    .filter(device_keys::Column::PublicKey.eq(&row.public_key))
                    .exec(conn)
                    .await?;
                macked += done.rows_affected;
                last = Some(row.credential_id);
            }
        }
        AccountTable::ApiKeys => {
            let mut query = api_keys::Entity::find()
                .filter(api_keys::Column::Mac.is_null())
                .order_by_asc(api_keys::Column::Id)
                .limit(batch);
            if let Some(after) = after {
                query = query.filter(api_keys::Column::Id.gt(after));
            }
            for row in query.all(conn).await? {
                read += 1;
                let done = api_keys::Entity::update_many()
                    .col_expr(api_keys::Column::Mac, Expr::value(mac.api_key(&row)))
                    .filter(api_keys::Column::Id.eq(&row.id))
                    .filter(api_keys::Column::Mac.is_null())
                    .filter(api_keys::Column::TenantId.eq(&row.tenant_id))
                    .filter(api_keys::Column::Prefix.eq(&row.prefix))
                    .filter(api_keys::Column::KeyHash.eq(&row.key_hash))
                    .exec(conn)
                    .await?;
                macked += done.rows_affected;
                last = Some(row.id);
            }
        }
    }
    Ok((read, macked, last))
}

fn binding_fields(row: &bindings::Model) -> [Option<&str>; 5] {
    [
        Some(BINDING_DOMAIN),
        Some(&row.id),
        Some(&row.tenant_id),
        Some(&row.user_id),
        Some(&row.credential_id),
    ]
}

fn device_key_fields<'a>(credential_id: &'a str, public_key: &'a str) -> [Option<&'a str>; 4] {
    // The key id, absent: kept in the encoding so a later key id cannot collide with today's.
    [
        Some(DEVICE_KEY_DOMAIN),
        Some(credential_id),
        None,
        Some(public_key),
    ]
}

fn api_key_fields(row: &api_keys::Model) -> [Option<&str>; 5] {
    [
        Some(API_KEY_DOMAIN),
        Some(&row.id),
        Some(&row.tenant_id),
        Some(&row.prefix),
        Some(&row.key_hash),
    ]
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use mamori_domain::BindingState;

    use super::*;

    fn binding() -> bindings::Model {
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        bindings::Model {
            id: "bind_1".into(),
            tenant_id: "jonan-shinkin".into(),
            user_id: "7100001".into(),
            credential_id: "VSMT00003896".into(),
            state: BindingState::Active,
            failures: 0,
            last_success_at: None,
            created_at: at,
            updated_at: at,
            mac: None,
        }
    }

    #[test]
    fn a_binding_pointed_at_another_credential_does_not_check() {
        let key = AccountMac::new([7; 32]);
        let mut row = binding();
        row.mac = Some(key.binding(&row));
        assert!(key.binding_holds(&row));
        // State and counters are not covered: the hot path changes them.
        row.failures = 3;
        row.state = BindingState::Locked;
        assert!(key.binding_holds(&row));
        row.credential_id = "VSMT00009999".into();
        assert!(!key.binding_holds(&row));
    }

    #[test]
    fn no_mac_a_garbled_one_or_another_keys_does_not_check() {
        let key = AccountMac::new([7; 32]);
        let mut row = binding();
        assert!(!key.binding_holds(&row));
        row.mac = Some("zz".into());
        assert!(!key.binding_holds(&row));
        row.mac = Some(AccountMac::new([8; 32]).binding(&row));
        assert!(!key.binding_holds(&row));
    }

    #[test]
    fn kinds_never_share_a_mac() {
        let key = AccountMac::new([7; 32]);
        // The same text in the same places under two kinds.
        let device = key.device_key("VSMT00003896", "key");
        let row = device_keys::Model {
            credential_id: "VSMT00003896".into(),
            public_key: "key".into(),
            created_at: binding().created_at,
            mac: Some(device.clone()),
        };
        assert!(key.device_key_holds(&row));
        assert_ne!(device, key.binding(&binding()));
    }
}
