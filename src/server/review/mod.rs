//! Decisions by people (shared/DESIGN.md, "Decisions and cases").
//!
//! - [`cases`]: the queue, claims, dispositions and the case timeline.
//! - [`priority`]: the queue's documented priority formula.
//! - [`merchant_state`]: the merchant risk state machine, pure — which move is allowed, for whom.
//! - [`merchant_actions`]: making a move (state and history in one transaction) and reading the
//!   history.
//! - [`read_your_writes`]: a reviewer's reads go to the primary just after they wrote.
pub mod cases;
pub mod merchant_actions;
pub mod merchant_state;
pub mod priority;
pub mod read_your_writes;
