use sea_orm::entity::prelude::*;

/// One version of the ruleset: draft, published (one at a time) or retired.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rulesets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub version: i32,
    pub status: String,
    pub review_score: f64,
    pub block_score: f64,
    /// JSON array of `RuleSpec`.
    pub rules: String,
    pub note: String,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
    /// A draft's save count (1 for its first save); kept as it was once published.
    pub revision: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
