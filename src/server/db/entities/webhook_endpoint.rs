use sea_orm::entity::prelude::*;

/// Where outbound events go (`server::outbound`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub url: String,
    pub description: String,
    /// JSON array of event kinds (`EventKind::as_str`).
    pub events: String,
    /// Signs every request; shown once, when made.
    pub secret: String,
    /// The secret before the last rotation, still signing beside the new one until the time below.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub disabled_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    /// When its oldest undelivered event first failed; None while deliveries succeed.
    pub failing_since: Option<DateTimeUtc>,
    /// After a failure: when its oldest undelivered event is tried again (the rest wait behind it).
    pub retry_at: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
