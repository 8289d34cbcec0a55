//! Admin operations on the fraud engine: the ruleset's versions, lists, ingest API keys. Every
//! function checks for the admin role itself. Structured inputs travel as JSON.
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::app::dto;
use crate::app::error::AppError;

/// Every problem of a ruleset (positions in each expression), without saving anything.
#[server(prefix = "/rpc", endpoint = "admin/validate_ruleset", input = Json)]
pub async fn validate_ruleset(draft: dto::RulesetDraft) -> Result<Vec<dto::RuleProblem>, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::versions};
    reply(
        async {
            require_admin()?;
            Ok(versions::validate(&draft))
        }
        .await,
    )
}

/// Every problem of one rule's expression (positions in it), as the editor checks while typing.
#[server(prefix = "/rpc", endpoint = "admin/check_expression", input = Json)]
pub async fn check_expression(expression: String) -> Result<Vec<dto::RuleProblem>, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::versions};
    reply(
        async {
            require_admin()?;
            Ok(versions::check_expression(&expression))
        }
        .await,
    )
}

/// What rules may read and call, and the lists by name: the editor's completion.
#[server(prefix = "/rpc", endpoint = "admin/rule_schema", input = Json)]
pub async fn rule_schema() -> Result<dto::RuleSchema, AppError> {
    use crate::server::{
        auth::guard::require_admin,
        error::{reply, ServiceError},
        fraud::versions,
        AppState,
    };
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(versions::schema(state.db.read()).await.map_err(ServiceError::from)?)
        }
        .await,
    )
}

/// The rules as edited, run on one transaction beside what the published rules decided.
#[server(prefix = "/rpc", endpoint = "admin/test_rules", input = Json)]
pub async fn test_rules(draft: dto::RulesetDraft, subject: dto::TrialSubject) -> Result<dto::RuleTrial, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::trial, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(trial::run(state.db.read(), &state.cache, &state.fraud, &draft, &subject).await?)
        }
        .await,
    )
}

/// Saves the draft (replacing any earlier draft, as its next revision) if it has no problems.
/// `expected_revision`: the draft revision the admin edited (0 when there was none); a draft
/// saved by someone else since is not overwritten.
#[server(prefix = "/rpc", endpoint = "admin/save_ruleset_draft", input = Json)]
pub async fn save_ruleset_draft(draft: dto::RulesetDraft, expected_revision: Option<i32>) -> Result<dto::RulesetVersion, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::versions, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            Ok(versions::save_draft(state.db.primary(), &draft, &admin.email, expected_revision, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Publishes a draft on every instance, with a note saying why; the version that was live is
/// kept (retired).
#[server(prefix = "/rpc", endpoint = "admin/publish_ruleset", input = Json)]
pub async fn publish_ruleset(version: i32, note: String) -> Result<dto::RulesetVersion, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::versions, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let approval = if state.config.rules_publish_needs_approval { versions::Approval::SecondAdmin } else { versions::Approval::AnyAdmin };
            let published = versions::publish(state.db.primary(), version, &note, &admin.email, approval, chrono::Utc::now()).await?;
            state.fraud.refresh().await.map_err(crate::server::error::ServiceError::from)?;
            Ok(published)
        }
        .await,
    )
}

/// Republishes the version that was live before the current one, with the reason.
#[server(prefix = "/rpc", endpoint = "admin/rollback_ruleset", input = Json)]
pub async fn rollback_ruleset(reason: String) -> Result<dto::RulesetVersion, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::versions, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let published = versions::rollback(state.db.primary(), &reason, &admin.email, chrono::Utc::now()).await?;
            state.fraud.refresh().await.map_err(crate::server::error::ServiceError::from)?;
            Ok(published)
        }
        .await,
    )
}

/// The ruleset's history, newest first.
#[server(prefix = "/rpc", endpoint = "admin/ruleset_versions", input = Json)]
pub async fn ruleset_versions() -> Result<Vec<dto::RulesetVersion>, AppError> {
    use crate::server::{
        auth::guard::require_admin,
        error::{reply, ServiceError},
        fraud::versions,
        AppState,
    };
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(versions::list(state.db.read()).await.map_err(ServiceError::from)?)
        }
        .await,
    )
}

/// Starts a backtest of the saved draft over the last `days` days (1 to 366); it runs in the
/// background and is followed with `backtest`.
#[server(prefix = "/rpc", endpoint = "admin/start_backtest", input = Json)]
pub async fn start_backtest(days: u32) -> Result<dto::BacktestReport, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::backtest, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            Ok(backtest::start(state.db.primary(), days, &admin.email, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// A backtest's progress and result; without an id, the latest one (None: none ever ran).
#[server(prefix = "/rpc", endpoint = "admin/backtest", input = Json)]
pub async fn backtest(id: Option<i64>) -> Result<Option<dto::BacktestReport>, AppError> {
    use crate::server::{
        auth::guard::require_admin,
        error::{reply, ServiceError},
        fraud::backtest,
        AppState,
    };
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            let now = chrono::Utc::now();
            Ok(match id {
                Some(id) => Some(backtest::get(state.db.primary(), id, now).await?),
                None => backtest::latest(state.db.primary(), now).await.map_err(ServiceError::from)?,
            })
        }
        .await,
    )
}

/// Stops a running backtest after its current chunk.
#[server(prefix = "/rpc", endpoint = "admin/cancel_backtest", input = Json)]
pub async fn cancel_backtest(id: i64) -> Result<dto::BacktestReport, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::backtest, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(backtest::cancel(state.db.primary(), id, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Who saved, published and rolled back the ruleset, when and why: newest first, the latest 200.
#[server(prefix = "/rpc", endpoint = "admin/ruleset_history", input = Json)]
pub async fn ruleset_history() -> Result<Vec<dto::AuditEventView>, AppError> {
    use crate::server::{
        audit,
        auth::guard::require_admin,
        error::{reply, ServiceError},
        AppState,
    };
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(audit::of_kind(state.db.read(), "ruleset", 200).await.map_err(ServiceError::from)?)
        }
        .await,
    )
}

/// Every rule's hits, daily hits and labels over the last 30 days (precomputed daily counts).
#[server(prefix = "/rpc", endpoint = "admin/rule_stats", input = Json)]
pub async fn rule_stats() -> Result<dto::RuleStats, AppError> {
    use crate::server::{
        auth::guard::require_admin,
        error::{reply, ServiceError},
        fraud::rule_stats,
        AppState,
    };
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(rule_stats::last_30_days(state.db.read(), chrono::Utc::now()).await.map_err(ServiceError::from)?)
        }
        .await,
    )
}

/// One page of the audit log (100 events, newest first) below the event `before`.
#[server(prefix = "/rpc", endpoint = "admin/audit_log", input = Json)]
pub async fn audit_log(filter: dto::AuditFilter, before: Option<i64>) -> Result<dto::AuditPage, AppError> {
    use crate::server::{audit, auth::guard::require_admin, error::reply, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(audit::search(state.db.read(), &filter, before).await?)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin/fraud_lists", input = Json)]
pub async fn fraud_lists() -> Result<Vec<dto::FraudListSummary>, AppError> {
    use crate::server::{
        auth::guard::require_admin,
        error::{reply, ServiceError},
        fraud::list_store,
        AppState,
    };
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(list_store::summaries(state.db.read()).await.map_err(ServiceError::from)?)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin/create_list", input = Json)]
pub async fn create_list(name: String, kind: dto::ListKind, description: String) -> Result<(), AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::list_store, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            list_store::create_list(state.db.primary(), &name, kind, &description, &admin.email, chrono::Utc::now()).await?;
            state.fraud.refresh().await.map_err(crate::server::error::ServiceError::from)?;
            Ok(())
        }
        .await,
    )
}

/// One page of a list's entries (100, in value order), those containing `search` if not empty.
#[server(prefix = "/rpc", endpoint = "admin/list_entries", input = Json)]
pub async fn list_entries(list: String, search: String, after: Option<dto::ListEntryCursor>) -> Result<dto::ListEntryPage, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::list_store, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(list_store::entry_page(state.db.read(), &list, &search, after.as_ref(), chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Adds (or replaces) an entry; returns the value as stored (normalised).
#[server(prefix = "/rpc", endpoint = "admin/add_list_entry", input = Json)]
pub async fn add_list_entry(list: String, value: String, reason: String, expires_at: Option<chrono::DateTime<chrono::Utc>>) -> Result<String, AppError> {
    use crate::server::fraud::{list_store, lists::ListEntry};
    use crate::server::{auth::guard::require_admin, error::reply, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let entry = ListEntry { value: String::new(), reason, expires_at, added_by: admin.email.clone(), source: "admin".into(), merchant_id: None };
            let stored = list_store::add_entry(state.db.primary(), &list, &value, entry, chrono::Utc::now()).await?;
            state.fraud.refresh().await.map_err(crate::server::error::ServiceError::from)?;
            Ok(stored)
        }
        .await,
    )
}

/// Removes an entry (for every merchant, or for one), keeping its row; false when the list did
/// not hold it.
#[server(prefix = "/rpc", endpoint = "admin/remove_list_entry", input = Json)]
pub async fn remove_list_entry(list: String, value: String, merchant_id: Option<i32>) -> Result<bool, AppError> {
    use crate::server::fraud::list_store;
    use crate::server::{auth::guard::require_admin, error::reply, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let removed = list_store::remove_entry(state.db.primary(), &list, &value, merchant_id, &admin.email, chrono::Utc::now()).await?;
            state.fraud.refresh().await.map_err(crate::server::error::ServiceError::from)?;
            Ok(removed)
        }
        .await,
    )
}

/// What importing a CSV into a list would do: counts and every line in error. Writes nothing.
#[server(prefix = "/rpc", endpoint = "admin/preview_list_import", input = Json)]
pub async fn preview_list_import(list: String, csv: String, mode: dto::ImportMode, reason: String) -> Result<dto::ListImportSummary, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::list_store, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(list_store::preview_import(state.db.primary(), &list, &csv, mode, &reason, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Imports a CSV into a list in one transaction; refused while any line is in error unless
/// `valid_lines_only`.
#[server(prefix = "/rpc", endpoint = "admin/import_list", input = Json)]
pub async fn import_list(list: String, csv: String, mode: dto::ImportMode, reason: String, valid_lines_only: bool) -> Result<dto::ListImportSummary, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::list_store, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let summary = list_store::import(state.db.primary(), &list, &csv, mode, &reason, valid_lines_only, &admin.email, chrono::Utc::now()).await?;
            state.fraud.refresh().await.map_err(crate::server::error::ServiceError::from)?;
            Ok(summary)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin/api_keys", input = Json)]
pub async fn api_keys() -> Result<Vec<dto::ApiKeySummary>, AppError> {
    use crate::server::{
        auth::guard::require_admin,
        error::{reply, ServiceError},
        fraud::api_keys,
        AppState,
    };
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(api_keys::list(state.db.read(), chrono::Utc::now()).await.map_err(ServiceError::from)?)
        }
        .await,
    )
}

/// Creates an ingest API key, bound to `merchant_id` when given; the key is in this answer and
/// nowhere else.
#[server(prefix = "/rpc", endpoint = "admin/create_api_key", input = Json)]
pub async fn create_api_key(name: String, merchant_id: Option<i32>) -> Result<dto::CreatedApiKey, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::api_keys, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            Ok(api_keys::create_scoped(state.db.primary(), &name, merchant_id, &admin.email, chrono::Utc::now()).await?)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin/revoke_api_key", input = Json)]
pub async fn revoke_api_key(id: i32) -> Result<dto::ApiKeySummary, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, fraud::api_keys, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            Ok(api_keys::revoke(state.db.primary(), id, &admin.email, chrono::Utc::now()).await?)
        }
        .await,
    )
}
