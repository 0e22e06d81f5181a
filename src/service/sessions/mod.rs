//! Sign-in, sessions and sign-out, for company people and bank operators alike.
//!
//! An access token is a short JWT that names a session; the session row decides. Logout,
//! idle time, absolute lifetime and a disabled login therefore take effect at once and on
//! every instance.

use chrono::Duration;

use rustls_pki_types::CertificateDer;
use sha2::Digest;

use crate::db::lockout::Subject;
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{ActorKind, AuditAction, Event, Outcome};
use crate::domain::otp_code::OtpCode;
use crate::domain::soft_token::Purpose;
use crate::domain::transfer::Transfer;
use crate::domain::{BankOperator, Company, PasswordAttempt, Role, Secret, User};
use crate::error::{AppError, ErrorCode};

use super::certificates;
use super::lockout::{Proven, check_password, still_open};
use super::tokens::{self, CodeUse};
use super::{Operator, Person, Services, audit, confirming_holder, confirming_token, new_id};

mod keys;

use keys::Claims;
pub use keys::{SessionKeys, SessionKind};

/// A new session: what the client keeps.
#[derive(Debug)]
pub struct Login<T> {
    pub access_token: String,
    pub expires_in: i64,
    pub idle_timeout: i64,
    pub subject: T,
}

impl Login<()> {
    fn about<T>(self, subject: T) -> Login<T> {
        Login {
            access_token: self.access_token,
            expires_in: self.expires_in,
            idle_timeout: self.idle_timeout,
            subject,
        }
    }
}

/// Which door one signs in at.
#[derive(Clone, Copy)]
enum Door {
    Person,
    Operator,
}

impl Door {
    fn secret(self) -> Secret {
        match self {
            Door::Person => Secret::LoginPassword,
            Door::Operator => Secret::OperatorPassword,
        }
    }

    fn kind(self) -> SessionKind {
        match self {
            Door::Person => SessionKind::Person,
            Door::Operator => SessionKind::Operator,
        }
    }

    fn audited(self, client_addr: Option<String>, login_id: &str) -> Event {
        let (action, actor) = match self {
            Door::Person => (AuditAction::Login, ActorKind::Anonymous),
            Door::Operator => (AuditAction::OperatorLogin, ActorKind::Operator),
        };
        Event::new(action, Outcome::Failure, actor)
            .from_addr(client_addr)
            .detail(serde_json::json!({ "login_id": login_id }))
    }
}

/// The password part of signing in, with its lockout and throttling, then, where the
/// contract signs in with certificates, the presented certificate, then a disabled login
/// told apart (only after both, so that neither tells a guesser anything). The action that follows calls
/// `still_open` in its own transaction.
fn prove(
    db: &mut Db,
    svc: &Services,
    door: Door,
    login: &Credentials<'_>,
    failed: Event,
) -> Result<(Proven, Option<(User, Company)>), AppError> {
    let (login_id, password) = (login.login_id, login.password);
    let proven = check_password(
        db,
        svc,
        door.secret(),
        Subject::LoginId(login_id),
        password,
        &failed,
    )?;
    // A person and their contract, read once for every rule of the sign-in after this.
    let person = match door {
        Door::Operator => None,
        Door::Person => {
            let conn = db.conn()?;
            let user = db::users::find(conn, &proven.subject_id)?
                .ok_or_else(|| AppError::Internal("a proven person vanished".into()))?;
            let company = db::companies::get(conn, &user.company_id)?;
            Some((user, company))
        }
    };
    if let Some((_, company)) = &person {
        let conn = db.conn()?;
        let checked = certificates::check_at_sign_in(
            conn,
            svc,
            company,
            &proven.subject_id,
            login.certificate,
        )?;
        if let Err(why) = checked {
            // Answered like a wrong password: nothing tells a guesser which part failed.
            let mut detail = proven
                .audit
                .detail
                .clone()
                .unwrap_or_else(|| serde_json::json!({}));
            detail["login_id"] = login_id.into();
            detail["reason"] = "certificate".into();
            detail["certificate"] = why.into();
            audit::record(conn, svc, proven.audit.detail(detail))?;
            return Err(super::lockout::sign_in_refused());
        }
    }
    if proven.disabled {
        audit::record(
            db.conn()?,
            svc,
            proven
                .audit
                .detail(serde_json::json!({ "login_id": login_id, "reason": "disabled" })),
        )?;
        return Err(AppError::new(
            ErrorCode::AccountDisabled,
            "this login is disabled; ask your administrator or the bank",
        ));
    }
    Ok((proven, person))
}

/// What a person types and presents at the login page.
pub struct Credentials<'a> {
    pub login_id: &'a str,
    pub password: &'a PasswordAttempt,
    /// The certificate chain presented on the connection or by a trusted proxy.
    pub certificate: Option<&'a [CertificateDer<'static>]>,
}

/// A person proven by login ID (a personal customer's contract ID) and password at the
/// login page, for the self-service flows that open no session.
pub(super) fn prove_person(
    db: &mut Db,
    svc: &Services,
    login: &Credentials<'_>,
    client_addr: Option<String>,
    purpose: &str,
) -> Result<User, AppError> {
    let failed = Door::Person
        .audited(client_addr, login.login_id)
        .detail(serde_json::json!({ "login_id": login.login_id, "for": purpose }));
    let (_, person) = prove(db, svc, Door::Person, login, failed)?;
    person
        .map(|(user, _)| user)
        .ok_or_else(|| AppError::Internal("a proven person vanished".into()))
}

/// How a sign-in's password step ended.
enum Opened {
    Session(Login<()>),
    /// A code is asked first (the bank's policy, and the person has a token).
    CodeStep(Challenge),
}

/// The one sign-in flow of both doors: the proven password, then, in one transaction with
/// the reset of wrong attempts and the audit event, the session or the code step.
fn sign_in(
    db: &mut Db,
    svc: &Services,
    door: Door,
    login: &Credentials<'_>,
    client_addr: Option<String>,
) -> Result<(String, Opened, Option<User>), AppError> {
    let failed = door.audited(client_addr, login.login_id);
    let (proven, person) = prove(db, svc, door, login, failed)?;
    let event = proven.audit;
    let opened = write_tx(db.conn()?, |conn| {
        still_open(conn, svc, door.secret(), &proven.subject_id)?;
        let success = Event {
            actor_id: Some(proven.subject_id.clone()),
            actor_kind: match door {
                Door::Person => ActorKind::Person,
                Door::Operator => ActorKind::Operator,
            },
            ..event.with(event.action, Outcome::Success)
        };
        let asked = match &person {
            Some((user, company)) => code_at_sign_in(conn, svc, user, company)?,
            None => CodeAsked::No,
        };
        match asked {
            CodeAsked::No => {}
            CodeAsked::Yes => {
                let challenge = open_challenge(conn, svc, &proven.subject_id)?;
                let asked = success.with(AuditAction::LoginCodeRequired, Outcome::Success);
                audit::record(conn, svc, asked)?;
                return Ok(Ok(Opened::CodeStep(challenge)));
            }
            CodeAsked::RegisterFirst => {
                let refused = success
                    .with(AuditAction::Login, Outcome::Denied)
                    .detail(serde_json::json!({ "reason": "token_not_registered" }));
                audit::record(conn, svc, refused)?;
                return Ok(Err(AppError::new(
                    ErrorCode::TokenNotRegistered,
                    "sign-in needs a code and you have no token now: register a new one from the login page (POST /api/v1/self-service/otp/registration)",
                )));
            }
        }
        let login = open_session(conn, svc, door.kind(), &proven.subject_id)?;
        audit::record(conn, svc, success)?;
        Ok::<_, AppError>(Ok(Opened::Session(login)))
    })??;
    Ok((proven.subject_id, opened, person.map(|(user, _)| user)))
}

/// Whether a person gives a code at sign-in.
enum CodeAsked {
    No,
    Yes,
    /// A customer whose contract uses codes but who holds no token (the bank reissued):
    /// no session on the password alone; they register a new token first.
    RegisterFirst,
}

/// The bank's policy for the person's kind of contract decides, once they have a token
/// to give a code with (locked or suspended included, so that locking a token never
/// opens the door without a code).
fn code_at_sign_in(
    conn: &mut DbConn,
    svc: &Services,
    user: &User,
    company: &Company,
) -> Result<CodeAsked, AppError> {
    if !svc.policy.codes_asked(company.kind).at_sign_in {
        return Ok(CodeAsked::No);
    }
    Ok(match confirming_token(conn, company, user)? {
        Some(_) => CodeAsked::Yes,
        None if user.role == Role::Customer && company.otp_active() => CodeAsked::RegisterFirst,
        None => CodeAsked::No,
    })
}

/// The code step's single-use challenge, as the client holds it.
#[derive(Debug)]
pub struct Challenge {
    pub challenge: String,
    pub expires_in: i64,
}

fn open_challenge(conn: &mut DbConn, svc: &Services, user_id: &str) -> Result<Challenge, AppError> {
    use base64::Engine;
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let now = svc.now();
    let expires_in = svc.policy.sign_in_challenge_secs;
    let expires_at = now + Duration::seconds(expires_in);
    db::challenges::insert(conn, &challenge_id(&challenge), user_id, now, expires_at)?;
    Ok(Challenge {
        challenge,
        expires_in,
    })
}

/// What is stored of a challenge: its SHA-256, so a database reader cannot use one.
fn challenge_id(challenge: &str) -> String {
    crate::domain::transfer::hex(&sha2::Sha256::digest(challenge.as_bytes()))
}

fn challenge_invalid() -> AppError {
    AppError::new(
        ErrorCode::SignInChallengeInvalid,
        "this sign-in step expired or was already used: sign in again with your password",
    )
}

/// What a person's sign-in answers.
pub enum SignIn {
    Session(Login<User>),
    /// Give a current code with this challenge (`login_with_code`) to get the session.
    CodeStep(Challenge),
}

/// Signs a person in with login ID and password (and the certificate, where the contract
/// asks one): a session, or the code step first.
pub fn login_person(
    db: &mut Db,
    svc: &Services,
    login: &Credentials<'_>,
    client_addr: Option<String>,
) -> Result<SignIn, AppError> {
    let (_, opened, user) = sign_in(db, svc, Door::Person, login, client_addr)?;
    let login = match opened {
        Opened::Session(login) => login,
        Opened::CodeStep(challenge) => return Ok(SignIn::CodeStep(challenge)),
    };
    let user = user.ok_or_else(|| AppError::Internal("a signed-in person vanished".into()))?;
    // As read before the sign-in reset the wrong attempts: no lock holds on them now.
    Ok(SignIn::Session(login.about(User {
        login_lock: None,
        ..user
    })))
}

/// The code step of a sign-in: a current code of the person's token with the challenge
/// of their password step. Wrong codes count toward the token's lock and leave the
/// challenge open until it expires; the right one spends its step (it confirms nothing
/// else, ever), uses the challenge up and opens the session, in one transaction.
pub fn login_with_code(
    db: &mut Db,
    svc: &Services,
    challenge: &str,
    code: &OtpCode,
    client_addr: Option<String>,
) -> Result<Login<User>, AppError> {
    let id = challenge_id(challenge);
    let user_id = db::challenges::open_for(db.conn()?, &id, svc.now())?;
    let key = format!("SignInCode:{}", user_id.as_deref().unwrap_or("unknown"));
    svc.throttle.check(client_addr.as_deref(), &key)?;
    let refused = Event::new(AuditAction::Login, Outcome::Denied, ActorKind::Anonymous)
        .from_addr(client_addr.clone())
        .detail(serde_json::json!({ "reason": "sign_in_challenge_invalid" }));
    let Some(user_id) = user_id else {
        audit::record(db.conn()?, svc, refused)?;
        return Err(challenge_invalid());
    };
    let conn = db.conn()?;
    let login = write_tx(conn, |conn| {
        let user = db::users::find(conn, &user_id)?.ok_or_else(challenge_invalid)?;
        if user.disabled {
            return Err(challenge_invalid());
        }
        let company = db::companies::get(conn, &user.company_id)?;
        let who = Person::acting(user.clone(), company.clone(), None, client_addr.clone());
        let holder = confirming_holder(conn, &company, &user)?;
        let read = db::soft_tokens::held_with_seed(conn, &holder)?;
        let Some((token, seed)) = read else {
            return Err(challenge_invalid());
        };
        let used = CodeUse {
            token: &token,
            seed: Some(&seed),
            code,
            purpose: Purpose::SignIn,
            transfer_id: None,
        };
        if let Err(refused) = tokens::verify_code(conn, svc, &who, &used)? {
            return Ok(Err(refused));
        }
        // A racing request used the challenge first: this one's step is rolled back.
        if !db::challenges::consume(conn, &id, svc.now())? {
            return Err(challenge_invalid());
        }
        let login = open_session(conn, svc, SessionKind::Person, &user.id)?;
        audit::record(
            conn,
            svc,
            who.event(AuditAction::Login, Outcome::Success)
                .detail(serde_json::json!({ "login_id": user.login_id, "with_code": true })),
        )?;
        Ok(Ok(login.about(user)))
    });
    // A challenge used or expired meanwhile, or a person disabled: audited, not silent.
    let login = match login {
        Err(e) if e.code() == ErrorCode::SignInChallengeInvalid => {
            audit::record(conn, svc, refused.actor(&user_id))?;
            return Err(e);
        }
        other => other??,
    };
    Ok(Login {
        subject: login.subject.as_of(svc.now()),
        ..login
    })
}

/// Signs a bank operator in.
pub fn login_operator(
    db: &mut Db,
    svc: &Services,
    login_id: &str,
    password: &PasswordAttempt,
    client_addr: Option<String>,
) -> Result<Login<BankOperator>, AppError> {
    let login = Credentials {
        login_id,
        password,
        certificate: None,
    };
    let (id, opened, _) = sign_in(db, svc, Door::Operator, &login, client_addr)?;
    let Opened::Session(login) = opened else {
        return Err(AppError::Internal(
            "an operator's sign-in asked for a code".into(),
        ));
    };
    let operator = db::operators::find(db.conn()?, &id)?
        .ok_or_else(|| AppError::Internal(format!("operator {id} vanished at sign-in")))?;
    Ok(login.about(operator.as_of(svc.now())))
}

fn open_session(
    conn: &mut DbConn,
    svc: &Services,
    kind: SessionKind,
    subject_id: &str,
) -> Result<Login<()>, AppError> {
    let now = svc.now();
    let expires_at = now + Duration::seconds(svc.policy.session_absolute_secs);
    let id = new_id();
    db::sessions::open(conn, &id, kind.as_str(), subject_id, now, expires_at)?;
    let claims = Claims::new(subject_id, id, kind, (now, expires_at));
    let access_token = svc.sessions.sign(&claims)?;
    Ok(Login {
        access_token,
        expires_in: svc.policy.session_absolute_secs,
        idle_timeout: svc.policy.session_idle_secs,
        subject: (),
    })
}

/// Checks a bearer token and keeps its session alive: one conditional update decides
/// whether the session is still open, within its idle time and its absolute lifetime.
/// Now, and the window a session must have been seen in: within the idle time, and
/// within its last quarter for nothing to be written.
fn freshness(
    svc: &Services,
) -> (
    chrono::DateTime<chrono::Utc>,
    (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) {
    let now = svc.now();
    let idle = svc.policy.session_idle_secs;
    let window = (
        now - Duration::seconds(idle),
        now - Duration::seconds(idle / 4),
    );
    (now, window)
}

fn touch_session(conn: &mut DbConn, svc: &Services, claims: &Claims) -> Result<(), AppError> {
    let (now, window) = freshness(svc);
    let kind = claims.kind.as_str();
    match db::sessions::touch(conn, &claims.sid, kind, &claims.sub, now, window)? {
        true => Ok(()),
        false => Err(session_ended()),
    }
}

/// A bearer token whose signature verified: the session it names, not yet known to be open.
/// Checked on an async worker (a MAC, no database), so a forged or expired token is
/// refused before anything else about the request is judged.
pub struct Bearer(Claims);

impl Bearer {
    /// The company person the token names, when it is a person's (for the access log).
    pub fn person_id(&self) -> Option<&str> {
        (self.0.kind == SessionKind::Person).then_some(self.0.sub.as_str())
    }
}

pub fn verify(svc: &Services, bearer: &str) -> Result<Bearer, AppError> {
    svc.sessions.read(bearer).map(Bearer)
}

/// The company person behind a verified bearer token, while the session is open.
///
/// `transfer_id` names the transfer the request is about: read in the same statement, it
/// comes back if it is the person's company's (who may see it is the use case's to judge).
pub fn authenticate_person(
    db: &mut Db,
    svc: &Services,
    (Bearer(claims), client_addr): (Bearer, Option<String>),
    transfer_id: Option<&str>,
) -> Result<(Person, Option<Transfer>), AppError> {
    let conn = db.conn()?;
    if claims.kind != SessionKind::Person {
        // An ended session is 401 whatever it was for.
        touch_session(conn, svc, &claims)?;
        return Err(AppError::forbidden(
            "this endpoint is for company users; a bank operator session cannot use it",
        ));
    }
    let (now, window) = freshness(svc);
    let session = (claims.sid.as_str(), claims.sub.as_str());
    match db::sessions::touch_person(conn, session, transfer_id, now, window)? {
        Some(read) if !read.user.disabled => {
            let who = Person::acting(read.user, read.company, Some(claims.sid), client_addr);
            Ok((who.holding(read.token), read.transfer))
        }
        _ => Err(session_ended()),
    }
}

/// The bank operator behind a bearer token.
pub fn authenticate_operator(
    db: &mut Db,
    svc: &Services,
    bearer: &str,
    client_addr: Option<String>,
) -> Result<Operator, AppError> {
    let claims = svc.sessions.read(bearer)?;
    touch_session(db.conn()?, svc, &claims)?;
    if claims.kind != SessionKind::Operator {
        return Err(AppError::forbidden("this endpoint is for bank operators"));
    }
    Ok(Operator {
        operator_id: claims.sub,
        session_id: claims.sid,
        client_addr,
    })
}

/// Ends a person's session at once, everywhere.
pub fn logout_person(db: &mut Db, svc: &Services, who: &Person) -> Result<(), AppError> {
    let event = who.event(AuditAction::Logout, Outcome::Success);
    let session_id = who
        .session_id
        .as_deref()
        .ok_or_else(|| AppError::Internal("sign-out without a session".into()))?;
    end_session(db, svc, session_id, event)
}

/// Ends an operator's session at once, everywhere.
pub fn logout_operator(db: &mut Db, svc: &Services, who: &Operator) -> Result<(), AppError> {
    let event = who.event(AuditAction::OperatorLogout, Outcome::Success);
    end_session(db, svc, &who.session_id, event)
}

fn end_session(
    db: &mut Db,
    svc: &Services,
    session_id: &str,
    event: Event,
) -> Result<(), AppError> {
    write_tx(db.conn()?, |conn| {
        db::sessions::end(conn, session_id, svc.now())?;
        audit::record(conn, svc, event)
    })
}

fn session_ended() -> AppError {
    AppError::new(
        ErrorCode::SessionExpired,
        "the session has ended; sign in again",
    )
}
