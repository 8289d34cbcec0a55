//! Starting and ending a signed-in session from inside a server function.
use tower_sessions::Session;

use crate::app::dto::SessionUser;
use crate::app::error::AppError;

pub const USER_ID_KEY: &str = "user_id";
/// The stamp of the password the session signed in with (`auth::users::session_stamp`).
pub const STAMP_KEY: &str = "password_stamp";

async fn current_session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|_| AppError::Internal)
}

/// Signs `user` in. The session id is rotated so that an id planted before login is worthless.
pub async fn start(user: &SessionUser, stamp: &str) -> Result<(), AppError> {
    let session = current_session().await?;
    session.cycle_id().await.map_err(|_| AppError::Internal)?;
    session.insert(USER_ID_KEY, user.id).await.map_err(|_| AppError::Internal)?;
    session.insert(STAMP_KEY, stamp).await.map_err(|_| AppError::Internal)
}

/// Keeps this session signed in after its own user's password changed.
pub async fn restamp(stamp: &str) -> Result<(), AppError> {
    current_session().await?.insert(STAMP_KEY, stamp).await.map_err(|_| AppError::Internal)
}

/// Signs out: the stored session is deleted and the cookie cleared.
pub async fn end() -> Result<(), AppError> {
    current_session().await?.flush().await.map_err(|_| AppError::Internal)
}
