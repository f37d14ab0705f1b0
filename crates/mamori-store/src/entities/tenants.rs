use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    #[sea_orm(column_type = "Text")]
    pub policy: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub managed_by: mamori_domain::ManagedBy,
    pub config_file: Option<String>,
    pub suspended_at: Option<DateTimeUtc>,
    pub policy_version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
