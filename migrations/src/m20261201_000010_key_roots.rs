//! Roots of derived keys: one random secret per purpose family (today `subkeys`), sealed with
//! the master key like a token secret. Webhook secrets and the console's anti-forgery key are
//! HKDF subkeys of it, so a master-key rotation re-seals the root and changes none of them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KeyRoots {
    Table,
    Name,
    SealedRoot,
    SealedWith,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KeyRoots::Table)
                    // The first node to need the root inserts it; the primary key decides
                    // which of two concurrent inserts wins.
                    .col(string(KeyRoots::Name).primary_key())
                    .col(blob(KeyRoots::SealedRoot))
                    .col(string(KeyRoots::SealedWith))
                    .col(timestamp_with_time_zone(KeyRoots::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KeyRoots::Table).to_owned())
            .await
    }
}
