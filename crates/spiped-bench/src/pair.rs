//! An `spiped -e` -> `spiped -d` pair of one implementation in front of a
//! target, both with `-F -n 0` and the same key file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::procs::Daemon;

/// Debian's C spiped, the reference.
pub const C_SPIPED: &str = "/usr/bin/spiped";

/// One implementation of spiped under test.
#[derive(Clone, Debug)]
pub struct Impl {
    /// Short label for tables: "ours" or "C".
    pub label: &'static str,
    pub spiped: PathBuf,
}

impl Impl {
    pub fn ours(bin_dir: &Path) -> Result<Impl> {
        let spiped = bin_dir.join("spiped");
        if !spiped.is_file() {
            bail!(
                "{} is missing: build it with `cargo build --release -p spiped` \
                 or pass --bin-dir",
                spiped.display()
            );
        }
        Ok(Impl {
            label: "ours",
            spiped,
        })
    }

    pub fn reference(path: &Path) -> Result<Impl> {
        if !path.is_file() {
            bail!(
                "reference {} is missing: install Debian's spiped (scripts/deps/apt.sh)",
                path.display()
            );
        }
        Ok(Impl {
            label: "C",
            spiped: path.to_path_buf(),
        })
    }
}

/// Where our binaries live: next to the running executable (a bench binary
/// in target/<profile>/, or a test binary in target/<profile>/deps/).
pub fn default_bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("executable has no directory")?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        return Ok(dir.parent().context("deps has no parent")?.to_path_buf());
    }
    Ok(dir.to_path_buf())
}

/// Build our spiped binaries with `cargo` in the profile of `bin_dir`
/// (target/release -> --release, target/<p> -> --profile <p>), so a bench
/// started by `cargo run` never measures a stale daemon.
pub fn cargo_build_ours(cargo: &Path, bin_dir: &Path) -> Result<()> {
    let profile = bin_dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("odd binary directory")?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spiped/Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "spiped", "--bins"]);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        p => {
            cmd.args(["--profile", p]);
        }
    }
    let st = cmd.status().context("running cargo build")?;
    if !st.success() {
        bail!("cargo build -p spiped failed ({st})");
    }
    Ok(())
}

/// A free port on 127.0.0.1 for a daemon (see `daemon::testing::free_port`).
pub fn free_port() -> Result<SocketAddr> {
    Ok(SocketAddr::from((
        [127, 0, 0, 1],
        daemon::testing::free_port("127.0.0.1"),
    )))
}

fn spec(a: SocketAddr) -> String {
    format!("[{}]:{}", a.ip(), a.port())
}

/// `client -> entry: spiped -e -> spiped -d -> target`.
pub struct Pair {
    pub label: &'static str,
    pub enc: Daemon,
    pub dec: Daemon,
    /// Where clients connect (the `-e` daemon's source).
    pub entry: SocketAddr,
}

impl Pair {
    /// Start `-d` then `-e`; `extra` flags go to both (e.g. `-f`).
    pub fn start(
        imp: &Impl,
        target: SocketAddr,
        extra: &[&str],
        key: &Path,
        scratch: &Path,
    ) -> Result<Pair> {
        let dec_addr = free_port()?;
        let entry = free_port()?;
        // Start `spiped <mode> -s src -t tgt` and wait until it listens.
        let start = |mode: &str, src: SocketAddr, tgt: SocketAddr| -> Result<Daemon> {
            let mut args: Vec<String> = [mode, "-F", "-n", "0", "-s", &spec(src), "-t", &spec(tgt)]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.push("-k".into());
            args.push(key.to_string_lossy().into_owned());
            args.extend(extra.iter().map(|s| s.to_string()));
            let log = scratch.join(format!("{}{mode}-{}.log", imp.label, entry.port()));
            let name = format!("{} spiped {mode}", imp.label);
            let mut d = Daemon::spawn(&name, &imp.spiped, &args, &log)?;
            d.wait_listening(src, Duration::from_secs(10))?;
            Ok(d)
        };
        let dec = start("-d", dec_addr, target)?;
        let enc = start("-e", entry, dec_addr)?;
        Ok(Pair {
            label: imp.label,
            enc,
            dec,
            entry,
        })
    }

    pub fn check_alive(&mut self) -> Result<()> {
        self.enc.check_alive()?;
        self.dec.check_alive()
    }
}
