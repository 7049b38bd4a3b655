//! The `spiped` daemon and the `spipe` client: thin shells around
//! `spiped-proto`.
//!
//! * [`cli`]: the command lines, parsed exactly as upstream parses them;
//! * [`keyfile`]: reading `-k` (a file or stdin);
//! * [`net`]: listening, connecting (address lists, `-b`, timeouts) and the
//!   socket options upstream sets;
//! * [`dhpool`]: ephemeral DH values made ahead of time on a helper thread;
//! * [`relay`]: the two data directions of a connection, batched;
//! * [`conn`]: one relayed connection from accept to close;
//! * [`server`]: the accept loop, the connection limit, re-resolution and
//!   graceful shutdown;
//! * [`spipe`]: the client, with blocking threads (one connection only).

pub mod cli;
pub mod conn;
pub mod dhpool;
pub mod keyfile;
pub mod net;
pub mod relay;
pub mod server;
pub mod spipe;

/// The upstream release whose behaviour we reproduce, printed by `-v`.
pub const UPSTREAM_VERSION: &str = "1.6.4";

/// A failure that ends the program: the lines to print (already in
/// upstream's words), then exit 1.
#[derive(Debug)]
pub struct Fatal(pub Vec<String>);

impl Fatal {
    pub fn new<S: Into<String>>(lines: impl IntoIterator<Item = S>) -> Self {
        Fatal(lines.into_iter().map(Into::into).collect())
    }
}

/// The whole of `main` for both programs: arguments, parsing, `-v`, usage
/// errors, running, and the exit status.
pub fn main_with<C>(
    name: &str,
    usage: &str,
    parse: fn(Vec<String>) -> cli::Parsed<C>,
    run: fn(C) -> Result<(), Fatal>,
) -> std::process::ExitCode {
    use daemon::log::warn;
    use std::process::ExitCode;
    let (argv0, args) = daemon::args::from_env(name);
    daemon::log::init_progname(&argv0);
    let args = match args {
        Ok(a) => a,
        Err(m) => {
            warn(&m);
            eprint!("{usage}");
            return ExitCode::FAILURE;
        }
    };
    match parse(args) {
        cli::Parsed::Version => {
            eprintln!("{name} {UPSTREAM_VERSION}");
            ExitCode::SUCCESS
        }
        cli::Parsed::Fail(cli::Failure {
            message,
            usage: show,
        }) => {
            if let Some(m) = message {
                warn(&m);
            }
            if show {
                eprint!("{usage}");
            }
            ExitCode::FAILURE
        }
        cli::Parsed::Run(cfg) => match run(cfg) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                for line in f.0 {
                    warn(&line);
                }
                ExitCode::FAILURE
            }
        },
    }
}
