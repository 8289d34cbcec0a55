use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transactions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i32,
    pub product_id: Option<i32>,
    pub amount_minor: i64,
    pub currency: String,
    pub buyer_email: String,
    pub buyer_ip: String,
    pub card_fingerprint: String,
    pub card_country: String,
    /// One of `TransactionStatus`'s names (checked by the database).
    pub status: String,
    pub created_at: DateTimeUtc,
    /// The platform's id for it (ingested transactions); unique per merchant.
    pub external_id: Option<String>,
    pub card_bin: Option<String>,
    pub ip_country: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
