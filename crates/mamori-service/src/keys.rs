//! The master keys' life in the database: which keys the sealed records need (the start-up
//! check), the root of derived keys, and re-sealing every record under the current key so an
//! old key can be retired (`mamori keys reseal`), and the MACs of the account rows written
//! before they carried one (`mamori keys mac-accounts`).

use mamori_crypto::{KeyError, SealedSecret};
use mamori_domain::{AuditOutcome, Operation};
use mamori_store::account_mac::{self, AccountTable};
use mamori_store::audit::{NewAuditEvent, PLATFORM_TENANT};
use mamori_store::sealed::{
    self, KeyUse, SEALED_TABLES, SealedRecord, SealedTable, find_key_root,
    insert_key_root_if_absent,
};

use crate::core::Core;
use crate::error::ServiceError;

/// The name of the root every subkey is derived from (its row in `key_roots`, and the AAD of
/// its seal).
const SUBKEY_ROOT: &str = "subkeys";

/// How many records `reseal` re-encrypts per transaction.
pub const RESEAL_BATCH: u64 = 200;

/// How many rows `mac-accounts` gives their MAC per transaction.
pub const MAC_BATCH: u64 = 500;

/// Account rows of one table without a MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmacked {
    /// The table.
    pub table: AccountTable,
    /// How many rows carry no MAC.
    pub rows: u64,
}

/// What `mac-accounts` did to one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Macked {
    /// The table.
    pub table: AccountTable,
    /// Rows given their MAC.
    pub macked: u64,
    /// Rows another writer changed between read and write (left without a MAC: a later run
    /// finds them).
    pub changed_meanwhile: u64,
}

/// Records this process's keys cannot open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unopenable {
    /// Which records, sealed with which key, how many.
    pub sealed: KeyUse,
    /// Why not.
    pub why: Unopened,
}

/// Why records do not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unopened {
    /// No key with their key id is given (neither current nor old).
    KeyNotGiven,
    /// A key with that id is given, but a probe record does not open (altered data, or a
    /// record moved to another row).
    DoesNotOpen,
}

/// What `reseal` did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    /// The table.
    pub table: SealedTable,
    /// Records now sealed with the current key.
    pub resealed: u64,
    /// Records another writer changed between read and write (left as they are: a later run
    /// finds them if they still need it).
    pub changed_meanwhile: u64,
}

/// The master keys' life in the database.
#[derive(Debug, Clone)]
pub struct MasterKeys {
    core: Core,
}

impl MasterKeys {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// The id of the key new records are sealed with.
    pub fn current_key_id(&self) -> String {
        self.core.keyring().current_key_id()
    }

    /// Which keys sealed how many records, per table.
    pub async fn key_uses(&self) -> Result<Vec<KeyUse>, ServiceError> {
        Ok(sealed::key_uses(self.core.db()).await?)
    }

    /// The sealed records this process cannot open: for each table and key id, the key must be
    /// given and one record sealed with it must open. Empty when every record opens.
    pub async fn unopenable(&self) -> Result<Vec<Unopenable>, ServiceError> {
        let db = self.core.db();
        let keyring = self.core.keyring();
        let mut unopenable = Vec::new();
        for used in sealed::key_uses(db).await? {
            let why = if !keyring.holds(&used.key_id) {
                Some(Unopened::KeyNotGiven)
            } else {
                match sealed::one_sealed_with(db, used.table, &used.key_id).await? {
                    Some(record) if self.open(&record).is_err() => Some(Unopened::DoesNotOpen),
                    _ => None,
                }
            };
            if let Some(why) = why {
                unopenable.push(Unopenable { sealed: used, why });
            }
        }
        Ok(unopenable)
    }

    /// Loads (or, on the first start, creates) the root of derived keys and installs it in the
    /// keyring, so every subkey is ready.
    pub async fn load_subkey_root(&self) -> Result<(), ServiceError> {
        subkey(&self.core, "mamori/check/v1").await.map(|_| ())
    }

    /// Loads the account rows' MAC key into the database handle, for a tool that writes
    /// bindings and API keys through the store itself (`mamori seed`).
    pub async fn load_account_mac(&self) -> Result<(), ServiceError> {
        self.core.account_mac().await.map(|_| ())
    }

    /// The account tables with rows written before they carried a MAC: `mamori serve` refuses
    /// to start while there are any (every read that decides access would treat them as
    /// absent). Empty when every row has its MAC.
    pub async fn unmacked_accounts(&self) -> Result<Vec<Unmacked>, ServiceError> {
        let mut unmacked = Vec::new();
        for table in AccountTable::ALL {
            let rows = account_mac::count_without_mac(self.core.db(), table).await?;
            if rows > 0 {
                unmacked.push(Unmacked { table, rows });
            }
        }
        Ok(unmacked)
    }

    /// Gives every binding, device key and API key without a MAC its MAC, `batch` rows per
    /// transaction, each write conditional on the row still having none (so a second run, or
    /// one beside running nodes, is safe), and records a `macAccountRows` entry in the
    /// platform's trail when it gave any. For an operator, once, at the upgrade: it vouches
    /// for whatever the rows hold at that moment.
    pub async fn mac_accounts(&self, batch: u64) -> Result<Vec<Macked>, ServiceError> {
        let mac = self.core.account_mac().await?;
        let mut report = Vec::new();
        for table in AccountTable::ALL {
            let mut done = Macked {
                table,
                macked: 0,
                changed_meanwhile: 0,
            };
            let mut after: Option<String> = None;
            loop {
                let tx = self.core.write().await?;
                let (read, macked, last) =
                    account_mac::mac_missing(&tx, mac, table, after.as_deref(), batch.max(1))
                        .await?;
                tx.commit().await?;
                done.macked += macked;
                done.changed_meanwhile += read - macked;
                match last {
                    Some(last) => after = Some(last),
                    None => break,
                }
            }
            report.push(done);
        }
        if report.iter().any(|done| done.macked > 0) {
            let mut details = serde_json::Map::new();
            for done in &report {
                details.insert(done.table.name().to_owned(), done.macked.into());
            }
            let event = NewAuditEvent {
                tenant_id: PLATFORM_TENANT.to_owned(),
                actor: "system".to_owned(),
                operation: Operation::MacAccountRows,
                outcome: AuditOutcome::Success,
                error_code: None,
                user_id: None,
                credential_id: None,
                request_id: None,
                client_addr: None,
                details: Some(serde_json::Value::Object(details)),
            };
            let tx = self.core.write().await?;
            tx.append_audit(vec![event], self.core.now()).await?;
            tx.commit().await?;
        }
        Ok(report)
    }

    /// Re-encrypts every sealed record not under the current master key with it, `batch`
    /// records per transaction, each write conditional on the record being unchanged since it
    /// was read (so nodes sealing concurrently, or a second `reseal`, are safe). Idempotent: a
    /// second run finds nothing to do.
    pub async fn reseal(&self, batch: u64) -> Result<Vec<Resealed>, ServiceError> {
        let keyring = self.core.keyring();
        let current = keyring.current_key_id();
        let mut report = Vec::new();
        for table in SEALED_TABLES {
            let mut done = Resealed {
                table,
                resealed: 0,
                changed_meanwhile: 0,
            };
            let mut after: Option<String> = None;
            loop {
                let records = sealed::sealed_not_with(
                    self.core.db(),
                    table,
                    &current,
                    after.as_deref(),
                    batch.max(1),
                )
                .await?;
                let Some(last) = records.last() else {
                    break;
                };
                after = Some(last.id.clone());
                let mut fresh = Vec::with_capacity(records.len());
                for record in &records {
                    let secret = self.open(record).map_err(|e| {
                        ServiceError::internal(format!(
                            "{} {} (sealed with {}): {e}",
                            table.name, record.id, record.key_id
                        ))
                    })?;
                    let sealed = keyring
                        .seal(&secret, record.id.as_bytes())
                        .map_err(ServiceError::internal)?;
                    fresh.push(sealed);
                }
                let tx = self.core.write().await?;
                for (record, sealed) in records.iter().zip(fresh) {
                    if sealed::replace_seal(&tx, table, record, sealed.blob, &sealed.key_id).await?
                    {
                        done.resealed += 1;
                    } else {
                        done.changed_meanwhile += 1;
                    }
                }
                tx.commit().await?;
            }
            report.push(done);
        }
        Ok(report)
    }

    fn open(&self, record: &SealedRecord) -> Result<Vec<u8>, KeyError> {
        self.core.keyring().open(
            &SealedSecret {
                key_id: record.key_id.clone(),
                blob: record.blob.clone(),
            },
            record.id.as_bytes(),
        )
    }
}

/// The subkey for `purpose` (see [`mamori_crypto::Keyring::subkey`]), loading the root from
/// the database the first time: a root sealed there already (by any node) is opened, else a
/// new one is sealed and stored, the first of two concurrent nodes winning.
pub(crate) async fn subkey(core: &Core, purpose: &str) -> Result<[u8; 32], ServiceError> {
    let keyring = core.keyring();
    if keyring.is_stand_in() {
        return Err(ServiceError::internal(
            "this needs the master key, and the command was started without it",
        ));
    }
    if !keyring.has_subkey_root() {
        let db = core.db();
        let row = match find_key_root(db, SUBKEY_ROOT).await? {
            Some(row) => row,
            None => {
                let root = mamori_crypto::Keyring::generate_subkey_root()
                    .map_err(ServiceError::internal)?;
                let sealed = keyring
                    .seal(&root, SUBKEY_ROOT.as_bytes())
                    .map_err(ServiceError::internal)?;
                insert_key_root_if_absent(db, SUBKEY_ROOT, sealed.blob, &sealed.key_id, core.now())
                    .await?;
                find_key_root(db, SUBKEY_ROOT).await?.ok_or_else(|| {
                    ServiceError::internal("the subkey root vanished after it was stored")
                })?
            }
        };
        let opened = keyring
            .open(
                &SealedSecret {
                    key_id: row.sealed_with,
                    blob: row.sealed_root,
                },
                SUBKEY_ROOT.as_bytes(),
            )
            .map_err(|e| ServiceError::internal(format!("the subkey root: {e}")))?;
        let root: [u8; 32] = opened
            .try_into()
            .map_err(|_| ServiceError::internal("the subkey root is not 32 bytes"))?;
        keyring.install_subkey_root(root);
    }
    keyring.subkey(purpose).map_err(ServiceError::internal)
}
