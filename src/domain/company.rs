//! A company contract: its name, its per-transfer limit, and its OTP settings.

use chrono::{DateTime, Utc};

use super::{Invalid, TransferLimit, text_enum, text_field};

text_enum!(
    /// 利用形態: every person has a token, or the company shares one.
    TokenMode { PerUser = "per_user", Shared = "shared" }
);
text_enum!(
    /// A company contract (法人, WEB-FB) or a personal one (個人) of one customer.
    ContractKind { Corporate = "corporate", Personal = "personal" }
);
text_enum!(
    /// How the contract's people sign in: login ID and password, or also the electronic
    /// certificate the bank issued to the person (電子証明書方式).
    LoginMethod { Password = "password", Certificate = "certificate" }
);
text_enum!(
    /// `active` once the administrator's (or the shared) token is registered.
    OtpStatus { Inactive = "inactive", Active = "active" }
);

/// A company's registered name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyName(String);

impl CompanyName {
    pub fn parse(value: &str) -> Result<CompanyName, Invalid> {
        text_field(value, 100).map(CompanyName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A company contract of the bank.
#[derive(Clone, Debug)]
pub struct Company {
    pub id: String,
    pub kind: ContractKind,
    pub name: String,
    pub transfer_limit: TransferLimit,
    /// Chosen by the administrator before the first registration.
    pub otp_mode: Option<TokenMode>,
    pub otp_status: OtpStatus,
    pub otp_activated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The bank closed the contract: nobody of it signs in again.
    pub closed_at: Option<DateTime<Utc>>,
    pub login_method: LoginMethod,
    /// Four eyes: transfers from an amount up wait for approvals; `None`: off.
    pub approval_policy: Option<super::approval::ApprovalPolicy>,
}

impl Company {
    pub fn otp_active(&self) -> bool {
        self.otp_status == OtpStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_are_exact() {
        for m in [TokenMode::PerUser, TokenMode::Shared] {
            assert_eq!(m.as_str().parse::<TokenMode>().unwrap(), m);
        }
        assert!("PER_USER".parse::<TokenMode>().is_err());
    }

    #[test]
    fn a_company_name_is_trimmed_and_bounded() {
        assert_eq!(CompanyName::parse(" Acme ").unwrap().as_str(), "Acme");
        assert_eq!(
            CompanyName::parse("Acme\u{7}").unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(
            CompanyName::parse(&"a".repeat(101)).unwrap_err().code,
            "too_long"
        );
    }
}
