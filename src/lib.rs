//! webfb: the backend of a bank's internet banking (WEB-FB for companies, and personal
//! banking) — contracts, their people, their software tokens and certificates, and
//! one-time-code authorisation of sign-in and one-off transfers. `main.rs` is a thin command line over this library; tests use it directly.

pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod otp;
pub mod pki;
pub mod request_context;
pub mod service;
pub mod startup;
pub mod tls;
