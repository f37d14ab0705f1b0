//! MACs on the account rows that grant access: a binding (which credential a bank user's codes
//! come from), a device key (whose signature approves a push) and an API key (which bank a
//! caller is). Each is written with its row and checked on every read that decides access, so
//! a database writer without the master key cannot point a binding, a device or a key at
//! themselves. Rows written before this migration have none until an operator runs
//! `mamori keys mac-accounts`; `mamori serve` refuses to start while any are left.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Bindings {
    Table,
    Mac,
}

#[derive(DeriveIden)]
enum DeviceKeys {
    Table,
    Mac,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Mac,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for (table, column) in tables() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(text_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in tables().into_iter().rev() {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn tables() -> [(DynIden, DynIden); 3] {
    [
        (Bindings::Table.into_iden(), Bindings::Mac.into_iden()),
        (DeviceKeys::Table.into_iden(), DeviceKeys::Mac.into_iden()),
        (ApiKeys::Table.into_iden(), ApiKeys::Mac.into_iden()),
    ]
}
