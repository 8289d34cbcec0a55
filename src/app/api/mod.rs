//! Server function declarations. Each is a public POST endpoint under `/rpc/`: it checks the
//! caller's role itself, calls one service function and returns a DTO.
pub mod admin;
pub mod auth;
pub mod dashboard;
pub mod review;
pub mod users;
pub mod webhooks;
