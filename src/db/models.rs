//! Rows as stored. Services turn them into domain values; nothing here reaches the wire.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::*;
use crate::domain::{OtpStatus, Role, TokenMode};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = bank_operators)]
pub struct OperatorRow {
    pub id: String,
    pub login_id: String,
    pub name: String,
    pub password_hash: String,
    pub failed_logins: i32,
    pub locked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = companies)]
pub struct CompanyRow {
    pub id: String,
    pub name: String,
    pub transfer_limit: i64,
    pub otp_mode: Option<String>,
    pub otp_status: String,
    pub otp_activated_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = company_accounts)]
pub struct AccountRow {
    pub id: String,
    pub company_id: String,
    pub branch_code: String,
    pub account_number: String,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub company_id: String,
    pub login_id: String,
    pub name: String,
    pub role: String,
    pub can_transfer: bool,
    pub disabled: bool,
    pub password_hash: String,
    pub failed_logins: i32,
    pub login_locked_at: Option<NaiveDateTime>,
    pub transfer_password_hash: String,
    pub transfer_password_failures: i32,
    pub transfer_password_locked_at: Option<NaiveDateTime>,
    pub approval_password_hash: Option<String>,
    pub approval_failures: i32,
    pub approval_locked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = soft_tokens)]
pub struct SoftTokenRow {
    pub id: String,
    pub token_id: String,
    pub company_id: Option<String>,
    pub source: String,
    pub algorithm: String,
    pub digits: i32,
    pub period: i32,
    pub key_id: String,
    pub sealed_secret: Vec<u8>,
    pub issued_by: Option<String>,
    pub issued_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub holder_id: Option<String>,
    pub registered_at: Option<NaiveDateTime>,
    pub last_used_step: i64,
    pub failed_attempts: i32,
    pub locked_at: Option<NaiveDateTime>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = otp_step_uses)]
pub struct OtpStepUseRow {
    pub id: String,
    pub soft_token_id: String,
    pub step: i64,
    pub used_by: String,
    pub purpose: String,
    pub transfer_id: Option<String>,
    pub used_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = transfers)]
pub struct TransferRow {
    pub id: String,
    pub company_id: String,
    pub created_by: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub content_hash: String,
    pub debit_account: String,
    pub payee_bank_code: String,
    pub payee_branch_code: String,
    pub payee_account_type: String,
    pub payee_account_number: String,
    pub payee_name: String,
    pub amount: i64,
    pub execution_date: NaiveDate,
    pub memo: Option<String>,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub confirmed_at: Option<NaiveDateTime>,
    pub confirmation_method: Option<String>,
    pub confirmed_step: Option<i64>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub cancelled_by: Option<String>,
}

/// An audit event as written; the id is assigned by the database, in order.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent {
    pub occurred_at: NaiveDateTime,
    pub company_id: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    pub flagged: bool,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEventRow {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub company_id: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    pub flagged: bool,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

impl CompanyRow {
    /// The OTP status. The column's CHECK constraint admits only the two values.
    pub fn status(&self) -> OtpStatus {
        if self.otp_status == OtpStatus::Active.as_str() {
            OtpStatus::Active
        } else {
            OtpStatus::Inactive
        }
    }

    /// The token mode, once chosen (CHECK-constrained like the status).
    pub fn mode(&self) -> Option<TokenMode> {
        self.otp_mode.as_deref().and_then(|m| m.parse().ok())
    }
}

impl UserRow {
    /// The role. The column's CHECK constraint admits only `admin` and `user`.
    pub fn role(&self) -> Role {
        if self.role == Role::Admin.as_str() {
            Role::Admin
        } else {
            Role::User
        }
    }

    /// The administrator always has the one-off transfer permission.
    pub fn may_transfer(&self) -> bool {
        self.role() == Role::Admin || self.can_transfer
    }
}
