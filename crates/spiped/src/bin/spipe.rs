//! `spipe`: connect stdin/stdout to a spiped -d. See docs/spiped.md.

fn main() -> std::process::ExitCode {
    spiped::main_with(
        "spipe",
        spiped::cli::SPIPE_USAGE,
        spiped::cli::parse_spipe,
        spiped::spipe::run,
    )
}
