//! One integration binary: every test runs the real server.

mod helpers;
mod test_pki;

mod admin_users;
mod approvals;
mod audit_and_import;
mod audit_trail;
mod bank;
mod browser;
mod certificates;
mod cli;
mod concurrency;
mod defences;
mod hostile;
mod hotline;
mod load_tool;
mod logs;
mod notifications;
mod oathtool;
mod openapi;
mod otp_management;
mod personal;
mod procedures;
mod pskc_import;
mod roles;
mod sessions;
mod startup;
mod token_issuance;
mod transfers;
mod validation;
