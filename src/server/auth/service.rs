//! Users: creating them, checking credentials, loading the signed-in user.
use std::net::IpAddr;

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::password;
use crate::app::dto::{Role, SessionUser};
use crate::app::error::AppError;
use crate::server::db::entities::user;
use crate::server::{db, AppState};

/// The signed-in person a row is; None for a disabled account (or an unknown role).
pub fn to_session_user(row: user::Model) -> Option<SessionUser> {
    if row.disabled_at.is_some() {
        return None;
    }
    Some(SessionUser { id: row.id, role: Role::parse(&row.role)?, email: row.email, display_name: row.display_name, merchant_id: row.merchant_id })
}

pub fn normalize_email(email: &str) -> String {
    crate::server::email::normalize(email)
}

/// Longest password accepted at sign-in: argon2 hashes any length, so the bound keeps an
/// anonymous caller from making each attempt arbitrarily expensive.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Checks the credentials; on success records the login time and returns the user, with the
/// stamp of their password for the session ([`super::users::session_stamp`]). Only wrong
/// credentials count against the client's sign-in budget. A disabled account is told so only
/// after the right password (anyone else gets the answer a wrong password gets).
pub async fn login(state: &AppState, email: &str, password: &str, client_ip: Option<IpAddr>) -> Result<(SessionUser, String), AppError> {
    let email = normalize_email(email);
    if email.is_empty() || password.is_empty() {
        return Err(AppError::Invalid("Enter your email and password.".into()));
    }
    if email.chars().count() > crate::server::email::MAX_EMAIL_LEN {
        return Err(AppError::Invalid(format!("That email address is longer than {} characters.", crate::server::email::MAX_EMAIL_LEN)));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::Invalid(format!("That password is longer than {MAX_PASSWORD_LEN} characters.")));
    }
    state.login_limiter.check(client_ip, &email).await.map_err(AppError::RateLimited)?;

    let row =
        user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(state.db.primary()).await.map_err(|e| internal("load user for login", &e))?;
    let stored = row.as_ref().map_or_else(|| password::decoy_hash().to_string(), |r| r.password_hash.clone());
    let matches = password::verify(password.to_string(), stored).await;
    let wrong = || AppError::BadCredentials;
    let row = match row {
        Some(row) if matches => row,
        _ => {
            state.login_limiter.record_failure(client_ip, &email).await;
            return Err(wrong());
        }
    };

    if row.disabled_at.is_some() {
        return Err(AppError::Invalid("This account is disabled. Ask an admin to enable it.".into()));
    }
    let stamp = super::users::session_stamp(&row.password_hash);
    let mut active: user::ActiveModel = row.clone().into();
    active.last_login_at = Set(Some(chrono::Utc::now()));
    active.update(state.db.primary()).await.map_err(|e| internal("record login", &e))?;
    if let Some(merchant_id) = row.merchant_id {
        // Recently active merchants get their PayPal data refreshed first.
        use crate::server::db::entities::paypal_account;
        paypal_account::Entity::update_many()
            .col_expr(paypal_account::Column::LastActiveAt, sea_orm::sea_query::Expr::value(chrono::Utc::now()))
            .filter(paypal_account::Column::MerchantId.eq(merchant_id))
            .exec(state.db.primary())
            .await
            .map_err(|e| internal("record merchant activity", &e))?;
    }
    Ok((to_session_user(row).ok_or_else(wrong)?, stamp))
}

/// The user a session belongs to, if that session still holds: the account exists, is enabled,
/// and its password is the one the session signed in with (`stamp`).
pub async fn find_session_user(db: &DatabaseConnection, user_id: i32, stamp: Option<&str>) -> Result<Option<SessionUser>, sea_orm::DbErr> {
    let Some(row) = user::Entity::find_by_id(user_id).one(db).await? else { return Ok(None) };
    if stamp != Some(super::users::session_stamp(&row.password_hash).as_str()) {
        return Ok(None);
    }
    Ok(to_session_user(row))
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("email {0:?} is not a valid address")]
    InvalidEmail(String),
    #[error("password must be at least {} characters", password::MIN_PASSWORD_LEN)]
    WeakPassword,
    #[error("a merchant user needs --merchant-id, and only merchant users may have one")]
    MerchantLink,
    #[error("merchant {0} does not exist")]
    UnknownMerchant(i32),
    #[error("a user with email {0:?} already exists")]
    DuplicateEmail(String),
    #[error("database error ({0})")]
    Database(&'static str),
    #[error("password hashing failed")]
    Hash,
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub role: Role,
    pub merchant_id: Option<i32>,
}

pub async fn create_user(db: &DatabaseConnection, new: NewUser<'_>) -> Result<user::Model, CreateUserError> {
    use crate::server::db::entities::merchant;
    let email = normalize_email(new.email);
    if !crate::server::email::is_valid(&email) {
        return Err(CreateUserError::InvalidEmail(new.email.to_string()));
    }
    if new.password.chars().count() < password::MIN_PASSWORD_LEN {
        return Err(CreateUserError::WeakPassword);
    }
    if (new.role == Role::Merchant) != new.merchant_id.is_some() {
        return Err(CreateUserError::MerchantLink);
    }
    let db_err = |e: sea_orm::DbErr| CreateUserError::Database(db::error_kind(&e));
    if let Some(id) = new.merchant_id {
        if merchant::Entity::find_by_id(id).one(db).await.map_err(db_err)?.is_none() {
            return Err(CreateUserError::UnknownMerchant(id));
        }
    }
    if user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(db).await.map_err(db_err)?.is_some() {
        return Err(CreateUserError::DuplicateEmail(email));
    }
    let password_hash = password::hash(new.password.to_string()).await.map_err(|_| CreateUserError::Hash)?;
    let row = user::ActiveModel {
        email: Set(email),
        display_name: Set(new.display_name.trim().to_string()),
        password_hash: Set(password_hash),
        role: Set(new.role.as_str().to_string()),
        merchant_id: Set(new.merchant_id),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    row.insert(db).await.map_err(db_err)
}

/// Logs what failed without the database's own text, and hands the client a generic error.
pub fn internal(action: &'static str, err: &sea_orm::DbErr) -> AppError {
    tracing::error!(action, kind = db::error_kind(err), "database operation failed");
    AppError::Internal
}
