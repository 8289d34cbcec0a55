//! The background path: work that may be slow or fail, off the request path.
pub mod case_leases;
pub mod outbound;
pub mod paypal_sync;
pub mod rule_hits;
