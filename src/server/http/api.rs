//! The ingest API (`/api/v1/…`): bearer API keys, JSON in and out, errors as
//! `{"error": {"code", "message", "fields"}}`. Its OpenAPI document is served at
//! `/api/v1/openapi.json`. These routes sit outside the session and page-guard layers: they
//! authenticate every call by its API key.
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::server::db;
use crate::server::db::entities::api_key;
use crate::server::fraud::api_keys;
use crate::server::fraud::decision::{Caller, DecisionResponse, IngestError, MatchedRule, RuleErrorReport};
use crate::server::fraud::ingest;
use crate::server::fraud::input::{self, BatchInput, FieldError, TransactionInput};
use crate::server::AppState;

/// A single transaction is a few hundred bytes; 16 KB leaves room and refuses abuse early.
pub const MAX_TRANSACTION_BODY: usize = 16 * 1024;
/// 1,000 transactions of up to ~2 KB each.
pub const MAX_BATCH_BODY: usize = 2 * 1024 * 1024;
/// Batch items in flight at once: enough to fill the writer's batches, which store the items
/// that arrive together in one database transaction.
const BATCH_CONCURRENCY: usize = crate::server::fraud::writer::MAX_BATCH;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/transactions", post(create_transaction).layer(DefaultBodyLimit::max(MAX_TRANSACTION_BODY)))
        .route("/api/v1/transactions/batch", post(create_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/webhooks/paypal", post(crate::server::paypal::webhooks::handle).layer(DefaultBodyLimit::max(256 * 1024)))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vetted ingest API",
        description = "Send transactions; get the fraud decision: allow, review (a case is opened) or block, with the rules that matched and why. An API key may be bound to one merchant: it then sends, and reads back (idempotent replays), that merchant's transactions only — any other merchant is a 403 `merchant_not_allowed`."
    ),
    paths(create_transaction, create_batch),
    components(schemas(TransactionInput, BatchInput, DecisionResponse, MatchedRule, RuleErrorReport, FieldError, ApiErrorBody, ApiError, BatchResponse, BatchItemResult)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// Stable, for programs: `unauthorized`, `merchant_not_allowed`, `validation_failed`, `body_too_large`,
    /// `unknown_merchant`, `unknown_product`, `idempotency_key_reused`, `external_id_reused`, `unavailable`, `internal_error`.
    pub code: String,
    /// For people.
    pub message: String,
    /// Field-level problems (validation only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiErrorBody {
    pub error: ApiError,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>, fields: Vec<FieldError>) -> Response {
    (status, Json(ApiErrorBody { error: ApiError { code: code.into(), message: message.into(), fields } })).into_response()
}

fn ingest_error(err: IngestError) -> (StatusCode, ApiError) {
    let (status, code) = match &err {
        IngestError::UnknownMerchant(_) => (StatusCode::NOT_FOUND, "unknown_merchant"),
        // Well formed (the document says so) but naming a product that is not the merchant's:
        // not found, as an unknown merchant is, rather than a validation failure.
        IngestError::UnknownProduct { .. } => (StatusCode::NOT_FOUND, "unknown_product"),
        IngestError::IdempotencyKeyReused => (StatusCode::CONFLICT, "idempotency_key_reused"),
        IngestError::ExternalIdReused(_) => (StatusCode::CONFLICT, "external_id_reused"),
        IngestError::Database(e) => {
            tracing::error!(kind = db::error_kind(e), "ingest failed in the database");
            return if matches!(e, sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_)) {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ApiError { code: "unavailable".into(), message: "The service is busy; retry with the same request.".into(), fields: vec![] },
                )
            } else {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ApiError { code: "internal_error".into(), message: "Something failed on our side; retry with the same request.".into(), fields: vec![] },
                )
            };
        }
    };
    (status, ApiError { code: code.into(), message: err.to_string(), fields: vec![] })
}

/// A key bound to one merchant sends that merchant's transactions only: anything else is a 403,
/// decided before anything is read or stored. The earlier decision a retry would read back is
/// behind this check too, so such a key never sees another merchant's decision.
fn check_scope(key: &api_key::Model, merchant_id: i32) -> Result<(), ApiError> {
    match key.merchant_id {
        Some(scope) if scope != merchant_id => Err(ApiError {
            code: "merchant_not_allowed".into(),
            message: format!("This API key is bound to merchant {scope}; it cannot send or read transactions of merchant {merchant_id}."),
            fields: vec![],
        }),
        _ => Ok(()),
    }
}

fn ingest_error_response(err: IngestError) -> Response {
    let (status, body) = ingest_error(err);
    (status, Json(ApiErrorBody { error: body })).into_response()
}

/// The API key from `Authorization: Bearer …`, or the 401 to send.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<api_key::Model, Response> {
    let unauthorized = |message: &str| error(StatusCode::UNAUTHORIZED, "unauthorized", message, vec![]);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .ok_or_else(|| unauthorized("Send an API key as `Authorization: Bearer <key>`."))?;
    match api_keys::authenticate(state.db.primary(), token.trim(), Utc::now()).await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(unauthorized("This API key is unknown or revoked.")),
        Err(e) => Err(ingest_error_response(IngestError::Database(e))),
    }
}

/// Every ingest route starts here: the caller's key first (a 401 before anything about the
/// body), then the body within its limit (a 413 in the API's error shape).
async fn authenticated_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<(api_key::Model, Bytes), Response> {
    let key = authenticate(state, headers).await?;
    Ok((key, body_or_413(body, limit)?))
}

fn body_or_413(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, Response> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("The body is larger than {limit} bytes."), vec![])
        } else {
            error(StatusCode::BAD_REQUEST, "bad_request", "The body could not be read.", vec![])
        }
    })
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters (the document's parameter
/// says the same: `max_length` and `pattern` on `create_transaction`).
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[\\x21-\\x7E]{1,255}$";

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Response> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    match value.to_str() {
        Ok(key) if (1..=IDEMPOTENCY_KEY_MAX_CHARS).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic()) => Ok(Some(key.to_string())),
        _ => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The Idempotency-Key header is invalid.",
            vec![FieldError { field: "Idempotency-Key".into(), message: "must be 1 to 255 visible ASCII characters".into() }],
        )),
    }
}

/// Decide one transaction.
#[utoipa::path(
    post,
    path = "/api/v1/transactions",
    request_body = TransactionInput,
    params((
        "Idempotency-Key" = Option<String>,
        Header,
        description = "Retries with the same key (and body) return the original response: 1 to 255 visible ASCII characters.",
        min_length = 1,
        max_length = 255,
        pattern = "^[\\x21-\\x7E]{1,255}$"
    )),
    responses(
        (status = 201, description = "Decided and stored", body = DecisionResponse),
        (status = 200, description = "The stored decision of an earlier identical request (header `Idempotent-Replayed: true`)", body = DecisionResponse),
        (status = 401, description = "Missing, unknown or revoked API key", body = ApiErrorBody),
        (status = 403, description = "`merchant_not_allowed`: the API key is bound to another merchant. Nothing is stored, and no earlier decision is replayed: a merchant-bound key never reads another merchant's transactions", body = ApiErrorBody),
        (status = 404, description = "Unknown merchant, or a product that is not the merchant's", body = ApiErrorBody),
        (status = 409, description = "The Idempotency-Key or external_id was used for a different request", body = ApiErrorBody),
        (status = 413, description = "Body over 16 KB", body = ApiErrorBody),
        (status = 422, description = "Invalid fields", body = ApiErrorBody),
    )
)]
pub async fn create_transaction(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let (key, body) = match authenticated_body(&state, &headers, body, MAX_TRANSACTION_BODY).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let idempotency_key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(response) => return response,
    };
    let input = match input::decode(&body) {
        Ok(input) => input,
        Err(fields) => return error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "The transaction has invalid fields.", fields),
    };
    if let Err(body) = check_scope(&key, input.merchant_id) {
        return (StatusCode::FORBIDDEN, Json(ApiErrorBody { error: body })).into_response();
    }
    let caller = Caller { api_key_id: key.id, idempotency_key };
    match ingest::ingest(state.db.primary(), &state.cache, &state.fraud, &caller, input).await {
        Ok(done) if done.replayed => {
            let mut response = (StatusCode::OK, Json(done.response)).into_response();
            response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(done) => (StatusCode::CREATED, Json(done.response)).into_response(),
        Err(err) => ingest_error_response(err),
    }
}

/// One item of a batch: its decision, or why it has none.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchItemResult {
    pub index: usize,
    /// The status the single endpoint would have answered with (201, 200, 404, 409, …).
    pub status: u16,
    pub decision: Option<DecisionResponse>,
    pub error: Option<ApiError>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchItemResult>,
}

/// Decide up to 1,000 transactions. The batch is validated as a whole first (nothing is stored
/// if any item is invalid); then each item is decided on its own and is idempotent by
/// (merchant, external_id), so a retried batch returns each item's original decision.
#[utoipa::path(
    post,
    path = "/api/v1/transactions/batch",
    request_body = BatchInput,
    responses(
        (status = 200, description = "One result per item, in order", body = BatchResponse),
        (status = 401, description = "Missing, unknown or revoked API key", body = ApiErrorBody),
        (status = 403, description = "`merchant_not_allowed`: an item is of a merchant other than the one the API key is bound to; nothing was stored", body = ApiErrorBody),
        (status = 413, description = "Body over 2 MB", body = ApiErrorBody),
        (status = 422, description = "Invalid items, with their paths (`transactions[3].amount`)", body = ApiErrorBody),
    )
)]
pub async fn create_batch(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let (key, body) = match authenticated_body(&state, &headers, body, MAX_BATCH_BODY).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let inputs = match input::decode_batch(&body) {
        Ok(inputs) => inputs,
        Err(fields) => return error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "The batch has invalid items; nothing was stored.", fields),
    };
    // As with invalid items: one item of another merchant and nothing of the batch is stored.
    if let Some((index, body)) = inputs.iter().enumerate().find_map(|(i, input)| check_scope(&key, input.merchant_id).err().map(|e| (i, e))) {
        let message = format!("transactions[{index}]: {}", body.message);
        return error(StatusCode::FORBIDDEN, &body.code, message, vec![]);
    }
    let caller = Caller { api_key_id: key.id, idempotency_key: None };
    let results: Vec<BatchItemResult> = futures::stream::iter(inputs.into_iter().enumerate())
        .map(|(index, input)| {
            let (state, caller) = (&state, &caller);
            async move {
                match ingest::ingest(state.db.primary(), &state.cache, &state.fraud, caller, input).await {
                    Ok(done) => BatchItemResult { index, status: if done.replayed { 200 } else { 201 }, decision: Some(done.response), error: None },
                    Err(err) => {
                        let (status, body) = ingest_error(err);
                        BatchItemResult { index, status: status.as_u16(), decision: None, error: Some(body) }
                    }
                }
            }
        })
        .buffered(BATCH_CONCURRENCY)
        .collect()
        .await;
    (StatusCode::OK, Json(BatchResponse { results })).into_response()
}
