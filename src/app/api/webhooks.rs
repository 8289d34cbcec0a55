//! The admin console's outbound webhooks (`/admin/webhooks`): endpoints, their secrets, their
//! delivery logs, redelivery and test events. Admins only; each change is in the audit log.
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::app::dto::{WebhookAttemptView, WebhookEndpointInput, WebhookEndpointView, WebhookSecret};
use crate::app::error::AppError;

/// What a manual send got, as the page says it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SendResult {
    pub succeeded: bool,
    /// "200 in 12 ms" or "no answer within 10 s".
    pub summary: String,
}

#[cfg(feature = "ssr")]
fn send_result(outcome: crate::server::outbound::delivery::Outcome) -> SendResult {
    let summary = match (outcome.status, &outcome.error) {
        (Some(status), _) => format!("{status} in {} ms", outcome.latency_ms),
        (None, Some(error)) => error.clone(),
        (None, None) => "no answer".to_string(),
    };
    SendResult { succeeded: outcome.succeeded(), summary }
}

/// Every endpoint, with what is waiting for it.
#[server(prefix = "/rpc", endpoint = "admin/webhooks", input = Json)]
pub async fn webhooks() -> Result<Vec<WebhookEndpointView>, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, error::ServiceError, outbound::endpoints, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(endpoints::list(state.db.primary()).await.map_err(ServiceError::from)?)
        }
        .await,
    )
}

/// Registers an endpoint; its secret is in the answer, this once.
#[server(prefix = "/rpc", endpoint = "admin/create_webhook", input = Json)]
pub async fn create_webhook(input: WebhookEndpointInput) -> Result<WebhookSecret, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, outbound::endpoints, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let allow = state.config.webhooks_allow_http_loopback;
            Ok(endpoints::register(state.db.primary(), &input, &admin.email, allow, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Changes an endpoint's URL, description and events.
#[server(prefix = "/rpc", endpoint = "admin/update_webhook", input = Json)]
pub async fn update_webhook(id: i32, input: WebhookEndpointInput) -> Result<WebhookEndpointView, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, outbound::endpoints, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let allow = state.config.webhooks_allow_http_loopback;
            Ok(endpoints::update(state.db.primary(), id, &input, &admin.email, allow, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Disables an endpoint (with a reason) or enables it again (its pending events follow, in order).
#[server(prefix = "/rpc", endpoint = "admin/set_webhook_disabled", input = Json)]
pub async fn set_webhook_disabled(id: i32, disabled: bool) -> Result<WebhookEndpointView, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, outbound::endpoints, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let reason = disabled.then_some("disabled by an admin");
            Ok(endpoints::set_disabled(state.db.primary(), id, reason, &admin.email, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// A new secret, shown this once; the old one keeps signing for 24 hours.
#[server(prefix = "/rpc", endpoint = "admin/rotate_webhook_secret", input = Json)]
pub async fn rotate_webhook_secret(id: i32) -> Result<WebhookSecret, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, outbound::endpoints, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            Ok(endpoints::rotate_secret(state.db.primary(), id, &admin.email, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// An endpoint's delivery log, newest first, 50 attempts below the attempt `before`.
#[server(prefix = "/rpc", endpoint = "admin/webhook_attempts", input = Json)]
pub async fn webhook_attempts(id: i32, before: Option<i64>) -> Result<Vec<WebhookAttemptView>, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, outbound::endpoints, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(endpoints::attempts(state.db.primary(), id, before).await?)
        }
        .await,
    )
}

/// Sends one event to an endpoint again, now.
#[server(prefix = "/rpc", endpoint = "admin/redeliver_webhook", input = Json)]
pub async fn redeliver_webhook(id: i32, event_id: i64) -> Result<SendResult, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, outbound::delivery, AppState};
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            let allow = state.config.webhooks_allow_http_loopback;
            Ok(send_result(delivery::redeliver(state.db.primary(), id, event_id, allow, chrono::Utc::now()).await?))
        }
        .await,
    )
}

/// Sends a `test` event to an endpoint.
#[server(prefix = "/rpc", endpoint = "admin/test_webhook", input = Json)]
pub async fn test_webhook(id: i32) -> Result<SendResult, AppError> {
    use crate::server::{auth::guard::require_admin, error::reply, outbound::delivery, AppState};
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let allow = state.config.webhooks_allow_http_loopback;
            Ok(send_result(delivery::send_test(state.db.primary(), id, &admin.email, allow, chrono::Utc::now()).await?))
        }
        .await,
    )
}
