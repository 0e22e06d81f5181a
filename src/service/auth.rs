//! Sign-in, sessions and sign-out, for company people and bank operators alike.
//!
//! An access token is a short JWT that names a session; the session row decides. Logout,
//! idle time, absolute lifetime and a disabled login therefore take effect at once and on
//! every instance.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::db::models::{OperatorRow, SessionRow, UserRow};
use crate::db::schema::{bank_operators, sessions, users};
use crate::db::{DbConn, write_tx};
use crate::domain::{PasswordAttempt, Role};
use crate::error::{AppError, ErrorCode};

use super::audit::{self, Event, Outcome};
use super::lockout::{Counted, Counter, count_failure};
use super::{Operator, Person, Services, new_id};

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
        // Expiry is judged by the service's clock and the session row, not the host's clock.
        validation.validate_exp = false;
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

/// Signs a company person in with login ID and password.
pub fn login_person(
    conn: &mut DbConn,
    svc: &Services,
    login_id: &str,
    password: &PasswordAttempt,
    client_addr: Option<String>,
) -> Result<Login<UserRow>, AppError> {
    let user: Option<UserRow> = users::table
        .filter(users::login_id.eq(login_id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    let failed = || {
        Event::anonymous("login", Outcome::Failure, client_addr.clone())
            .detail(serde_json::json!({ "login_id": login_id }))
    };
    let Some(user) = user else {
        svc.passwords.verify_dummy(password.expose());
        audit::record(
            conn,
            svc,
            failed()
                .detail(serde_json::json!({ "login_id": login_id, "reason": "unknown_login_id" })),
        )?;
        return Err(invalid_credentials());
    };
    let of_user = |e: Event| {
        e.company(user.company_id.clone())
            .target("user", user.id.clone())
    };
    // A locked login is answered before the password is checked: no guessing continues,
    // and the holder learns why they cannot get in.
    if user.login_locked_at.is_some() {
        audit::record(
            conn,
            svc,
            of_user(failed()).detail(serde_json::json!({ "reason": "locked" })),
        )?;
        return Err(account_locked());
    }
    // The wrong password is counted by one atomic increment: racing guesses on several
    // instances cannot slip past the threshold.
    if !svc.passwords.verify(&user.password_hash, password.expose()) {
        let counted = write_tx(conn, |conn| {
            let counted = count_failure(
                conn,
                Counter::Login,
                &user.id,
                svc.policy.login_lockout_threshold,
                svc.now_naive(),
            )?;
            audit::record(
                conn,
                svc,
                of_user(failed()).detail(serde_json::json!({ "reason": "wrong_password" })),
            )?;
            if let Counted::LockedNow = counted {
                audit::record(
                    conn,
                    svc,
                    of_user(Event::anonymous(
                        "login_locked",
                        Outcome::Success,
                        client_addr.clone(),
                    )),
                )?;
            }
            Ok::<_, AppError>(counted)
        })?;
        let locked = !matches!(counted, Counted::Remaining(_));
        return Err(if locked {
            account_locked()
        } else {
            invalid_credentials()
        });
    }
    // Disabled is told only after the right password, so it reveals nothing to a guesser.
    if user.disabled {
        audit::record(
            conn,
            svc,
            of_user(failed()).detail(serde_json::json!({ "reason": "disabled" })),
        )?;
        return Err(AppError::new(
            ErrorCode::AccountDisabled,
            "this login is disabled; ask your administrator",
        ));
    }
    write_tx(conn, |conn| {
        // Conditional: a lock that landed while we verified still wins.
        let reset = diesel::update(
            users::table
                .find(&user.id)
                .filter(users::login_locked_at.is_null()),
        )
        .set(users::failed_logins.eq(0))
        .execute(conn)?;
        if reset == 0 {
            return Err(account_locked());
        }
        let login = open_session(conn, svc, SessionKind::Person, &user.id, user.clone())?;
        audit::record(
            conn,
            svc,
            Event {
                actor_kind: "person",
                actor_id: Some(user.id.clone()),
                ..of_user(Event::anonymous(
                    "login",
                    Outcome::Success,
                    client_addr.clone(),
                ))
            },
        )?;
        Ok(login)
    })
}

/// Signs a bank operator in.
pub fn login_operator(
    conn: &mut DbConn,
    svc: &Services,
    login_id: &str,
    password: &PasswordAttempt,
    client_addr: Option<String>,
) -> Result<Login<OperatorRow>, AppError> {
    let operator: Option<OperatorRow> = bank_operators::table
        .filter(bank_operators::login_id.eq(login_id))
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?;
    let failed = || {
        Event {
            actor_kind: "operator",
            ..Event::anonymous("operator_login", Outcome::Failure, client_addr.clone())
        }
        .detail(serde_json::json!({ "login_id": login_id }))
    };
    let Some(operator) = operator else {
        svc.passwords.verify_dummy(password.expose());
        audit::record(conn, svc, failed())?;
        return Err(invalid_credentials());
    };
    let of_operator = |e: Event| e.target("operator", operator.id.clone());
    if operator.locked_at.is_some() {
        audit::record(conn, svc, of_operator(failed()))?;
        return Err(account_locked());
    }
    if !svc
        .passwords
        .verify(&operator.password_hash, password.expose())
    {
        let counted = write_tx(conn, |conn| {
            let counted = count_failure(
                conn,
                Counter::OperatorLogin,
                &operator.id,
                svc.policy.login_lockout_threshold,
                svc.now_naive(),
            )?;
            audit::record(conn, svc, of_operator(failed()))?;
            if let Counted::LockedNow = counted {
                let event = Event {
                    actor_kind: "operator",
                    ..Event::anonymous("login_locked", Outcome::Success, client_addr.clone())
                };
                audit::record(conn, svc, of_operator(event))?;
            }
            Ok::<_, AppError>(counted)
        })?;
        let locked = !matches!(counted, Counted::Remaining(_));
        return Err(if locked {
            account_locked()
        } else {
            invalid_credentials()
        });
    }
    write_tx(conn, |conn| {
        diesel::update(bank_operators::table.find(&operator.id))
            .set(bank_operators::failed_logins.eq(0))
            .execute(conn)?;
        let login = open_session(
            conn,
            svc,
            SessionKind::Operator,
            &operator.id,
            operator.clone(),
        )?;
        audit::record(
            conn,
            svc,
            Event {
                actor_kind: "operator",
                actor_id: Some(operator.id.clone()),
                ..of_operator(Event::anonymous(
                    "operator_login",
                    Outcome::Success,
                    client_addr.clone(),
                ))
            },
        )?;
        Ok(login)
    })
}

fn open_session<T>(
    conn: &mut DbConn,
    svc: &Services,
    kind: SessionKind,
    subject_id: &str,
    subject: T,
) -> Result<Login<T>, AppError> {
    let now = svc.now();
    let expires_at = now + Duration::seconds(svc.policy.session_absolute_secs);
    let session = SessionRow {
        id: new_id(),
        kind: kind.as_str().to_owned(),
        subject_id: subject_id.to_owned(),
        created_at: now.naive_utc(),
        last_seen_at: now.naive_utc(),
        expires_at: expires_at.naive_utc(),
        ended_at: None,
    };
    diesel::insert_into(sessions::table)
        .values(&session)
        .execute(conn)?;
    let claims = Claims {
        iss: ISSUER.to_owned(),
        sub: subject_id.to_owned(),
        sid: session.id,
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
        subject,
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
    let alive = diesel::update(
        sessions::table
            .find(&claims.sid)
            .filter(sessions::subject_id.eq(&claims.sub))
            .filter(sessions::kind.eq(claims.kind.as_str()))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::expires_at.gt(now.naive_utc()))
            .filter(sessions::last_seen_at.gt(idle_since.naive_utc())),
    )
    .set(sessions::last_seen_at.eq(now.naive_utc()))
    .execute(conn)?;
    if alive == 0 {
        return Err(AppError::new(
            ErrorCode::SessionExpired,
            "the session has ended; sign in again",
        ));
    }
    Ok(claims)
}

/// The company person behind a bearer token.
pub fn authenticate_person(
    conn: &mut DbConn,
    svc: &Services,
    bearer: &str,
    client_addr: Option<String>,
) -> Result<Person, AppError> {
    let claims = touch_session(conn, svc, bearer)?;
    if claims.kind != SessionKind::Person {
        return Err(AppError::forbidden(
            "this endpoint is for company users; a bank operator session cannot use it",
        ));
    }
    let user: Option<UserRow> = users::table
        .find(&claims.sub)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    match user {
        Some(u) if !u.disabled => Ok(Person {
            role: u.role(),
            user_id: u.id,
            company_id: u.company_id,
            session_id: claims.sid,
            client_addr,
        }),
        _ => Err(AppError::new(
            ErrorCode::SessionExpired,
            "the session has ended; sign in again",
        )),
    }
}

/// The bank operator behind a bearer token.
pub fn authenticate_operator(
    conn: &mut DbConn,
    svc: &Services,
    bearer: &str,
    client_addr: Option<String>,
) -> Result<Operator, AppError> {
    let claims = touch_session(conn, svc, bearer)?;
    if claims.kind != SessionKind::Operator {
        return Err(AppError::forbidden("this endpoint is for bank operators"));
    }
    Ok(Operator {
        operator_id: claims.sub,
        session_id: claims.sid,
        client_addr,
    })
}

/// Ends a session at once, everywhere.
pub fn logout(
    conn: &mut DbConn,
    svc: &Services,
    session_id: &str,
    event: Event,
) -> Result<(), AppError> {
    write_tx(conn, |conn| {
        diesel::update(
            sessions::table
                .find(session_id)
                .filter(sessions::ended_at.is_null()),
        )
        .set(sessions::ended_at.eq(svc.now_naive()))
        .execute(conn)?;
        audit::record(conn, svc, event)
    })
}

/// Ends every open session of a person (their login was disabled).
pub(crate) fn end_sessions_of(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    subject_id: &str,
) -> Result<usize, AppError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::subject_id.eq(subject_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now.naive_utc()))
    .execute(conn)?)
}

pub fn person_is_admin(who: &Person) -> Result<(), AppError> {
    match who.role {
        Role::Admin => Ok(()),
        Role::User => Err(AppError::forbidden(
            "only the company administrator may do this",
        )),
    }
}

fn invalid_credentials() -> AppError {
    AppError::new(
        ErrorCode::InvalidCredentials,
        "the login ID or the password is incorrect",
    )
}

fn account_locked() -> AppError {
    AppError::new(
        ErrorCode::AccountLocked,
        "this login is locked after too many wrong passwords; ask your administrator (or, for an administrator, the bank) to unlock it",
    )
}
