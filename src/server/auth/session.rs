//! Starting and ending a signed-in session from inside a server function.
use tower_sessions::Session;

use crate::app::dto::SessionUser;
use crate::app::error::AppError;

pub const USER_ID_KEY: &str = "user_id";

async fn current_session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|_| AppError::Internal)
}

/// Signs `user` in. The session id is rotated so that an id planted before login is worthless.
pub async fn start(user: &SessionUser) -> Result<(), AppError> {
    let session = current_session().await?;
    session.cycle_id().await.map_err(|_| AppError::Internal)?;
    session.insert(USER_ID_KEY, user.id).await.map_err(|_| AppError::Internal)
}

/// Signs out: the stored session is deleted and the cookie cleared.
pub async fn end() -> Result<(), AppError> {
    current_session().await?.flush().await.map_err(|_| AppError::Internal)
}
