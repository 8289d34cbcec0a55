use sea_orm::entity::prelude::*;

/// One run of a draft over stored decisions (`fraud::backtest`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backtests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ruleset_version: i32,
    pub revision: i32,
    pub window_from: DateTimeUtc,
    pub window_to: DateTimeUtc,
    /// running | cancelling | cancelled | done | failed
    pub status: String,
    pub total: i64,
    pub processed: i64,
    pub started_by: String,
    pub started_at: DateTimeUtc,
    pub heartbeat_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// JSON `BacktestResult`, when done.
    pub result: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
