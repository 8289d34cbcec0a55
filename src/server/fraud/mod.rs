//! The fraud engine. So far: rules (CEL over a typed context) with save-time checks and the
//! decision semantics; ingest, lists, velocity and storage come next (issue 4).
pub mod rules;
