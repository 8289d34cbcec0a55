pub mod merchant;
pub mod paypal_account;
pub mod paypal_snapshot;
pub mod product;
pub mod session;
pub mod transaction;
pub mod user;
