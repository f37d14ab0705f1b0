use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub idem_key: String,
    pub fingerprint: String,
    pub claim_id: String,
    pub lease_until: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub headers: Option<String>,
    #[sea_orm(column_type = "Blob", nullable)]
    pub body: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
