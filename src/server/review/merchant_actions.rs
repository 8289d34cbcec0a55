//! Moving a merchant through the risk state machine ([`super::merchant_state`]) and reading the
//! history of those moves. What a reviewer or an admin does from a case page or a merchant page
//! (mark compliant, flag, put on probation, suspend, lift the probation), and what rules and
//! background jobs do, all go through [`transition`].
//!
//! One database transaction per move: read the merchant and the latest row of its history (who
//! set the current state; the state before a probation), [`decide`], update `merchants.risk_state`
//! and append the history row. Either both are written or neither.
//!
//! Two moves at once on the same merchant: at most one is applied, the other is refused with
//! [`MerchantActionError::ChangedMeanwhile`]. Three things see to it:
//! - the update is conditional on the state that was read (`WHERE id = ? AND risk_state = ?`):
//!   on PostgreSQL the second waits for the first's row lock, then matches no row;
//! - each history row names the row it follows, uniquely, so a move decided from a history that
//!   has grown since (even one that came back to the same state) cannot be stored;
//! - on SQLite the transaction is `BEGIN IMMEDIATE`: moves take turns from the first read.
//!
//! A person acts on what their page showed them: [`MerchantAction::seen_state`] carries it, and
//! a move on a merchant whose state changed since is refused the same way, rather than applied to
//! a state they never saw ("mark compliant" is allowed from every state, so it would otherwise
//! silently undo a colleague's suspension made a second earlier).
//!
//! How soon the fraud rules see a move: the rules read `merchant.risk_state` from the merchant
//! facts that ingest caches for a minute per merchant (`fraud::ingest::merchant_facts`, key
//! `fraud:merchant:{id}`, `MERCHANT_FACTS_TTL` = 60 s). [`transition`] removes that key after
//! its commit, so the next ingest for the merchant reads the new state — on every instance with
//! Redis, on this one with the in-process cache (which serves a single instance). Two cases
//! still see the old state, for at most those 60 s: an ingest that read the merchant just before
//! the commit and stores its facts just after the removal, and a removal that failed (Redis
//! unreachable; the cache's failures are silent by design). Ingests already being decided use
//! the facts they read.
//!
//! Not here yet: the outbox event the platform must hear of with each move (DESIGN.md, "Telling
//! the platform") — [`apply`] runs inside the caller's transaction so that the event can be
//! written beside it once the outbox exists.
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, SqliteTransactionMode,
    TransactionOptions, TransactionSession, TransactionTrait,
};

use super::merchant_state::{self, decide, Actor, ActorKind, MerchantEvent, RiskState, TransitionContext, TransitionError};
use crate::server::cache::Cache;
use crate::server::db::entities::{merchant, merchant_risk_event};

/// One move asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantAction {
    pub merchant_id: i32,
    pub event: MerchantEvent,
    pub actor: Actor,
    /// Required from a person: 1 to `MAX_REASON_CHARS` characters once trimmed.
    pub reason: Option<String>,
    /// The state the person saw when they chose the move (the page's). When it is no longer the
    /// merchant's state the move is refused with [`MerchantActionError::ChangedMeanwhile`].
    /// Automation that acts without having looked passes None.
    pub seen_state: Option<RiskState>,
}

/// A move that was made: what [`transition`] returns and what [`history`] lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The history row's id.
    pub id: i64,
    pub merchant_id: i32,
    pub from: RiskState,
    pub to: RiskState,
    pub event: MerchantEvent,
    pub actor: Actor,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum MerchantActionError {
    /// The move is not allowed: the message says why, for the person who asked.
    #[error(transparent)]
    Refused(#[from] TransitionError),
    #[error("There is no merchant {0}.")]
    UnknownMerchant(i32),
    #[error("The merchant's state changed meanwhile; look at it again and decide on what is there now.")]
    ChangedMeanwhile,
    /// Never shown as it is: its text can carry row values (see `db::error_kind`).
    #[error("database error")]
    Database(#[from] DbErr),
}

/// Makes one move in a transaction of its own, then tells the fraud rules' merchant cache.
pub async fn transition<C: TransactionTrait>(db: &C, cache: &Cache, action: &MerchantAction, now: DateTime<Utc>) -> Result<Transition, MerchantActionError> {
    let txn = begin(db).await?;
    match apply(&txn, action, now).await {
        Ok(done) => {
            txn.commit().await?;
            crate::server::fraud::ingest::forget_merchant_facts(cache, action.merchant_id).await;
            Ok(done)
        }
        Err(e) => {
            // Nothing of the move stays: the state update is undone with the history row.
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

/// A transaction fit for [`apply`]: on SQLite it takes the write lock at once, so that a move
/// never reads a state another move is about to change (a deferred transaction would instead fail
/// to upgrade to a writer, with "database is locked").
pub async fn begin<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..TransactionOptions::default() }).await
}

/// Makes one move inside the caller's transaction (from [`begin`]), so that what goes with it (an
/// appeal's decision, an outbox event) commits or rolls back with it. The caller commits, and then
/// forgets the merchant's cached facts (`fraud::ingest::forget_merchant_facts`). On an error the
/// transaction must be rolled back: part of the move may have been written.
pub async fn apply(txn: &impl ConnectionTrait, action: &MerchantAction, now: DateTime<Utc>) -> Result<Transition, MerchantActionError> {
    // As the database keeps it (PostgreSQL: microseconds), so the move returned is the one stored.
    let now = now.trunc_subsecs(6);
    let actor = merchant_state::checked_actor(&action.actor)?;
    let reason = merchant_state::reason(&actor, action.reason.as_deref())?;
    let merchant_id = action.merchant_id;
    let merchant = merchant::Entity::find_by_id(merchant_id).one(txn).await?.ok_or(MerchantActionError::UnknownMerchant(merchant_id))?;
    let current = RiskState::parse(&merchant.risk_state).ok_or_else(|| unreadable("merchants.risk_state"))?;
    if action.seen_state.is_some_and(|seen| seen != current) {
        return Err(MerchantActionError::ChangedMeanwhile);
    }
    let latest = merchant_risk_event::Entity::find()
        .filter(merchant_risk_event::Column::MerchantId.eq(merchant_id))
        .order_by_desc(merchant_risk_event::Column::Id)
        .one(txn)
        .await?;
    let context = context(&merchant, current, latest.as_ref());
    let to = decide(current, action.event, &actor, &context)?;

    // The state first: on PostgreSQL this takes the merchant's row lock, and a concurrent move
    // that read the same state waits here, then matches no row.
    let updated = merchant::Entity::update_many()
        .col_expr(merchant::Column::RiskState, Expr::value(to.as_str()))
        .filter(merchant::Column::Id.eq(merchant_id))
        .filter(merchant::Column::RiskState.eq(current.as_str()))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(MerchantActionError::ChangedMeanwhile);
    }
    let row = merchant_risk_event::ActiveModel {
        merchant_id: Set(merchant_id),
        previous_event_id: Set(latest.as_ref().map(|e| e.id)),
        from_state: Set(current.as_str().to_string()),
        to_state: Set(to.as_str().to_string()),
        event: Set(action.event.as_str().to_string()),
        actor_kind: Set(actor.kind().as_str().to_string()),
        actor_user_id: Set(actor.user_id()),
        actor_label: Set(actor.label().to_string()),
        reason: Set(reason.clone()),
        created_at: Set(now),
        ..Default::default()
    };
    let id = match merchant_risk_event::Entity::insert(row).exec(txn).await {
        Ok(inserted) => inserted.last_insert_id,
        // Another move was appended after the row we read: ours was decided on an old history.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => return Err(MerchantActionError::ChangedMeanwhile),
        Err(e) => return Err(e.into()),
    };
    let summary = format!("merchant {merchant_id}: {} ({} → {})", action.event.as_str().replace('_', " "), current.as_str(), to.as_str());
    let audit_action = format!("merchant.{}", action.event.as_str());
    let entry = crate::server::audit::Entry {
        actor: actor.label(),
        action: &audit_action,
        object_kind: "merchant",
        object_id: merchant_id.to_string(),
        summary,
        reason: reason.as_deref(),
    };
    crate::server::audit::record(txn, entry, now).await?;
    let data = serde_json::json!({
        "merchant_id": merchant_id, "from": current.as_str(), "to": to.as_str(), "event": action.event.as_str(),
        "actor_kind": actor.kind().as_str(), "reason": reason, "changed_at": now.to_rfc3339(),
    });
    crate::server::outbound::outbox::record(txn, crate::app::dto::WebhookEventKind::MerchantRiskStateChanged, &format!("merchant:{merchant_id}"), data, now)
        .await?;
    Ok(Transition { id, merchant_id, from: current, to, event: action.event, actor, reason, at: now })
}

/// What [`decide`] needs from the merchant and the latest row of its history. The row speaks for
/// the current state only when it leads to it (a state set before the history existed, by the
/// seed or by hand, has no author: not a person's, and no known state before a probation).
fn context(merchant: &merchant::Model, current: RiskState, latest: Option<&merchant_risk_event::Model>) -> TransitionContext {
    let leading_here = latest.filter(|row| row.to_state == current.as_str());
    TransitionContext {
        verified: merchant.verified,
        set_by_person: leading_here.filter(|row| row.actor_kind == ActorKind::Person.as_str()).map(|row| row.actor_label.clone()),
        // On probation, the latest row is the one that put them there (probation → probation is
        // refused), and its `from_state` is where lifting it returns.
        before_probation: leading_here.filter(|_| current == RiskState::OnProbation).and_then(|row| RiskState::parse(&row.from_state)),
    }
}

/// A merchant's moves, newest first.
/// The merchant's moves, newest first: the latest `limit`, or all.
pub async fn history(db: &impl ConnectionTrait, merchant_id: i32, limit: Option<u64>) -> Result<Vec<Transition>, DbErr> {
    let rows = merchant_risk_event::Entity::find()
        .filter(merchant_risk_event::Column::MerchantId.eq(merchant_id))
        .order_by_desc(merchant_risk_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter().map(transition_of).collect()
}

fn transition_of(row: merchant_risk_event::Model) -> Result<Transition, DbErr> {
    let actor = match ActorKind::parse(&row.actor_kind) {
        Some(ActorKind::Person) => Actor::Person { user_id: row.actor_user_id.ok_or_else(|| unreadable("actor_user_id"))?, name: row.actor_label },
        Some(ActorKind::Rule) => Actor::Rule { name: row.actor_label },
        Some(ActorKind::System) => Actor::System { what: row.actor_label },
        None => return Err(unreadable("actor_kind")),
    };
    Ok(Transition {
        id: row.id,
        merchant_id: row.merchant_id,
        from: RiskState::parse(&row.from_state).ok_or_else(|| unreadable("from_state"))?,
        to: RiskState::parse(&row.to_state).ok_or_else(|| unreadable("to_state"))?,
        event: MerchantEvent::parse(&row.event).ok_or_else(|| unreadable("event"))?,
        actor,
        reason: row.reason,
        at: row.created_at,
    })
}

/// A stored value outside its set (the database's checks make it impossible short of a
/// schema change); names the column, never the value.
fn unreadable(column: &str) -> DbErr {
    DbErr::Custom(format!("unreadable merchant risk value in {column}"))
}
