//! Vendor tokens from a PSKC file (RFC 6030), as vendors ship them. Every key gets an
//! outcome — imported, skipped (a key webfb does not use) or refused (a package that is not
//! right) — in one report; a key or MAC that does not fit refuses the whole file, and a
//! dry run imports nothing. The pre-shared key or password is used here and forgotten.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::db::{self, Db, Insert, write_tx};
use crate::domain::SoftToken;
use crate::domain::audit::{AuditAction, Outcome};
use crate::domain::soft_token::TokenSource;
use crate::domain::token_id::TokenId;
use crate::error::{AppError, ErrorCode, FieldError};
use crate::otp::pskc::{self, OtpKind, Outcome as Read, Protection, PskcError};

use super::{Operator, Services, audit, new_id, tokens};

/// What an operator sends: the file, what opens it, and where its tokens go.
pub struct ImportRequest {
    pub file: String,
    pub protection: Protection,
    /// Reserve the tokens for this company; `None`: the company that registers one first.
    pub company_id: Option<String>,
    /// Judge every key, import none.
    pub dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Imported (or, in a dry run, would be).
    Imported,
    Skipped,
    Refused,
}

/// One key of the file, as the report shows it.
#[derive(Debug)]
pub struct KeyReport {
    pub index: usize,
    pub key_id: Option<String>,
    pub serial: Option<String>,
    pub kind: Option<OtpKind>,
    pub outcome: KeyOutcome,
    pub reason: Option<String>,
}

pub struct ImportReport {
    pub dry_run: bool,
    pub keys: Vec<KeyReport>,
}

impl ImportReport {
    pub fn count(&self, outcome: KeyOutcome) -> usize {
        self.keys.iter().filter(|k| k.outcome == outcome).count()
    }
}

fn unreadable(e: PskcError) -> AppError {
    match e {
        PskcError::KeyRequired(why) => AppError::new(ErrorCode::PskcKeyRequired, why),
        PskcError::WrongKey(why) => AppError::new(ErrorCode::PskcKeyWrong, why),
        other => AppError::malformed("body", "pskc", other.to_string()),
    }
}

pub fn import(
    db: &mut Db,
    svc: &Services,
    who: &Operator,
    req: ImportRequest,
) -> Result<ImportReport, AppError> {
    let packages = pskc::read(&req.file, &req.protection, svc.now()).map_err(unreadable)?;
    drop(req.protection);
    let mut keys = Vec::with_capacity(packages.len());
    let mut usable = Vec::new();
    let mut seen = HashSet::new();
    for package in packages {
        let mut report = KeyReport {
            index: package.index,
            key_id: package.key_id,
            serial: package.serial,
            kind: None,
            outcome: KeyOutcome::Imported,
            reason: None,
        };
        match package.outcome {
            Read::Skipped(why) => {
                (report.outcome, report.reason) = (KeyOutcome::Skipped, Some(why))
            }
            Read::Refused(why) => {
                (report.outcome, report.reason) = (KeyOutcome::Refused, Some(why))
            }
            Read::Usable(key) => {
                report.kind = Some(key.kind);
                match TokenId::parse(&key.serial) {
                    Err(e) => {
                        report.outcome = KeyOutcome::Refused;
                        report.reason = Some(format!("serial {:?}: {e}", key.serial));
                    }
                    Ok(id) if !seen.insert(id.clone()) => {
                        report.outcome = KeyOutcome::Skipped;
                        report.reason = Some(format!("serial {id} appears earlier in the file"));
                    }
                    Ok(id) => {
                        report.serial = Some(id.as_str().to_owned());
                        usable.push((keys.len(), id, key));
                    }
                }
            }
        }
        keys.push(report);
    }
    let conn = db.conn()?;
    if let Some(company) = &req.company_id {
        db::companies::find(conn, company)?.ok_or_else(|| AppError::not_found("company"))?;
    }
    let serials: Vec<&str> = usable.iter().map(|(_, id, _)| id.as_str()).collect();
    let taken: HashSet<String> = db::soft_tokens::serials_taken(conn, &serials)?
        .into_iter()
        .collect();
    usable.retain(|(at, id, _)| {
        let free = !taken.contains(id.as_str());
        if !free {
            keys[*at].outcome = KeyOutcome::Skipped;
            keys[*at].reason = Some(format!("a token with serial {id} exists already"));
        }
        free
    });
    if usable.is_empty() {
        return Err(nothing_importable(&keys));
    }
    let report = ImportReport {
        dry_run: req.dry_run,
        keys,
    };
    if req.dry_run {
        return Ok(report);
    }
    let now = svc.now();
    let mut rows = Vec::with_capacity(usable.len());
    for (_, id, key) in usable {
        let token = SoftToken {
            id: new_id(),
            token_id: id.as_str().to_owned(),
            company_id: req.company_id.clone(),
            source: TokenSource::Imported,
            holder_id: None,
            registered_at: None,
            expires_at: None,
            locked: false,
            suspended: false,
        };
        let mut seed = tokens::sealed(svc, &token.token_id, &key.seed, &key.params)?;
        seed.kind = key.kind.as_str().to_owned();
        seed.time_drift = key.time_drift;
        // HOTP: the counter the token shows next is the first one it may use.
        let last_used = match key.kind {
            OtpKind::Hotp => key.counter as i64 - 1,
            OtpKind::Totp => -1,
        };
        rows.push((token, seed, last_used));
    }
    let file_sha256 = crate::domain::transfer::hex(&Sha256::digest(req.file.as_bytes()));
    write_tx(db.conn()?, |conn| {
        if db::soft_tokens::insert_many(conn, rows, &who.operator_id, now)? == Insert::Duplicate {
            return Err(AppError::new(
                ErrorCode::TokenInUse,
                "a token of this file was imported meanwhile: import the file again for a new report",
            ));
        }
        let mut event = who
            .event(AuditAction::TokensImported, Outcome::Success)
            .target("pskc_file", &file_sha256)
            .detail(serde_json::json!({
                "imported": report.count(KeyOutcome::Imported),
                "skipped": report.count(KeyOutcome::Skipped),
                "refused": report.count(KeyOutcome::Refused),
            }));
        if let Some(company) = &req.company_id {
            event = event.company(company);
        }
        audit::record(conn, svc, event)
    })?;
    Ok(report)
}

/// A file whose every key is skipped or refused: 422, naming each key's reason.
fn nothing_importable(keys: &[KeyReport]) -> AppError {
    let mut e = AppError::new(
        ErrorCode::PskcNothingImportable,
        "no key of the file can be imported: each key's reason is listed",
    );
    if let AppError::Client { errors, .. } = &mut e {
        errors.extend(keys.iter().map(|k| FieldError {
            field: format!("KeyPackage[{}]", k.index),
            code: match k.outcome {
                KeyOutcome::Skipped => "skipped".into(),
                _ => "refused".into(),
            },
            message: k.reason.clone().unwrap_or_default(),
        }));
    }
    e
}
