//! The fraud configuration's generation: one number in `fraud_config` that every change to the
//! rulesets or the lists moves, first thing in its database transaction. Instances compare it
//! with the generation they loaded ([`super::engine`]) and reload when it moved.
//!
//! Bumping it first also makes concurrent changes take turns: the update takes the row's lock on
//! PostgreSQL and SQLite's write lock at once.
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

/// Marks rules or lists as changed; call first, inside the transaction that changes them.
pub async fn bump(db: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
    let stmt = Query::update()
        .table(Alias::new("fraud_config"))
        .value(Alias::new("generation"), Expr::col(Alias::new("generation")).add(1))
        .and_where(Expr::col(Alias::new("id")).eq(1))
        .to_owned();
    db.execute(&stmt).await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct Generation {
    generation: i64,
}

/// The current generation (0 before the first change).
pub async fn current(db: &impl ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    let row =
        Generation::find_by_statement(Statement::from_string(db.get_database_backend(), "SELECT generation FROM fraud_config WHERE id = 1")).one(db).await?;
    Ok(row.map_or(0, |r| r.generation))
}
