//! Errors of the service layer, and how they reach a client: specific where the caller can act,
//! generic (and logged without database text) where it cannot.
use http::StatusCode;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::app::error::AppError;
use crate::server::db;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

impl From<ServiceError> for AppError {
    fn from(err: ServiceError) -> AppError {
        match err {
            ServiceError::NotFound(what) => AppError::Invalid(format!("The {what} no longer exists.")),
            ServiceError::Database(e) => {
                tracing::error!(kind = db::error_kind(&e), "database operation failed");
                AppError::Internal
            }
        }
    }
}

impl From<crate::server::fraud::versions::VersionError> for AppError {
    fn from(err: crate::server::fraud::versions::VersionError) -> AppError {
        use crate::server::fraud::versions::VersionError;
        match err {
            VersionError::Database(e) => ServiceError::Database(e).into(),
            VersionError::Invalid(problems) => {
                let first = problems.iter().take(3).map(|p| match (p.line, p.column) {
                    (Some(line), Some(column)) => format!("{} (line {line}, column {column}): {}", p.rule_name, p.message),
                    _ if p.rule_name.is_empty() => p.message.clone(),
                    _ => format!("{}: {}", p.rule_name, p.message),
                });
                AppError::Invalid(format!("The ruleset has {} problem(s): {}", problems.len(), first.collect::<Vec<_>>().join("; ")))
            }
            other => AppError::Invalid(capitalised(&other.to_string())),
        }
    }
}

impl From<crate::server::fraud::trial::TrialError> for AppError {
    fn from(err: crate::server::fraud::trial::TrialError) -> AppError {
        use crate::server::fraud::{trial::TrialError, versions::VersionError};
        match err {
            TrialError::Database(e) => ServiceError::Database(e).into(),
            TrialError::Invalid(problems) => VersionError::Invalid(problems).into(),
            other => AppError::Invalid(capitalised(&other.to_string())),
        }
    }
}

impl From<crate::server::fraud::backtest::BacktestError> for AppError {
    fn from(err: crate::server::fraud::backtest::BacktestError) -> AppError {
        use crate::server::fraud::{backtest::BacktestError, versions::VersionError};
        match err {
            BacktestError::Database(e) => ServiceError::Database(e).into(),
            BacktestError::Invalid(problems) => VersionError::Invalid(problems).into(),
            BacktestError::Unknown(_) => AppError::NotFound(capitalised(&err.to_string())),
            other => AppError::Invalid(capitalised(&other.to_string())),
        }
    }
}

impl From<crate::server::fraud::list_store::ListStoreError> for AppError {
    fn from(err: crate::server::fraud::list_store::ListStoreError) -> AppError {
        match err {
            crate::server::fraud::list_store::ListStoreError::Database(e) => ServiceError::Database(e).into(),
            other => AppError::Invalid(capitalised(&other.to_string())),
        }
    }
}

impl From<crate::server::audit::AuditQueryError> for AppError {
    fn from(err: crate::server::audit::AuditQueryError) -> AppError {
        match err {
            crate::server::audit::AuditQueryError::Database(e) => ServiceError::Database(e).into(),
            other => AppError::Invalid(capitalised(&other.to_string())),
        }
    }
}

impl From<crate::server::fraud::api_keys::ApiKeyError> for AppError {
    fn from(err: crate::server::fraud::api_keys::ApiKeyError) -> AppError {
        match err {
            crate::server::fraud::api_keys::ApiKeyError::Database(e) => ServiceError::Database(e).into(),
            other => AppError::Invalid(capitalised(&other.to_string())),
        }
    }
}

impl From<crate::server::auth::users::UserAdminError> for AppError {
    fn from(err: crate::server::auth::users::UserAdminError) -> AppError {
        use crate::server::auth::users::UserAdminError;
        match err {
            UserAdminError::Database(e) => ServiceError::Database(e).into(),
            UserAdminError::Hash => AppError::Internal,
            UserAdminError::Unknown(_) => AppError::NotFound(capitalised(&err.to_string())),
            other => AppError::Invalid(capitalised(&other.to_string())),
        }
    }
}

impl From<crate::server::review::cases::CaseError> for AppError {
    fn from(err: crate::server::review::cases::CaseError) -> AppError {
        match err {
            crate::server::review::cases::CaseError::Database(e) => ServiceError::Database(e).into(),
            crate::server::review::cases::CaseError::NotFound(_) | crate::server::review::cases::CaseError::UnknownMerchant(_) => {
                AppError::NotFound(err.to_string())
            }
            other => AppError::Invalid(other.to_string()),
        }
    }
}

impl From<crate::server::review::merchant_actions::MerchantActionError> for AppError {
    fn from(err: crate::server::review::merchant_actions::MerchantActionError) -> AppError {
        match err {
            crate::server::review::merchant_actions::MerchantActionError::Database(e) => ServiceError::Database(e).into(),
            crate::server::review::merchant_actions::MerchantActionError::UnknownMerchant(_) => AppError::NotFound(err.to_string()),
            other => AppError::Invalid(other.to_string()),
        }
    }
}

fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// The HTTP status a server function answers with for each error.
pub fn status_of(err: &AppError) -> StatusCode {
    match err {
        AppError::Unauthenticated | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        AppError::Transport(_) => StatusCode::BAD_REQUEST,
    }
}

/// Ends every server function: an error sets the matching HTTP status on the response.
pub fn reply<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let (Err(err), Some(response)) = (&result, use_context::<ResponseOptions>()) {
        response.set_status(status_of(err));
    }
    result
}

impl From<crate::server::outbound::endpoints::EndpointError> for AppError {
    fn from(err: crate::server::outbound::endpoints::EndpointError) -> AppError {
        use crate::server::outbound::endpoints::EndpointError;
        match err {
            EndpointError::Database(e) => ServiceError::Database(e).into(),
            EndpointError::Unknown(_) => AppError::NotFound(capitalised(&err.to_string())),
            other => AppError::Invalid(capitalised(&other.to_string())),
        }
    }
}

impl From<crate::server::outbound::delivery::ManualError> for AppError {
    fn from(err: crate::server::outbound::delivery::ManualError) -> AppError {
        use crate::server::outbound::delivery::ManualError;
        match err {
            ManualError::Database(e) => ServiceError::Database(e).into(),
            other => AppError::NotFound(capitalised(&other.to_string())),
        }
    }
}
