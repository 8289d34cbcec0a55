use sea_orm::entity::prelude::*;

/// One move of a merchant's risk state. Append-only: rows are inserted by
/// `review::merchant_actions` and never changed (a database trigger refuses UPDATE and DELETE).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchant_risk_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i32,
    /// The row this one follows in the merchant's history (unique: the history never forks);
    /// None for the merchant's first.
    pub previous_event_id: Option<i64>,
    /// `RiskState` names (checked by the database).
    pub from_state: String,
    pub to_state: String,
    /// A `MerchantEvent` name.
    pub event: String,
    /// person | rule | system
    pub actor_kind: String,
    pub actor_user_id: Option<i32>,
    /// The person's display name at the time, the rule's name or the job's.
    pub actor_label: String,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
