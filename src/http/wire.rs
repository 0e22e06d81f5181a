//! What the areas' wire shapes share: the enums every area shows, and times in UTC.
//! Requests are plain strings and numbers that `into_domain` parses into domain types,
//! collecting every field error at once. Requests that carry a password or a code have no
//! `Debug`, so none can reach a log.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{self, BlockedReason};

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident from $domain:ty { $($variant:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                match value { $(<$domain>::$variant => $name::$variant),+ }
            }
        }

        impl From<$name> for $domain {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => <$domain>::$variant),+ }
            }
        }
    };
}
pub(super) use wire_enum;

wire_enum!(
    /// `admin` (管理者) or `user` (利用者) of a company, or `customer`: the one person of a
    /// personal contract (個人).
    Role from domain::Role { Admin, User, Customer }
);
wire_enum!(
    /// `corporate` (法人, WEB-FB) or `personal` (個人): a contract of one customer.
    ContractKind from domain::ContractKind { Corporate, Personal }
);
wire_enum!(
    /// `password`: login ID and password; `certificate`: also the person's electronic
    /// certificate (電子証明書方式).
    LoginMethod from domain::LoginMethod { Password, Certificate }
);
wire_enum!(
    /// `per_user`: everyone has their own token; `shared`: the company shares one.
    TokenMode from domain::TokenMode { PerUser, Shared }
);
wire_enum!(
    /// `active` once the administrator's (or the shared) token is registered.
    OtpStatus from domain::OtpStatus { Inactive, Active }
);
wire_enum!(
    /// Why the person cannot confirm a one-off transfer now.
    Blocked from BlockedReason { NoTransferPermission, TokenNotRegistered, TokenLocked, TokenSuspended, TransferPasswordLocked }
);

/// Where the bank asks this person's kind of contract for a one-time code.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct CodesAsked {
    /// Sign-in takes a second step with a code, once the person has a token.
    pub at_sign_in: bool,
    /// Transfers are confirmed with a code, once the contract's OTP is active.
    pub for_transactions: bool,
}

impl From<crate::config::policy::CodesAsked> for CodesAsked {
    fn from(c: crate::config::policy::CodesAsked) -> Self {
        CodesAsked {
            at_sign_in: c.at_sign_in,
            for_transactions: c.for_transactions,
        }
    }
}

/// How the person's next one-off transfer is confirmed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationMethod {
    Otp,
    TransferPassword,
    Blocked,
}
