//! One integration binary: every test runs the real server.

mod helpers;

mod admin_users;
mod bank;
mod cli;
mod openapi;
mod otp_management;
mod sessions;
mod startup;
mod validation;
