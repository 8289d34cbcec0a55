//! The merchant dashboard's panels: one server function per panel.
use leptos::prelude::*;

use crate::app::dto;
use crate::app::error::AppError;

#[server(prefix = "/rpc", endpoint = "dashboard/sales_summary")]
pub async fn sales_summary() -> Result<dto::SalesSummary, AppError> {
    use crate::server::{auth::guard::require_merchant, dashboard, error::reply, AppState};
    reply(async {
        let merchant_id = require_merchant()?;
        let state = AppState::from_context()?;
        state.debug_panel_delay().await;
        Ok(dashboard::sales_summary(state.db.read(), merchant_id, chrono::Utc::now()).await?)
    }
    .await)
}

#[server(prefix = "/rpc", endpoint = "dashboard/revenue_chart")]
pub async fn revenue_chart() -> Result<dto::RevenueChart, AppError> {
    use crate::server::{auth::guard::require_merchant, dashboard, error::reply, AppState};
    reply(async {
        let merchant_id = require_merchant()?;
        let state = AppState::from_context()?;
        Ok(dashboard::revenue_chart(state.db.read(), merchant_id, chrono::Utc::now()).await?)
    }
    .await)
}

#[server(prefix = "/rpc", endpoint = "dashboard/fraud_review_status")]
pub async fn fraud_review_status() -> Result<dto::FraudReviewStatus, AppError> {
    use crate::server::{auth::guard::require_merchant, dashboard, error::reply, AppState};
    reply(async {
        let merchant_id = require_merchant()?;
        let state = AppState::from_context()?;
        Ok(dashboard::fraud_review_status(state.db.read(), merchant_id, chrono::Utc::now()).await?)
    }
    .await)
}
