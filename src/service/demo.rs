//! `webfb demo`: a ready-to-try bank operator, company, administrator and two users, and a
//! personal customer. The company's OTP is activated in per_user mode with tokens for the
//! administrator and the first user, whose otpauth URIs are printed once; the customer has
//! no token yet, to try registration from the login page. Idempotent; the passwords are
//! fixed and printed, so never run it on a real database.

use crate::db::{self, Db};
use crate::domain::{
    CompanyName, DebitAccount, LoginId, NewPassword, PasswordAttempt, PersonName, TokenMode,
    TransferLimit,
};
use crate::error::AppError;

use super::bank::{self, NewAdmin, NewCompany, NewPersonalContract};
use super::people::{self, NewUser};
use super::{Operator, Person, Services};
use super::{otp_management, tokens};

/// One printed credential.
pub struct Credential {
    pub role: &'static str,
    pub login_id: &'static str,
    pub password: &'static str,
    pub extra: Vec<(&'static str, String)>,
}

const OPERATOR: (&str, &str) = ("demo.operator", "Demo-Operator-2026");
/// A second operator: the bank's destructive procedures need two (dual control).
const CHECKER: (&str, &str) = ("demo.checker", "Demo-Checker-2026");
const ADMIN: (&str, &str, &str, &str) = (
    "demo.admin",
    "Demo-Admin-2026",
    "Demo-Approval-2026",
    "Demo-Transfer-2026",
);
const USERS: [(&str, &str, &str, &str); 2] = [
    (
        "demo.user1",
        "デモ 一郎",
        "Demo-User1-2026",
        "Demo-User1-Transfer-2026",
    ),
    (
        "demo.user2",
        "デモ 二郎",
        "Demo-User2-2026",
        "Demo-User2-Transfer-2026",
    ),
];

/// Contract ID, login password, funds-transfer password.
const CUSTOMER: (&str, &str, &str) = ("demo.customer", "Demo-Customer-2026", "Demo-Funds-2026");

fn parsed<T>(value: Result<T, crate::domain::Invalid>) -> Result<T, AppError> {
    value.map_err(|e| AppError::Internal(format!("demo data is invalid: {}", e.message)))
}

pub fn seed(db: &mut Db, svc: &Services) -> Result<Vec<Credential>, AppError> {
    let mut operator_id = String::new();
    for (login_id, password, name) in [
        (OPERATOR.0, OPERATOR.1, "デモ 銀行員"),
        (CHECKER.0, CHECKER.1, "デモ 検印者"),
    ] {
        let id = match db::operators::by_login_id(db.conn()?, login_id)? {
            Some(operator) => operator.id,
            None => {
                bank::create_operator(
                    db,
                    svc,
                    &parsed(LoginId::parse(login_id))?,
                    &parsed(PersonName::parse(name))?,
                    &parsed(NewPassword::parse(password, None))?,
                )?
                .id
            }
        };
        if operator_id.is_empty() {
            operator_id = id;
        }
    }
    let operator = Operator {
        operator_id,
        session_id: "cli".into(),
        client_addr: None,
    };

    let admin = db::users::by_login_id(db.conn()?, ADMIN.0)?;
    let admin = match admin {
        Some(found) => found,
        None => {
            let file = bank::create_company(
                db,
                svc,
                &operator,
                NewCompany {
                    name: parsed(CompanyName::parse("デモ商事株式会社"))?,
                    transfer_limit: parsed(TransferLimit::new(5_000_000))?,
                    accounts: vec![parsed(DebitAccount::parse("001-0000001"))?],
                    admin: NewAdmin {
                        login_id: parsed(LoginId::parse(ADMIN.0))?,
                        name: parsed(PersonName::parse("デモ 管理者"))?,
                        password: parsed(NewPassword::parse(ADMIN.1, None))?,
                        approval_password: parsed(NewPassword::parse(ADMIN.2, None))?,
                        transfer_password: parsed(NewPassword::parse(ADMIN.3, None))?,
                    },
                },
            )?;
            file.holder
        }
    };
    let company = db::companies::get(db.conn()?, &admin.company_id)?;
    let admin = Person::acting(admin, company, None, None);
    // The second user approves the first one's transfers under a four-eyes policy.
    for (i, (login_id, name, password, transfer_password)) in USERS.into_iter().enumerate() {
        if !db::users::login_id_taken(db.conn()?, login_id)? {
            let new = NewUser {
                login_id: parsed(LoginId::parse(login_id))?,
                name: parsed(PersonName::parse(name))?,
                password: parsed(NewPassword::parse(password, None))?,
                transfer_password: parsed(NewPassword::parse(transfer_password, None))?,
                can_transfer: true,
                can_approve: i == 1,
            };
            people::create(db, svc, &admin, new)?;
        }
    }

    let uris = activate_otp(db, svc, &admin)?;

    if !db::users::login_id_taken(db.conn()?, CUSTOMER.0)? {
        let new = NewPersonalContract {
            contract_id: parsed(LoginId::parse(CUSTOMER.0))?,
            name: parsed(PersonName::parse("デモ 花子"))?,
            transfer_limit: parsed(TransferLimit::new(1_000_000))?,
            accounts: vec![parsed(DebitAccount::parse("001-0000002"))?],
            password: parsed(NewPassword::parse(CUSTOMER.1, None))?,
            transfer_password: parsed(NewPassword::parse(CUSTOMER.2, None))?,
        };
        bank::open_personal_contract(db, svc, &operator, new)?;
    }

    let mut admin_extra = vec![
        ("approval password", ADMIN.2.to_owned()),
        ("transfer password", ADMIN.3.to_owned()),
    ];
    let mut user_extra = vec![("transfer password", USERS[0].3.to_owned())];
    match uris {
        Some((admin_uri, user_uri)) => {
            admin_extra.push(("token (otpauth)", admin_uri));
            user_extra.push(("token (otpauth)", user_uri));
        }
        None => user_extra.push((
            "token",
            "registered at the first `webfb demo`; its secret is never shown again".into(),
        )),
    }
    Ok(vec![
        Credential {
            role: "bank operator",
            login_id: OPERATOR.0,
            password: OPERATOR.1,
            extra: vec![],
        },
        Credential {
            role: "bank operator",
            login_id: CHECKER.0,
            password: CHECKER.1,
            extra: vec![(
                "dual control",
                "approves the other operator's procedures (POST /api/v1/bank/procedures/{id}/approve)".into(),
            )],
        },
        Credential {
            role: "administrator",
            login_id: ADMIN.0,
            password: ADMIN.1,
            extra: admin_extra,
        },
        Credential {
            role: "user",
            login_id: USERS[0].0,
            password: USERS[0].2,
            extra: user_extra,
        },
        Credential {
            role: "user",
            login_id: USERS[1].0,
            password: USERS[1].2,
            extra: vec![
                ("transfer password", USERS[1].3.to_owned()),
                (
                    "token",
                    "none: shows how a user without a token is blocked".into(),
                ),
                (
                    "approver",
                    "holds the approver permission (four eyes: PUT /api/v1/approval-policy)".into(),
                ),
            ],
        },
        Credential {
            role: "personal",
            login_id: CUSTOMER.0,
            password: CUSTOMER.1,
            extra: vec![
                ("funds-transfer password", CUSTOMER.2.to_owned()),
                (
                    "token",
                    "register one from the login page: POST /api/v1/self-service/soft-tokens, then /api/v1/self-service/otp/registration (README: personal banking)".into(),
                ),
            ],
        },
    ])
}

/// Sets per_user mode and registers tokens for the administrator and the first user,
/// exactly as a person would with an app. `None` when OTP was active already.
fn activate_otp(
    db: &mut Db,
    svc: &Services,
    admin: &Person,
) -> Result<Option<(String, String)>, AppError> {
    use crate::domain::otp_code::OtpCode;
    use crate::otp::totp::{TotpParams, code_at_step, step_at};

    if db::companies::get(db.conn()?, &admin.company_id)?.otp_active() {
        return Ok(None);
    }
    let approval = parsed(PasswordAttempt::parse(ADMIN.2))?;
    otp_management::set_mode(db, svc, admin, TokenMode::PerUser, &approval)?;
    let current_code = |uri: &str| -> Result<OtpCode, AppError> {
        let secret = uri
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("secret="))
            .unwrap_or_default();
        let seed = totp_rs::Secret::Encoded(secret.to_owned())
            .to_bytes()
            .map_err(|_| AppError::Internal("demo token secret".into()))?;
        let params = TotpParams::DEFAULT;
        OtpCode::parse(&code_at_step(
            &seed,
            &params,
            step_at(&params, svc.now().timestamp()),
        ))
        .map_err(|e| AppError::Internal(e.to_string()))
    };
    let admin_token = tokens::issue(db, svc, admin)?;
    let code = current_code(&admin_token.otpauth_uri)?;
    otp_management::register_admin_token(db, svc, admin, &admin_token.token_id, &code, &approval)?;
    let user_id = db::users::by_login_id(db.conn()?, USERS[0].0)?
        .ok_or_else(|| AppError::Internal("the demo user is missing".into()))?
        .id;
    let user_token = tokens::issue(db, svc, admin)?;
    let code = current_code(&user_token.otpauth_uri)?;
    otp_management::register_user_token(
        db,
        svc,
        admin,
        &user_id,
        &user_token.token_id,
        &code,
        &approval,
    )?;
    Ok(Some((admin_token.otpauth_uri, user_token.otpauth_uri)))
}
