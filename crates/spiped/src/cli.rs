//! The command lines of `spiped` and `spipe`, as upstream 1.6.4 parses
//! them: same letters, same defaults, same checks, same messages, same exit
//! codes. Parsing is pure: it returns what to do, and the binaries print.

use std::time::Duration;

use daemon::getopt::{self, GetoptError, OptSpec};
use daemon::numparse::{NumError, parse_double, parse_unsigned};
use spiped_proto::HandshakeConfig;

pub const SPIPED_USAGE: &str = "\
usage: spiped {-e | -d} -s <source socket> -t <target socket> -k <key file>
    [-b <bind address>] [-DFj] [-f | -g] [-n <max # connections>]
    [-o <connection timeout>] [-p <pidfile>] [-r <rtime> | -R] [--syslog]
    [-u {<username> | <:groupname> | <username:groupname>}]
       spiped -v
";

pub const SPIPE_USAGE: &str = "\
usage: spipe -t <target socket> -k <key file> [-b <bind address>] [-f | -g] [-j]
    [-o <connection timeout>]
       spipe -v
";

/// Default for `-o`, and what `-o 0` means.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for `-r`, and what `-r 0` means.
pub const DEFAULT_RTIME: f64 = 60.0;
/// Default for `-n`.
pub const DEFAULT_MAX_CONNS: u64 = 100;

/// `-e` or `-d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Plaintext in, protocol (as client) out.
    Encrypt,
    /// Protocol (as server) in, plaintext out.
    Decrypt,
}

/// Everything `spiped` was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct SpipedConfig {
    pub mode: Mode,
    pub source: String,
    pub target: String,
    pub keyfile: String,
    pub bind: Option<String>,
    /// `-D`: daemonize first, then retry lookups every second.
    pub wait_dns: bool,
    /// `-F`: stay in the foreground (no fork, no pidfile).
    pub foreground: bool,
    /// `-j`: no SO_KEEPALIVE.
    pub no_keepalive: bool,
    pub pfs: HandshakeConfig,
    /// `-n`; `None` means no limit (`-n 0`).
    pub max_conns: Option<u64>,
    /// `-o`: connect timeout and handshake timeout.
    pub timeout: Duration,
    /// `-p`; the default is `<source>.pid`.
    pub pidfile: String,
    /// `-r`; `None` with `-R`.
    pub rtime: Option<Duration>,
    pub syslog: bool,
    /// `-u`, checked when privileges are dropped (after binding).
    pub user: Option<String>,
}

/// Everything `spipe` was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct SpipeConfig {
    pub target: String,
    pub keyfile: String,
    pub bind: Option<String>,
    pub no_keepalive: bool,
    pub pfs: HandshakeConfig,
    pub timeout: Duration,
}

/// The outcome of parsing a command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed<T> {
    Run(T),
    /// `-v`: print the version to stderr, exit 0.
    Version,
    Fail(Failure),
}

/// A command line that cannot run: print `message` (if any) as
/// `prog: message`, then the usage text (if `usage`), and exit 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: Option<String>,
    pub usage: bool,
}

fn usage_error() -> Failure {
    Failure {
        message: None,
        usage: true,
    }
}

fn getopt_failure(e: GetoptError) -> Failure {
    match e {
        GetoptError::Repeated(_) => usage_error(),
        other => Failure {
            message: Some(other.to_string()),
            usage: true,
        },
    }
}

fn number_failure(opt: &str, arg: &str, e: NumError) -> Failure {
    match e {
        NumError::NaN => usage_error(),
        e => Failure {
            message: Some(format!("Error parsing argument: {opt} {arg}: {e}")),
            usage: false,
        },
    }
}

/// `-o` seconds: a C double in [0, inf]; 0 means the default.
fn parse_timeout(arg: &str) -> Result<Duration, Failure> {
    let v = parse_double(arg, 0.0, f64::INFINITY).map_err(|e| number_failure("-o", arg, e))?;
    Ok(seconds(v, DEFAULT_TIMEOUT.as_secs_f64()))
}

/// A float number of seconds as a Duration; 0 means `default`, and
/// anything too large for a Duration (including inf) means "for ever".
fn seconds(v: f64, default: f64) -> Duration {
    let v = if v == 0.0 { default } else { v };
    Duration::try_from_secs_f64(v).unwrap_or(Duration::from_secs(u64::MAX / 4))
}

fn pfs_flags(f: bool, g: bool) -> Result<HandshakeConfig, Failure> {
    if f && g {
        return Err(usage_error());
    }
    Ok(HandshakeConfig {
        no_pfs: f,
        require_pfs: g,
    })
}

/// Upstream 1.6.3+ refuses empty and host-less addresses up front, as
/// usage errors.
fn check_address(a: &str) -> Result<(), Failure> {
    if a.is_empty() || a.starts_with(':') {
        return Err(usage_error());
    }
    Ok(())
}

/// Parse spiped's arguments (without argv[0]).
pub fn parse_spiped<I, S>(args: I) -> Parsed<SpipedConfig>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    const SPECS: &[OptSpec] = &[
        OptSpec::flag("-e"),
        OptSpec::flag("-d"),
        OptSpec::arg("-s"),
        OptSpec::arg("-t"),
        OptSpec::arg("-k"),
        OptSpec::arg("-b"),
        OptSpec::flag("-D"),
        OptSpec::flag("-F"),
        OptSpec::flag("-j"),
        OptSpec::flag("-f"),
        OptSpec::flag("-g"),
        OptSpec::arg("-n"),
        OptSpec::arg("-o"),
        OptSpec::arg("-p"),
        OptSpec::arg("-r"),
        OptSpec::flag("-R"),
        OptSpec::flag("--syslog"),
        OptSpec::arg("-u"),
        OptSpec::immediate("-v"),
    ];
    let p = match getopt::parse(SPECS, args) {
        Ok(p) => p,
        Err(e) => return Parsed::Fail(getopt_failure(e)),
    };
    if p.has("-v") {
        return Parsed::Version;
    }
    match build_spiped(&p) {
        Ok(c) => Parsed::Run(c),
        Err(f) => Parsed::Fail(f),
    }
}

fn build_spiped(p: &getopt::Parsed) -> Result<SpipedConfig, Failure> {
    // Numbers are parsed as their options are met, so a bad number is
    // reported before missing options, as upstream does.
    let max_conns = match p.value("-n") {
        None => Some(DEFAULT_MAX_CONNS),
        Some(a) => match parse_unsigned(a).map_err(|e| number_failure("-n", a, e))? {
            0 => None,
            n => Some(n),
        },
    };
    let timeout = match p.value("-o") {
        None => DEFAULT_TIMEOUT,
        Some(a) => parse_timeout(a)?,
    };
    let rtime_secs = match p.value("-r") {
        None => DEFAULT_RTIME,
        Some(a) => {
            let v = parse_double(a, 0.0, f64::INFINITY).map_err(|e| number_failure("-r", a, e))?;
            if v == 0.0 { DEFAULT_RTIME } else { v }
        }
    };
    if !p.operands.is_empty() {
        return Err(usage_error());
    }
    let mode = match (p.has("-e"), p.has("-d")) {
        (true, false) => Mode::Encrypt,
        (false, true) => Mode::Decrypt,
        _ => return Err(usage_error()),
    };
    let (Some(source), Some(target), Some(keyfile)) = (p.value("-s"), p.value("-t"), p.value("-k"))
    else {
        return Err(usage_error());
    };
    let pfs = pfs_flags(p.has("-f"), p.has("-g"))?;
    // Upstream's check is literally "rtime != 60 and -R".
    if p.has("-R") && rtime_secs != DEFAULT_RTIME {
        return Err(usage_error());
    }
    check_address(source)?;
    check_address(target)?;
    if let Some(b) = p.value("-b") {
        check_address(b)?;
    }
    Ok(SpipedConfig {
        mode,
        source: source.to_string(),
        target: target.to_string(),
        keyfile: keyfile.to_string(),
        bind: p.value("-b").map(str::to_string),
        wait_dns: p.has("-D"),
        foreground: p.has("-F"),
        no_keepalive: p.has("-j"),
        pfs,
        max_conns,
        timeout,
        pidfile: p
            .value("-p")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{source}.pid")),
        rtime: (!p.has("-R")).then(|| seconds(rtime_secs, DEFAULT_RTIME)),
        syslog: p.has("--syslog"),
        user: p.value("-u").map(str::to_string),
    })
}

/// Parse spipe's arguments (without argv[0]).
pub fn parse_spipe<I, S>(args: I) -> Parsed<SpipeConfig>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    const SPECS: &[OptSpec] = &[
        OptSpec::arg("-t"),
        OptSpec::arg("-k"),
        OptSpec::arg("-b"),
        OptSpec::flag("-f"),
        OptSpec::flag("-g"),
        OptSpec::flag("-j"),
        OptSpec::arg("-o"),
        OptSpec::immediate("-v"),
    ];
    let p = match getopt::parse(SPECS, args) {
        Ok(p) => p,
        Err(e) => return Parsed::Fail(getopt_failure(e)),
    };
    if p.has("-v") {
        return Parsed::Version;
    }
    let build = || -> Result<SpipeConfig, Failure> {
        let timeout = match p.value("-o") {
            None => DEFAULT_TIMEOUT,
            Some(a) => parse_timeout(a)?,
        };
        if !p.operands.is_empty() {
            return Err(usage_error());
        }
        let (Some(target), Some(keyfile)) = (p.value("-t"), p.value("-k")) else {
            return Err(usage_error());
        };
        let pfs = pfs_flags(p.has("-f"), p.has("-g"))?;
        check_address(target)?;
        if let Some(b) = p.value("-b") {
            check_address(b)?;
        }
        Ok(SpipeConfig {
            target: target.to_string(),
            keyfile: keyfile.to_string(),
            bind: p.value("-b").map(str::to_string),
            no_keepalive: p.has("-j"),
            pfs,
            timeout,
        })
    };
    match build() {
        Ok(c) => Parsed::Run(c),
        Err(f) => Parsed::Fail(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spiped(a: &str) -> Parsed<SpipedConfig> {
        parse_spiped(a.split_whitespace())
    }

    fn ok(a: &str) -> SpipedConfig {
        match spiped(a) {
            Parsed::Run(c) => c,
            other => panic!("{a}: {other:?}"),
        }
    }

    fn msg(a: &str) -> (Option<String>, bool) {
        match spiped(a) {
            Parsed::Fail(Failure { message, usage }) => (message, usage),
            other => panic!("{a}: {other:?}"),
        }
    }

    const BASE: &str = "-d -s [127.0.0.1]:1 -t [127.0.0.1]:2 -k /k";

    #[test]
    fn defaults() {
        let c = ok(BASE);
        assert_eq!(c.mode, Mode::Decrypt);
        assert_eq!(c.max_conns, Some(100));
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.rtime, Some(Duration::from_secs(60)));
        assert_eq!(c.pidfile, "[127.0.0.1]:1.pid");
        assert!(!c.foreground && !c.wait_dns && !c.no_keepalive && !c.syslog);
        assert_eq!(c.pfs, HandshakeConfig::default());
    }

    #[test]
    fn numbers_as_c_parses_them() {
        assert_eq!(ok(&format!("{BASE} -n 0")).max_conns, None);
        assert_eq!(ok(&format!("{BASE} -n 0x10")).max_conns, Some(16));
        assert_eq!(ok(&format!("{BASE} -n 010")).max_conns, Some(8));
        assert_eq!(ok(&format!("{BASE} -n -1")).max_conns, Some(u64::MAX));
        assert_eq!(ok(&format!("{BASE} -o 0")).timeout, Duration::from_secs(5));
        assert_eq!(
            ok(&format!("{BASE} -o0.5")).timeout,
            Duration::from_millis(500)
        );
        assert_eq!(
            ok(&format!("{BASE} -o 1e1")).timeout,
            Duration::from_secs(10)
        );
        assert!(ok(&format!("{BASE} -o inf")).timeout > Duration::from_secs(1 << 40));
        assert_eq!(
            ok(&format!("{BASE} -r 0")).rtime,
            Some(Duration::from_secs(60))
        );
        assert_eq!(ok(&format!("{BASE} -r 0 -R")).rtime, None);
        assert_eq!(ok(&format!("{BASE} -r 60 -R")).rtime, None);
        assert_eq!(
            msg(&format!("{BASE} -o abc")),
            (
                Some("Error parsing argument: -o abc: Invalid argument".into()),
                false
            )
        );
        assert_eq!(
            msg(&format!("{BASE} -o -1")),
            (
                Some("Error parsing argument: -o -1: Numerical result out of range".into()),
                false
            )
        );
        assert_eq!(msg(&format!("{BASE} -o nan")), (None, true));
    }

    #[test]
    fn usage_errors() {
        for bad in [
            "-s [127.0.0.1]:1 -t [127.0.0.1]:2 -k /k",
            "-e -d -s [127.0.0.1]:1 -t [127.0.0.1]:2 -k /k",
            "-d -t [127.0.0.1]:2 -k /k",
            "-d -s [127.0.0.1]:1 -k /k",
            "-d -s [127.0.0.1]:1 -t [127.0.0.1]:2",
            &format!("{BASE} -f -g"),
            &format!("{BASE} -r 5 -R"),
            &format!("{BASE} extra"),
            &format!("{BASE} -d"),
            &format!("{BASE} -k /other"),
            "-d -s :80 -t [127.0.0.1]:2 -k /k",
        ] {
            assert_eq!(msg(bad), (None, true), "{bad}");
        }
        let empty_source = parse_spiped(["-d", "-s", "", "-t", "[127.0.0.1]:2", "-k", "/k"]);
        assert_eq!(empty_source, Parsed::Fail(usage_error()));
    }

    #[test]
    fn unknown_and_missing() {
        assert_eq!(msg("-h"), (Some("illegal option -- -h".into()), true));
        assert_eq!(
            msg("--help"),
            (Some("illegal option -- --help".into()), true)
        );
        assert_eq!(msg("-e -k"), (Some("Missing argument to -k".into()), true));
    }

    #[test]
    fn version_acts_at_once() {
        assert_eq!(spiped("-v"), Parsed::Version);
        assert_eq!(spiped("-d -v -h junk"), Parsed::Version);
    }

    #[test]
    fn everything_packed() {
        let c =
            ok("-eDFjf -s/tmp/s -t[::1]:8 -k- -n5 -o2 -p/tmp/p -r10 --syslog -u nobody -b [::1]");
        assert_eq!(c.mode, Mode::Encrypt);
        assert!(c.wait_dns && c.foreground && c.no_keepalive && c.pfs.no_pfs && c.syslog);
        assert_eq!(c.keyfile, "-");
        assert_eq!(c.source, "/tmp/s");
        assert_eq!(c.max_conns, Some(5));
        assert_eq!(c.pidfile, "/tmp/p");
        assert_eq!(c.rtime, Some(Duration::from_secs(10)));
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert_eq!(c.bind.as_deref(), Some("[::1]"));
    }

    #[test]
    fn spipe_options() {
        let c = match parse_spipe("-t [127.0.0.1]:9 -k /k -g -j -o 1".split_whitespace()) {
            Parsed::Run(c) => c,
            o => panic!("{o:?}"),
        };
        assert!(c.pfs.require_pfs && c.no_keepalive);
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert!(matches!(
            parse_spipe("-t x:1 -k /k -s y:1".split_whitespace()),
            Parsed::Fail(Failure { usage: true, .. })
        ));
        assert!(matches!(
            parse_spipe("-t x:1 -k /k -f -g".split_whitespace()),
            Parsed::Fail(Failure {
                message: None,
                usage: true
            })
        ));
        assert_eq!(parse_spipe(["-v"]), Parsed::Version);
    }
}
