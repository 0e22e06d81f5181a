//! One-off transfers. Every change of state is a conditional update on the state it
//! leaves, so racing requests on any number of instances change a transfer once.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::audit::RowMac;
use super::models::TransferRow;
use super::prepared::{AllOf, And, With, first, pending, together, token};
use super::schema::{
    audit_events, companies, company_accounts, soft_tokens, transfer_approvals, transfers, users,
};
use super::soft_tokens::StepUse;
use super::{DbConn, Insert, entities, entity, inserted, one_of, prepared_update, write_tx};
use crate::domain::approval::ApprovalPolicy;
use crate::domain::audit::AuditEvent;
use crate::domain::transfer::{ConfirmationMethod, Transfer, TransferStatus};
use crate::domain::{DebitAccount, OtpStatus, Role};

const PENDING: &str = "pending_confirmation";
const PENDING_APPROVAL: &str = "pending_approval";

/// The states a transfer expires or is cancelled in.
const OPEN: [&str; 2] = [PENDING, PENDING_APPROVAL];

/// An UPDATE … RETURNING of a transfer and the INSERT of the audit event that records it,
/// in the caller's transaction: one statement on PostgreSQL.
macro_rules! written_with {
    ($conn:expr, $update:expr, $event:expr) => {
        match $conn {
            DbConn::Postgres(pg) => together($event, $update.returning_all())
                .get_result::<TransferRow>(pg)
                .optional()?,
            DbConn::Sqlite(lite) => {
                $event.execute(lite)?;
                $update
                    .returning_all()
                    .get_result::<TransferRow>(lite)
                    .optional()?
            }
        }
    };
}

/// User::may_transfer, as a condition a statement judges itself: the person is not
/// disabled and holds the transfer permission (administrators and customers always do).
macro_rules! may_transfer {
    ($user_id:expr) => {
        exists(
            users::table
                .filter(users::id.eq($user_id))
                .filter(users::disabled.eq(false))
                .filter(
                    users::role
                        .ne(Role::User.as_str())
                        .or(users::can_transfer.eq(true)),
                )
                .select(users::id),
        )
    };
}

/// The condition under which `t` is confirmed: pending, unexpired, its creator still
/// holding the transfer permission, and the company's OTP status still calling for
/// `method` and its approval policy still `policy`.
macro_rules! confirmable {
    ($t:expr, ($method:expr, $codes_asked:expr), $policy:expr, $now:expr) => {{
        let (t, policy) = ($t, $policy);
        // Where the bank asks no code for transactions, the company's status does not matter.
        // Two values whichever the case (one twice when codes are asked): one statement text.
        let statuses = if $codes_asked {
            [$method.requires().as_str(); 2]
        } else {
            [OtpStatus::Inactive.as_str(), OtpStatus::Active.as_str()]
        };
        let creator_may_transfer = may_transfer!(&t.created_by);
        // An approval policy of `None` is a NULL threshold.
        let off = policy.is_none();
        let rules_still_apply = exists(
            companies::table
                .filter(companies::id.eq(&t.company_id))
                .filter(one_of(companies::otp_status, statuses))
                .filter(companies::approvals_required.eq(policy.map_or(0, |p| p.approvals)))
                .filter(
                    companies::approval_min_amount
                        .is_null()
                        .and(off.into_sql::<diesel::sql_types::Bool>())
                        .or(companies::approval_min_amount.eq(policy.map_or(-1, |p| p.min_amount))),
                )
                .select(companies::id),
        );
        transfers::id
            .eq(&t.id)
            .and(transfers::status.eq(PENDING))
            .and(transfers::expires_at.gt($now.naive_utc()))
            .and(creator_may_transfer)
            .and(rules_still_apply)
    }};
}

/// How a confirmation was proven: its method and the code's step, if any.
macro_rules! proven {
    ($method:expr, $step:expr) => {
        (
            transfers::confirmation_method.eq($method.as_str()),
            transfers::confirmed_step.eq($step),
        )
    };
}

/// What a confirmation that needs no approvals writes on the transfer.
macro_rules! confirmed {
    ($method:expr, $step:expr, $now:expr) => {
        (
            transfers::status.eq(TransferStatus::Confirmed.as_str()),
            transfers::confirmed_at.eq($now.naive_utc()),
            proven!($method, $step),
        )
    };
}

/// A new transfer and the audit event that records it, both or neither, if `debit` is
/// one of its company's accounts (`None` if not): on PostgreSQL one statement (one round
/// trip, no BEGIN and COMMIT) that judges the account itself; on SQLite the account read,
/// then one write transaction.
pub fn insert_recorded(
    conn: &mut DbConn,
    t: &Transfer,
    debit: &DebitAccount,
    (event, mac): (AuditEvent, RowMac),
) -> QueryResult<Option<Insert>> {
    let DbConn::Postgres(pg) = conn else {
        if super::companies::account_holder(conn, debit)?.as_ref() != Some(&t.company_id) {
            return Ok(None);
        }
        let transfer = diesel::insert_into(transfers::table).values(row(t));
        let event = diesel::insert_into(audit_events::table).values(super::audit::row(event, mac));
        return write_tx(conn, |conn| {
            let done = inserted(transfer.execute(conn))?;
            if done == Insert::Done {
                event.execute(conn)?;
            }
            Ok(Some(done))
        });
    };
    use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text, Timestamp};
    let r = row(t);
    let of_the_company = company_accounts::table
        .filter(company_accounts::branch_code.eq(debit.branch_code()))
        .filter(company_accounts::account_number.eq(debit.account_number()))
        .filter(company_accounts::company_id.eq(&t.company_id));
    let transfer = diesel::insert_into(transfers::table)
        .values(of_the_company.select((
            r.id.into_sql::<Text>(),
            r.company_id.into_sql::<Text>(),
            r.created_by.into_sql::<Text>(),
            r.idempotency_key.into_sql::<Text>(),
            r.request_hash.into_sql::<Text>(),
            r.content_hash.into_sql::<Text>(),
            r.debit_account.into_sql::<Text>(),
            r.payee_bank_code.into_sql::<Text>(),
            r.payee_branch_code.into_sql::<Text>(),
            r.payee_account_type.into_sql::<Text>(),
            r.payee_account_number.into_sql::<Text>(),
            r.payee_name.into_sql::<Text>(),
            r.amount.into_sql::<BigInt>(),
            r.execution_date.into_sql::<Date>(),
            r.memo.into_sql::<Nullable<Text>>(),
            r.status.into_sql::<Text>(),
            r.created_at.into_sql::<Timestamp>(),
            r.expires_at.into_sql::<Timestamp>(),
            r.content_key_id.into_sql::<Nullable<Text>>(),
            r.approvals_required.into_sql::<Integer>(),
            r.approvals_given.into_sql::<Integer>(),
        )))
        .into_columns((
            transfers::id,
            transfers::company_id,
            transfers::created_by,
            transfers::idempotency_key,
            transfers::request_hash,
            transfers::content_hash,
            transfers::debit_account,
            transfers::payee_bank_code,
            transfers::payee_branch_code,
            transfers::payee_account_type,
            transfers::payee_account_number,
            transfers::payee_name,
            transfers::amount,
            transfers::execution_date,
            transfers::memo,
            transfers::status,
            transfers::created_at,
            transfers::expires_at,
            transfers::content_key_id,
            transfers::approvals_required,
            transfers::approvals_given,
        ))
        .returning(transfers::id);
    let recorded = super::audit::row_for_written(event, mac);
    Ok(match With("written", transfer, recorded).execute(pg) {
        Ok(0) => None,
        done => Some(inserted(done)?),
    })
}

fn row(t: &Transfer) -> TransferRow {
    TransferRow {
        id: t.id.clone(),
        company_id: t.company_id.clone(),
        created_by: t.created_by.clone(),
        idempotency_key: t.idempotency_key.clone(),
        request_hash: t.request_hash.clone(),
        content_hash: t.content_hash.clone(),
        debit_account: t.debit_account.clone(),
        payee_bank_code: t.payee.bank_code.clone(),
        payee_branch_code: t.payee.branch_code.clone(),
        payee_account_type: t.payee.account_type.as_str().to_owned(),
        payee_account_number: t.payee.account_number.clone(),
        payee_name: t.payee.name.clone(),
        amount: t.amount,
        execution_date: t.execution_date,
        memo: t.memo.clone(),
        status: t.status.as_str().to_owned(),
        created_at: t.created_at.naive_utc(),
        expires_at: t.expires_at.naive_utc(),
        confirmed_at: None,
        confirmation_method: None,
        confirmed_step: None,
        cancelled_at: None,
        cancelled_by: None,
        content_key_id: t.content_key_id.clone(),
        approvals_required: 0,
        approvals_given: 0,
    }
}

pub fn by_idempotency_key(
    conn: &mut DbConn,
    created_by: &str,
    key: &str,
) -> QueryResult<Option<Transfer>> {
    transfers::table
        .filter(transfers::created_by.eq(created_by))
        .filter(transfers::idempotency_key.eq(key))
        .select(TransferRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

/// A transfer of the company (who of its people may see it is the use case's to judge).
pub fn visible(conn: &mut DbConn, company_id: &str, id: &str) -> QueryResult<Option<Transfer>> {
    transfers::table
        .filter(transfers::id.eq(id))
        .filter(transfers::company_id.eq(company_id))
        .select(TransferRow::as_select())
        .first(conn)
        .optional()?
        .map(entity)
        .transpose()
}

/// What a page of transfers is cut from.
pub struct PageQuery<'a> {
    pub company_id: &'a str,
    pub creator: Option<&'a str>,
    pub status: Option<TransferStatus>,
    /// Only those waiting for this approver: someone else's, not yet decided by them.
    pub awaiting_approval_by: Option<&'a str>,
    /// The last one of the previous page: its creation time and id.
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: i64,
}

/// Newest first.
pub fn page(conn: &mut DbConn, q: PageQuery<'_>) -> QueryResult<Vec<Transfer>> {
    let mut query = transfers::table
        .filter(transfers::company_id.eq(q.company_id))
        .select(TransferRow::as_select())
        .order((transfers::created_at.desc(), transfers::id.desc()))
        .limit(q.limit)
        .into_boxed();
    if let Some(creator) = q.creator {
        query = query.filter(transfers::created_by.eq(creator));
    }
    if let Some(s) = q.status {
        query = query.filter(transfers::status.eq(s.as_str()));
    }
    if let Some(approver) = q.awaiting_approval_by {
        let decided = transfer_approvals::table
            .filter(transfer_approvals::transfer_id.eq(transfers::id))
            .filter(transfer_approvals::person_id.eq(approver));
        query = query
            .filter(transfers::status.eq(PENDING_APPROVAL))
            .filter(transfers::created_by.ne(approver))
            .filter(not(exists(decided)));
    }
    if let Some((at, id)) = q.after {
        let at = at.naive_utc();
        query = query.filter(
            transfers::created_at
                .lt(at)
                .or(transfers::created_at.eq(at).and(transfers::id.lt(id))),
        );
    }
    entities(query.load(conn)?)
}

/// The company's pending transfers past their time.
pub fn due_for_expiry(
    conn: &mut DbConn,
    company_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    transfers::table
        .filter(transfers::company_id.eq(company_id))
        .filter(one_of(transfers::status, OPEN))
        .filter(transfers::expires_at.le(now.naive_utc()))
        .select(transfers::id)
        .load(conn)
}

/// Expires an open transfer past its time (not one a racer decided, with a new time).
pub fn expire(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let due = transfers::expires_at.le(now.naive_utc());
    let changed = diesel::update(
        transfers::table
            .find(id)
            .filter(one_of(transfers::status, OPEN))
            .filter(due),
    )
    .set(transfers::status.eq(TransferStatus::Expired.as_str()))
    .execute(conn)?;
    Ok(changed == 1)
}

/// What follows the creator's confirmation: the transfer is confirmed, or it waits for
/// approvals until a time.
#[derive(Clone, Copy, Debug)]
pub enum Then {
    Confirmed,
    AwaitApprovals { required: i32, until: DateTime<Utc> },
}

/// `confirm` with a code's step spent (`soft_tokens::spend_step`) in the same
/// transaction: both or neither. `None`: either found nothing to change, and nothing was
/// kept.
pub fn confirm_spending(
    conn: &mut DbConn,
    t: &Transfer,
    (method, codes_asked): (ConfirmationMethod, bool),
    policy: Option<ApprovalPolicy>,
    now: DateTime<Utc>,
    recorded: (AuditEvent, RowMac),
    (holder_id, spent): (Option<&str>, StepUse<'_>),
) -> QueryResult<Option<Transfer>> {
    if let DbConn::Postgres(pg) = conn {
        return confirm_spending_at_once(
            pg,
            t,
            (method, codes_asked),
            policy,
            now,
            recorded,
            (holder_id, spent),
        );
    }
    let step = Some(spent.step);
    let written = write_tx(conn, |conn| {
        if !super::soft_tokens::spend_step(conn, holder_id, spent)? {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        let how = (method, codes_asked);
        confirm(conn, t, how, (policy, Then::Confirmed), step, now, recorded)?
            .ok_or(diesel::result::Error::RollbackTransaction)
    });
    match written {
        Err(diesel::result::Error::RollbackTransaction) => Ok(None),
        written => written.map(Some),
    }
}

/// `confirm_spending` as one PostgreSQL statement, without BEGIN and COMMIT: the transfer
/// locked where `confirm` would confirm it, the step spent only then, the transfer
/// confirmed and its event written only if it was.
fn confirm_spending_at_once(
    pg: &mut diesel::PgConnection,
    t: &Transfer,
    (method, codes_asked): (ConfirmationMethod, bool),
    policy: Option<ApprovalPolicy>,
    now: DateTime<Utc>,
    (event, mac): (AuditEvent, RowMac),
    (holder_id, spent): (Option<&str>, StepUse<'_>),
) -> QueryResult<Option<Transfer>> {
    // The token row first, then the transfer: the order of a confirmation's transaction.
    let token_row = soft_tokens::table
        .filter(soft_tokens::id.eq(spent.token))
        .select(soft_tokens::id)
        .for_no_key_update();
    let locked = transfers::table
        .filter(confirmable!(t, (method, codes_asked), policy, now))
        .filter(exists(token::table.select(token::id)))
        .select(transfers::id)
        .for_no_key_update();
    let confirms = prepared_update(
        transfers::table,
        confirmed!(method, spent.step, now),
        transfers::id
            .eq(&t.id)
            .and(exists(first::table.select(first::id))),
    )
    .returning_all();
    let written = And(
        "written",
        confirms,
        And(
            "event",
            super::audit::row_for_written(event, mac),
            AllOf::<transfers::table>("written", PhantomData),
        ),
    );
    let gate = exists(pending::table.select(pending::id));
    let spends = super::soft_tokens::spend_links(holder_id, spent, gate, written);
    With("token", token_row, And("pending", locked, spends))
        .get_result::<TransferRow>(pg)
        .optional()?
        .map(entity)
        .transpose()
}

/// Confirms a pending, unexpired transfer by its creator, and only while they still hold
/// the transfer permission, the company's OTP status still calls for `method` and its
/// approval policy is still `policy`: the rules are judged by the same statement that
/// confirms, so nothing can change in between. The transfer as written, or `None` if the
/// statement changed nothing. The event recording the confirmation is written either way,
/// in the caller's transaction: on `None` the caller rolls it back.
pub fn confirm(
    conn: &mut DbConn,
    t: &Transfer,
    (method, codes_asked): (ConfirmationMethod, bool),
    (policy, then): (Option<ApprovalPolicy>, Then),
    step: Option<i64>,
    now: DateTime<Utc>,
    (event, mac): (AuditEvent, RowMac),
) -> QueryResult<Option<Transfer>> {
    super::in_transaction(conn)?;
    let pending = confirmable!(t, (method, codes_asked), policy, now);
    // The row as written, in the same statement: the answer needs no read after it.
    let event = diesel::insert_into(audit_events::table).values(super::audit::row(event, mac));
    let written: Option<TransferRow> = match then {
        Then::Confirmed => written_with!(
            conn,
            prepared_update(transfers::table, confirmed!(method, step, now), pending),
            event
        ),
        Then::AwaitApprovals { required, until } => written_with!(
            conn,
            prepared_update(
                transfers::table,
                (
                    transfers::status.eq(PENDING_APPROVAL),
                    transfers::approvals_required.eq(required),
                    transfers::expires_at.eq(until.naive_utc()),
                    proven!(method, step),
                ),
                pending,
            ),
            event
        ),
    };
    written.map(entity).transpose()
}

/// Counts one approval of a transfer waiting for approvals — `required` in all, as the
/// policy stands now — by a person who did not create it and may approve now, while its
/// creator may still transfer: all judged by the one statement. `None`: not counted
/// (decided, expired, or the rules no longer allow it); else whether it is now confirmed.
pub fn approve(
    conn: &mut DbConn,
    t: &Transfer,
    approver: &str,
    required: i32,
    now: DateTime<Utc>,
) -> QueryResult<Option<bool>> {
    let id = t.id.as_str();
    let creator_may_transfer = may_transfer!(&t.created_by);
    // User::may_approve, as a condition of the statement itself.
    let approver_may = exists(
        users::table
            .filter(users::id.eq(approver))
            .filter(users::disabled.eq(false))
            .filter(
                users::role.eq(Role::Admin.as_str()).or(users::role
                    .eq(Role::User.as_str())
                    .and(users::can_approve.eq(true))),
            )
            .select(users::id),
    );
    let counted = diesel::update(
        transfers::table
            .find(id)
            .filter(transfers::status.eq(PENDING_APPROVAL))
            .filter(transfers::expires_at.gt(now.naive_utc()))
            .filter(transfers::created_by.ne(approver))
            .filter(approver_may)
            .filter(creator_may_transfer),
    )
    .set((
        transfers::approvals_given.eq(transfers::approvals_given + 1),
        transfers::approvals_required.eq(required),
    ))
    .execute(conn)?;
    if counted == 0 {
        return Ok(None);
    }
    // The row is this transaction's until it commits: the approval that reaches what the
    // policy asks now confirms (a policy lowered meanwhile leaves nothing stuck).
    let confirmed = diesel::update(
        transfers::table
            .find(id)
            .filter(transfers::approvals_given.ge(transfers::approvals_required)),
    )
    .set((
        transfers::status.eq(TransferStatus::Confirmed.as_str()),
        transfers::confirmed_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(Some(confirmed == 1))
}

/// Rejects a transfer waiting for approvals, unless it was decided or expired meanwhile.
pub fn reject(
    conn: &mut DbConn,
    id: &str,
    approver: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = diesel::update(
        transfers::table
            .find(id)
            .filter(transfers::status.eq(PENDING_APPROVAL))
            .filter(transfers::expires_at.gt(now.naive_utc()))
            .filter(transfers::created_by.ne(approver)),
    )
    .set(transfers::status.eq(TransferStatus::Rejected.as_str()))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn cancel(conn: &mut DbConn, id: &str, by: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let changed = diesel::update(
        transfers::table
            .find(id)
            .filter(one_of(transfers::status, OPEN)),
    )
    .set((
        transfers::status.eq(TransferStatus::Cancelled.as_str()),
        transfers::cancelled_at.eq(now.naive_utc()),
        transfers::cancelled_by.eq(by),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
