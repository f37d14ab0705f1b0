//! Platform operators and the admin console: operator accounts with their password and TOTP
//! second factor, server-side sessions (so a logout ends a session on every node), banks managed
//! by file or by the admin console with a policy version history, suspension of a bank, the last
//! use of an API key, hourly figures rolled up from the audit trail, and the indexes the
//! console's searches and trails need with a million users.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    ManagedBy,
    ConfigFile,
    SuspendedAt,
    PolicyVersion,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    TenantId,
    UserCode,
    Id,
}

#[derive(DeriveIden)]
enum Bindings {
    Table,
    TenantId,
    State,
}

#[derive(DeriveIden)]
enum UsersLock {
    #[sea_orm(iden = "users")]
    Table,
    TenantId,
    PasswordLockedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    TenantId,
    UserId,
    CredentialId,
    Seq,
    OccurredAt,
}

#[derive(DeriveIden)]
enum Operators {
    Table,
    Id,
    LoginName,
    DisplayName,
    Role,
    TenantId,
    PasswordHash,
    PasswordChangedAt,
    PasswordMustChange,
    PasswordFailures,
    CodeFailures,
    LockedAt,
    TotpCiphertext,
    TotpKeyId,
    TotpEnrolledAt,
    TotpLastStep,
    CreatedAt,
    UpdatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum OperatorSessions {
    Table,
    Id,
    OperatorId,
    Stage,
    ClientAddr,
    CreatedAt,
    LastSeenAt,
    EndedAt,
}

#[derive(DeriveIden)]
enum TenantPolicyVersions {
    Table,
    Id,
    TenantId,
    Version,
    Policy,
    ChangedBy,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StatsHourly {
    Table,
    TenantId,
    Hour,
    Metric,
    Count,
}

#[derive(DeriveIden)]
enum StatsCursors {
    Table,
    TenantId,
    LastSeq,
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

async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    mut column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(&mut column)
                .to_owned(),
        )
        .await
}

async fn index(manager: &SchemaManager<'_>, index: IndexCreateStatement) -> Result<(), DbErr> {
    manager.create_index(index).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `file`: declared by tenant-configs/<config_file>, read-only in the console (a restart
        // re-applies the file); `admin`: created in the console, its policy versioned below.
        add_column(
            manager,
            Tenants::Table,
            string(Tenants::ManagedBy).default("file").to_owned(),
        )
        .await?;
        add_column(manager, Tenants::Table, string_null(Tenants::ConfigFile)).await?;
        // A suspended bank's API keys answer 403 `bank_suspended`.
        add_column(
            manager,
            Tenants::Table,
            timestamp_with_time_zone_null(Tenants::SuspendedAt),
        )
        .await?;
        add_column(
            manager,
            Tenants::Table,
            integer(Tenants::PolicyVersion).default(1).to_owned(),
        )
        .await?;
        add_column(
            manager,
            ApiKeys::Table,
            timestamp_with_time_zone_null(ApiKeys::LastUsedAt),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Operators::Table)
                    .col(string(Operators::Id).primary_key())
                    .col(string(Operators::LoginName))
                    .col(string(Operators::DisplayName))
                    // platform_admin | bank_operator | auditor
                    .col(string(Operators::Role))
                    // The one bank of a bank operator (or of an auditor limited to one bank).
                    .col(string_null(Operators::TenantId))
                    .col(text(Operators::PasswordHash))
                    .col(timestamp_with_time_zone_null(Operators::PasswordChangedAt))
                    .col(boolean(Operators::PasswordMustChange).default(true))
                    .col(integer(Operators::PasswordFailures).default(0))
                    .col(integer(Operators::CodeFailures).default(0))
                    .col(timestamp_with_time_zone_null(Operators::LockedAt))
                    // The TOTP secret, sealed under the master key (the operator's ID is the
                    // associated data); enrolled once confirmed with a code.
                    .col(blob_null(Operators::TotpCiphertext))
                    .col(string_null(Operators::TotpKeyId))
                    .col(timestamp_with_time_zone_null(Operators::TotpEnrolledAt))
                    .col(big_integer_null(Operators::TotpLastStep))
                    .col(timestamp_with_time_zone(Operators::CreatedAt))
                    .col(timestamp_with_time_zone(Operators::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Operators::DisabledAt))
                    .foreign_key(&mut fk(
                        "fk_operators_tenant",
                        (Operators::Table, Operators::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("ux_operators_login_name")
                .table(Operators::Table)
                .col(Operators::LoginName)
                .unique()
                .to_owned(),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OperatorSessions::Table)
                    // SHA-256 of the cookie's token: a database reader learns no session.
                    .col(string(OperatorSessions::Id).primary_key())
                    .col(string(OperatorSessions::OperatorId))
                    // setup (first login: new password and TOTP enrollment) | active. The
                    // anti-forgery token is derived from the session's ID with a key derived
                    // from the master key, so it is not stored.
                    .col(string(OperatorSessions::Stage))
                    .col(string_null(OperatorSessions::ClientAddr))
                    .col(timestamp_with_time_zone(OperatorSessions::CreatedAt))
                    .col(timestamp_with_time_zone(OperatorSessions::LastSeenAt))
                    .col(timestamp_with_time_zone_null(OperatorSessions::EndedAt))
                    .foreign_key(&mut fk(
                        "fk_operator_sessions_operator",
                        (OperatorSessions::Table, OperatorSessions::OperatorId),
                        (Operators::Table, Operators::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("ix_operator_sessions_operator")
                .table(OperatorSessions::Table)
                .col(OperatorSessions::OperatorId)
                .to_owned(),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantPolicyVersions::Table)
                    .col(big_pk_auto(TenantPolicyVersions::Id))
                    .col(string(TenantPolicyVersions::TenantId))
                    .col(integer(TenantPolicyVersions::Version))
                    // The whole config (names and policy) as JSON, as in `tenants.policy`.
                    .col(text(TenantPolicyVersions::Policy))
                    .col(string(TenantPolicyVersions::ChangedBy))
                    .col(text(TenantPolicyVersions::Reason))
                    .col(timestamp_with_time_zone(TenantPolicyVersions::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_tenant_policy_versions_tenant",
                        (TenantPolicyVersions::Table, TenantPolicyVersions::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Index::create()
                .name("ux_tenant_policy_versions")
                .table(TenantPolicyVersions::Table)
                .col(TenantPolicyVersions::TenantId)
                .col(TenantPolicyVersions::Version)
                .unique()
                .to_owned(),
        )
        .await?;

        // Figures per bank and hour, rolled up from the audit trail after the fact so a chart
        // never scans the trail and no code check waits on a counter row.
        manager
            .create_table(
                Table::create()
                    .table(StatsHourly::Table)
                    .col(string(StatsHourly::TenantId))
                    .col(timestamp_with_time_zone(StatsHourly::Hour))
                    .col(string(StatsHourly::Metric))
                    .col(big_integer(StatsHourly::Count).default(0))
                    .primary_key(
                        Index::create()
                            .col(StatsHourly::TenantId)
                            .col(StatsHourly::Hour)
                            .col(StatsHourly::Metric),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StatsCursors::Table)
                    .col(string(StatsCursors::TenantId).primary_key())
                    // The last audit sequence number of the bank counted into the figures.
                    .col(big_integer(StatsCursors::LastSeq).default(0))
                    .col(timestamp_with_time_zone(StatsCursors::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        // The console's searches and trails, without a table scan at a million users.
        index(
            manager,
            Index::create()
                .name("ix_users_tenant_user_code")
                .table(Users::Table)
                .col(Users::TenantId)
                .col(Users::UserCode)
                .to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("ix_users_tenant_id")
                .table(Users::Table)
                .col(Users::TenantId)
                .col(Users::Id)
                .to_owned(),
        )
        .await?;
        // "Locked now" on the console's front page counts through these, not the whole table.
        index(
            manager,
            Index::create()
                .name("ix_bindings_tenant_state")
                .table(Bindings::Table)
                .col(Bindings::TenantId)
                .col(Bindings::State)
                .to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("ix_users_tenant_password_locked")
                .table(UsersLock::Table)
                .col(UsersLock::TenantId)
                .col(UsersLock::PasswordLockedAt)
                .to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("ix_audit_events_user")
                .table(AuditEvents::Table)
                .col(AuditEvents::TenantId)
                .col(AuditEvents::UserId)
                .col(AuditEvents::Seq)
                .to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("ix_audit_events_credential")
                .table(AuditEvents::Table)
                .col(AuditEvents::TenantId)
                .col(AuditEvents::CredentialId)
                .col(AuditEvents::Seq)
                .to_owned(),
        )
        .await?;
        index(
            manager,
            Index::create()
                .name("ix_audit_events_time")
                .table(AuditEvents::Table)
                .col(AuditEvents::TenantId)
                .col(AuditEvents::OccurredAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("ix_audit_events_time", AuditEvents::Table.into_iden()),
            ("ix_audit_events_credential", AuditEvents::Table.into_iden()),
            ("ix_audit_events_user", AuditEvents::Table.into_iden()),
            ("ix_users_tenant_id", Users::Table.into_iden()),
            ("ix_users_tenant_user_code", Users::Table.into_iden()),
            (
                "ix_users_tenant_password_locked",
                UsersLock::Table.into_iden(),
            ),
            ("ix_bindings_tenant_state", Bindings::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        for table in [
            StatsCursors::Table.into_iden(),
            StatsHourly::Table.into_iden(),
            TenantPolicyVersions::Table.into_iden(),
            OperatorSessions::Table.into_iden(),
            Operators::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .drop_column(ApiKeys::LastUsedAt)
                    .to_owned(),
            )
            .await?;
        for column in [
            Tenants::PolicyVersion,
            Tenants::SuspendedAt,
            Tenants::ConfigFile,
            Tenants::ManagedBy,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
