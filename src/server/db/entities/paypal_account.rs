use sea_orm::entity::prelude::*;

/// A merchant's connected PayPal account and its background-sync bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "paypal_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merchant_id: i32,
    pub paypal_merchant_id: String,
    pub connected_at: DateTimeUtc,
    pub next_sync_at: DateTimeUtc,
    pub refresh_requested_at: Option<DateTimeUtc>,
    pub last_active_at: Option<DateTimeUtc>,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    pub failing_since: Option<DateTimeUtc>,
    /// A short error kind such as `timeout` or `server_error`; never upstream text.
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
