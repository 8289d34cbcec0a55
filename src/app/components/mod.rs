pub mod chart;
pub mod layout;
pub mod panel;
pub mod paypal;
