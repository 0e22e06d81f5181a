//! One-off transfers (都度振込): the payee in Zengin form, the amount, the execution date,
//! and the transfer's states.

use chrono::{Duration, NaiveDate};

use super::{Invalid, account::TransferLimit};

fn digits(value: &str, n: usize, what: &str) -> Result<String, Invalid> {
    let v = value.trim();
    if v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_owned())
    } else {
        Err(Invalid::new("format", format!("{what} is {n} digits")))
    }
}

/// A financial institution code (金融機関コード): 4 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankCode(String);
impl BankCode {
    pub fn parse(v: &str) -> Result<Self, Invalid> {
        digits(v, 4, "a bank code").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A branch code (支店コード): 3 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchCode(String);
impl BranchCode {
    pub fn parse(v: &str) -> Result<Self, Invalid> {
        digits(v, 3, "a branch code").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An account number (口座番号): 7 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountNumber(String);
impl AccountNumber {
    pub fn parse(v: &str) -> Result<Self, Invalid> {
        digits(v, 7, "an account number").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The payee's account type (預金種目).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountType {
    Ordinary,
    Current,
    Savings,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Ordinary => "ordinary",
            AccountType::Current => "current",
            AccountType::Savings => "savings",
        }
    }
}

impl std::str::FromStr for AccountType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ordinary" => Ok(AccountType::Ordinary),
            "current" => Ok(AccountType::Current),
            "savings" => Ok(AccountType::Savings),
            other => Err(format!("unknown account type {other:?}")),
        }
    }
}

/// The payee's name in the Zengin transfer character set (全銀文字): half-width katakana,
/// capital letters, digits, space and `( ) . - /`, at most 30 characters. Full-width
/// katakana, letters and digits are normalised to it; small kana become large ones, as
/// banks print them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayeeName(String);

impl PayeeName {
    pub const MAX: usize = 30;

    pub fn parse(value: &str) -> Result<PayeeName, Invalid> {
        let mut out = String::with_capacity(value.len());
        // Positions are those of the text as typed, not as normalised.
        for (i, c) in value.trim().chars().enumerate() {
            let start = out.len();
            normalise_into(c, &mut out);
            if !out[start..].chars().all(is_zengin) {
                return Err(Invalid::new(
                    "invalid_character",
                    format!(
                        "character {} ({c:?}) is not in the Zengin set: use katakana, capital letters, digits, space and ( ) . - /",
                        i + 1
                    ),
                ));
            }
        }
        if out.is_empty() {
            return Err(Invalid::new("required", "must not be empty"));
        }
        let len = out.chars().count();
        if len > Self::MAX {
            return Err(Invalid::new(
                "too_long",
                format!(
                    "must be at most {} characters in Zengin form (got {len})",
                    Self::MAX
                ),
            ));
        }
        Ok(PayeeName(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_zengin(c: char) -> bool {
    c.is_ascii_uppercase()
        || c.is_ascii_digit()
        || matches!(c, ' ' | '(' | ')' | '.' | '-' | '/')
        || ('\u{FF71}'..='\u{FF9F}').contains(&c)
        || c == '\u{FF66}'
}

/// Full-width katakana in order from ァ (U+30A1) to ン (U+30F3), as half-width text.
const KATAKANA: [&str; 83] = [
    "ｱ", "ｱ", "ｲ", "ｲ", "ｳ", "ｳ", "ｴ", "ｴ", "ｵ", "ｵ", "ｶ", "ｶﾞ", "ｷ", "ｷﾞ", "ｸ", "ｸﾞ", "ｹ", "ｹﾞ", "ｺ",
    "ｺﾞ", "ｻ", "ｻﾞ", "ｼ", "ｼﾞ", "ｽ", "ｽﾞ", "ｾ", "ｾﾞ", "ｿ", "ｿﾞ", "ﾀ", "ﾀﾞ", "ﾁ", "ﾁﾞ", "ﾂ", "ﾂ", "ﾂﾞ", "ﾃ",
    "ﾃﾞ", "ﾄ", "ﾄﾞ", "ﾅ", "ﾆ", "ﾇ", "ﾈ", "ﾉ", "ﾊ", "ﾊﾞ", "ﾊﾟ", "ﾋ", "ﾋﾞ", "ﾋﾟ", "ﾌ", "ﾌﾞ", "ﾌﾟ", "ﾍ", "ﾍﾞ",
    "ﾍﾟ", "ﾎ", "ﾎﾞ", "ﾎﾟ", "ﾏ", "ﾐ", "ﾑ", "ﾒ", "ﾓ", "ﾔ", "ﾔ", "ﾕ", "ﾕ", "ﾖ", "ﾖ", "ﾗ", "ﾘ", "ﾙ", "ﾚ",
    "ﾛ", "ﾜ", "ﾜ", "ｲ", "ｴ", "ｦ", "ﾝ",
];

fn normalise_into(c: char, out: &mut String) {
    match c {
        // Full-width ASCII (letters, digits, punctuation) and the ideographic space.
        '\u{FF01}'..='\u{FF5E}' => out.push(char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)),
        '\u{3000}' => out.push(' '),
        '\u{30A1}'..='\u{30F3}' => out.push_str(KATAKANA[(c as u32 - 0x30A1) as usize]),
        'ヴ' => out.push_str("ｳﾞ"),
        'ー' | '\u{FF70}' => out.push('-'),
        '・' => out.push('.'),
        // Half-width small kana become large ones.
        'ｧ' => out.push('ｱ'),
        'ｨ' => out.push('ｲ'),
        'ｩ' => out.push('ｳ'),
        'ｪ' => out.push('ｴ'),
        'ｫ' => out.push('ｵ'),
        'ｬ' => out.push('ﾔ'),
        'ｭ' => out.push('ﾕ'),
        'ｮ' => out.push('ﾖ'),
        'ｯ' => out.push('ﾂ'),
        other => out.push(other),
    }
}

/// An amount in yen: a positive integer within the company's per-transfer limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount(i64);

impl Amount {
    pub fn new(yen: i64, limit: TransferLimit) -> Result<Amount, Invalid> {
        if yen < 1 {
            return Err(Invalid::new("out_of_range", "must be at least 1 yen"));
        }
        if yen > limit.yen() {
            return Err(Invalid::new(
                "over_limit",
                format!(
                    "exceeds the company's per-transfer limit of {} yen",
                    limit.yen()
                ),
            ));
        }
        Ok(Amount(yen))
    }

    pub fn yen(self) -> i64 {
        self.0
    }
}

/// How far ahead a transfer may be dated.
pub const MAX_DAYS_AHEAD: i64 = 60;

/// The execution date: a real calendar date from today (in Japan) up to 60 days ahead.
pub fn execution_date(value: &str, today: NaiveDate) -> Result<NaiveDate, Invalid> {
    let date = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| Invalid::new("format", "must be a real date written YYYY-MM-DD"))?;
    if date < today {
        return Err(Invalid::new(
            "in_the_past",
            format!("must be today ({today}) or later"),
        ));
    }
    if date > today + Duration::days(MAX_DAYS_AHEAD) {
        return Err(Invalid::new(
            "too_far_ahead",
            format!("must be at most {MAX_DAYS_AHEAD} days ahead"),
        ));
    }
    Ok(date)
}

/// The optional memo: at most 50 characters.
pub fn memo(value: &str) -> Result<Option<String>, Invalid> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    super::text_field(value, 50).map(Some)
}

/// The `Idempotency-Key` header: 1–64 visible ASCII characters.
pub fn idempotency_key(value: &str) -> Result<String, Invalid> {
    if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Invalid::new(
            "format",
            "must be 1 to 64 visible ASCII characters",
        ));
    }
    Ok(value.to_owned())
}

/// A transfer's state. `expired` is also what a pending transfer past its time is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferStatus {
    PendingConfirmation,
    Confirmed,
    Cancelled,
    Expired,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::PendingConfirmation => "pending_confirmation",
            TransferStatus::Confirmed => "confirmed",
            TransferStatus::Cancelled => "cancelled",
            TransferStatus::Expired => "expired",
        }
    }
}

impl std::str::FromStr for TransferStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending_confirmation" => Ok(TransferStatus::PendingConfirmation),
            "confirmed" => Ok(TransferStatus::Confirmed),
            "cancelled" => Ok(TransferStatus::Cancelled),
            "expired" => Ok(TransferStatus::Expired),
            other => Err(format!("unknown transfer status {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_katakana_and_letters_become_zengin() {
        assert_eq!(
            PayeeName::parse("カ）ヤマダショウジ").unwrap().as_str(),
            "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ"
        );
        assert_eq!(PayeeName::parse("ＡＢＣ　ﾀﾛｳ").unwrap().as_str(), "ABC ﾀﾛｳ");
        assert_eq!(PayeeName::parse("ガッコウ").unwrap().as_str(), "ｶﾞﾂｺｳ");
        assert_eq!(PayeeName::parse("ヴィーナス").unwrap().as_str(), "ｳﾞｲ-ﾅｽ");
    }

    #[test]
    fn a_refused_character_is_named_with_its_position() {
        let e = PayeeName::parse("ﾔﾏﾀﾞ太郎").unwrap_err();
        assert_eq!(e.code, "invalid_character");
        assert!(
            e.message.contains("character 5") && e.message.contains('太'),
            "{}",
            e.message
        );
        assert_eq!(
            PayeeName::parse("yamada").unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(PayeeName::parse("  ").unwrap_err().code, "required");
    }

    #[test]
    fn at_most_thirty_characters_after_normalising() {
        assert!(PayeeName::parse(&"ｱ".repeat(30)).is_ok());
        assert_eq!(
            PayeeName::parse(&"ガ".repeat(16)).unwrap_err().code,
            "too_long"
        );
    }

    #[test]
    fn the_amount_is_positive_and_within_the_limit() {
        let limit = TransferLimit::new(1_000).unwrap();
        assert!(Amount::new(1_000, limit).is_ok());
        assert_eq!(Amount::new(1_001, limit).unwrap_err().code, "over_limit");
        assert_eq!(Amount::new(0, limit).unwrap_err().code, "out_of_range");
    }

    #[test]
    fn the_execution_date_is_real_and_within_sixty_days() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert!(execution_date("2026-11-23", today).is_ok());
        assert!(execution_date("2027-01-22", today).is_ok());
        assert_eq!(
            execution_date("2027-01-23", today).unwrap_err().code,
            "too_far_ahead"
        );
        assert_eq!(
            execution_date("2026-11-22", today).unwrap_err().code,
            "in_the_past"
        );
        assert_eq!(
            execution_date("2026-02-30", today).unwrap_err().code,
            "format"
        );
        assert_eq!(
            execution_date("23/11/2026", today).unwrap_err().code,
            "format"
        );
    }

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        assert!(idempotency_key("3f2b-01").is_ok());
        assert!(idempotency_key("").is_err());
        assert!(idempotency_key(&"k".repeat(65)).is_err());
        assert!(idempotency_key("has space").is_err());
    }
}
