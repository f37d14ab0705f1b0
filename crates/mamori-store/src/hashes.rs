//! Every stored password hash, across tables: what `mamori serve` checks for hashes made before
//! the pepper, and what `mamori passwords pepper` wraps. A row's hash is only ever replaced
//! over the exact hash that was read, so a password changed meanwhile is never overwritten.
//!
//! A table that gains a password hash column must be listed in [`HASH_TABLES`], or its hashes
//! would stay unwrapped and never verify again.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, SimpleExpr, Value};

use crate::error::StoreError;

/// A table holding password hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashTable {
    /// The table's name.
    pub name: &'static str,
    /// What its hashes are, for an operator's message.
    pub what: &'static str,
    id: &'static str,
    hash: &'static str,
    numeric_id: bool,
}

/// Contract users' login passwords.
pub const USERS: HashTable = HashTable {
    name: "users",
    what: "contract users' login passwords",
    id: "id",
    hash: "password_hash",
    numeric_id: false,
};

/// Operators' console passwords.
pub const OPERATORS: HashTable = HashTable {
    name: "operators",
    what: "operators' console passwords",
    id: "id",
    hash: "password_hash",
    numeric_id: false,
};

/// Every table with a password hash column.
pub const HASH_TABLES: [HashTable; 4] = [
    USERS,
    HashTable {
        name: "password_history",
        what: "contract users' earlier login passwords",
        id: "id",
        hash: "hash",
        numeric_id: true,
    },
    OPERATORS,
    HashTable {
        name: "token_issues",
        what: "activation passwords of issued tokens",
        id: "id",
        hash: "password_hash",
        numeric_id: false,
    },
];

/// A row's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowId {
    /// A text key.
    Text(String),
    /// A numeric key.
    Number(i64),
}

impl From<&RowId> for Value {
    fn from(id: &RowId) -> Self {
        match id {
            RowId::Text(id) => id.clone().into(),
            RowId::Number(id) => (*id).into(),
        }
    }
}

/// One stored hash.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash {
    /// The row's key.
    pub id: RowId,
    /// The PHC string.
    pub hash: String,
}

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredHash({:?})", self.id)
    }
}

/// Argon2id PHC strings without a `keyid` parameter: made before the pepper.
fn legacy(table: HashTable) -> SimpleExpr {
    let hash = || Expr::col(Alias::new(table.hash));
    hash().like("$argon2id$%").and(hash().not_like("%keyid=%"))
}

/// How many hashes made before the pepper each table holds (tables with none left out).
pub async fn legacy_counts<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<(HashTable, u64)>, StoreError> {
    let mut counts = Vec::new();
    for table in HASH_TABLES {
        let query = Query::select()
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from(Alias::new(table.name))
            .and_where(legacy(table))
            .to_owned();
        let statement = conn.get_database_backend().build(&query);
        if let Some(row) = conn.query_one_raw(statement).await? {
            let n: i64 = row.try_get("", "n")?;
            if n > 0 {
                counts.push((table, u64::try_from(n).unwrap_or_default()));
            }
        }
    }
    Ok(counts)
}

/// Up to `limit` hashes of `table` made before the pepper, by row key, after `after`.
pub async fn legacy_hashes<C: ConnectionTrait>(
    conn: &C,
    table: HashTable,
    after: Option<&RowId>,
    limit: u64,
) -> Result<Vec<StoredHash>, StoreError> {
    let mut query = Query::select()
        .expr_as(Expr::col(Alias::new(table.id)), Alias::new("id"))
        .expr_as(Expr::col(Alias::new(table.hash)), Alias::new("hash"))
        .from(Alias::new(table.name))
        .and_where(legacy(table))
        .order_by(Alias::new(table.id), Order::Asc)
        .limit(limit)
        .to_owned();
    if let Some(after) = after {
        query.and_where(Expr::col(Alias::new(table.id)).gt(Value::from(after)));
    }
    let statement = conn.get_database_backend().build(&query);
    conn.query_all_raw(statement)
        .await?
        .into_iter()
        .map(|row| {
            let id = if table.numeric_id {
                RowId::Number(row.try_get("", "id")?)
            } else {
                RowId::Text(row.try_get("", "id")?)
            };
            Ok(StoredHash {
                id,
                hash: row.try_get("", "hash")?,
            })
        })
        .collect()
}

/// Replaces a row's hash with `new`, only if it still holds exactly `old.hash`. Returns whether
/// it was replaced.
pub async fn replace_hash<C: ConnectionTrait>(
    conn: &C,
    table: HashTable,
    old: &StoredHash,
    new: &str,
) -> Result<bool, StoreError> {
    let query = Query::update()
        .table(Alias::new(table.name))
        .value(Alias::new(table.hash), new)
        .and_where(Expr::col(Alias::new(table.id)).eq(Value::from(&old.id)))
        .and_where(Expr::col(Alias::new(table.hash)).eq(old.hash.as_str()))
        .to_owned();
    let statement = conn.get_database_backend().build(&query);
    Ok(conn.execute_raw(statement).await?.rows_affected() == 1)
}
