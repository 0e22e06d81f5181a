//! One-off transfers (都度振込): the payee in Zengin form, the amount, the execution date,
//! and the transfer's states.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{DebitAccount, Invalid, OtpStatus, Refusals, TransferLimit, text_enum};

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

text_enum!(
    /// The payee's account type (預金種目).
    AccountType { Ordinary = "ordinary", Current = "current", Savings = "savings" }
);

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

text_enum!(
    /// A transfer's state. `expired` is also what a pending transfer past its time is.
    TransferStatus {
        PendingConfirmation = "pending_confirmation",
        PendingApproval = "pending_approval",
        Confirmed = "confirmed",
        Rejected = "rejected",
        Cancelled = "cancelled",
        Expired = "expired",
    }
);
text_enum!(
    /// How a transfer is (or was) confirmed.
    ConfirmationMethod { Otp = "otp", TransferPassword = "transfer_password" }
);

impl ConfirmationMethod {
    /// The company's OTP status under which this method confirms (SPEC §3, rule 3: once
    /// one-time passwords are active, the fixed password never again).
    pub fn requires(self) -> OtpStatus {
        match self {
            ConfirmationMethod::Otp => OtpStatus::Active,
            ConfirmationMethod::TransferPassword => OtpStatus::Inactive,
        }
    }
}

/// Whom the money goes to, in Zengin form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payee {
    pub bank_code: String,
    pub branch_code: String,
    pub account_type: AccountType,
    pub account_number: String,
    pub name: String,
}

/// A one-off transfer. Immutable once created but for its state.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub id: String,
    pub company_id: String,
    pub created_by: String,
    pub idempotency_key: String,
    /// The hash of the request that created it, for the idempotency check.
    pub request_hash: String,
    /// A keyed hash of what is authorised, checked again at confirmation.
    pub content_hash: String,
    /// The master key the hash's key was derived from (`None`: before key ids were kept).
    pub content_key_id: Option<String>,
    pub debit_account: String,
    pub payee: Payee,
    pub amount: i64,
    pub execution_date: NaiveDate,
    pub memo: Option<String>,
    pub status: TransferStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmation_method: Option<ConfirmationMethod>,
    /// The time step of the code that confirmed it.
    pub confirmed_step: Option<i64>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    /// Approvals it needs after its creator confirmed it (0: none, the confirmation is final).
    pub approvals_required: i32,
    pub approvals_given: i32,
}

impl TransferStatus {
    /// Still open: confirmation or approvals awaited, so it expires or is cancelled.
    pub fn open(self) -> bool {
        matches!(
            self,
            TransferStatus::PendingConfirmation | TransferStatus::PendingApproval
        )
    }
}

impl Transfer {
    /// The hash of what is being authorised; checked again at confirmation. Keyed, so
    /// that whoever can write the database cannot also forge the hash of an altered payee
    /// or amount.
    pub fn content_hash(&self, key: &[u8; 32]) -> String {
        use hmac::{Hmac, Mac};
        let content = serde_json::json!([
            self.id,
            self.company_id,
            self.created_by,
            self.debit_account,
            self.payee.bank_code,
            self.payee.branch_code,
            self.payee.account_type.as_str(),
            self.payee.account_number,
            self.payee.name,
            self.amount,
            self.execution_date.to_string(),
            self.memo,
        ]);
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
            .expect("HMAC takes a key of any length");
        mac.update(content.to_string().as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A transfer as typed, before it is judged.
pub struct DraftInput {
    pub debit_account: String,
    pub bank_code: String,
    pub branch_code: String,
    pub account_type: AccountType,
    pub account_number: String,
    pub payee_name: String,
    pub amount: i64,
    pub execution_date: String,
    pub memo: Option<String>,
}

/// A transfer whose every field is valid for its company today.
pub struct Draft {
    pub debit_account: DebitAccount,
    pub payee: Payee,
    pub amount: Amount,
    pub execution_date: NaiveDate,
    pub memo: Option<String>,
}

impl Draft {
    /// Judges every field in one pass, the company's limit and today's date (in Japan)
    /// included, naming each refused field by its path in the request.
    pub fn parse(
        input: &DraftInput,
        limit: TransferLimit,
        today: NaiveDate,
    ) -> Result<Draft, Refusals> {
        let mut r = Refusals::default();
        let debit_account = r.check("debit_account", DebitAccount::parse(&input.debit_account));
        let bank_code = r.check("payee.bank_code", BankCode::parse(&input.bank_code));
        let branch_code = r.check("payee.branch_code", BranchCode::parse(&input.branch_code));
        let account_number = r.check(
            "payee.account_number",
            AccountNumber::parse(&input.account_number),
        );
        let payee_name = r.check("payee.name", PayeeName::parse(&input.payee_name));
        let amount = r.check("amount", Amount::new(input.amount, limit));
        let date = r.check(
            "execution_date",
            execution_date(&input.execution_date, today),
        );
        let memo = r.check("memo", memo(input.memo.as_deref().unwrap_or("")));
        match (
            debit_account,
            bank_code,
            branch_code,
            account_number,
            payee_name,
            amount,
            date,
            memo,
        ) {
            (
                Some(debit),
                Some(bank),
                Some(branch),
                Some(number),
                Some(name),
                Some(amount),
                Some(date),
                Some(memo),
            ) if r.is_empty() => Ok(Draft {
                debit_account: debit,
                payee: Payee {
                    bank_code: bank.0,
                    branch_code: branch.0,
                    account_type: input.account_type,
                    account_number: number.0,
                    name: name.0,
                },
                amount,
                execution_date: date,
                memo,
            }),
            _ => Err(r),
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
    fn a_draft_names_every_refused_field_in_one_pass() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let input = DraftInput {
            debit_account: "1-2".into(),
            bank_code: "1".into(),
            branch_code: "123".into(),
            account_type: AccountType::Ordinary,
            account_number: "7654321".into(),
            payee_name: "山田".into(),
            amount: 2_000,
            execution_date: "2026-11-22".into(),
            memo: None,
        };
        let refused = Draft::parse(&input, TransferLimit::new(1_000).unwrap(), today)
            .err()
            .unwrap();
        let fields: Vec<&str> = refused.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "debit_account",
                "payee.bank_code",
                "payee.name",
                "amount",
                "execution_date"
            ]
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
