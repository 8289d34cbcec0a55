use sea_orm::entity::prelude::*;

/// One line of a case's timeline. Append-only: inserted by `review::cases`, never changed (a
/// database trigger refuses UPDATE and DELETE). The case's opening is the case's `created_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    /// A `review::cases::EventKind` name (checked by the database).
    pub kind: String,
    pub actor_user_id: Option<i32>,
    /// The person's name at the time, or the job's.
    pub actor_label: String,
    pub detail: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
