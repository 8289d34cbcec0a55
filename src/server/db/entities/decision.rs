use sea_orm::entity::prelude::*;

/// The fraud decision on one transaction, with every rule's result.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "decisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub transaction_id: i64,
    pub ruleset_version: i32,
    pub outcome: String,
    pub score: f64,
    /// JSON: `{"rules": [each rule's result], "facts": {what the rules saw}}`.
    pub results: String,
    pub latency_micros: i64,
    /// Each rule's outcome, one character per rule of the version in order: `m`, `n` or `e`
    /// (`decision::outcome_codes`). None for decisions stored before the column existed.
    pub outcomes: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
