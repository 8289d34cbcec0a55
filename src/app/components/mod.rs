pub mod chart;
pub mod hydration;
pub mod layout;
pub mod panel;
pub mod paypal;
