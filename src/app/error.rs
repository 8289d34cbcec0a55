//! The one error type every server function returns. Its messages are written for the person in
//! front of the page; nothing from a database or a secret is ever put in one.
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthenticated,
    #[error("Your role does not give access to this.")]
    Forbidden,
    #[error("That email and password do not match an account.")]
    BadCredentials,
    /// Input the caller can fix; the message names what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// What was asked for does not exist; the message names it.
    #[error("{0}")]
    NotFound(String),
    #[error("Too many attempts. Try again in {0} seconds.")]
    RateLimited(u64),
    #[error("Something went wrong on our side; it has been logged. Please try again.")]
    Internal,
    /// Transport or encoding failures between the browser and the server.
    #[error("Could not reach the server ({0}).")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
