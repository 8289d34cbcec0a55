//! The fraud engine: transactions come in through the ingest API, CEL rules over the
//! transaction, the merchant, velocity and lists decide allow / review / block with an
//! explanation, and "review" opens a case for the queue.
pub mod api_keys;
pub mod currency;
pub mod default_rules;
pub mod engine;
pub mod ingest;
pub mod list_store;
pub mod lists;
pub mod rules;
pub mod velocity;
pub mod versions;
pub mod writer;
