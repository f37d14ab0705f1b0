//! Idempotency keys of the Bank API: one row per bank and key, holding the fingerprint of the
//! request that claimed it and, once answered, that answer, so a retry on any node gets it.
//! The primary key decides which of two concurrent requests claims a key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    TenantId,
    IdemKey,
    Fingerprint,
    ClaimId,
    LeaseUntil,
    ExpiresAt,
    Status,
    Headers,
    Body,
}

const EXPIRY_INDEX: &str = "ix_idempotency_keys_expires_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(string(IdempotencyKeys::TenantId))
                    .col(string(IdempotencyKeys::IdemKey))
                    .col(string(IdempotencyKeys::Fingerprint))
                    // Which request holds the claim: the one that stores the answer must still.
                    .col(string(IdempotencyKeys::ClaimId))
                    .col(timestamp_with_time_zone(IdempotencyKeys::LeaseUntil))
                    .col(timestamp_with_time_zone(IdempotencyKeys::ExpiresAt))
                    // NULL until answered.
                    .col(integer_null(IdempotencyKeys::Status))
                    .col(text_null(IdempotencyKeys::Headers))
                    .col(blob_null(IdempotencyKeys::Body))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::TenantId)
                            .col(IdempotencyKeys::IdemKey),
                    )
                    .to_owned(),
            )
            .await?;
        // The sweep deletes expired keys by this.
        manager
            .create_index(
                Index::create()
                    .name(EXPIRY_INDEX)
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
