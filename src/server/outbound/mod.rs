//! Outbound webhooks: the platform's own services (payouts, checkout, e-mail) hear of every
//! change that concerns them, reliably.
//!
//! - [`outbox::record`] writes an event in the same database transaction as the change that
//!   causes it: a change never commits without its event, nor an event without its change.
//! - [`delivery`] runs on the background path: it hands each event to the endpoints that want it
//!   (`webhook_deliveries`), then delivers every endpoint's events in order of creation, one
//!   instance per endpoint at a time (a lease), signed ([`signing`]), retried with exponential
//!   backoff and jitter; a 2xx within 10 s is success; an endpoint failing for 3 days is disabled.
//!   Delivery is at least once: a receiver deduplicates by the event id.
//! - [`endpoints`]: what admins register, only `https://` to public addresses ([`address`]).
pub mod address;
pub mod delivery;
pub mod endpoints;
pub mod outbox;
pub mod signing;
