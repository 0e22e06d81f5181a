//! The people of a company contract, and the bank's operators. No entity here carries a
//! password hash: those stay in the database layer.

use chrono::{DateTime, Utc};

use super::text_enum;

text_enum!(
    /// A person's role: a company's one administrator (管理者) or a user (利用者), or the
    /// one customer of a personal contract (個人).
    Role { Admin = "admin", User = "user", Customer = "customer" }
);

/// A person of a company.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub company_id: String,
    pub login_id: String,
    pub name: String,
    pub role: Role,
    /// The one-off transfer permission as granted; see [`User::may_transfer`].
    pub can_transfer: bool,
    /// The approver permission as granted; see [`User::may_approve`].
    pub can_approve: bool,
    pub disabled: bool,
    /// Where the person is told of security events on their login and token.
    pub email: Option<String>,
    /// Signing in is locked after too many wrong passwords (see [`Lock::holds`]).
    pub login_lock: Option<Lock>,
    pub transfer_password_locked: bool,
    /// The administrator's approval password is locked (always false for users).
    pub approval_locked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// The person as they stand at `now`: a sign-in lock whose time has passed is gone.
    pub fn as_of(mut self, now: DateTime<Utc>) -> User {
        self.login_lock = self.login_lock.filter(|lock| lock.holds(now));
        self
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The administrator and a personal customer always may make transfers.
    pub fn may_transfer(&self) -> bool {
        self.role != Role::User || self.can_transfer
    }

    /// The administrator approves transfers; a user once granted the permission.
    pub fn may_approve(&self) -> bool {
        !self.disabled
            && (self.role == Role::Admin || (self.role == Role::User && self.can_approve))
    }
}

/// A bank operator (branch or back-office staff).
#[derive(Clone, Debug)]
pub struct BankOperator {
    pub id: String,
    pub login_id: String,
    pub name: String,
    pub lock: Option<Lock>,
    /// A disabled operator cannot sign in; their sessions ended when it was disabled.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl BankOperator {
    /// The operator as they stand at `now`: a lock whose time has passed is gone.
    pub fn as_of(mut self, now: DateTime<Utc>) -> BankOperator {
        self.lock = self.lock.filter(|lock| lock.holds(now));
        self
    }
}

/// A lock on a sign-in after too many wrong passwords: temporary, or permanent until
/// someone lifts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lock {
    pub since: DateTime<Utc>,
    /// `None`: until lifted.
    pub until: Option<DateTime<Utc>>,
}

impl Lock {
    pub fn holds(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// Every secret whose wrong attempts are counted and end in a lock: what people type to
/// sign in or approve, and the codes of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secret {
    LoginPassword,
    OperatorPassword,
    ApprovalPassword,
    TransferPassword,
    TokenCode,
}
