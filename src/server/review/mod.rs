//! Decisions by people: merchant actions now; cases, claims, appeals and the audit trail to come
//! (shared/DESIGN.md, "Decisions and cases").
//!
//! - [`merchant_state`]: the merchant risk state machine, pure — which move is allowed, for whom.
//! - [`merchant_actions`]: making a move (state and history in one transaction) and reading the
//!   history.
pub mod merchant_state;

pub mod merchant_actions;
