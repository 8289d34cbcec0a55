use sea_orm::entity::prelude::*;

/// One normalised value of a list.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "fraud_list_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub list_name: String,
    pub value: String,
    pub reason: String,
    pub added_by: String,
    pub source: String,
    /// Only this merchant's transactions match it; None: every merchant's.
    pub merchant_id: Option<i32>,
    pub expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// Set when the entry was taken out (by hand, or by an import that replaced it): the row stays.
    pub removed_at: Option<DateTimeUtc>,
    pub removed_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
