//! Users, sessions, password hashing and the role guard.
pub mod guard;
pub mod password;
pub mod rate_limit;
pub mod service;
pub mod session;
pub mod session_store;
pub mod users;
