use sea_orm::entity::prelude::*;

/// One action of a person or of the system in the admin audit log. Append-only: rows are
/// inserted by `server::audit` and never changed (a database trigger refuses UPDATE and DELETE).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// The person's e-mail, or the job's name.
    pub actor: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub summary: String,
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
