//! `spiped`: the secure pipe daemon. See docs/spiped.md.

use std::process::ExitCode;

use daemon::log::{init_progname, warn};
use spiped::cli::{Failure, Parsed, SPIPED_USAGE, parse_spiped};

fn main() -> ExitCode {
    let (argv0, args) = daemon::args::from_env("spiped");
    init_progname(&argv0);
    let args = match args {
        Ok(a) => a,
        Err(m) => {
            warn(&m);
            eprint!("{SPIPED_USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match parse_spiped(args) {
        Parsed::Version => {
            eprintln!("spiped {}", spiped::UPSTREAM_VERSION);
            ExitCode::SUCCESS
        }
        Parsed::Fail(Failure { message, usage }) => {
            if let Some(m) = message {
                warn(&m);
            }
            if usage {
                eprint!("{SPIPED_USAGE}");
            }
            ExitCode::FAILURE
        }
        Parsed::Run(cfg) => match spiped::server::run(cfg) {
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
