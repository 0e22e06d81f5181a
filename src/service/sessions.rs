//! Sign-in, sessions and sign-out, for company people and bank operators alike.
//!
//! An access token is a short JWT that names a session; the session row decides. Logout,
//! idle time, absolute lifetime and a disabled login therefore take effect at once and on
//! every instance.

use chrono::Duration;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::db::lockout::Subject;
use crate::db::{self, Db, DbConn, write_tx};
use crate::domain::audit::{ActorKind, AuditAction, Event, Outcome};
use crate::domain::{BankOperator, PasswordAttempt, Secret, User};
use crate::error::{AppError, ErrorCode};

use super::lockout::{check_password, still_open};
use super::{Operator, Person, Services, audit, new_id};

const ISSUER: &str = "webfb";

/// Which door a session was opened at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Person,
    Operator,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Person => "person",
            SessionKind::Operator => "operator",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    sid: String,
    kind: SessionKind,
    iat: i64,
    exp: i64,
}

pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl SessionKeys {
    pub fn new(secret: &SecretString) -> SessionKeys {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["iss", "sub", "exp"]);
        // The session row decides by the service's clock; the token's own expiry is
        // checked too, with a minute's leeway for clocks that differ across instances.
        validation.validate_exp = true;
        validation.leeway = 60;
        SessionKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }
}

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

/// The one sign-in flow of both doors: the password with its lockout, then a disabled
/// login told apart (only after the right password), then the session, in one
/// transaction with the reset of wrong attempts and the audit event.
fn sign_in(
    db: &mut Db,
    svc: &Services,
    door: Door,
    login_id: &str,
    password: &PasswordAttempt,
    client_addr: Option<String>,
) -> Result<(String, Login<()>), AppError> {
    let failed = door.audited(client_addr, login_id);
    let secret = door.secret();
    let proven = check_password(
        db,
        svc,
        secret,
        Subject::LoginId(login_id),
        password,
        &failed,
    )?;
    let event = proven.audit;
    if proven.disabled {
        audit::record(
            db.conn()?,
            svc,
            event.detail(serde_json::json!({ "login_id": login_id, "reason": "disabled" })),
        )?;
        return Err(AppError::new(
            ErrorCode::AccountDisabled,
            "this login is disabled; ask your administrator",
        ));
    }
    let login = write_tx(db.conn()?, |conn| {
        still_open(conn, svc, secret, &proven.subject_id)?;
        let login = open_session(conn, svc, door.kind(), &proven.subject_id)?;
        let success = Event {
            actor_id: Some(proven.subject_id.clone()),
            actor_kind: match door {
                Door::Person => ActorKind::Person,
                Door::Operator => ActorKind::Operator,
            },
            ..event.with(event.action, Outcome::Success)
        };
        audit::record(conn, svc, success)?;
        Ok::<_, AppError>(login)
    })?;
    Ok((proven.subject_id, login))
}

/// Signs a company person in with login ID and password.
pub fn login_person(
    db: &mut Db,
    svc: &Services,
    login_id: &str,
    password: &PasswordAttempt,
    client_addr: Option<String>,
) -> Result<Login<User>, AppError> {
    let (id, login) = sign_in(db, svc, Door::Person, login_id, password, client_addr)?;
    let user = db::users::find(db.conn()?, &id)?
        .ok_or_else(|| AppError::Internal(format!("user {id} vanished at sign-in")))?;
    Ok(login.about(user.as_of(svc.now())))
}

/// Signs a bank operator in.
pub fn login_operator(
    db: &mut Db,
    svc: &Services,
    login_id: &str,
    password: &PasswordAttempt,
    client_addr: Option<String>,
) -> Result<Login<BankOperator>, AppError> {
    let (id, login) = sign_in(db, svc, Door::Operator, login_id, password, client_addr)?;
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
    let claims = Claims {
        iss: ISSUER.to_owned(),
        sub: subject_id.to_owned(),
        sid: id,
        kind,
        iat: now.timestamp(),
        exp: expires_at.timestamp(),
    };
    let access_token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &svc.sessions.encoding,
    )
    .map_err(|e| AppError::Internal(format!("jwt: {e}")))?;
    Ok(Login {
        access_token,
        expires_in: svc.policy.session_absolute_secs,
        idle_timeout: svc.policy.session_idle_secs,
        subject: (),
    })
}

/// Checks a bearer token and keeps its session alive: one conditional update decides
/// whether the session is still open, within its idle time and its absolute lifetime.
fn touch_session(conn: &mut DbConn, svc: &Services, bearer: &str) -> Result<Claims, AppError> {
    let claims =
        jsonwebtoken::decode::<Claims>(bearer, &svc.sessions.decoding, &svc.sessions.validation)
            .map_err(|_| {
                AppError::new(ErrorCode::Unauthenticated, "the access token is not valid")
            })?
            .claims;
    let now = svc.now();
    let idle_since = now - Duration::seconds(svc.policy.session_idle_secs);
    if !db::sessions::touch(
        conn,
        &claims.sid,
        claims.kind.as_str(),
        &claims.sub,
        now,
        idle_since,
    )? {
        return Err(session_ended());
    }
    Ok(claims)
}

/// The company person behind a bearer token.
pub fn authenticate_person(
    db: &mut Db,
    svc: &Services,
    bearer: &str,
    client_addr: Option<String>,
) -> Result<Person, AppError> {
    let conn = db.conn()?;
    let claims = touch_session(conn, svc, bearer)?;
    if claims.kind != SessionKind::Person {
        return Err(AppError::forbidden(
            "this endpoint is for company users; a bank operator session cannot use it",
        ));
    }
    match db::users::find(conn, &claims.sub)? {
        Some(u) if !u.disabled => Ok(Person {
            role: u.role,
            user_id: u.id,
            company_id: u.company_id,
            session_id: claims.sid,
            client_addr,
        }),
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
    let claims = touch_session(db.conn()?, svc, bearer)?;
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
    end_session(db, svc, &who.session_id, event)
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
