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
    /// `admin` (管理者) or `user` (利用者).
    Role from domain::Role { Admin, User }
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
    Blocked from BlockedReason { NoTransferPermission, TokenNotRegistered, TokenLocked, TransferPasswordLocked }
);

/// How the person's next one-off transfer is confirmed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationMethod {
    Otp,
    TransferPassword,
    Blocked,
}
