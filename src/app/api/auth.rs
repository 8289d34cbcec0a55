use leptos::prelude::*;

use crate::app::dto::SessionUser;
use crate::app::error::AppError;

/// Signs in with email and password, then sends the browser to the role's home page (or to `next`
/// when it is a path on this site).
#[server(prefix = "/rpc", endpoint = "auth/login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<SessionUser, AppError> {
    use crate::server::{auth, error::reply, AppState};
    reply(
        async {
            let state = AppState::from_context()?;
            let (user, stamp) = auth::service::login(&state, &email, &password, auth::guard::client_ip()).await?;
            auth::session::start(&user, &stamp).await?;
            let target = next.as_deref().and_then(auth::guard::safe_local_redirect).unwrap_or_else(|| user.role.home_path().to_string());
            leptos_axum::redirect(&target);
            Ok(user)
        }
        .await,
    )
}

/// Ends the session: the stored session is deleted, so the cookie is worthless everywhere.
#[server(prefix = "/rpc", endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::server::error::reply;
    reply(crate::server::auth::session::end().await.map(|()| leptos_axum::redirect("/login")))
}
