use sea_orm::entity::prelude::*;

/// A PayPal dispute, from a webhook or the reconciliation.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "disputes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub paypal_dispute_id: String,
    pub merchant_id: Option<i32>,
    pub reason: String,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub opened_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The contested payment, when its `seller_transaction_id` is a transaction's `external_id`.
    pub transaction_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
