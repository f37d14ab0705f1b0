use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_approvals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub binding_id: String,
    pub credential_id: String,
    pub transaction_kind: String,
    #[sea_orm(column_type = "Text")]
    pub transaction_json: String,
    pub transaction_hash: String,
    #[sea_orm(column_type = "Text")]
    pub display_ja: String,
    #[sea_orm(column_type = "Text")]
    pub display_en: String,
    pub challenge_number: Option<String>,
    pub state: mamori_domain::ApprovalState,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub answered_at: Option<DateTimeUtc>,
    pub answer_signature: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
