//! The admin console's users (`/admin/users`): list, create, change role, disable or enable,
//! reset a password. Admins only; each change is in the audit log.
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::app::dto::{Role, UserSummary};
use crate::app::error::AppError;

#[cfg(feature = "ssr")]
fn actor(admin: &crate::app::dto::SessionUser) -> crate::server::auth::users::Actor {
    crate::server::auth::users::Actor { user_id: Some(admin.id), email: admin.email.clone() }
}

/// Every account, admins first.
#[server(prefix = "/rpc", endpoint = "admin/users", input = Json)]
pub async fn users() -> Result<Vec<UserSummary>, AppError> {
    use crate::server::{
        auth::{guard::require_admin, users},
        error::{reply, ServiceError},
        AppState,
    };
    reply(
        async {
            require_admin()?;
            let state = AppState::from_context()?;
            Ok(users::list(state.db.read(), chrono::Utc::now()).await.map_err(ServiceError::from)?)
        }
        .await,
    )
}

/// Creates a reviewer or an admin with an initial password.
#[server(prefix = "/rpc", endpoint = "admin/create_user", input = Json)]
pub async fn create_user(email: String, display_name: String, role: Role, password: String) -> Result<UserSummary, AppError> {
    use crate::server::{
        auth::{guard::require_admin, users},
        error::reply,
        AppState,
    };
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let new = users::NewStaff { email: &email, display_name: &display_name, role, password: &password };
            Ok(users::create(state.db.primary(), &actor(&admin), new, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Makes a reviewer an admin, or an admin a reviewer (never the last enabled admin).
#[server(prefix = "/rpc", endpoint = "admin/set_user_role", input = Json)]
pub async fn set_user_role(user_id: i32, role: Role) -> Result<UserSummary, AppError> {
    use crate::server::{
        auth::{guard::require_admin, users},
        error::reply,
        AppState,
    };
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            Ok(users::set_role(state.db.primary(), &actor(&admin), user_id, role, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Disables an account (no sign-in; its sessions end at once) or enables it again.
#[server(prefix = "/rpc", endpoint = "admin/set_user_disabled", input = Json)]
pub async fn set_user_disabled(user_id: i32, disabled: bool) -> Result<UserSummary, AppError> {
    use crate::server::{
        auth::{guard::require_admin, users},
        error::reply,
        AppState,
    };
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            Ok(users::set_disabled(state.db.primary(), &actor(&admin), user_id, disabled, chrono::Utc::now()).await?)
        }
        .await,
    )
}

/// Sets a new password; the account's sessions end (the caller's own stays signed in).
#[server(prefix = "/rpc", endpoint = "admin/reset_user_password", input = Json)]
pub async fn reset_user_password(user_id: i32, password: String) -> Result<UserSummary, AppError> {
    use crate::server::{
        auth::{guard::require_admin, session, users},
        error::reply,
        AppState,
    };
    reply(
        async {
            let admin = require_admin()?;
            let state = AppState::from_context()?;
            let (summary, stamp) = users::reset_password(state.db.primary(), &actor(&admin), user_id, &password, chrono::Utc::now()).await?;
            if user_id == admin.id {
                session::restamp(&stamp).await?;
            }
            Ok(summary)
        }
        .await,
    )
}
