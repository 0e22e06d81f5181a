//! The `webfb` command: serve (default), migrate, openapi, operator create, demo.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use webfb::clock::SystemClock;
use webfb::config::Settings;
use webfb::db::Db;
use webfb::domain::{LoginId, NewPassword, PersonName};
use webfb::service::{Services, bank, demo};
use webfb::startup::Application;

#[derive(Parser)]
#[command(
    name = "webfb",
    version,
    about = "WEB-FB corporate internet banking: tokens and one-off transfer authorisation"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run migrations and serve the API (the default).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Manage bank operators.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Master keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The sealed audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Create demo data (idempotent) and print its credentials. Only on SQLite, unless
    /// forced: its passwords are published.
    Demo {
        /// Also on a PostgreSQL database (never a production one).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain and every event's MAC, read-only; name the first event changed,
    /// removed or inserted behind the application's back (exit status 1).
    Verify {
        /// A head the sealer logged (`position:chain`): the trail must still reach it, so
        /// events removed from its end are named too.
        #[arg(long)]
        head: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Seal every token seed again under the current master key (safe while serving), so
    /// that previous keys can be retired.
    Reseal,
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create a bank operator; the password is read from standard input (one line).
    Create {
        #[arg(long)]
        login_id: String,
        #[arg(long, default_value = "Bank operator")]
        name: String,
    },
    /// Lift a lock from wrong passwords.
    Unlock {
        #[arg(long)]
        login_id: String,
    },
    /// Stop an operator from signing in; their sessions end at once.
    Disable {
        #[arg(long)]
        login_id: String,
    },
    /// Set a new password, read from standard input (one line); also lifts a lock.
    ResetPassword {
        #[arg(long)]
        login_id: String,
    },
}

fn main() -> ExitCode {
    return_large_allocations();
    init_logs();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webfb: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Allocations of a megabyte or more (argon2's areas are 19 MiB) mapped and unmapped on
/// their own: glibc would otherwise raise this threshold after the first such free and
/// keep every later area in its heap, so memory taken by a sign-in storm stayed taken.
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: sets one malloc tunable before any other thread exists; touches no memory.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            println!("{}", webfb::http::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Serve => {
            let settings = Settings::from_env()?;
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(settings, Arc::new(SystemClock)).await?;
                app.run().await?;
                anyhow::Ok(())
            })
        }
        Command::Migrate => {
            let settings = Settings::from_env()?;
            let mut conn = settings.database.connect()?;
            let applied = webfb::db::run_migrations(&mut conn)?;
            eprintln!(
                "webfb: {applied} migration(s) applied on {}",
                settings.database.engine()
            );
            Ok(())
        }
        Command::Operator {
            command: OperatorCommand::Create { login_id, name },
        } => {
            let login_id = LoginId::parse(&login_id)
                .map_err(|e| anyhow::anyhow!("login ID: {}", e.message))?;
            let name =
                PersonName::parse(&name).map_err(|e| anyhow::anyhow!("name: {}", e.message))?;
            let password = password_from_stdin(&login_id)?;
            let (mut conn, services) = open()?;
            let operator = bank::create_operator(
                &mut Db::single(&mut conn),
                &services,
                &login_id,
                &name,
                &password,
            )
            .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
            eprintln!("webfb: bank operator {} created", operator.login_id);
            Ok(())
        }
        Command::Operator { command } => change_operator(command),
        Command::Keys {
            command: KeysCommand::Reseal,
        } => {
            let (mut conn, services) = open()?;
            let db = &mut Db::single(&mut conn);
            let resealed = webfb::service::tokens::reseal(db, &services)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            // And every seed now opens with the keys configured.
            webfb::service::tokens::check_keyring(db, &services)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "webfb: {resealed} token seed(s) sealed again under master key {}",
                services.keyring.current_key_id()
            );
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { head },
        } => {
            use webfb::service::audit::{self, Verdict};
            let head = match &head {
                None => None,
                Some(text) => {
                    let (position, chain) = text
                        .split_once(':')
                        .and_then(|(p, c)| Some((p.parse::<i64>().ok()?, c)))
                        .ok_or_else(|| {
                            anyhow::anyhow!("--head is position:chain, as the sealer logs it")
                        })?;
                    Some((position, chain))
                }
            };
            let (mut conn, services) = open()?;
            match audit::verify(&mut Db::single(&mut conn), &services, head)
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                Verdict::Intact { sealed, waiting } => {
                    println!(
                        "audit trail intact: {sealed} event(s) sealed, {waiting} waiting for the sealer"
                    );
                    Ok(())
                }
                Verdict::Broken(finding) => {
                    anyhow::bail!("audit trail broken: {finding}")
                }
            }
        }
        Command::Demo { force } => {
            let settings = Settings::from_env()?;
            if !force && settings.database.engine() != "sqlite" {
                anyhow::bail!(
                    "demo data has published passwords: it is created only on SQLite (use --force for a throwaway PostgreSQL)"
                );
            }
            let (mut conn, services) = open()?;
            let credentials = demo::seed(&mut Db::single(&mut conn), &services)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("Demo data is ready. Sign in with:");
            for c in credentials {
                println!(
                    "  {:<14} login_id={:<14} password={}",
                    c.role, c.login_id, c.password
                );
                for (what, value) in &c.extra {
                    println!("  {:<14} {what}={value}", "");
                }
            }
            Ok(())
        }
    }
}

/// A new password, one line of standard input, never an argument (which `ps` shows).
fn password_from_stdin(login_id: &LoginId) -> anyhow::Result<NewPassword> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']);
    NewPassword::parse(line, Some(login_id))
        .map_err(|e| anyhow::anyhow!("password refused: {}", e.message))
}

/// Unlocks, disables or resets the password of an operator, as someone with the server's
/// keys (audited as the system).
fn change_operator(command: OperatorCommand) -> anyhow::Result<()> {
    use webfb::service::bank::{self as b, OperatorChange};
    let (login_id, verb, disable, new_password) = match command {
        OperatorCommand::Unlock { login_id } => (login_id, "unlocked", false, false),
        OperatorCommand::Disable { login_id } => (login_id, "disabled", true, false),
        OperatorCommand::ResetPassword { login_id } => {
            (login_id, "given a new password", false, true)
        }
        OperatorCommand::Create { .. } => anyhow::bail!("`operator create` is run on its own"),
    };
    let parsed =
        LoginId::parse(&login_id).map_err(|e| anyhow::anyhow!("login ID: {}", e.message))?;
    let password = new_password
        .then(|| password_from_stdin(&parsed))
        .transpose()?;
    let (mut conn, services) = open()?;
    let db = &mut Db::single(&mut conn);
    let fail = |e: webfb::error::AppError| anyhow::anyhow!("{}", e.detail());
    let operator = b::operator_by_login_id(db, parsed.as_str()).map_err(fail)?;
    let hash = password
        .map(|p| services.passwords.hash(p.expose()))
        .transpose()
        .map_err(fail)?;
    let change = match (&hash, disable) {
        (Some(hash), _) => OperatorChange::ResetPassword(hash),
        (None, true) => OperatorChange::Disable,
        (None, false) => OperatorChange::Unlock,
    };
    b::change_operator(db, &services, None, &operator.id, change).map_err(fail)?;
    eprintln!("webfb: bank operator {login_id} {verb}");
    Ok(())
}

/// A migrated connection and the services, for commands that do not serve.
fn open() -> anyhow::Result<(webfb::db::DbConn, Services)> {
    let settings = Settings::from_env()?;
    let mut conn = settings.database.connect()?;
    webfb::db::run_migrations(&mut conn)?;
    let services =
        Services::new(&settings, Arc::new(SystemClock)).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((conn, services))
}

/// Logs on stderr: `WEBFB_LOG_FORMAT=json` gives one JSON object a line (an access line per
/// request among them); `text`, the default, has colour only on a terminal.
fn init_logs() {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("WEBFB_LOG_FORMAT").as_deref() {
        Ok("json") => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        Ok("text") | Err(_) => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        Ok(other) => {
            logs.with_ansi(false).init();
            tracing::warn!("WEBFB_LOG_FORMAT={other:?} is not json or text: writing text");
        }
    }
}
