//! The rule that decides how a person confirms a one-off transfer (SPEC §3).

use super::company::OtpStatus;
use super::text_enum;

text_enum!(
    /// Why a person cannot confirm a transfer right now.
    BlockedReason {
        NoTransferPermission = "no_transfer_permission",
        TokenNotRegistered = "token_not_registered",
        TokenLocked = "token_locked",
        TokenSuspended = "token_suspended",
        TransferPasswordLocked = "transfer_password_locked",
    }
);

/// How the next one-off transfer of a person is confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferConfirmation {
    Otp,
    TransferPassword,
    Blocked(BlockedReason),
}

/// The token state of the token that would confirm a person's transfer: their own
/// (per_user) or the company's shared one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmingToken {
    None,
    Active,
    Locked,
    /// The bank suspended it (a lost device) until it reissues.
    Suspended,
}

/// What a person needs to confirm a transfer. Once OTP is active the fixed password is
/// never an option again (no downgrade), and a missing token blocks (no partial use).
pub fn transfer_confirmation(
    status: OtpStatus,
    can_transfer: bool,
    transfer_password_locked: bool,
    token: ConfirmingToken,
) -> TransferConfirmation {
    use TransferConfirmation::*;
    if !can_transfer {
        return Blocked(BlockedReason::NoTransferPermission);
    }
    match (status, token) {
        (OtpStatus::Inactive, _) if transfer_password_locked => {
            Blocked(BlockedReason::TransferPasswordLocked)
        }
        (OtpStatus::Inactive, _) => TransferPassword,
        (OtpStatus::Active, ConfirmingToken::Active) => Otp,
        (OtpStatus::Active, ConfirmingToken::Locked) => Blocked(BlockedReason::TokenLocked),
        (OtpStatus::Active, ConfirmingToken::Suspended) => Blocked(BlockedReason::TokenSuspended),
        (OtpStatus::Active, ConfirmingToken::None) => Blocked(BlockedReason::TokenNotRegistered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_activation_the_fixed_password_confirms() {
        let c = transfer_confirmation(OtpStatus::Inactive, true, false, ConfirmingToken::None);
        assert_eq!(c, TransferConfirmation::TransferPassword);
    }

    #[test]
    fn after_activation_only_a_usable_token_confirms() {
        let c = |t| transfer_confirmation(OtpStatus::Active, true, false, t);
        assert_eq!(c(ConfirmingToken::Active), TransferConfirmation::Otp);
        assert_eq!(
            c(ConfirmingToken::None),
            TransferConfirmation::Blocked(BlockedReason::TokenNotRegistered)
        );
        assert_eq!(
            c(ConfirmingToken::Locked),
            TransferConfirmation::Blocked(BlockedReason::TokenLocked)
        );
    }

    #[test]
    fn without_the_transfer_permission_nothing_confirms() {
        let c = transfer_confirmation(OtpStatus::Active, false, false, ConfirmingToken::Active);
        assert_eq!(
            c,
            TransferConfirmation::Blocked(BlockedReason::NoTransferPermission)
        );
    }
}
