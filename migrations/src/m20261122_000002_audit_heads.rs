//! The head of each tenant's audit hash chain: its last sequence number and hash.
//!
//! Appending locks this one row, so two concurrent appends to one tenant's chain queue instead
//! of both linking to the same predecessor; appends for different tenants do not contend.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditHeads {
    Table,
    TenantId,
    Seq,
    Hash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditHeads::Table)
                    .col(string(AuditHeads::TenantId).primary_key())
                    .col(big_integer(AuditHeads::Seq))
                    .col(string(AuditHeads::Hash))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditHeads::Table).to_owned())
            .await
    }
}
