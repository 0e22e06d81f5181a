//! Four eyes (承認): a company's approval policy for transfers, the approvals a transfer
//! gathers, and the bank's procedures under dual control.

use chrono::{DateTime, Utc};

use super::transfer::ConfirmationMethod;
use super::{Invalid, Refusals, text_enum, text_field};

/// Transfers at or above `min_amount` yen need `approvals` approvals (1 or 2) after their
/// creator confirmed them. A company without one keeps the creator's confirmation final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApprovalPolicy {
    pub min_amount: i64,
    pub approvals: i32,
}

impl ApprovalPolicy {
    pub const MAX_APPROVALS: i32 = 2;

    pub fn new(min_amount: i64, approvals: i32) -> Result<ApprovalPolicy, Refusals> {
        let mut r = Refusals::default();
        if min_amount < 0 {
            r.push(
                "min_amount",
                Invalid::new("out_of_range", "must be 0 (every transfer) or more"),
            );
        }
        if !(1..=Self::MAX_APPROVALS).contains(&approvals) {
            r.push(
                "approvals_required",
                Invalid::new("out_of_range", "must be 1 or 2"),
            );
        }
        if r.is_empty() {
            Ok(ApprovalPolicy {
                min_amount,
                approvals,
            })
        } else {
            Err(r)
        }
    }

    /// The approvals a transfer of `amount` yen needs under this policy.
    pub fn required_for(&self, amount: i64) -> i32 {
        if amount >= self.min_amount {
            self.approvals
        } else {
            0
        }
    }
}

/// The approvals the company's policy (if any) asks for a transfer of `amount`.
pub fn approvals_asked(policy: Option<ApprovalPolicy>, amount: i64) -> i32 {
    policy.map_or(0, |p| p.required_for(amount))
}

/// The approvals a transfer waiting for them needs now: what the company's policy asks
/// today, and never fewer than one once it waits (turning the policy off does not
/// confirm what nobody approved).
pub fn approvals_needed(policy: Option<ApprovalPolicy>, amount: i64) -> i32 {
    approvals_asked(policy, amount).max(1)
}

text_enum!(
    /// What an approver decided.
    Decision { Approved = "approved", Rejected = "rejected" }
);

/// One approver's decision on a transfer.
#[derive(Clone, Debug)]
pub struct Approval {
    pub transfer_id: String,
    pub person_id: String,
    pub decision: Decision,
    /// How an approval was proven (a rejection proves nothing: it authorises no money).
    pub method: Option<ConfirmationMethod>,
    pub reason: Option<String>,
    pub decided_at: DateTime<Utc>,
}

/// Why an approver rejects a transfer, or why an operator asks for a procedure.
pub fn reason(value: &str) -> Result<String, Invalid> {
    text_field(value, 200)
}

text_enum!(
    /// The bank's destructive procedures, carried out only when a second operator approves.
    ProcedureKind {
        AdminTokenReset = "admin_token_reset",
        TokenSuspend = "token_suspend",
        TokenReissue = "token_reissue",
        ContractClose = "contract_close",
        OperatorUnlock = "operator_unlock",
    }
);

impl ProcedureKind {
    /// What the procedure's target is: a contract, a person or an operator.
    pub fn target(self) -> &'static str {
        match self {
            ProcedureKind::AdminTokenReset | ProcedureKind::ContractClose => "company",
            ProcedureKind::TokenSuspend | ProcedureKind::TokenReissue => "user",
            ProcedureKind::OperatorUnlock => "operator",
        }
    }
}

text_enum!(
    /// `pending` → `carried_out` | `rejected` | `expired`.
    ProcedureStatus {
        Pending = "pending",
        CarriedOut = "carried_out",
        Rejected = "rejected",
        Expired = "expired",
    }
);

/// A procedure one operator asked for, with what they checked (e.g. the registered seal,
/// 届出印), waiting for a second operator.
#[derive(Clone, Debug)]
pub struct BankProcedure {
    pub id: String,
    pub kind: ProcedureKind,
    pub target_id: String,
    /// The contract concerned, where there is one.
    pub company_id: Option<String>,
    pub reason: String,
    pub evidence: String,
    pub status: ProcedureStatus,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

impl BankProcedure {
    /// As it stands at `now`: a pending request past its time has expired.
    pub fn as_of(mut self, now: DateTime<Utc>) -> BankProcedure {
        if self.status == ProcedureStatus::Pending && self.expires_at <= now {
            self.status = ProcedureStatus::Expired;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_asks_approvals_from_its_threshold_up() {
        let p = ApprovalPolicy::new(1_000_000, 2).unwrap();
        assert_eq!(p.required_for(999_999), 0);
        assert_eq!(p.required_for(1_000_000), 2);
        assert_eq!(ApprovalPolicy::new(0, 1).unwrap().required_for(1), 1);
    }

    #[test]
    fn a_policy_names_every_refused_field() {
        let refused = ApprovalPolicy::new(-1, 3).unwrap_err();
        let fields: Vec<&str> = refused.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["min_amount", "approvals_required"]);
        assert!(ApprovalPolicy::new(0, 0).is_err());
    }

    #[test]
    fn a_waiting_transfer_needs_at_least_one_approval_whatever_the_policy_says_now() {
        assert_eq!(approvals_needed(None, 5), 1);
        let p = ApprovalPolicy::new(100, 2).unwrap();
        assert_eq!(approvals_needed(Some(p), 50), 1);
        assert_eq!(approvals_needed(Some(p), 100), 2);
    }

    #[test]
    fn a_pending_procedure_past_its_time_reads_as_expired() {
        let now = Utc::now();
        let p = BankProcedure {
            id: "p".into(),
            kind: ProcedureKind::TokenSuspend,
            target_id: "u".into(),
            company_id: None,
            reason: "lost phone".into(),
            evidence: "called back on the registered number".into(),
            status: ProcedureStatus::Pending,
            requested_by: "op1".into(),
            requested_at: now,
            expires_at: now,
            decided_by: None,
            decided_at: None,
            decision_note: None,
        };
        assert_eq!(p.clone().as_of(now).status, ProcedureStatus::Expired);
        assert_eq!(
            p.as_of(now - chrono::Duration::seconds(1)).status,
            ProcedureStatus::Pending
        );
    }
}
