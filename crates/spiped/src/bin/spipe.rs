//! `spipe`: connect stdin/stdout to a spiped -d. See docs/spiped.md.

use std::process::ExitCode;

use daemon::log::{init_progname, warn};
use spiped::cli::{Failure, Parsed, SPIPE_USAGE, parse_spipe};

fn main() -> ExitCode {
    let (argv0, args) = daemon::args::from_env("spipe");
    init_progname(&argv0);
    let args = match args {
        Ok(a) => a,
        Err(m) => {
            warn(&m);
            eprint!("{SPIPE_USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match parse_spipe(args) {
        Parsed::Version => {
            eprintln!("spipe {}", spiped::UPSTREAM_VERSION);
            ExitCode::SUCCESS
        }
        Parsed::Fail(Failure { message, usage }) => {
            if let Some(m) = message {
                warn(&m);
            }
            if usage {
                eprint!("{SPIPE_USAGE}");
            }
            ExitCode::FAILURE
        }
        Parsed::Run(cfg) => match spiped::spipe::run(cfg) {
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
