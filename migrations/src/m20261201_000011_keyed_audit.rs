//! The keyed audit chain: each waiting entry carries a MAC made when it was written, and each
//! chain head says whether its chain is linked with the keyed MAC yet. Chains written before
//! this migration stay unkeyed until the first sealer run with the key checks and re-links
//! them (see mamori-store's `sealer` module).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditPending {
    Table,
    Mac,
}

#[derive(DeriveIden)]
enum AuditHeads {
    Table,
    Keyed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(AuditPending::Table)
                    .add_column(text_null(AuditPending::Mac))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditHeads::Table)
                    .add_column(boolean(AuditHeads::Keyed).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditHeads::Table)
                    .drop_column(AuditHeads::Keyed)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditPending::Table)
                    .drop_column(AuditPending::Mac)
                    .to_owned(),
            )
            .await
    }
}
