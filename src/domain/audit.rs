//! The audit log's vocabulary: every audited action, its outcome and its actor, and the
//! event as written and as read back.

use chrono::{DateTime, Utc};

use super::text_enum;

text_enum!(
    /// Every action the audit log records.
    AuditAction {
        Login = "login",
        LoginCodeRequired = "login_code_required",
        Logout = "logout",
        LoginLocked = "login_locked",
        LoginUnlocked = "login_unlocked",
        OperatorCreated = "operator_created",
        OperatorLogin = "operator_login",
        OperatorLogout = "operator_logout",
        OperatorUnlocked = "operator_unlocked",
        OperatorDisabled = "operator_disabled",
        OperatorPasswordReset = "operator_password_reset",
        CompanyCreated = "company_created",
        PersonalContractOpened = "personal_contract_opened",
        ContractClosed = "contract_closed",
        UserCreated = "user_created",
        UserUpdated = "user_updated",
        ApprovalPasswordFailed = "approval_password_failed",
        ApprovalLocked = "approval_locked",
        ApprovalRefused = "approval_refused",
        ApprovalUnlocked = "approval_unlocked",
        ModeSet = "mode_set",
        OtpActivated = "otp_activated",
        OtpStopped = "otp_stopped",
        OtpFailed = "otp_failed",
        OtpRefused = "otp_refused",
        OtpReplayed = "otp_replayed",
        TokenIssued = "token_issued",
        TokenImported = "token_imported",
        TokensImported = "tokens_imported",
        TokenResynchronised = "token_resynchronised",
        TokenRegistered = "token_registered",
        TokenUnregistered = "token_unregistered",
        TokenExchanged = "token_exchanged",
        TokenReset = "token_reset",
        TokenLocked = "token_locked",
        TokenUnlocked = "token_unlocked",
        TokenSuspended = "token_suspended",
        CertificateRegistered = "certificate_registered",
        CertificateRevoked = "certificate_revoked",
        LoginMethodSet = "login_method_set",
        WebhookSubscribed = "webhook_subscribed",
        WebhookRemoved = "webhook_removed",
        WebhookDeadLettered = "webhook_dead_lettered",
        NotificationRedelivered = "notification_redelivered",
        TokenReissued = "token_reissued",
        TokenSeedUnreadable = "token_seed_unreadable",
        TransferCreated = "transfer_created",
        TransferConfirmed = "transfer_confirmed",
        TransferConfirmationFailed = "transfer_confirmation_failed",
        TransferPasswordLocked = "transfer_password_locked",
        TransferCancelled = "transfer_cancelled",
        TransferExpired = "transfer_expired",
        TransferTampered = "transfer_tampered",
        TransferAwaitingApproval = "transfer_awaiting_approval",
        TransferApproved = "transfer_approved",
        TransferApprovalFailed = "transfer_approval_failed",
        TransferRejected = "transfer_rejected",
        ApprovalPolicySet = "approval_policy_set",
        ProcedureRequested = "procedure_requested",
        ProcedureApproved = "procedure_approved",
        ProcedureRejected = "procedure_rejected",
        ProcedureExpired = "procedure_expired",
    }
);
impl AuditAction {
    /// Whether people are told of it (OWASP ASVS V2.8.5): a token's life, a lock, a spent
    /// code presented again, OTP stopped (the bank's acts on a contract: [`Event::told`]).
    pub fn notifies(self) -> bool {
        use AuditAction::*;
        matches!(
            self,
            TokenRegistered
                | TokenUnregistered
                | TokenExchanged
                | TokenReset
                | TokenSuspended
                | TokenReissued
                | TokenLocked
                | OtpReplayed
                | ApprovalLocked
                | LoginLocked
                | OtpStopped
                | WebhookDeadLettered
                | TransferAwaitingApproval
                | TransferRejected
                | ApprovalPolicySet
        )
    }
}

text_enum!(
    Outcome { Success = "success", Failure = "failure", Denied = "denied" }
);
text_enum!(
    /// Who acted: a signed-in person or operator, someone not yet identified (a failed
    /// sign-in), or the system itself (expiry, the command line).
    ActorKind {
        Person = "person",
        Operator = "operator",
        Anonymous = "anonymous",
        System = "system",
    }
);

/// An event being written, in the same transaction as the action it records.
#[derive(Clone, Debug)]
pub struct Event {
    pub action: AuditAction,
    pub outcome: Outcome,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub company_id: Option<String>,
    pub target: Option<(&'static str, String)>,
    pub client_addr: Option<String>,
    /// Marked for a security officer's attention.
    pub flagged: bool,
    pub detail: Option<serde_json::Value>,
}

impl Event {
    pub fn new(action: AuditAction, outcome: Outcome, actor_kind: ActorKind) -> Event {
        Event {
            action,
            outcome,
            actor_kind,
            actor_id: None,
            company_id: None,
            target: None,
            client_addr: None,
            flagged: false,
            detail: None,
        }
    }

    /// The same actor, company, target and address, doing something else.
    pub fn with(&self, action: AuditAction, outcome: Outcome) -> Event {
        Event {
            action,
            outcome,
            flagged: false,
            detail: None,
            ..self.clone()
        }
    }

    pub fn actor(mut self, id: impl Into<String>) -> Event {
        self.actor_id = Some(id.into());
        self
    }

    pub fn target(mut self, kind: &'static str, id: impl Into<String>) -> Event {
        self.target = Some((kind, id.into()));
        self
    }

    pub fn company(mut self, company_id: impl Into<String>) -> Event {
        self.company_id = Some(company_id.into());
        self
    }

    pub fn from_addr(mut self, client_addr: Option<String>) -> Event {
        self.client_addr = client_addr;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Event {
        self.detail = Some(detail);
        self
    }

    /// Whether people are told of it: an action that notifies, or any act of the bank's
    /// operators on a contract.
    pub fn told(&self) -> bool {
        self.action.notifies()
            || (self.actor_kind == ActorKind::Operator && self.company_id.is_some())
    }

    pub fn flagged(mut self) -> Event {
        self.flagged = true;
        self
    }
}

/// An event as stored, read back exactly: reading the log never fails on what it holds.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// Assigned by the database (not in commit order on PostgreSQL).
    pub id: i64,
    /// Where the sealer chained it: the order events were seen committed; `None` until
    /// sealed.
    pub position: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub company_id: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    pub flagged: bool,
    pub client_addr: Option<String>,
    /// JSON text.
    pub detail: Option<String>,
    /// The HTTP request it was written in (`X-Request-Id`), if any.
    pub request_id: Option<String>,
}

impl AuditEvent {
    /// An event as it is written at `at` (the database assigns the id).
    pub fn written(event: Event, at: DateTime<Utc>) -> AuditEvent {
        let (target_kind, target_id) = match event.target {
            Some((kind, id)) => (Some(kind.to_owned()), Some(id)),
            None => (None, None),
        };
        AuditEvent {
            id: 0,
            position: None,
            occurred_at: at,
            company_id: event.company_id,
            actor_kind: event.actor_kind.as_str().to_owned(),
            actor_id: event.actor_id,
            action: event.action.as_str().to_owned(),
            target_kind,
            target_id,
            outcome: event.outcome.as_str().to_owned(),
            flagged: event.flagged,
            client_addr: event.client_addr,
            detail: event.detail.map(|d| d.to_string()),
            request_id: None,
        }
    }

    /// The content an event's MAC covers: every stored field but the id and position,
    /// which the database and the sealer assign, with the event's unique `uid`.
    pub fn canonical(&self, uid: &str) -> String {
        let mut fields = serde_json::json!([
            uid,
            self.occurred_at
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string(),
            self.company_id,
            self.actor_kind,
            self.actor_id,
            self.action,
            self.target_kind,
            self.target_id,
            self.outcome,
            self.flagged,
            self.client_addr,
            self.detail,
        ]);
        // Appended only when present, so events written before it verify as they were.
        if let (Some(id), Some(list)) = (&self.request_id, fields.as_array_mut()) {
            list.push(id.as_str().into());
        }
        fields.to_string()
    }
}
