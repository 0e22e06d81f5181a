//! webfb: the backend of a corporate internet-banking service (WEB-FB) — companies,
//! their people, their software tokens, and one-time-code authorisation of one-off
//! transfers. `main.rs` is a thin command line over this library; tests use it directly.

pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod otp;
pub mod service;
pub mod startup;
