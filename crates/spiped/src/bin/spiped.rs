//! `spiped`: the secure pipe daemon. See docs/spiped.md.

fn main() -> std::process::ExitCode {
    spiped::main_with(
        "spiped",
        spiped::cli::SPIPED_USAGE,
        spiped::cli::parse_spiped,
        spiped::server::run,
    )
}
