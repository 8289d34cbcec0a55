//! Prometheus metrics for `GET /metrics`. One recorder per process, installed on first use.
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds; from a fast cache hit to PayPal's 3 s timeout.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0];

/// Installs the recorder (once) and returns the handle that renders the exposition text.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(&BUCKETS).expect("non-empty buckets");
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is already global (an embedding program's); keep ours local.
                Err(_) => PrometheusBuilder::new().set_buckets(&BUCKETS).expect("non-empty buckets").build_recorder().handle(),
            }
        })
        .clone()
}

/// Records how long each request took, by route and status class (`2xx` … `5xx`). Routes are
/// reduced to a small fixed set of labels so the series count stays bounded.
pub async fn record_request_duration(request: Request, next: Next) -> Response {
    let route = route_label(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(route) = route {
        let status = status_class(response.status().as_u16());
        metrics::histogram!("vetted_http_request_duration_seconds", "route" => route, "status" => status).record(started.elapsed().as_secs_f64());
    }
    response
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn route_label(path: &str) -> Option<&'static str> {
    Some(match path {
        "/" => "dashboard",
        "/rpc/dashboard/sales_summary" => "rpc_sales_summary",
        "/rpc/dashboard/revenue_chart" => "rpc_revenue_chart",
        "/rpc/dashboard/fraud_review_status" => "rpc_fraud_review_status",
        "/rpc/dashboard/paypal_panel" => "rpc_paypal_panel",
        "/rpc/dashboard/request_paypal_refresh" => "rpc_paypal_refresh",
        p if p.starts_with("/rpc/") => "rpc_other",
        "/api/v1/transactions" => "api_transactions",
        "/api/v1/transactions/batch" => "api_transactions_batch",
        "/api/v1/openapi.json" => "api_openapi",
        p if p.starts_with("/api/") => "api_other",
        "/webhooks/paypal" => "webhook_paypal",
        p if p.starts_with("/pkg/") || p == "/metrics" || p == "/healthz" || p == "/readyz" => return None,
        _ => "page_other",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_routes_are_labelled_as_such_and_statuses_by_class() {
        assert_eq!(route_label("/api/v1/transactions"), Some("api_transactions"));
        assert_eq!(route_label("/api/v1/transactions/batch"), Some("api_transactions_batch"));
        assert_eq!(route_label("/api/v2/whatever"), Some("api_other"));
        assert_eq!(route_label("/webhooks/paypal"), Some("webhook_paypal"));
        assert_eq!(route_label("/queue"), Some("page_other"));
        assert_eq!(route_label("/pkg/vetted.wasm"), None);
        assert_eq!([200, 303, 404, 413, 503].map(status_class), ["2xx", "3xx", "4xx", "4xx", "5xx"]);
    }
}
