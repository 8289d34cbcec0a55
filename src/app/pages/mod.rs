pub mod case;
pub mod dashboard;
pub mod login;
pub mod merchant;
pub mod not_found;
pub mod queue;
pub mod rules;
