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

/// Records how long each page and server-function request took, by route. Routes are reduced
/// to a small fixed set of labels so the series count stays bounded.
pub async fn record_request_duration(request: Request, next: Next) -> Response {
    let route = route_label(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(route) = route {
        metrics::histogram!("vetted_http_request_duration_seconds", "route" => route).record(started.elapsed().as_secs_f64());
    }
    response
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
        p if p.starts_with("/pkg/") || p == "/metrics" || p == "/healthz" || p == "/readyz" => return None,
        _ => "page_other",
    })
}
