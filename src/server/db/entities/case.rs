use sea_orm::entity::prelude::*;

/// A review case for the queue, opened by a "review" decision. Never deleted; every change is a
/// `case_event` and bumps `version` (`review::cases`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub transaction_id: i64,
    pub merchant_id: i32,
    pub decision_id: i64,
    /// open | claimed | closed (resolved)
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The queue's sort key: `review::priority`.
    pub priority: i64,
    pub version: i32,
    pub score: f64,
    pub amount_usd_cents: i64,
    /// The live rules that matched, one name a line.
    pub matched_rules: String,
    pub escalated: bool,
    pub claimed_by: Option<i32>,
    pub lease_until: Option<DateTimeUtc>,
    /// approved | refunded | refunded_as_fraud | confirmed_fraud | false_positive
    pub disposition: Option<String>,
    pub resolved_by: Option<i32>,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
