//! The fraud engine: transactions come in through the ingest API, CEL rules over the
//! transaction, the merchant, velocity and lists decide allow / review / block with an
//! explanation, and "review" opens a case for the queue.
//!
//! Read it top-down; each module uses only the ones listed before it:
//!
//! - [`rule_limits`]: the bounds on a rule's expression, checked before it is parsed.
//! - [`rules`]: a rule is a checked CEL expression; a ruleset decides from the facts.
//! - [`currency`], [`lists`], [`velocity`]: what the rules read besides the transaction.
//! - [`input`]: the transaction as the platform sends it, and its validation.
//! - [`decision`]: what a decision is made from (the rules and lists in force, an ingest that
//!   passed its checks) and what it answers.
//! - [`generation`]: the number every change to rules or lists moves, so instances reload.
//! - [`versions`], [`list_store`], [`default_rules`]: rulesets and lists in the database.
//! - [`writer`]: group commit, deciding and storing the ingests that arrive together.
//! - [`engine`]: each instance's rules and lists in memory, reloaded when the generation moves.
//! - [`ingest`]: the request path, from a validated transaction to its stored decision.
//! - [`api_keys`]: who may send.
pub mod rule_limits;
pub mod rules;

pub mod currency;
pub mod lists;
pub mod velocity;

pub mod decision;
pub mod input;

pub mod default_rules;
pub mod generation;
pub mod list_import;
pub mod list_store;
pub mod rule_stats;
pub mod versions;

pub mod engine;
pub mod ingest;
pub mod writer;

pub mod api_keys;
pub mod backtest;
pub mod trial;
