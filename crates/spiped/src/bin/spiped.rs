//! `spiped`: the secure pipe daemon. See docs/spiped.md.

use std::process::ExitCode;

use daemon::log::{init_progname, warn};
use spiped::cli::{Failure, Parsed, SPIPED_USAGE, parse_spiped};

fn main() -> ExitCode {
    let mut args = std::env::args();
    init_progname(&args.next().unwrap_or_else(|| "spiped".into()));
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
