//! Audit entries waiting to be sealed into their bank's chain. A decision inserts its entry
//! here in its own transaction, without touching the chain head, so one bank's checks never
//! queue on one row; the sealer moves entries into `audit_events`, linked in order, shortly
//! after (see mamori-store's `audit` module).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditPending {
    Table,
    Id,
    TenantId,
    OccurredAt,
    Actor,
    Operation,
    Outcome,
    ErrorCode,
    UserId,
    CredentialId,
    RequestId,
    ClientAddr,
    Details,
}

const BY_TENANT: &str = "ix_audit_pending_tenant";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditPending::Table)
                    .col(big_pk_auto(AuditPending::Id))
                    .col(string(AuditPending::TenantId))
                    .col(timestamp_with_time_zone(AuditPending::OccurredAt))
                    .col(string(AuditPending::Actor))
                    .col(string(AuditPending::Operation))
                    .col(string(AuditPending::Outcome))
                    .col(string_null(AuditPending::ErrorCode))
                    .col(string_null(AuditPending::UserId))
                    .col(string_null(AuditPending::CredentialId))
                    .col(string_null(AuditPending::RequestId))
                    .col(string_null(AuditPending::ClientAddr))
                    .col(text_null(AuditPending::Details))
                    .to_owned(),
            )
            .await?;
        // The sealer takes a bank's waiting entries in insertion order.
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditPending::Table).to_owned())
            .await
    }
}
