//! The reviewer's workbench: the queue, claims, the case page and decisions. Every function
//! checks for the reviewer or admin role itself, then calls `server::review::cases`. The case page
//! and every write use the primary; the queue's lists read the replica when `DATABASE_READ_URL` is
//! set, except for 30 s after the caller's own write (`review::read_your_writes`).
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::app::dto;
use crate::app::error::AppError;

#[cfg(feature = "ssr")]
mod guard {
    use crate::app::dto::Role;
    use crate::app::error::AppError;
    use crate::server::review::cases::Reviewer;

    /// Reviewers and admins; anyone else is refused before anything is read.
    pub fn reviewer() -> Result<Reviewer, AppError> {
        let user = crate::server::auth::guard::require_role(&[Role::Reviewer, Role::Admin])?;
        Ok(Reviewer { user_id: user.id, name: user.display_name, admin: user.role == Role::Admin })
    }
}

/// One page of the queue (50 rows) under the filters, after `cursor`.
#[server(prefix = "/rpc", endpoint = "review/queue", input = Json)]
pub async fn queue_page(filter: dto::QueueFilter, cursor: Option<String>) -> Result<dto::QueuePage, AppError> {
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let db = read_your_writes::reads(&state, who.user_id).await;
            Ok(cases::queue(db, &filter, cursor.as_deref(), &who, state.config.review, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Cases per status under the filters (each count stops at 10,000).
#[server(prefix = "/rpc", endpoint = "review/counts", input = Json)]
pub async fn queue_counts(filter: dto::QueueFilter) -> Result<dto::StatusCounts, AppError> {
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let db = read_your_writes::reads(&state, who.user_id).await;
            Ok(cases::status_counts(db, &filter, &who, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Cases matching the filters that arrived after `after_id`: the queue's "N new cases" pill.
#[server(prefix = "/rpc", endpoint = "review/new_cases", input = Json)]
pub async fn new_cases(filter: dto::QueueFilter, after_id: i64) -> Result<u64, AppError> {
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let db = read_your_writes::reads(&state, who.user_id).await;
            Ok(cases::new_since(db, &filter, after_id, &who, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// "Next case": claims the highest-priority unclaimed case matching the filters.
#[server(prefix = "/rpc", endpoint = "review/next_case", input = Json)]
pub async fn next_case(filter: dto::QueueFilter) -> Result<dto::NextCase, AppError> {
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let next = cases::claim_next(state.db.primary(), &filter, &who, state.config.review, chrono::Utc::now()).await?;
            read_your_writes::wrote(&state, who.user_id).await;
            Ok(next)
        }
        .await,
    )
}

/// The case page: claims the case when it is free (a case someone else holds, an escalated one
/// for a reviewer, or a resolved one opens read-only), then reads it from the primary.
#[server(prefix = "/rpc", endpoint = "review/open_case", input = Json)]
pub async fn open_case(case_id: i64) -> Result<dto::CaseDetail, AppError> {
    use crate::server::review::cases::{self, CaseError};
    use crate::server::{error::reply, review::read_your_writes, AppState};
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let now = chrono::Utc::now();
            match cases::claim(state.db.primary(), case_id, &who, state.config.review, now).await {
                Ok(_) => read_your_writes::wrote(&state, who.user_id).await,
                Err(CaseError::HeldByOther { .. } | CaseError::Invalid(_)) => {}
                Err(e) => return Err(e.into()),
            }
            Ok(cases::detail(state.db.primary(), &state.cache, case_id, &who, state.config.review, now).await?)
        }
        .await,
    )
}

/// Keeps the caller's claim alive while the case page is open; false when it is gone.
#[server(prefix = "/rpc", endpoint = "review/renew_claim", input = Json)]
pub async fn renew_claim(case_id: i64) -> Result<bool, AppError> {
    use crate::server::{error::reply, review::cases, AppState};
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            Ok(cases::renew(state.db.primary(), case_id, &who, state.config.review, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Gives a held case back to the queue.
#[server(prefix = "/rpc", endpoint = "review/release_case", input = Json)]
pub async fn release_case(case_id: i64, version: i32) -> Result<(), AppError> {
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            cases::release(state.db.primary(), case_id, version, &who, chrono::Utc::now()).await?;
            read_your_writes::wrote(&state, who.user_id).await;
            Ok(())
        }
        .await,
    )
}

/// A disposition or an escalation on a held case; list entries it adds reach the rules at once.
/// With `next` (the queue's filters), the same request claims and reads the next case, so the
/// page shows it at once (submit & next).
#[server(prefix = "/rpc", endpoint = "review/decide_case", input = Json)]
pub async fn decide_case(decision: dto::DecideCase, next: Option<dto::QueueFilter>) -> Result<dto::Decided, AppError> {
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let now = chrono::Utc::now();
            let decided = cases::decide(state.db.primary(), &decision, &who, now).await?;
            read_your_writes::wrote(&state, who.user_id).await;
            if !decided.list_entries.is_empty() {
                // The other instances reload within a second (the generation was bumped).
                if let Err(e) = state.fraud.refresh().await {
                    tracing::warn!(kind = crate::server::db::error_kind(&e), "reloading lists after a case decision failed");
                }
            }
            let Some(filter) = next else { return Ok(dto::Decided { next: None }) };
            // The decision is saved: a failure from here on only means no next case is shown.
            let next = match cases::claim_next(state.db.primary(), &filter, &who, state.config.review, now).await {
                Ok(dto::NextCase::Claimed { case_id }) => cases::detail(state.db.primary(), &state.cache, case_id, &who, state.config.review, now).await.ok(),
                _ => None,
            };
            Ok(dto::Decided { next })
        }
        .await,
    )
}

/// One action on many cases, each at the version the reviewer saw; cases that changed meanwhile
/// or that the action does not fit are reported by id and left alone.
#[server(prefix = "/rpc", endpoint = "review/bulk", input = Json)]
pub async fn bulk_cases(action: dto::BulkAction, cases: Vec<dto::CaseRef>) -> Result<dto::BulkOutcome, AppError> {
    use crate::server::{
        error::reply,
        review::{cases as service, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let outcome = service::bulk(state.db.primary(), &action, &cases, &who, state.config.review, chrono::Utc::now()).await?;
            read_your_writes::wrote(&state, who.user_id).await;
            Ok(outcome)
        }
        .await,
    )
}

/// Every case matching the filters (at most 1,000), as `(id, version)`: "select all N matching".
#[server(prefix = "/rpc", endpoint = "review/select_matching", input = Json)]
pub async fn select_matching(filter: dto::QueueFilter) -> Result<Vec<dto::CaseRef>, AppError> {
    use crate::server::{error::reply, review::cases, AppState};
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            // The primary: the versions must be the ones a bulk action will find.
            Ok(cases::matching_refs(state.db.primary(), &filter, &who, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Reviewers and admins cases can be assigned to (admins only).
#[server(prefix = "/rpc", endpoint = "review/assignees", input = Json)]
pub async fn assignees() -> Result<Vec<dto::Assignee>, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, review::cases, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(cases::assignees(state.db.read()).await?)
        }
        .await,
    )
}

/// An admin gives a case to a reviewer (or takes it from one).
#[server(prefix = "/rpc", endpoint = "review/assign_case", input = Json)]
pub async fn assign_case(case: dto::CaseRef, user_id: i32) -> Result<(), AppError> {
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            if !who.admin {
                return Err(AppError::Forbidden);
            }
            let state = AppState::from_context()?;
            cases::assign(state.db.primary(), case, user_id, &who, state.config.review, chrono::Utc::now()).await?;
            read_your_writes::wrote(&state, who.user_id).await;
            Ok(())
        }
        .await,
    )
}

/// A note on the case's timeline.
#[server(prefix = "/rpc", endpoint = "review/add_note", input = Json)]
pub async fn add_note(case_id: i64, note: String) -> Result<(), AppError> {
    use crate::server::{error::reply, review::cases, AppState};
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            Ok(cases::add_note(state.db.primary(), case_id, &who, &note, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Moves a merchant through the risk state machine from a case (or the merchant page), with a
/// reason, on the state the page showed (`seen_state`); from a case, the case's timeline records it.
#[server(prefix = "/rpc", endpoint = "review/merchant_action", input = Json)]
pub async fn merchant_action(
    merchant_id: i32,
    event: String,
    reason: String,
    seen_state: dto::RiskState,
    case_id: Option<i64>,
) -> Result<dto::RiskState, AppError> {
    use crate::server::review::merchant_actions::MerchantAction;
    use crate::server::review::merchant_state::{Actor, MerchantEvent};
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let event = MerchantEvent::parse(&event).ok_or_else(|| AppError::Invalid(format!("{event:?} is not a merchant action.")))?;
            let action = MerchantAction {
                merchant_id,
                event,
                actor: Actor::Person { user_id: who.user_id, name: who.name.clone() },
                reason: Some(reason),
                seen_state: Some(seen_state),
            };
            let done = cases::merchant_transition(state.db.primary(), &state.cache, &action, case_id, &who, chrono::Utc::now()).await?;
            read_your_writes::wrote(&state, who.user_id).await;
            Ok(done.to)
        }
        .await,
    )
}

/// The merchant page: facts, risk history and unresolved cases.
#[server(prefix = "/rpc", endpoint = "review/merchant", input = Json)]
pub async fn merchant_page(merchant_id: i32) -> Result<dto::MerchantPage, AppError> {
    use crate::server::{
        error::reply,
        review::{cases, read_your_writes},
        AppState,
    };
    reply(
        async {
            let who = guard::reviewer()?;
            let state = AppState::from_context()?;
            let db = read_your_writes::reads(&state, who.user_id).await;
            Ok(cases::merchant_page(db, merchant_id, chrono::Utc::now()).await?)
        }
        .await,
    )
}
