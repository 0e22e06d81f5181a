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
    /// Create demo data (idempotent) and print its credentials. Only on SQLite, unless
    /// forced: its passwords are published.
    Demo {
        /// Also on a PostgreSQL database (never a production one).
        #[arg(long)]
        force: bool,
    },
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webfb: {e:#}");
            ExitCode::FAILURE
        }
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
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let line = line.trim_end_matches(['\r', '\n']);
            let password = NewPassword::parse(line, Some(&login_id))
                .map_err(|e| anyhow::anyhow!("password refused: {}", e.message))?;
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

/// A migrated connection and the services, for commands that do not serve.
fn open() -> anyhow::Result<(webfb::db::DbConn, Services)> {
    let settings = Settings::from_env()?;
    let mut conn = settings.database.connect()?;
    webfb::db::run_migrations(&mut conn)?;
    let services =
        Services::new(&settings, Arc::new(SystemClock)).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((conn, services))
}
