//! Downloads for admins (CSV): plain GET links, so the browser saves them as files. The page
//! guard already keeps /admin to admins; each handler checks the role itself as well.
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::app::dto::{AuditFilter, Role};
use crate::server::audit::{self, AuditQueryError};
use crate::server::auth::guard::CurrentUser;
use crate::server::fraud::list_store::{self, ListStoreError};
use crate::server::AppState;

fn is_admin(user: &Option<Extension<CurrentUser>>) -> bool {
    user.as_ref().is_some_and(|u| u.0 .0.as_ref().is_some_and(|u| u.role == Role::Admin))
}

fn csv_file(name: &str, body: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

/// `/admin/lists/{name}/export.csv`: the list's matching entries, as an import reads them back.
pub async fn list_csv(State(state): State<AppState>, Path(name): Path<String>, user: Option<Extension<CurrentUser>>) -> Response {
    if !is_admin(&user) {
        return (StatusCode::FORBIDDEN, "Only admins can export lists.").into_response();
    }
    match list_store::export(state.db.read(), &name, chrono::Utc::now()).await {
        Ok(body) => csv_file(&format!("{name}.csv"), body),
        Err(ListStoreError::Database(e)) => {
            tracing::error!(kind = crate::server::db::error_kind(&e), "list export failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "The export failed; try again.").into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

/// `/admin/audit/export.csv?actor=&object_kind=&object_id=&from=&to=`: the filtered log, newest
/// first, up to `audit::MAX_EXPORT_ROWS` rows.
pub async fn audit_csv(State(state): State<AppState>, Query(filter): Query<AuditFilter>, user: Option<Extension<CurrentUser>>) -> Response {
    if !is_admin(&user) {
        return (StatusCode::FORBIDDEN, "Only admins can export the audit log.").into_response();
    }
    match audit::export(state.db.read(), &filter).await {
        Ok(body) => csv_file("audit.csv", body),
        Err(AuditQueryError::Database(e)) => {
            tracing::error!(kind = crate::server::db::error_kind(&e), "audit export failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "The export failed; try again.").into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}
