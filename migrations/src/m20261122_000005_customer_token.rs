//! The customer's side: device keys of Mamori's own token, tokens issued by mail (seed 003)
//! with their outbox, and push approvals of transactions (seed 000).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Bindings {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DeviceKeys {
    Table,
    CredentialId,
    PublicKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TokenIssues {
    Table,
    Id,
    TenantId,
    UserId,
    ActivationUserId,
    MailAddress,
    PasswordHash,
    State,
    Failures,
    CredentialId,
    ExpiresAt,
    ActivatedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OutboxMails {
    Table,
    Id,
    TenantId,
    Recipient,
    Subject,
    Body,
    CreatedAt,
    ClaimedAt,
    SentAt,
    Attempts,
    LastError,
}

#[derive(DeriveIden)]
enum PushApprovals {
    Table,
    Id,
    TenantId,
    UserId,
    BindingId,
    CredentialId,
    TransactionKind,
    TransactionJson,
    TransactionHash,
    DisplayJa,
    DisplayEn,
    ChallengeNumber,
    State,
    CreatedAt,
    ExpiresAt,
    AnsweredAt,
    AnswerSignature,
    UpdatedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One device key per credential, registered when the credential is made; the private
        // half never leaves the device.
        manager
            .create_table(
                Table::create()
                    .table(DeviceKeys::Table)
                    .col(string(DeviceKeys::CredentialId).primary_key())
                    .col(string(DeviceKeys::PublicKey))
                    .col(timestamp_with_time_zone(DeviceKeys::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_device_keys_credential",
                        (DeviceKeys::Table, DeviceKeys::CredentialId),
                        (Credentials::Table, Credentials::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TokenIssues::Table)
                    .col(string(TokenIssues::Id).primary_key())
                    .col(string(TokenIssues::TenantId))
                    .col(string(TokenIssues::UserId))
                    // The ユーザID in the mail: random, so knowing a contract number is not
                    // enough to try activation passwords.
                    .col(string(TokenIssues::ActivationUserId))
                    .col(string(TokenIssues::MailAddress))
                    // argon2id of the 利用開始パスワード.
                    .col(string(TokenIssues::PasswordHash))
                    .col(string(TokenIssues::State))
                    .col(integer(TokenIssues::Failures).default(0))
                    .col(string_null(TokenIssues::CredentialId))
                    .col(timestamp_with_time_zone(TokenIssues::ExpiresAt))
                    .col(timestamp_with_time_zone_null(TokenIssues::ActivatedAt))
                    .col(timestamp_with_time_zone(TokenIssues::CreatedAt))
                    .col(timestamp_with_time_zone(TokenIssues::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_token_issues_tenant",
                        (TokenIssues::Table, TokenIssues::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_token_issues_user",
                        (TokenIssues::Table, TokenIssues::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_token_issues_credential",
                        (TokenIssues::Table, TokenIssues::CredentialId),
                        (Credentials::Table, Credentials::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_token_issues_activation_user")
                    .table(TokenIssues::Table)
                    .col(TokenIssues::TenantId)
                    .col(TokenIssues::ActivationUserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // At most one open issue (申請済) per user per bank; a reissue cancels the old one in
        // the same transaction, and the index decides between concurrent reissues.
        manager
            .create_index(
                Index::create()
                    .name("ux_token_issues_one_open_per_user")
                    .table(TokenIssues::Table)
                    .col(TokenIssues::TenantId)
                    .col(TokenIssues::UserId)
                    .unique()
                    .and_where(Expr::col(TokenIssues::State).is_in(["issued", "activated"]))
                    .to_owned(),
            )
            .await?;

        // Mails are written in the same transaction as what they announce (a transactional
        // outbox), then delivered by SMTP when configured; without SMTP the outbox is the
        // mailbox (`mamori outbox`).
        manager
            .create_table(
                Table::create()
                    .table(OutboxMails::Table)
                    .col(string(OutboxMails::Id).primary_key())
                    .col(string(OutboxMails::TenantId))
                    .col(string(OutboxMails::Recipient))
                    .col(string(OutboxMails::Subject))
                    .col(text(OutboxMails::Body))
                    .col(timestamp_with_time_zone(OutboxMails::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutboxMails::ClaimedAt))
                    .col(timestamp_with_time_zone_null(OutboxMails::SentAt))
                    .col(integer(OutboxMails::Attempts).default(0))
                    .col(text_null(OutboxMails::LastError))
                    .foreign_key(&mut fk(
                        "fk_outbox_mails_tenant",
                        (OutboxMails::Table, OutboxMails::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_mails_tenant_created")
                    .table(OutboxMails::Table)
                    .col(OutboxMails::TenantId)
                    .col(OutboxMails::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PushApprovals::Table)
                    .col(string(PushApprovals::Id).primary_key())
                    .col(string(PushApprovals::TenantId))
                    .col(string(PushApprovals::UserId))
                    .col(string(PushApprovals::BindingId))
                    .col(string(PushApprovals::CredentialId))
                    .col(string(PushApprovals::TransactionKind))
                    // The canonical transaction JSON the phone shows and whose SHA-256 it signs.
                    .col(text(PushApprovals::TransactionJson))
                    .col(string(PushApprovals::TransactionHash))
                    .col(text(PushApprovals::DisplayJa))
                    .col(text(PushApprovals::DisplayEn))
                    .col(string_null(PushApprovals::ChallengeNumber))
                    .col(string(PushApprovals::State))
                    .col(timestamp_with_time_zone(PushApprovals::CreatedAt))
                    .col(timestamp_with_time_zone(PushApprovals::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PushApprovals::AnsweredAt))
                    // The device's signature over the answer: the bank's evidence of consent.
                    .col(string_null(PushApprovals::AnswerSignature))
                    .col(timestamp_with_time_zone(PushApprovals::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_push_approvals_tenant",
                        (PushApprovals::Table, PushApprovals::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_push_approvals_user",
                        (PushApprovals::Table, PushApprovals::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_push_approvals_binding",
                        (PushApprovals::Table, PushApprovals::BindingId),
                        (Bindings::Table, Bindings::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_push_approvals_credential",
                        (PushApprovals::Table, PushApprovals::CredentialId),
                        (Credentials::Table, Credentials::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Push bombing: at most one pending approval per user per bank; a new one cancels the
        // old in the same transaction, and the index decides between concurrent ones.
        manager
            .create_index(
                Index::create()
                    .name("ux_push_approvals_one_pending_per_user")
                    .table(PushApprovals::Table)
                    .col(PushApprovals::TenantId)
                    .col(PushApprovals::UserId)
                    .unique()
                    .and_where(Expr::col(PushApprovals::State).eq("pending"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_push_approvals_credential_state")
                    .table(PushApprovals::Table)
                    .col(PushApprovals::CredentialId)
                    .col(PushApprovals::State)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_push_approvals_user_created")
                    .table(PushApprovals::Table)
                    .col(PushApprovals::TenantId)
                    .col(PushApprovals::UserId)
                    .col(PushApprovals::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PushApprovals::Table.into_iden(),
            OutboxMails::Table.into_iden(),
            TokenIssues::Table.into_iden(),
            DeviceKeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
