//! Software tokens as the bank knows them: which company and person they serve, and
//! whether they are locked. The sealed seed is not part of the entity.

use chrono::{DateTime, Utc};

use super::confirmation::ConfirmingToken;
use super::text_enum;

text_enum!(
    /// Where a token came from: issued by webfb, or imported from a vendor's file.
    TokenSource { Issued = "issued", Imported = "imported" }
);
text_enum!(
    /// What a code was used for, as recorded in the ledger and the audit log.
    Purpose {
        Registration = "registration",
        Exchange = "exchange",
        Stop = "stop",
        SignIn = "sign_in",
        TransferConfirmation = "transfer_confirmation",
        TransferApproval = "transfer_approval",
    }
);

#[derive(Clone, Debug)]
pub struct SoftToken {
    /// The row's own id, never shown to a client.
    pub id: String,
    /// The serial printed on or shown by the token.
    pub token_id: String,
    /// The company it was issued to or reserved for; `None` for an unreserved import.
    pub company_id: Option<String>,
    pub source: TokenSource,
    pub holder_id: Option<String>,
    pub registered_at: Option<DateTime<Utc>>,
    /// An unregistered token cannot be registered after this; a released one has it set.
    pub expires_at: Option<DateTime<Utc>>,
    pub locked: bool,
    /// Suspended by the bank (a lost device): refused like a locked token, and only the
    /// bank lifts it, by reissuing.
    pub suspended: bool,
}

impl SoftToken {
    /// The serial with its middle hidden, for screens: `WFBS****5674`.
    pub fn masked_id(&self) -> String {
        let id = &self.token_id;
        match (
            id.get(..4),
            id.len().checked_sub(4).and_then(|at| id.get(at..)),
        ) {
            (Some(head), Some(tail)) if id.len() > 8 => format!("{head}****{tail}"),
            _ => "****".to_owned(),
        }
    }

    /// Whether it can confirm a transfer now.
    pub fn state(token: Option<&SoftToken>) -> ConfirmingToken {
        match token {
            None => ConfirmingToken::None,
            Some(t) if t.suspended => ConfirmingToken::Suspended,
            Some(t) if t.locked => ConfirmingToken::Locked,
            Some(_) => ConfirmingToken::Active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str) -> SoftToken {
        SoftToken {
            id: "row".into(),
            token_id: id.into(),
            company_id: None,
            source: TokenSource::Issued,
            holder_id: None,
            registered_at: None,
            expires_at: None,
            locked: false,
            suspended: false,
        }
    }

    #[test]
    fn a_masked_id_shows_the_prefix_and_the_last_four() {
        assert_eq!(token("WFBS12345674").masked_id(), "WFBS****5674");
        assert_eq!(token("ABC").masked_id(), "****");
    }
}
