use sea_orm::entity::prelude::*;

/// The idempotency record of one accepted transaction: the response to send again on replay.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ingest_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i32,
    pub external_id: String,
    pub api_key_id: i32,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub transaction_id: Option<i64>,
    pub response: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
