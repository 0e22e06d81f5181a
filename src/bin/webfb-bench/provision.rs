//! N companies, each with its administrator and users, per_user tokens registered and a
//! session open for everyone: through the service layer, exactly as the HTTP handlers
//! call it, with each distinct password hashed (and each verification run) once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, anyhow};
use indicatif::ProgressBar;
use webfb::db::{Database, Db};
use webfb::domain::otp_code::OtpCode;
use webfb::domain::{
    CompanyName, DebitAccount, LoginId, NewPassword, PasswordAttempt, PersonName, TokenMode,
    TransferLimit,
};
use webfb::error::AppError;
use webfb::otp::totp::{TotpParams, code_at_step};
use webfb::service::people::{self, NewUser};
use webfb::service::sessions::{self, Credentials, SignIn};
use webfb::service::{Operator, Person, Services, bank, otp_management, tokens};

use crate::codes::step_at;

pub const PASSWORD: &str = "Bench-Login-2026";
const APPROVAL: &str = "Bench-Approval-2026";
const TRANSFER: &str = "Bench-Transfer-2026";

/// A person the load tool acts as.
pub struct Holder {
    pub login_id: String,
    pub access_token: String,
    pub seed: Vec<u8>,
    pub debit_account: String,
    /// The first step of the token not used yet.
    pub next_step: i64,
}

impl Holder {
    pub fn code(&self, step: i64) -> String {
        code_at_step(&self.seed, &TotpParams::DEFAULT, step)
    }
}

pub struct Provisioned {
    pub holders: Vec<Holder>,
    /// Every login ID of this run starts with it.
    pub login_prefix: String,
}

fn fail(e: AppError) -> anyhow::Error {
    anyhow!("{e}")
}

fn parsed<T, E: std::fmt::Debug>(value: Result<T, E>) -> anyhow::Result<T> {
    value.map_err(|e| anyhow!("{e:?}"))
}

pub fn provision(
    database: &Database,
    svc: Arc<Services>,
    companies: usize,
    people_each: usize,
    threads: usize,
    progress: &ProgressBar,
) -> anyhow::Result<Provisioned> {
    anyhow::ensure!(companies < 100_000, "at most 99,999 companies a run");
    // Distinct login IDs and accounts for every run on one database.
    let run = rand::random::<u32>() % 100_000;
    let login_prefix = format!("b{run:05}.");
    let mut conn = database.connect()?;
    let operator = bank::create_operator(
        &mut Db::single(&mut conn),
        &svc,
        &parsed(LoginId::parse(&format!("{login_prefix}operator")))?,
        &parsed(PersonName::parse("ベンチ 銀行員"))?,
        &parsed(NewPassword::parse(PASSWORD, None))?,
    )
    .map_err(fail)?;
    let operator = Operator {
        operator_id: operator.id,
        session_id: "webfb-bench".into(),
        client_addr: None,
    };
    let next = AtomicUsize::new(0);
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<Vec<Holder>> {
                    let mut conn = database.connect()?;
                    let mut db = Db::single(&mut conn);
                    let mut holders = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= companies {
                            return Ok(holders);
                        }
                        let account =
                            format!("{:03}-{:07}", run / 100, (run % 100) * 100_000 + i as u32);
                        let company = Company {
                            svc: &svc,
                            operator: &operator,
                            prefix: &login_prefix,
                            index: i,
                            account,
                        };
                        holders.extend(
                            company
                                .open(&mut db, people_each)
                                .with_context(|| format!("company {i}"))?,
                        );
                        progress.inc(1);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow!("a provisioning thread panicked")))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    Ok(Provisioned {
        holders: results.into_iter().flatten().collect(),
        login_prefix,
    })
}

struct Company<'a> {
    svc: &'a Services,
    operator: &'a Operator,
    prefix: &'a str,
    index: usize,
    account: String,
}

impl Company<'_> {
    fn login_id(&self, person: usize) -> String {
        format!("{}{}.{person}", self.prefix, self.index)
    }

    /// The company, its administrator and users, their tokens registered and sessions open.
    fn open(&self, db: &mut Db, people_each: usize) -> anyhow::Result<Vec<Holder>> {
        let svc = self.svc;
        let password = || parsed(NewPassword::parse(PASSWORD, None));
        let file = bank::create_company(
            db,
            svc,
            self.operator,
            bank::NewCompany {
                name: parsed(CompanyName::parse(&format!("ベンチ商事 {}", self.index)))?,
                transfer_limit: parsed(TransferLimit::new(TransferLimit::CEILING))?,
                accounts: vec![parsed(DebitAccount::parse(&self.account))?],
                admin: bank::NewAdmin {
                    login_id: parsed(LoginId::parse(&self.login_id(0)))?,
                    name: parsed(PersonName::parse("ベンチ 管理者"))?,
                    password: password()?,
                    approval_password: parsed(NewPassword::parse(APPROVAL, None))?,
                    transfer_password: parsed(NewPassword::parse(TRANSFER, None))?,
                },
            },
        )
        .map_err(fail)?;
        let admin = Person::acting(file.holder.clone(), file.company.clone(), None, None);
        let mut user_ids = vec![file.holder.id.clone()];
        for person in 1..people_each {
            let new = NewUser {
                login_id: parsed(LoginId::parse(&self.login_id(person)))?,
                name: parsed(PersonName::parse("ベンチ 利用者"))?,
                password: password()?,
                transfer_password: parsed(NewPassword::parse(TRANSFER, None))?,
                can_transfer: true,
                can_approve: false,
            };
            user_ids.push(people::create(db, svc, &admin, new).map_err(fail)?.id);
        }
        let approval = parsed(PasswordAttempt::parse(APPROVAL))?;
        otp_management::set_mode(db, svc, &admin, TokenMode::PerUser, &approval).map_err(fail)?;
        let mut holders = Vec::new();
        for (person, user_id) in user_ids.iter().enumerate() {
            let issued = tokens::issue(db, svc, &admin).map_err(fail)?;
            let secret = issued
                .otpauth_uri
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("secret="))
                .unwrap_or_default();
            let seed = parsed(totp_rs::Secret::Encoded(secret.to_owned()).to_bytes())?;
            let step = step_at(svc.now().timestamp());
            let code = parsed(OtpCode::parse(&code_at_step(
                &seed,
                &TotpParams::DEFAULT,
                step,
            )))?;
            match person {
                0 => otp_management::register_admin_token(
                    db,
                    svc,
                    &admin,
                    &issued.token_id,
                    &code,
                    &approval,
                ),
                _ => otp_management::register_user_token(
                    db,
                    svc,
                    &admin,
                    user_id,
                    &issued.token_id,
                    &code,
                    &approval,
                ),
            }
            .map_err(fail)?;
            let mut holder = Holder {
                login_id: self.login_id(person),
                access_token: String::new(),
                seed,
                debit_account: self.account.clone(),
                next_step: step + 1,
            };
            holder.access_token = self.sign_in(db, &mut holder)?;
            holders.push(holder);
        }
        Ok(holders)
    }

    /// The person's sign-in, with the code step where the bank asks one.
    fn sign_in(&self, db: &mut Db, holder: &mut Holder) -> anyhow::Result<String> {
        let password = parsed(PasswordAttempt::parse(PASSWORD))?;
        let login = Credentials {
            login_id: &holder.login_id,
            password: &password,
            certificate: None,
        };
        let login = match sessions::login_person(db, self.svc, &login, None).map_err(fail)? {
            SignIn::Session(login) => login,
            SignIn::CodeStep(challenge) => {
                let step = holder.next_step.max(step_at(self.svc.now().timestamp()));
                holder.next_step = step + 1;
                let code = parsed(OtpCode::parse(&holder.code(step)))?;
                sessions::login_with_code(db, self.svc, &challenge.challenge, &code, None)
                    .map_err(fail)?
            }
        };
        Ok(login.access_token)
    }
}
