//! The admin console's users (`/admin/users`): create reviewers and admins, change a role,
//! disable and enable, reset a password. Each change is one database transaction with its
//! audit event. There is always an enabled admin: a change that would leave none is refused,
//! and two concurrent ones cannot both pass (the admins' rows are locked first on PostgreSQL;
//! SQLite's write lock is taken at the transaction's start).
//!
//! Sessions: the page guard loads the user on every request, so a disabled account (or a role
//! change) takes effect on its next request; a session also carries a stamp of the password
//! hash it signed in with ([`session_stamp`]), so a password reset ends the other sessions.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use sha2::{Digest, Sha256};

use super::password;
use crate::app::dto::{Role, UserSummary};
use crate::server::audit;
use crate::server::db::entities::user;
use crate::server::email;

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// Longest password, in bytes (as at sign-in).
pub const MAX_PASSWORD_LEN: usize = super::service::MAX_PASSWORD_LEN;

#[derive(Debug, thiserror::Error)]
pub enum UserAdminError {
    #[error("enter a valid email address of at most {} characters", email::MAX_EMAIL_LEN)]
    InvalidEmail,
    #[error("a display name needs 1 to {MAX_DISPLAY_NAME_CHARS} characters")]
    BadDisplayName,
    #[error("a password needs at least {} characters", password::MIN_PASSWORD_LEN)]
    PasswordTooShort,
    #[error("a password may have at most {MAX_PASSWORD_LEN} characters")]
    PasswordTooLong,
    #[error("a user with the email {0} already exists")]
    DuplicateEmail(String),
    #[error("merchant users are linked to their merchant from the command line (vetted create-user --merchant-id); here: reviewers and admins")]
    MerchantRole,
    #[error("{0} is a merchant user: a merchant's account keeps the merchant role")]
    MerchantAccount(String),
    #[error("no user with id {0}")]
    Unknown(i32),
    #[error("{0} is the last enabled admin: make another admin first")]
    LastAdmin(String),
    #[error("you cannot disable your own account; another admin can")]
    DisableSelf,
    #[error("password hashing failed")]
    Hash,
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

/// Who makes a change: their user id (None for the command line) and the name the audit log
/// shows.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i32>,
    pub email: String,
}

pub struct NewStaff<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password: &'a str,
}

/// A short fingerprint of the password hash a session signed in with: stored in the session, and
/// compared on each request, so changing the password ends every other session.
pub fn session_stamp(password_hash: &str) -> String {
    hex::encode(&Sha256::digest(password_hash.as_bytes())[..12])
}

fn check_password(password: &str) -> Result<(), UserAdminError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(UserAdminError::PasswordTooLong);
    }
    if password.chars().count() < password::MIN_PASSWORD_LEN {
        return Err(UserAdminError::PasswordTooShort);
    }
    Ok(())
}

fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// Every user, admins first, then by name.
pub async fn list(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<UserSummary>, sea_orm::DbErr> {
    let rows = user::Entity::find().order_by_asc(user::Column::DisplayName).order_by_asc(user::Column::Id).all(db).await?;
    let mut all: Vec<UserSummary> = rows.into_iter().map(|row| summary(row, now)).collect();
    all.sort_by_key(|u| match u.role {
        Role::Admin => 0,
        Role::Reviewer => 1,
        Role::Merchant => 2,
    });
    Ok(all)
}

pub fn summary(row: user::Model, now: DateTime<Utc>) -> UserSummary {
    UserSummary {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        role: Role::parse(&row.role).unwrap_or(Role::Reviewer),
        merchant_id: row.merchant_id,
        created_at: row.created_at.to_rfc3339(),
        last_login_at: row.last_login_at.map(|t| t.to_rfc3339()),
        last_login_seconds_ago: row.last_login_at.map(|t| (now - t).num_seconds().max(0)),
        disabled_at: row.disabled_at.map(|t| t.to_rfc3339()),
    }
}

/// A write transaction: SQLite's write lock from the start (so checks and changes take turns).
async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..sea_orm::TransactionOptions::default()
    })
    .await
}

/// The enabled admins, their rows locked until the transaction ends on PostgreSQL (SQLite's
/// transaction holds the write lock already). A concurrent change of an admin waits here, then
/// sees what the first one committed.
async fn lock_enabled_admins(txn: &DatabaseTransaction) -> Result<Vec<i32>, sea_orm::DbErr> {
    let mut query = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::DisabledAt.is_null())
        .order_by_asc(user::Column::Id);
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.into_tuple::<i32>().all(txn).await
}

async fn load(txn: &DatabaseTransaction, user_id: i32) -> Result<user::Model, UserAdminError> {
    user::Entity::find_by_id(user_id).one(txn).await?.ok_or(UserAdminError::Unknown(user_id))
}

/// Creates a reviewer or an admin who signs in with `password`.
pub async fn create(db: &DatabaseConnection, actor: &Actor, new: NewStaff<'_>, now: DateTime<Utc>) -> Result<UserSummary, UserAdminError> {
    let address = email::normalize(new.email);
    if !email::is_valid(&address) {
        return Err(UserAdminError::InvalidEmail);
    }
    let display_name = new.display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(UserAdminError::BadDisplayName);
    }
    if new.role == Role::Merchant {
        return Err(UserAdminError::MerchantRole);
    }
    check_password(new.password)?;
    if user::Entity::find().filter(user::Column::Email.eq(address.as_str())).count(db).await? > 0 {
        return Err(UserAdminError::DuplicateEmail(address));
    }
    let password_hash = password::hash(new.password.to_string()).await.map_err(|_| UserAdminError::Hash)?;
    let txn = db.begin().await?;
    let inserted = user::ActiveModel {
        email: Set(address.clone()),
        display_name: Set(display_name.to_string()),
        password_hash: Set(password_hash),
        role: Set(new.role.as_str().to_string()),
        merchant_id: Set(None),
        created_at: Set(now),
        last_login_at: Set(None),
        disabled_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        // Created by someone else since the check above.
        Err(e) if is_unique_violation(&e) => return Err(UserAdminError::DuplicateEmail(address)),
        Err(e) => return Err(e.into()),
    };
    let entry = audit::Entry {
        actor: &actor.email,
        action: "user.created",
        object_kind: "user",
        object_id: row.id.to_string(),
        summary: format!("Created {} ({}) as {}", row.email, row.display_name, new.role.label().to_lowercase()),
        reason: None,
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(summary(row, now))
}

/// Makes a reviewer an admin or an admin a reviewer. Merchant accounts keep their role.
pub async fn set_role(db: &DatabaseConnection, actor: &Actor, user_id: i32, role: Role, now: DateTime<Utc>) -> Result<UserSummary, UserAdminError> {
    let txn = begin_write(db).await?;
    let admins = lock_enabled_admins(&txn).await?;
    let row = load(&txn, user_id).await?;
    let current = Role::parse(&row.role).unwrap_or(Role::Reviewer);
    if current == Role::Merchant {
        return Err(UserAdminError::MerchantAccount(row.email));
    }
    if role == Role::Merchant {
        return Err(UserAdminError::MerchantRole);
    }
    if current == role {
        return Ok(summary(row, now));
    }
    if current == Role::Admin && row.disabled_at.is_none() && admins.iter().all(|&id| id == user_id) {
        return Err(UserAdminError::LastAdmin(row.email));
    }
    let (email, from) = (row.email.clone(), current.label().to_lowercase());
    let mut active: user::ActiveModel = row.into();
    active.role = Set(role.as_str().to_string());
    let row = active.update(&txn).await?;
    let entry = audit::Entry {
        actor: &actor.email,
        action: "user.role_changed",
        object_kind: "user",
        object_id: user_id.to_string(),
        summary: format!("Changed {email} from {from} to {}", role.label().to_lowercase()),
        reason: None,
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(summary(row, now))
}

/// Disables an account (it cannot sign in; its sessions end at their next request) or enables it
/// again.
pub async fn set_disabled(db: &DatabaseConnection, actor: &Actor, user_id: i32, disabled: bool, now: DateTime<Utc>) -> Result<UserSummary, UserAdminError> {
    if disabled && actor.user_id == Some(user_id) {
        return Err(UserAdminError::DisableSelf);
    }
    let txn = begin_write(db).await?;
    let admins = lock_enabled_admins(&txn).await?;
    let row = load(&txn, user_id).await?;
    if row.disabled_at.is_some() == disabled {
        return Ok(summary(row, now));
    }
    if disabled && row.role == Role::Admin.as_str() && admins.iter().all(|&id| id == user_id) {
        return Err(UserAdminError::LastAdmin(row.email));
    }
    let email = row.email.clone();
    let mut active: user::ActiveModel = row.into();
    active.disabled_at = Set(disabled.then_some(now));
    let row = active.update(&txn).await?;
    let (action, verb) = if disabled { ("user.disabled", "Disabled") } else { ("user.enabled", "Enabled") };
    let entry =
        audit::Entry { actor: &actor.email, action, object_kind: "user", object_id: user_id.to_string(), summary: format!("{verb} {email}"), reason: None };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(summary(row, now))
}

/// Sets a new password; every session signed in with the old one ends (see [`session_stamp`]).
/// Returns the new session stamp, for the caller's own session when they reset their own.
pub async fn reset_password(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: i32,
    new_password: &str,
    now: DateTime<Utc>,
) -> Result<(UserSummary, String), UserAdminError> {
    check_password(new_password)?;
    let password_hash = password::hash(new_password.to_string()).await.map_err(|_| UserAdminError::Hash)?;
    let stamp = session_stamp(&password_hash);
    let txn = db.begin().await?;
    let row = load(&txn, user_id).await?;
    let email = row.email.clone();
    let mut active: user::ActiveModel = row.into();
    active.password_hash = Set(password_hash);
    let row = active.update(&txn).await?;
    let entry = audit::Entry {
        actor: &actor.email,
        action: "user.password_reset",
        object_kind: "user",
        object_id: user_id.to_string(),
        summary: format!("Set a new password for {email}; their sessions were ended"),
        reason: None,
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok((summary(row, now), stamp))
}

/// How many enabled admins there are.
pub async fn enabled_admins(db: &impl ConnectionTrait) -> Result<u64, sea_orm::DbErr> {
    user::Entity::find().filter(user::Column::Role.eq(Role::Admin.as_str())).filter(user::Column::DisabledAt.is_null()).count(db).await
}
