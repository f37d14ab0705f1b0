use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub login_name: String,
    pub display_name: String,
    pub role: mamori_domain::OperatorRole,
    pub tenant_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub password_hash: String,
    pub password_changed_at: Option<DateTimeUtc>,
    pub password_must_change: bool,
    pub password_failures: i32,
    pub code_failures: i32,
    pub locked_at: Option<DateTimeUtc>,
    pub totp_ciphertext: Option<Vec<u8>>,
    pub totp_key_id: Option<String>,
    pub totp_enrolled_at: Option<DateTimeUtc>,
    pub totp_last_step: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub disabled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
