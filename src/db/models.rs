//! Rows as stored, seen only inside `db`. Each converts into its domain entity, which
//! carries no password hash and no sealed seed.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::*;
use crate::domain::approval::ApprovalPolicy;
use crate::domain::audit::AuditEvent;
use crate::domain::soft_token::SoftToken;
use crate::domain::transfer::{Payee, Transfer};
use crate::domain::user::Lock;
use crate::domain::{BankOperator, Company, TransferLimit, User};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = bank_operators, treat_none_as_default_value = false)]
pub(crate) struct OperatorRow {
    pub(crate) id: String,
    pub(crate) login_id: String,
    pub(crate) name: String,
    pub(crate) password_hash: String,
    pub(crate) failed_logins: i32,
    pub(crate) locked_at: Option<NaiveDateTime>,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) locked_until: Option<NaiveDateTime>,
    pub(crate) locks: i32,
    pub(crate) disabled: bool,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = companies, treat_none_as_default_value = false)]
pub(crate) struct CompanyRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) transfer_limit: i64,
    pub(crate) otp_mode: Option<String>,
    pub(crate) otp_status: String,
    pub(crate) otp_activated_at: Option<NaiveDateTime>,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) updated_at: NaiveDateTime,
    pub(crate) kind: String,
    pub(crate) closed_at: Option<NaiveDateTime>,
    pub(crate) login_method: String,
    pub(crate) approval_min_amount: Option<i64>,
    pub(crate) approvals_required: i32,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = person_certificates, treat_none_as_default_value = false)]
pub(crate) struct CertificateRow {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) fingerprint: String,
    pub(crate) serial: String,
    pub(crate) subject: String,
    pub(crate) not_before: NaiveDateTime,
    pub(crate) not_after: NaiveDateTime,
    pub(crate) registered_at: NaiveDateTime,
    pub(crate) registered_by: String,
    pub(crate) revoked_at: Option<NaiveDateTime>,
    pub(crate) revoked_by: Option<String>,
}

impl From<CertificateRow> for crate::domain::PersonCertificate {
    fn from(r: CertificateRow) -> Self {
        crate::domain::PersonCertificate {
            not_before: utc(r.not_before),
            not_after: utc(r.not_after),
            registered_at: utc(r.registered_at),
            revoked_at: r.revoked_at.map(utc),
            id: r.id,
            user_id: r.user_id,
            fingerprint: r.fingerprint,
            serial: r.serial,
            subject: r.subject,
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = company_accounts, treat_none_as_default_value = false)]
pub(crate) struct AccountRow {
    pub(crate) id: String,
    pub(crate) company_id: String,
    pub(crate) branch_code: String,
    pub(crate) account_number: String,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) company_id: String,
    pub(crate) login_id: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) can_transfer: bool,
    pub(crate) disabled: bool,
    pub(crate) password_hash: String,
    pub(crate) failed_logins: i32,
    pub(crate) login_locked_at: Option<NaiveDateTime>,
    pub(crate) transfer_password_hash: String,
    pub(crate) transfer_password_failures: i32,
    pub(crate) transfer_password_locked_at: Option<NaiveDateTime>,
    pub(crate) approval_password_hash: Option<String>,
    pub(crate) approval_failures: i32,
    pub(crate) approval_locked_at: Option<NaiveDateTime>,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) updated_at: NaiveDateTime,
    pub(crate) login_locked_until: Option<NaiveDateTime>,
    pub(crate) login_locks: i32,
    pub(crate) email: Option<String>,
    pub(crate) can_approve: bool,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
pub(crate) struct SessionRow {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) subject_id: String,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) last_seen_at: NaiveDateTime,
    pub(crate) expires_at: NaiveDateTime,
    pub(crate) ended_at: Option<NaiveDateTime>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = soft_tokens, treat_none_as_default_value = false)]
pub(crate) struct SoftTokenRow {
    pub(crate) id: String,
    pub(crate) token_id: String,
    pub(crate) company_id: Option<String>,
    pub(crate) source: String,
    pub(crate) algorithm: String,
    pub(crate) digits: i32,
    pub(crate) period: i32,
    pub(crate) key_id: String,
    pub(crate) sealed_secret: Vec<u8>,
    pub(crate) issued_by: Option<String>,
    pub(crate) issued_at: NaiveDateTime,
    pub(crate) expires_at: Option<NaiveDateTime>,
    pub(crate) holder_id: Option<String>,
    pub(crate) registered_at: Option<NaiveDateTime>,
    pub(crate) last_used_step: i64,
    pub(crate) failed_attempts: i32,
    pub(crate) locked_at: Option<NaiveDateTime>,
    pub(crate) suspended_at: Option<NaiveDateTime>,
    pub(crate) otp_kind: String,
    pub(crate) time_drift: i64,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = otp_step_uses, treat_none_as_default_value = false)]
pub(crate) struct OtpStepUseRow {
    pub(crate) id: String,
    pub(crate) soft_token_id: String,
    pub(crate) step: i64,
    pub(crate) used_by: String,
    pub(crate) purpose: String,
    pub(crate) transfer_id: Option<String>,
    pub(crate) used_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = transfers, treat_none_as_default_value = false)]
pub(crate) struct TransferRow {
    pub(crate) id: String,
    pub(crate) company_id: String,
    pub(crate) created_by: String,
    pub(crate) idempotency_key: String,
    pub(crate) request_hash: String,
    pub(crate) content_hash: String,
    pub(crate) debit_account: String,
    pub(crate) payee_bank_code: String,
    pub(crate) payee_branch_code: String,
    pub(crate) payee_account_type: String,
    pub(crate) payee_account_number: String,
    pub(crate) payee_name: String,
    pub(crate) amount: i64,
    pub(crate) execution_date: NaiveDate,
    pub(crate) memo: Option<String>,
    pub(crate) status: String,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) expires_at: NaiveDateTime,
    pub(crate) confirmed_at: Option<NaiveDateTime>,
    pub(crate) confirmation_method: Option<String>,
    pub(crate) confirmed_step: Option<i64>,
    pub(crate) cancelled_at: Option<NaiveDateTime>,
    pub(crate) cancelled_by: Option<String>,
    pub(crate) content_key_id: Option<String>,
    pub(crate) approvals_required: i32,
    pub(crate) approvals_given: i32,
}

/// An audit event as written, with its MAC; the id is assigned by the database.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub(crate) struct NewAuditEvent {
    pub(crate) uid: String,
    pub(crate) mac: String,
    pub(crate) mac_key_id: String,
    pub(crate) occurred_at: NaiveDateTime,
    pub(crate) company_id: Option<String>,
    pub(crate) actor_kind: String,
    pub(crate) actor_id: Option<String>,
    pub(crate) action: String,
    pub(crate) target_kind: Option<String>,
    pub(crate) target_id: Option<String>,
    pub(crate) outcome: String,
    pub(crate) flagged: bool,
    pub(crate) client_addr: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) request_id: Option<String>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub(crate) struct AuditEventRow {
    pub(crate) id: i64,
    pub(crate) occurred_at: NaiveDateTime,
    pub(crate) company_id: Option<String>,
    pub(crate) actor_kind: String,
    pub(crate) actor_id: Option<String>,
    pub(crate) action: String,
    pub(crate) target_kind: Option<String>,
    pub(crate) target_id: Option<String>,
    pub(crate) outcome: String,
    pub(crate) flagged: bool,
    pub(crate) client_addr: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) uid: Option<String>,
    pub(crate) mac: Option<String>,
    pub(crate) mac_key_id: Option<String>,
    pub(crate) request_id: Option<String>,
}

/// A stored text that names a domain value; the columns' CHECK constraints and the code
/// that writes them admit nothing else, so a refusal here is damaged data.
fn stored<T: std::str::FromStr<Err = String>>(text: &str) -> diesel::deserialize::Result<T> {
    text.parse().map_err(Into::into)
}

fn utc(t: NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    t.and_utc()
}

impl TryFrom<CompanyRow> for Company {
    type Error = Box<dyn std::error::Error + Send + Sync>;
    fn try_from(r: CompanyRow) -> Result<Company, Self::Error> {
        Ok(Company {
            transfer_limit: TransferLimit::new(r.transfer_limit).map_err(|e| e.message)?,
            otp_mode: r.otp_mode.as_deref().map(stored).transpose()?,
            kind: stored(&r.kind)?,
            login_method: stored(&r.login_method)?,
            approval_policy: r.approval_min_amount.map(|min_amount| ApprovalPolicy {
                min_amount,
                approvals: r.approvals_required,
            }),
            closed_at: r.closed_at.map(utc),
            otp_status: stored(&r.otp_status)?,
            otp_activated_at: r.otp_activated_at.map(utc),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
            id: r.id,
            name: r.name,
        })
    }
}

impl TryFrom<UserRow> for User {
    type Error = Box<dyn std::error::Error + Send + Sync>;
    fn try_from(r: UserRow) -> Result<User, Self::Error> {
        Ok(User {
            role: stored(&r.role)?,
            login_lock: r.login_locked_at.map(|since| Lock {
                since: utc(since),
                until: r.login_locked_until.map(utc),
            }),
            transfer_password_locked: r.transfer_password_locked_at.is_some(),
            approval_locked: r.approval_locked_at.is_some(),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
            id: r.id,
            company_id: r.company_id,
            login_id: r.login_id,
            name: r.name,
            can_transfer: r.can_transfer,
            can_approve: r.can_approve,
            disabled: r.disabled,
            email: r.email,
        })
    }
}

impl From<OperatorRow> for BankOperator {
    fn from(r: OperatorRow) -> BankOperator {
        BankOperator {
            lock: r.locked_at.map(|since| Lock {
                since: utc(since),
                until: r.locked_until.map(utc),
            }),
            disabled: r.disabled,
            created_at: utc(r.created_at),
            id: r.id,
            login_id: r.login_id,
            name: r.name,
        }
    }
}

impl TryFrom<SoftTokenRow> for SoftToken {
    type Error = Box<dyn std::error::Error + Send + Sync>;
    fn try_from(r: SoftTokenRow) -> Result<SoftToken, Self::Error> {
        Ok(SoftToken {
            source: stored(&r.source)?,
            registered_at: r.registered_at.map(utc),
            expires_at: r.expires_at.map(utc),
            locked: r.locked_at.is_some(),
            suspended: r.suspended_at.is_some(),
            id: r.id,
            token_id: r.token_id,
            company_id: r.company_id,
            holder_id: r.holder_id,
        })
    }
}

impl TryFrom<TransferRow> for Transfer {
    type Error = Box<dyn std::error::Error + Send + Sync>;
    fn try_from(r: TransferRow) -> Result<Transfer, Self::Error> {
        Ok(Transfer {
            payee: Payee {
                bank_code: r.payee_bank_code,
                branch_code: r.payee_branch_code,
                account_type: stored(&r.payee_account_type)?,
                account_number: r.payee_account_number,
                name: r.payee_name,
            },
            status: stored(&r.status)?,
            confirmation_method: r.confirmation_method.as_deref().map(stored).transpose()?,
            created_at: utc(r.created_at),
            expires_at: utc(r.expires_at),
            confirmed_at: r.confirmed_at.map(utc),
            cancelled_at: r.cancelled_at.map(utc),
            id: r.id,
            company_id: r.company_id,
            created_by: r.created_by,
            idempotency_key: r.idempotency_key,
            request_hash: r.request_hash,
            content_hash: r.content_hash,
            debit_account: r.debit_account,
            amount: r.amount,
            execution_date: r.execution_date,
            memo: r.memo,
            confirmed_step: r.confirmed_step,
            cancelled_by: r.cancelled_by,
            content_key_id: r.content_key_id,
            approvals_required: r.approvals_required,
            approvals_given: r.approvals_given,
        })
    }
}

impl From<AuditEventRow> for AuditEvent {
    fn from(r: AuditEventRow) -> AuditEvent {
        AuditEvent {
            id: r.id,
            position: None,
            occurred_at: utc(r.occurred_at),
            company_id: r.company_id,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            outcome: r.outcome,
            flagged: r.flagged,
            client_addr: r.client_addr,
            detail: r.detail,
            request_id: r.request_id,
        }
    }
}
