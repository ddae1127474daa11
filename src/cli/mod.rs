//! The command line: `drumbeat <command>`. Each command lives in its own file with its flags;
//! help and shell completions come from the same clap definitions.
//!
//! Exit codes: 0 success, 1 the command found problems or failed, 2 usage error.

/// `println!` for text a person reads: control characters that came from outside (a reply's
/// text, a CSV field, a lead's owner) are shown escaped (see [`output::printable`]), so they
/// cannot clear the screen, move the cursor or retitle the terminal. JSON output and
/// `preview --raw` (a message file) do not go through it.
macro_rules! say {
    () => { println!() };
    ($($arg:tt)*) => { println!("{}", $crate::cli::output::printable(&format!($($arg)*))) };
}

/// `print!` with the same escaping as [`say!`].
macro_rules! say_inline {
    ($($arg:tt)*) => { print!("{}", $crate::cli::output::printable(&format!($($arg)*))) };
}

mod auth;
mod classify;
mod control;
mod digest;
mod doctor;
mod drafts;
mod enroll;
mod holds;
mod leads;
mod mailbox;
mod output;
mod preview;
mod replies;
mod report;
mod run;
mod status;
mod task_times;
mod tasks;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::store::Store;

/// drumbeat: outreach sequences from YAML and templates, sent from your own mailbox at human
/// times, stopped the moment a lead replies.
#[derive(Debug, Parser)]
#[command(name = "drumbeat", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "DRUMBEAT_CONFIG",
        default_value = "config.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log format on stderr: plain text (journald adds the time) or one JSON object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "plain",
        env = "DRUMBEAT_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// JSON lines.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check config.toml, every sequence and template (with --leads, every lead's emails; with
    /// --spam, each email's SpamAssassin score).
    Validate(validate::Args),
    /// Import and inspect leads.
    #[command(subcommand, visible_alias = "lead")]
    Leads(leads::LeadsCommand),
    /// Enroll leads (already imported) into a sequence.
    Enroll(enroll::EnrollArgs),
    /// Show each step's email for one lead exactly as it will be sent, and when.
    Preview(preview::Args),
    /// Where every lead stands: per sequence, per mailbox, what goes next, what needs you.
    Status(status::Args),
    /// Pause a lead's enrollments (all, or one sequence), or every lead of a rep's mailbox (a
    /// vacation: --mailbox NAME --until DATE) or of a sequence (--sequence ID).
    Pause(control::PauseArgs),
    /// Resume a lead's paused enrollments, or end a mailbox's or a sequence's pause.
    Resume(control::ResumeArgs),
    /// Stop a lead's enrollments for good.
    Stop(control::StateArgs),
    /// Never email an address (or every address at @domain) again.
    Suppress(control::SuppressArgs),
    /// Take an address or @domain off the suppression list.
    Unsuppress(control::UnsuppressArgs),
    /// List the suppression list.
    Suppressions(control::ListArgs),
    /// Erase everything about a person; keep only a hash so they are never emailed again.
    Forget(control::ForgetArgs),
    /// Run the sending daemon (or, with --once, send what is due now and exit).
    Run(run::Args),
    /// List the reps' tasks (calls, LinkedIn touches) with the lead's context.
    Tasks(tasks::ListArgs),
    /// Mark a task done or skipped.
    #[command(subcommand)]
    Task(tasks::TaskCommand),
    /// Decide about an uncertain send: did it reach the server?
    Resolve(tasks::ResolveArgs),
    /// List the drafts waiting for the rep (email steps with `review:`).
    Drafts(drafts::ListArgs),
    /// Show, edit, send or skip a draft.
    #[command(subcommand)]
    Draft(drafts::DraftCommand),
    /// Sign a mailbox in to Google or Microsoft 365 (OAuth2 device flow) and keep its refresh
    /// token.
    Auth(auth::Args),
    /// Each sending mailbox's health (bounce and complaint rates), and resuming a paused one.
    #[command(subcommand)]
    Mailbox(mailbox::MailboxCommand),
    /// Replies from leads waiting for the rep (and, with --all, everything the inbox recorded).
    Replies(replies::ListArgs),
    /// Mark a reply handled.
    #[command(subcommand)]
    Reply(replies::ReplyCommand),
    /// The numbers of a period by rep, sequence, step, variant or source (and follow-through).
    Report(report::Args),
    /// A rep's daily digest: replies waiting, tasks due, today's steps, yesterday's numbers.
    Digest(digest::Args),
    /// Check each mailbox's sending domain in DNS (SPF, DKIM, DMARC, MX) and say what to publish.
    Doctor(doctor::Args),
    /// Classify saved messages as the inbox watcher would: bounce, auto-reply, unsubscribe, later, reply (and its intent).
    Classify(classify::Args),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// A command's failure: message for stderr and exit code.
#[derive(Debug)]
pub struct Failure {
    /// 1 (problem found or failed) or 2 (usage).
    pub code: u8,
    /// What to print (may be several lines).
    pub message: String,
}

impl Failure {
    /// Exit 1 with this message.
    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
    /// Exit 2 with this message.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    /// Exit 1 after diagnostics were already printed.
    pub fn silent() -> Self {
        Failure {
            code: 1,
            message: String::new(),
        }
    }
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::failed(e.to_string())
    }
}

/// What a command returns.
pub type Outcome = Result<(), Failure>;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.log_format);
    if let Command::Completions { shell } = &cli.command {
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "drumbeat",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    // One thread for commands and `run --once`: their work is one chain of store round trips
    // and SMTP I/O, and wake-ups across threads cost more than they give (benches/send.sh:
    // 84-96 % of smtp-source on one thread, 80-84 % on two). The long-running daemon also
    // serves HTTP to many clients at once: it gets a thread per core.
    let serving = matches!(&cli.command, Command::Run(args) if args.long_running());
    let mut builder = if serving {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("drumbeat: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let result = run(cli).await;
        close_stores().await;
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("drumbeat: {}", output::printable(&f.message));
            }
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> Outcome {
    check_fixed_now()?;
    match cli.command {
        Command::Validate(a) => validate::run(&cli.config, a).await,
        Command::Leads(c) => leads::run(&cli.config, c).await,
        Command::Enroll(a) => enroll::enroll(&cli.config, a).await,
        Command::Preview(a) => preview::run(&cli.config, a).await,
        Command::Status(a) => status::run(&cli.config, a).await,
        Command::Pause(a) => control::pause(&cli.config, a).await,
        Command::Resume(a) => control::resume(&cli.config, a).await,
        Command::Stop(a) => {
            control::change_state(&cli.config, a, crate::enrollment::EnrollmentState::Stopped).await
        }
        Command::Suppress(a) => control::suppress(&cli.config, a).await,
        Command::Unsuppress(a) => control::unsuppress(&cli.config, a).await,
        Command::Suppressions(a) => control::list(&cli.config, a).await,
        Command::Forget(a) => control::forget(&cli.config, a).await,
        Command::Run(a) => run::run(&cli.config, a).await,
        Command::Tasks(a) => tasks::list(&cli.config, a).await,
        Command::Task(c) => tasks::task(&cli.config, c).await,
        Command::Resolve(a) => tasks::resolve(&cli.config, a).await,
        Command::Drafts(a) => drafts::list(&cli.config, a).await,
        Command::Draft(c) => drafts::draft(&cli.config, c).await,
        Command::Auth(a) => auth::run(&cli.config, a).await,
        Command::Mailbox(c) => mailbox::run(&cli.config, c).await,
        Command::Replies(a) => replies::list(&cli.config, a).await,
        Command::Reply(c) => replies::reply(&cli.config, c).await,
        Command::Digest(a) => digest::run(&cli.config, a).await,
        Command::Classify(a) => classify::run(a),
        Command::Doctor(a) => doctor::run(&cli.config, a).await,
        Command::Report(a) => report::run(&cli.config, a).await,
        Command::Completions { .. } => Ok(()),
    }
}

fn init_tracing(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "drumbeat=info,warn",
        _ => "drumbeat=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(log_colours(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Whether log lines carry ANSI colour codes: only on a terminal, and not when `NO_COLOR` is
/// set to anything but the empty string (<https://no-color.org>). A log file or the journal
/// gets plain text.
fn log_colours(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Prints diagnostics to stderr.
fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{}", output::printable(&d.to_string()));
    }
}

/// Loads config.toml, or fails with its diagnostics printed.
fn load_config(path: &std::path::Path) -> Result<Config, Failure> {
    Config::load(path).map_err(|diags| {
        print_diagnostics(&diags);
        Failure::silent()
    })
}

/// Loads the catalog; errors are printed and fail the command (warnings are not printed here:
/// that is `validate`'s job).
fn load_catalog(config: &Config) -> Result<Catalog, Failure> {
    let (catalog, diags) = Catalog::load(config);
    let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    if !errors.is_empty() {
        print_diagnostics(&errors);
        return Err(Failure::failed(format!(
            "{} problem(s) in sequences or templates; run `drumbeat validate`",
            errors.len()
        )));
    }
    Ok(catalog)
}

/// Stores opened by the running command, closed before exit so SQLite checkpoints its WAL.
static OPENED: std::sync::Mutex<Vec<Store>> = std::sync::Mutex::new(Vec::new());

/// Opens the store named by the config.
async fn open_store(config: &Config) -> Result<Store, Failure> {
    let store = Store::open_with(&config.store_url, config.store_connections)
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    OPENED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(store.clone());
    Ok(store)
}

async fn close_stores() {
    let stores = std::mem::take(
        &mut *OPENED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for s in stores {
        s.close().await;
    }
}

/// Output piped into `head` or a closed pager ends the program quietly, as for other Unix
/// tools, instead of panicking in `println!` (Rust ignores SIGPIPE by default).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Parses an email given on the command line (a usage error when it is not one).
fn parse_email(s: &str) -> Result<crate::lead::Email, Failure> {
    crate::lead::Email::parse(s).map_err(|e| Failure::usage(e.to_string()))
}

/// The current time in unix seconds.
/// The CLI's "now": the system clock, or `DRUMBEAT_NOW` (RFC 3339) when set, so a whole
/// simulated timeline (import, `run --once`, `task done`, `status`) can be driven by tests or
/// by a rep trying a sequence's timing on a scratch store.
fn now() -> chrono::DateTime<chrono::Utc> {
    fixed_now().unwrap_or_else(chrono::Utc::now)
}

static FIXED_NOW: std::sync::OnceLock<Option<chrono::DateTime<chrono::Utc>>> =
    std::sync::OnceLock::new();

fn fixed_now() -> Option<chrono::DateTime<chrono::Utc>> {
    *FIXED_NOW.get_or_init(|| {
        std::env::var("DRUMBEAT_NOW")
            .ok()
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(v.trim()).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
    })
}

/// Refuses a `DRUMBEAT_NOW` that does not parse (silently using the real clock instead would
/// send real mail at the wrong time).
fn check_fixed_now() -> Result<(), Failure> {
    match std::env::var("DRUMBEAT_NOW") {
        Ok(v) if chrono::DateTime::parse_from_rfc3339(v.trim()).is_err() => Err(Failure::usage(
            format!("DRUMBEAT_NOW={v:?} is not an RFC 3339 time (e.g. 2026-03-02T14:00:00Z)"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::log_colours;
    use std::ffi::OsStr;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(log_colours(true, None));
        assert!(log_colours(true, Some(OsStr::new(""))));
        assert!(!log_colours(true, Some(OsStr::new("1"))));
        assert!(!log_colours(false, None));
        assert!(!log_colours(false, Some(OsStr::new(""))));
    }
}
