use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_pending")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: String,
    pub occurred_at: DateTimeUtc,
    pub actor: String,
    pub operation: mamori_domain::Operation,
    pub outcome: mamori_domain::AuditOutcome,
    pub error_code: Option<String>,
    pub user_id: Option<String>,
    pub credential_id: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub details: Option<String>,
    /// The keyed MAC over the entry, made when it was written (see `audit::AuditKey`).
    #[sea_orm(column_type = "Text", nullable)]
    pub mac: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
