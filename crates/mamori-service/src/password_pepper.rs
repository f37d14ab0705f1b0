//! The upgrade to peppered password hashes (`mamori passwords pepper`): every hash made before
//! the pepper is wrapped where it is stored, without the clear password, so nobody has to reset
//! a password and no hash without the pepper is accepted afterwards. The next successful login
//! replaces a wrapped hash with a peppered one.

use mamori_domain::Operation;
use mamori_store::audit::PLATFORM_TENANT;
use mamori_store::hashes::{self, HASH_TABLES, HashTable, RowId};
use serde_json::json;

use crate::core::audit::AuditEntry;
use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;
use crate::passwords::Passwords;

/// How many hashes `pepper` wraps per transaction.
pub const PEPPER_BATCH: u64 = 500;

/// How many hashes of one table were made before the pepper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyHashes {
    /// The table.
    pub table: HashTable,
    /// How many.
    pub hashes: u64,
}

/// What `pepper` did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The table.
    pub table: HashTable,
    /// Hashes now wrapped with the pepper.
    pub wrapped: u64,
    /// Hashes another writer changed between read and write (left as they are: a later run
    /// finds them if they still need it).
    pub changed_meanwhile: u64,
    /// Hashes that look legacy but cannot be wrapped (not made by Mamori: another output
    /// length, associated data); left as they are, they never verify.
    pub unwrappable: u64,
}

/// The upgrade of stored password hashes to the pepper.
#[derive(Debug, Clone)]
pub struct PasswordPepper {
    core: Core,
    passwords: Passwords,
}

impl PasswordPepper {
    pub(crate) fn new(core: Core, passwords: Passwords) -> Self {
        Self { core, passwords }
    }

    /// The hashes made before the pepper, per table (tables with none left out). None of them
    /// verifies until `pepper` wraps it.
    pub async fn legacy(&self) -> Result<Vec<LegacyHashes>, ServiceError> {
        Ok(hashes::legacy_counts(self.core.db())
            .await?
            .into_iter()
            .map(|(table, hashes)| LegacyHashes { table, hashes })
            .collect())
    }

    /// Wraps every hash made before the pepper, `batch` per transaction, each write conditional
    /// on the hash being unchanged since it was read, each transaction with a
    /// `wrapPasswordHashes` entry in the platform's trail. Idempotent: a second run finds
    /// nothing to do.
    pub async fn pepper(&self, batch: u64) -> Result<Vec<Wrapped>, ServiceError> {
        let hashing = self.passwords.peppered().await?;
        self.core.audit_key_ready().await?;
        let mut report = Vec::new();
        for table in HASH_TABLES {
            let mut done = Wrapped {
                table,
                wrapped: 0,
                changed_meanwhile: 0,
                unwrappable: 0,
            };
            let mut after: Option<RowId> = None;
            loop {
                let stored =
                    hashes::legacy_hashes(self.core.db(), table, after.as_ref(), batch.max(1))
                        .await?;
                let Some(last) = stored.last() else {
                    break;
                };
                after = Some(last.id.clone());
                let (mut wrapped, mut changed) = (0, 0);
                let tx = self.core.write().await?;
                for old in &stored {
                    let Some(new) = hashing.wrap_legacy(&old.hash) else {
                        done.unwrappable += 1;
                        continue;
                    };
                    if hashes::replace_hash(&tx, table, old, &new).await? {
                        wrapped += 1;
                    } else {
                        changed += 1;
                    }
                }
                if wrapped > 0 {
                    AuditEntry::operator(
                        "cli",
                        PLATFORM_TENANT,
                        &RequestMeta::default(),
                        Operation::WrapPasswordHashes,
                        self.core.now(),
                    )
                    .details(json!({ "table": table.name, "wrapped": wrapped }))
                    .append(&tx)
                    .await?;
                }
                tx.commit().await?;
                done.wrapped += wrapped;
                done.changed_meanwhile += changed;
            }
            report.push(done);
        }
        Ok(report)
    }
}
