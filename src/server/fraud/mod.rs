//! The fraud engine. So far: rules (CEL over a typed context) with save-time checks and the
//! decision semantics, and typed in-memory lists; ingest, velocity and storage come next (issue 4).
pub mod lists;
pub mod rules;
