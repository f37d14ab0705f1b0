//! The foundation schema: tenants, their API keys, contract users, credentials (tokens),
//! bindings of credentials to users, counters for rate limits, and the audit trail.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    NameJa,
    NameEn,
    Policy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Prefix,
    KeyHash,
    Label,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    ContractNumber,
    UserCode,
    DisplayName,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Id,
    Kind,
    Algorithm,
    Digits,
    Period,
    SecretCiphertext,
    SecretKeyId,
    DriftSteps,
    LastUsedStep,
    HotpNextCounter,
    Failures,
    SuspendedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Bindings {
    Table,
    Id,
    TenantId,
    UserId,
    CredentialId,
    State,
    Failures,
    LastSuccessAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Counters {
    Table,
    Key,
    WindowStart,
    Count,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    Seq,
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
    PrevHash,
    Hash,
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
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(string(Tenants::Id).primary_key())
                    .col(string(Tenants::NameJa))
                    .col(string(Tenants::NameEn))
                    // The whole policy as JSON: it is read as one value and versioned with the
                    // tenant config file, so splitting it into columns would only add joins.
                    .col(text(Tenants::Policy))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(string(ApiKeys::Id).primary_key())
                    .col(string(ApiKeys::TenantId))
                    // The public part of a key, used to find its row; the rest is only hashed.
                    .col(string_uniq(ApiKeys::Prefix))
                    .col(string(ApiKeys::KeyHash))
                    .col(string(ApiKeys::Label))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(&mut fk(
                        "fk_api_keys_tenant",
                        (ApiKeys::Table, ApiKeys::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string(Users::Id).primary_key())
                    .col(string(Users::TenantId))
                    .col(string(Users::ContractNumber))
                    // Empty when the bank has no user IDs under a contract (personal IB), so the
                    // unique index below also covers those users (NULLs would never collide).
                    .col(string(Users::UserCode))
                    .col(string(Users::DisplayName))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_users_tenant",
                        (Users::Table, Users::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_contract")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Users::ContractNumber)
                    .col(Users::UserCode)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Credentials::Table)
                    .col(string(Credentials::Id).primary_key())
                    .col(string(Credentials::Kind))
                    .col(string(Credentials::Algorithm))
                    .col(small_integer(Credentials::Digits))
                    .col(integer(Credentials::Period))
                    // AES-256-GCM(nonce || ciphertext || tag) with the credential ID as AAD.
                    .col(blob(Credentials::SecretCiphertext))
                    .col(string(Credentials::SecretKeyId))
                    // Learned offset of the token's clock (or counter), shared by all banks.
                    .col(big_integer(Credentials::DriftSteps).default(0))
                    // The last spent TOTP step: every step at or before it is refused forever.
                    .col(big_integer_null(Credentials::LastUsedStep))
                    .col(big_integer(Credentials::HotpNextCounter).default(0))
                    // Platform-wide consecutive failures across all banks (guess budget).
                    .col(integer(Credentials::Failures).default(0))
                    .col(timestamp_with_time_zone_null(Credentials::SuspendedAt))
                    .col(timestamp_with_time_zone(Credentials::CreatedAt))
                    .col(timestamp_with_time_zone(Credentials::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Bindings::Table)
                    .col(string(Bindings::Id).primary_key())
                    .col(string(Bindings::TenantId))
                    .col(string(Bindings::UserId))
                    .col(string(Bindings::CredentialId))
                    .col(string(Bindings::State))
                    .col(integer(Bindings::Failures).default(0))
                    .col(timestamp_with_time_zone_null(Bindings::LastSuccessAt))
                    .col(timestamp_with_time_zone(Bindings::CreatedAt))
                    .col(timestamp_with_time_zone(Bindings::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_bindings_tenant",
                        (Bindings::Table, Bindings::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_bindings_user",
                        (Bindings::Table, Bindings::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_bindings_credential",
                        (Bindings::Table, Bindings::CredentialId),
                        (Credentials::Table, Credentials::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // One token per user per bank (seed 002, 004): the database, not a read-then-insert,
        // decides which of two concurrent registrations wins.
        manager
            .create_index(
                Index::create()
                    .name("ux_bindings_one_live_per_user")
                    .table(Bindings::Table)
                    .col(Bindings::TenantId)
                    .col(Bindings::UserId)
                    .unique()
                    .and_where(Expr::col(Bindings::State).is_in(["active", "locked"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_bindings_credential")
                    .table(Bindings::Table)
                    .col(Bindings::CredentialId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Counters::Table)
                    .col(string(Counters::Key).primary_key())
                    .col(timestamp_with_time_zone(Counters::WindowStart))
                    .col(big_integer(Counters::Count).default(0))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    // "platform" for events that belong to no bank (e.g. provisioning).
                    .col(string(AuditEvents::TenantId))
                    .col(big_integer(AuditEvents::Seq))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string(AuditEvents::Actor))
                    .col(string(AuditEvents::Operation))
                    .col(string(AuditEvents::Outcome))
                    .col(string_null(AuditEvents::ErrorCode))
                    .col(string_null(AuditEvents::UserId))
                    .col(string_null(AuditEvents::CredentialId))
                    .col(string_null(AuditEvents::RequestId))
                    .col(string_null(AuditEvents::ClientAddr))
                    .col(text_null(AuditEvents::Details))
                    .col(string(AuditEvents::PrevHash))
                    .col(string(AuditEvents::Hash))
                    .to_owned(),
            )
            .await?;
        // The hash chain is per tenant; the unique sequence makes two concurrent appends to
        // one chain impossible (the loser retries on the new head).
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_events_chain")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            Counters::Table.into_iden(),
            Bindings::Table.into_iden(),
            Credentials::Table.into_iden(),
            Users::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
