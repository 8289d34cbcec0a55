pub mod merchant;
pub mod product;
pub mod session;
pub mod transaction;
pub mod user;
