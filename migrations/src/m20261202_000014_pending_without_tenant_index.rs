//! The waiting audit entries lose their index by bank. Every code check inserts one waiting
//! entry, and each index of `audit_pending` is one more B-tree entry written (and vacuumed)
//! in the check's own statement: bench/profile.py counted 8.2–8.3 B-tree entries per check
//! with it and 7.1–7.5 without, and 2.0 against 1.9 KB of WAL. What it served reads a table the
//! sealer empties every second — a few thousand rows — so the sealer's scan of them costs less
//! than the index cost the checks.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditPending {
    Table,
    Id,
    TenantId,
}

const BY_TENANT: &str = "ix_audit_pending_tenant";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(BY_TENANT)
                    .table(AuditPending::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(BY_TENANT)
                    .table(AuditPending::Table)
                    .col(AuditPending::TenantId)
                    .col(AuditPending::Id)
                    .to_owned(),
            )
            .await
    }
}
