//! The company's money side: debit accounts and the per-transfer limit in yen.

use std::fmt;

use super::Invalid;

/// A debit account of the company: branch code (3 digits) and account number (7 digits),
/// written `001-1234567`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DebitAccount {
    branch_code: String,
    account_number: String,
}

impl DebitAccount {
    pub fn parse(value: &str) -> Result<DebitAccount, Invalid> {
        let invalid = || {
            Invalid::new(
                "format",
                "must be a 3-digit branch code, a hyphen and a 7-digit account number, e.g. 001-1234567",
            )
        };
        let (branch, number) = value.trim().split_once('-').ok_or_else(invalid)?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(branch, 3) || !digits(number, 7) {
            return Err(invalid());
        }
        Ok(DebitAccount {
            branch_code: branch.to_owned(),
            account_number: number.to_owned(),
        })
    }

    pub fn branch_code(&self) -> &str {
        &self.branch_code
    }

    pub fn account_number(&self) -> &str {
        &self.account_number
    }
}

impl fmt::Display for DebitAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.branch_code, self.account_number)
    }
}

/// The most one one-off transfer may move, in yen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TransferLimit(i64);

impl TransferLimit {
    /// One trillion yen: beyond any one-off transfer, far below i64's range.
    pub const CEILING: i64 = 1_000_000_000_000;

    pub fn new(yen: i64) -> Result<TransferLimit, Invalid> {
        if !(1..=Self::CEILING).contains(&yen) {
            return Err(Invalid::new(
                "out_of_range",
                format!("must be between 1 and {} yen", Self::CEILING),
            ));
        }
        Ok(TransferLimit(yen))
    }

    pub fn yen(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debit_account_is_branch_hyphen_number() {
        let a = DebitAccount::parse("001-1234567").unwrap();
        assert_eq!((a.branch_code(), a.account_number()), ("001", "1234567"));
        assert_eq!(a.to_string(), "001-1234567");
        for bad in [
            "0011234567",
            "01-1234567",
            "001-123456",
            "abc-1234567",
            "001-12345678",
            "００１-1234567",
        ] {
            assert!(DebitAccount::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_transfer_limit_is_positive_and_bounded() {
        assert!(TransferLimit::new(1).is_ok());
        assert!(TransferLimit::new(0).is_err());
        assert!(TransferLimit::new(-5).is_err());
        assert!(TransferLimit::new(TransferLimit::CEILING + 1).is_err());
    }
}
