//! Login passwords (per contract user, under the bank's policy), their history, and the
//! short-lived single-use login IDs of the password → OTP login flow.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    PasswordHash,
    PasswordChangedAt,
    PasswordMustChange,
    PasswordFailures,
    PasswordLockedAt,
}

#[derive(DeriveIden)]
enum PasswordHistory {
    Table,
    Id,
    UserId,
    Hash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LoginSessions {
    Table,
    Id,
    TenantId,
    UserId,
    Stage,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds columns one at a time.
        for column in [
            text_null(Users::PasswordHash),
            timestamp_with_time_zone_null(Users::PasswordChangedAt),
            boolean(Users::PasswordMustChange).default(false).to_owned(),
            integer(Users::PasswordFailures).default(0).to_owned(),
            timestamp_with_time_zone_null(Users::PasswordLockedAt),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(PasswordHistory::Table)
                    .col(big_pk_auto(PasswordHistory::Id))
                    .col(string(PasswordHistory::UserId))
                    // argon2id PHC strings of earlier passwords, newest kept per policy.
                    .col(text(PasswordHistory::Hash))
                    .col(timestamp_with_time_zone(PasswordHistory::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_password_history_user")
                    .table(PasswordHistory::Table)
                    .col(PasswordHistory::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginSessions::Table)
                    .col(string(LoginSessions::Id).primary_key())
                    .col(string(LoginSessions::TenantId))
                    .col(string(LoginSessions::UserId))
                    .col(string(LoginSessions::Stage))
                    .col(timestamp_with_time_zone(LoginSessions::CreatedAt))
                    .col(timestamp_with_time_zone(LoginSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(LoginSessions::UsedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginSessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PasswordHistory::Table).to_owned())
            .await?;
        for column in [
            Users::PasswordLockedAt,
            Users::PasswordFailures,
            Users::PasswordMustChange,
            Users::PasswordChangedAt,
            Users::PasswordHash,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
