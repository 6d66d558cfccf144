//! The `gongyi` command line: `serve`, `migrate`, `users add`, `seed-demo`, `audit seal|verify`.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use uuid::Uuid;

use crate::config::{self, Settings};
use crate::domain::user::{Language, Role};
use crate::startup::Application;
use crate::storage::{migrate, Database};
use crate::{service, telemetry};

#[derive(Parser)]
#[command(
    name = "gongyi",
    version,
    about = "Grant management for public-benefit venture philanthropy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API.
    Serve,
    /// Create the database if missing and apply pending migrations.
    Migrate,
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Load a demo data set drawn from the seed articles (safe to run twice).
    SeedDemo,
    /// The tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Seal every finished audit record into the hash chain now.
    Seal,
    /// Recompute the chain from the current rows; exit code 1 names the first broken link.
    Verify,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, applicant, reviewer or finance
        #[arg(long)]
        role: String,
        /// The organization of an applicant user.
        #[arg(long)]
        organization: Option<Uuid>,
        /// zh or en
        #[arg(long, default_value = "zh")]
        language: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gongyi: {e:#}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    crate::notify::set_base_url(&settings.application.base_url);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gongyi: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Audit { command } = cli.command {
        return runtime.block_on(audit(command, settings));
    }
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = ?e, "command failed");
            eprintln!("gongyi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn prepare_database(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database.url();
    if migrate::create_database_if_missing(url).await? {
        tracing::info!("created the database");
    }
    let applied = migrate::run_migrations(url).await?;
    for m in &applied {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(())
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            if settings.application.run_migrations {
                prepare_database(&settings).await?;
            }
            let db = Database::new(&settings.database)?;
            let host = settings.application.host.clone();
            let app = Application::build(settings, db)?;
            let base = format!("http://{host}:{}", app.port());
            tracing::info!(%base, "listening");
            eprintln!("gongyi is listening on {base}\n  API docs:   {base}/docs/\n  first admin: echo 'a-long-password' | gongyi users add --email admin@example.org --name Admin --role admin");
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Migrate => {
            prepare_database(&settings).await?;
            eprintln!("database is up to date");
            Ok(())
        }
        Command::Users {
            command:
                UsersCommand::Add {
                    email,
                    name,
                    role,
                    organization,
                    language,
                },
        } => {
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let language: Language = language.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let db = Database::new(&settings.database)?;
            let row = service::users::create(
                &db,
                &settings.auth,
                service::users::NewUserInput {
                    email,
                    name,
                    role,
                    organization_id: organization,
                    password,
                    language,
                },
                None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            println!("{}", row.id);
            eprintln!("added {} ({})", row.email, row.role);
            Ok(())
        }
        Command::Audit { command } => match audit(command, settings).await {
            code if code == ExitCode::SUCCESS => Ok(()),
            _ => anyhow::bail!("audit command failed"),
        },
        Command::SeedDemo => {
            prepare_database(&settings).await?;
            let db = Database::new(&settings.database)?;
            crate::service::demo::seed(&db, &settings).await
        }
    }
}

/// `gongyi audit seal|verify`: 0 when done / intact, 1 when the chain is broken, 2 on an error.
async fn audit(command: AuditCommand, settings: Settings) -> ExitCode {
    let db = match Database::new(&settings.database) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("gongyi: {e:#}");
            return ExitCode::from(2);
        }
    };
    match command {
        AuditCommand::Seal => {
            match service::audit_trail::seal(&db, settings.audit.seal_batch_size).await {
                Ok(n) => {
                    println!("sealed {n} audit record(s)");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("gongyi: sealing failed: {e}");
                    ExitCode::from(2)
                }
            }
        }
        AuditCommand::Verify => match service::audit_trail::verify(&db).await {
            Ok(r) => {
                println!(
                    "{} seal(s) checked, {} sealed, {} not sealed yet",
                    r.checked, r.sealed, r.unsealed
                );
                if let Some(head) = &r.head_hash {
                    println!("head hash: {head}");
                }
                match r.first_break {
                    None => {
                        println!("the audit chain is intact");
                        ExitCode::SUCCESS
                    }
                    Some(b) => {
                        println!(
                            "BROKEN at seq {}: audit event {} ({})",
                            b.seq, b.event_id, b.reason
                        );
                        ExitCode::from(1)
                    }
                }
            }
            Err(e) => {
                eprintln!("gongyi: verification failed: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// A command-line rendering of a use case's error: its detail and each violation.
fn describe(e: &crate::service::Error) -> String {
    let lang = crate::i18n::current();
    let mut s = format!("{} ({})", crate::i18n::text(lang, &e.to_string()), e.code());
    for v in e.violations().unwrap_or_default() {
        let v = crate::i18n::localize_violation(lang, v);
        s.push_str(&format!(
            "\n  - {}: {}",
            v.field.unwrap_or(v.rule),
            v.message
        ));
    }
    s
}
