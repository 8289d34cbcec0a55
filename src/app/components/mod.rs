pub mod cel_editor;
pub mod chart;
pub mod hydration;
pub mod keys;
pub mod layout;
pub mod panel;
pub mod paypal;
pub mod review;
