//! The merchant dashboard's panels: one server function per panel.
use leptos::prelude::*;

use crate::app::dto;
use crate::app::error::AppError;

#[server(prefix = "/rpc", endpoint = "dashboard/sales_summary")]
pub async fn sales_summary() -> Result<dto::SalesSummary, AppError> {
    use crate::server::{auth::guard::require_merchant, dashboard, error::reply, AppState};
    reply(
        async {
            let merchant_id = require_merchant()?;
            let state = AppState::from_context()?;
            state.debug_panel_delay().await;
            // v2: per-currency totals (a cached value of the old shape is not read as this one).
            let key = format!("dashboard:sales:v2:{merchant_id}");
            let load = || dashboard::sales_summary(state.db.read(), merchant_id, chrono::Utc::now());
            Ok(state.cache.get_or_load(&key, dashboard::PANEL_CACHE_TTL, load).await?)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "dashboard/revenue_chart")]
pub async fn revenue_chart() -> Result<dto::RevenueChart, AppError> {
    use crate::server::{auth::guard::require_merchant, dashboard, error::reply, AppState};
    reply(
        async {
            let merchant_id = require_merchant()?;
            let state = AppState::from_context()?;
            let key = format!("dashboard:revenue:v2:{merchant_id}");
            let load = || dashboard::revenue_chart(state.db.read(), merchant_id, chrono::Utc::now());
            Ok(state.cache.get_or_load(&key, dashboard::PANEL_CACHE_TTL, load).await?)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "dashboard/fraud_review_status")]
pub async fn fraud_review_status() -> Result<dto::FraudReviewStatus, AppError> {
    use crate::server::{auth::guard::require_merchant, dashboard, error::reply, AppState};
    reply(
        async {
            let merchant_id = require_merchant()?;
            let state = AppState::from_context()?;
            let key = format!("dashboard:fraud:{merchant_id}");
            let load = || dashboard::fraud_review_status(state.db.read(), merchant_id, chrono::Utc::now());
            Ok(state.cache.get_or_load(&key, dashboard::FRAUD_CACHE_TTL, load).await?)
        }
        .await,
    )
}

/// The PayPal panel, from the cache or the database snapshot; never waits on PayPal.
#[server(prefix = "/rpc", endpoint = "dashboard/paypal_panel")]
pub async fn paypal_panel() -> Result<dto::PaypalPanel, AppError> {
    use crate::server::{auth::guard::require_merchant, error::reply, paypal, AppState};
    reply(
        async {
            let merchant_id = require_merchant()?;
            let state = AppState::from_context()?;
            let now = chrono::Utc::now();
            Ok(paypal::panel(state.db.read(), state.db.primary(), &state.cache, &state.paypal, merchant_id, now).await?)
        }
        .await,
    )
}

/// Asks for a background refresh of the merchant's PayPal data (rate-limited per merchant).
#[server(prefix = "/rpc", endpoint = "dashboard/request_paypal_refresh")]
pub async fn request_paypal_refresh() -> Result<(), AppError> {
    use crate::server::paypal::{self, RefreshRequest};
    use crate::server::{auth::guard::require_merchant, error::reply, AppState};
    reply(
        async {
            let merchant_id = require_merchant()?;
            let state = AppState::from_context()?;
            match paypal::request_refresh(state.db.primary(), &state.cache, &state.paypal, merchant_id, chrono::Utc::now()).await? {
                RefreshRequest::Queued => Ok(()),
                RefreshRequest::NotConnected => Err(AppError::Invalid("No PayPal account is connected to this merchant.".into())),
                RefreshRequest::TooSoon(seconds) => Err(AppError::RateLimited(seconds)),
            }
        }
        .await,
    )
}
