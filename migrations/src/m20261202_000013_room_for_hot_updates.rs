//! Room on each page for a row's next version. Every accepted code updates its binding and its
//! credential; when the page holding the row is full, PostgreSQL writes the new version
//! elsewhere and adds an entry to every index of the table (five for bindings), which was most
//! of the write-ahead log a check produced (bench/profile.py: 10 index entries per check). With
//! free space the update stays on the page (a HOT update) and touches no index. PostgreSQL
//! only: SQLite updates in place.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The share of each page new rows fill; 70 leaves room for about two more versions of a
/// binding or credential row on its page between prunings.
const FILLFACTOR: u32 = 70;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_fillfactor(manager, FILLFACTOR).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_fillfactor(manager, 100).await
    }
}

async fn set_fillfactor(manager: &SchemaManager<'_>, percent: u32) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    // Pages already written keep their rows; the setting applies as rows are inserted or moved.
    for table in ["bindings", "credentials"] {
        db.execute_unprepared(&format!("ALTER TABLE {table} SET (fillfactor = {percent})"))
            .await?;
    }
    Ok(())
}
