use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: mamori_domain::CredentialKind,
    pub algorithm: String,
    pub digits: i16,
    pub period: i32,
    #[sea_orm(column_type = "Blob")]
    pub secret_ciphertext: Vec<u8>,
    pub secret_key_id: String,
    pub drift_steps: i64,
    pub last_used_step: Option<i64>,
    pub hotp_next_counter: i64,
    pub failures: i32,
    pub suspended_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
