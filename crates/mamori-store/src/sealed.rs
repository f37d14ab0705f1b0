//! Every record sealed with the master key, across tables: what the start-up check probes and
//! what `mamori keys reseal` re-encrypts. Each sealed column has the id of the key that sealed
//! it beside it; a record's associated data (AAD) is its row's ID.
//!
//! A table that gains a sealed column must be listed in [`SEALED_TABLES`], or a key check would
//! miss it and a reseal would leave it under a key about to be dropped.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::entities::key_roots;
use crate::error::StoreError;

/// A root of derived keys, sealed.
pub use crate::entities::key_roots::Model as KeyRootRow;

/// A table holding sealed records: its primary key (the AAD of the seal), the sealed blob and
/// the id of the key that sealed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedTable {
    /// The table's name.
    pub name: &'static str,
    /// What its records are, for an operator's message.
    pub what: &'static str,
    id: &'static str,
    blob: &'static str,
    key_id: &'static str,
}

/// Every table with a sealed column.
pub const SEALED_TABLES: [SealedTable; 4] = [
    SealedTable {
        name: "credentials",
        what: "token secrets",
        id: "id",
        blob: "secret_ciphertext",
        key_id: "secret_key_id",
    },
    SealedTable {
        name: "operators",
        what: "operators' authenticator secrets",
        id: "id",
        blob: "totp_ciphertext",
        key_id: "totp_key_id",
    },
    SealedTable {
        name: "signing_keys",
        what: "receipt signing keys",
        id: "kid",
        blob: "sealed_seed",
        key_id: "sealed_with",
    },
    SealedTable {
        name: "key_roots",
        what: "the root of derived keys",
        id: "name",
        blob: "sealed_root",
        key_id: "sealed_with",
    },
];

/// How many records of a table one master key sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// The table.
    pub table: SealedTable,
    /// The master key's id.
    pub key_id: String,
    /// How many records.
    pub records: u64,
}

/// One sealed record as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRecord {
    /// The row's ID: the seal's associated data.
    pub id: String,
    /// The id of the key that sealed it.
    pub key_id: String,
    /// Nonce, ciphertext and tag.
    pub blob: Vec<u8>,
}

impl std::fmt::Debug for SealedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SealedRecord(id={}, key_id={}, {} bytes)",
            self.id,
            self.key_id,
            self.blob.len()
        )
    }
}

/// Which master keys sealed how many records, per table (tables with none left out).
pub async fn key_uses<C: ConnectionTrait>(conn: &C) -> Result<Vec<KeyUse>, StoreError> {
    let mut uses = Vec::new();
    for table in SEALED_TABLES {
        let query = Query::select()
            .expr_as(Expr::col(Alias::new(table.key_id)), Alias::new("key_id"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from(Alias::new(table.name))
            .and_where(Expr::col(Alias::new(table.key_id)).is_not_null())
            .and_where(Expr::col(Alias::new(table.blob)).is_not_null())
            .group_by_col(Alias::new(table.key_id))
            .order_by(Alias::new(table.key_id), Order::Asc)
            .to_owned();
        let statement = conn.get_database_backend().build(&query);
        for row in conn.query_all_raw(statement).await? {
            let records: i64 = row.try_get("", "n")?;
            uses.push(KeyUse {
                table,
                key_id: row.try_get("", "key_id")?,
                records: u64::try_from(records).unwrap_or_default(),
            });
        }
    }
    Ok(uses)
}

/// One record of `table` sealed with `key_id` (the first by ID), to probe the key with.
pub async fn one_sealed_with<C: ConnectionTrait>(
    conn: &C,
    table: SealedTable,
    key_id: &str,
) -> Result<Option<SealedRecord>, StoreError> {
    let query = select_records(table)
        .and_where(Expr::col(Alias::new(table.key_id)).eq(key_id))
        .limit(1)
        .to_owned();
    Ok(records(conn, &query).await?.into_iter().next())
}

/// Up to `limit` records of `table` not sealed with `key_id`, by ID, after `after`.
pub async fn sealed_not_with<C: ConnectionTrait>(
    conn: &C,
    table: SealedTable,
    key_id: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<SealedRecord>, StoreError> {
    let mut query = select_records(table);
    query
        .and_where(Expr::col(Alias::new(table.key_id)).ne(key_id))
        .limit(limit);
    if let Some(after) = after {
        query.and_where(Expr::col(Alias::new(table.id)).gt(after));
    }
    records(conn, &query).await
}

/// Replaces a record's seal with one under another key, only if the record still holds
/// exactly `old` (same key id, same blob): a record changed meanwhile (re-enrolled, or
/// re-sealed by another node) is left alone. Returns whether it was replaced.
pub async fn replace_seal<C: ConnectionTrait>(
    conn: &C,
    table: SealedTable,
    old: &SealedRecord,
    blob: Vec<u8>,
    key_id: &str,
) -> Result<bool, StoreError> {
    let query = Query::update()
        .table(Alias::new(table.name))
        .value(Alias::new(table.blob), blob)
        .value(Alias::new(table.key_id), key_id)
        .and_where(Expr::col(Alias::new(table.id)).eq(old.id.as_str()))
        .and_where(Expr::col(Alias::new(table.key_id)).eq(old.key_id.as_str()))
        .and_where(Expr::col(Alias::new(table.blob)).eq(old.blob.clone()))
        .to_owned();
    let statement = conn.get_database_backend().build(&query);
    Ok(conn.execute_raw(statement).await?.rows_affected() == 1)
}

fn select_records(table: SealedTable) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr_as(Expr::col(Alias::new(table.id)), Alias::new("id"))
        .expr_as(Expr::col(Alias::new(table.key_id)), Alias::new("key_id"))
        .expr_as(Expr::col(Alias::new(table.blob)), Alias::new("blob"))
        .from(Alias::new(table.name))
        .and_where(Expr::col(Alias::new(table.key_id)).is_not_null())
        .and_where(Expr::col(Alias::new(table.blob)).is_not_null())
        .order_by(Alias::new(table.id), Order::Asc)
        .to_owned()
}

async fn records<C: ConnectionTrait>(
    conn: &C,
    query: &sea_orm::sea_query::SelectStatement,
) -> Result<Vec<SealedRecord>, StoreError> {
    let statement = conn.get_database_backend().build(query);
    conn.query_all_raw(statement)
        .await?
        .into_iter()
        .map(|row| {
            Ok(SealedRecord {
                id: row.try_get("", "id")?,
                key_id: row.try_get("", "key_id")?,
                blob: row.try_get("", "blob")?,
            })
        })
        .collect()
}

/// The root named `name`, if one was stored.
pub async fn find_key_root<C: ConnectionTrait>(
    conn: &C,
    name: &str,
) -> Result<Option<KeyRootRow>, StoreError> {
    Ok(key_roots::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await?)
}

/// Stores a root unless one of that name exists (the first of two concurrent nodes wins; the
/// other reads the winner's).
pub async fn insert_key_root_if_absent<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    sealed_root: Vec<u8>,
    sealed_with: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    key_roots::Entity::insert(key_roots::ActiveModel {
        name: Set(name.to_owned()),
        sealed_root: Set(sealed_root),
        sealed_with: Set(sealed_with.to_owned()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(key_roots::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
