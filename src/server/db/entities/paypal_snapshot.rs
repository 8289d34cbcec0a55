use sea_orm::entity::prelude::*;

/// The last PayPal data fetched for a merchant (JSON), kept so a cold or unreachable cache still
/// shows something.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "paypal_snapshots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merchant_id: i32,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub fetched_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
