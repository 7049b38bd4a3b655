//! `spiped`'s and `spipe`'s command lines under arbitrary arguments.

use daemon::privs::UserGroup;
use spiped::cli::{Failure, Mode, Parsed, SpipeConfig, SpipedConfig, parse_spipe, parse_spiped};

/// The arguments of a parsed spiped configuration, written out plainly
/// (one option per word, every value as a separate word). Numbers are
/// left out: their text does not survive a round trip through a float.
fn spiped_args(c: &SpipedConfig) -> Vec<String> {
    let mut a: Vec<String> = vec![
        match c.mode {
            Mode::Encrypt => "-e",
            Mode::Decrypt => "-d",
        }
        .into(),
    ];
    for (opt, v) in [("-s", &c.source), ("-t", &c.target), ("-k", &c.keyfile)] {
        a.push(opt.into());
        a.push(v.clone());
    }
    a.push("-p".into());
    a.push(c.pidfile.clone());
    for (opt, v) in [("-b", &c.bind), ("-u", &c.user)] {
        if let Some(v) = v {
            a.push(opt.into());
            a.push(v.clone());
        }
    }
    for (opt, on) in [
        ("-D", c.wait_dns),
        ("-F", c.foreground),
        ("-j", c.no_keepalive),
        ("-f", c.pfs.no_pfs),
        ("-g", c.pfs.require_pfs),
        ("-R", c.rtime.is_none()),
        ("--syslog", c.syslog),
    ] {
        if on {
            a.push(opt.into());
        }
    }
    if let Some(n) = c.max_conns {
        a.push("-n".into());
        a.push(n.to_string());
    } else {
        a.push("-n0".into());
    }
    a
}

fn spipe_args(c: &SpipeConfig) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "-t".into(),
        c.target.clone(),
        "-k".into(),
        c.keyfile.clone(),
    ];
    if let Some(b) = &c.bind {
        a.push("-b".into());
        a.push(b.clone());
    }
    for (opt, on) in [
        ("-j", c.no_keepalive),
        ("-f", c.pfs.no_pfs),
        ("-g", c.pfs.require_pfs),
    ] {
        if on {
            a.push(opt.into());
        }
    }
    a
}

fn check_failure(f: &Failure, args: &[String]) {
    if let Some(m) = &f.message {
        // One line, unless the offending argument itself has a newline.
        let quoted_newline = args.iter().any(|a| a.contains('\n'));
        assert!(
            !m.is_empty() && (quoted_newline || !m.contains('\n')),
            "{m:?}"
        );
    } else {
        assert!(f.usage, "a failure says something");
    }
}

fn check_address(a: &str) {
    assert!(
        !a.is_empty() && !a.starts_with(':'),
        "address {a:?} accepted"
    );
}

/// Input: the arguments, separated by NUL bytes (invalid UTF-8 replaced).
pub fn parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = text.split('\0').map(str::to_string).collect();
    match parse_spiped(args.clone()) {
        Parsed::Run(c) => {
            assert!(!(c.pfs.no_pfs && c.pfs.require_pfs), "-f with -g");
            assert_ne!(c.max_conns, Some(0), "-n 0 means no limit");
            check_address(&c.source);
            check_address(&c.target);
            if let Some(b) = &c.bind {
                check_address(b);
            }
            if let Some(u) = &c.user {
                let _ = UserGroup::parse(u);
            }
            match parse_spiped(spiped_args(&c)) {
                Parsed::Run(again) => {
                    assert_eq!(
                        SpipedConfig {
                            timeout: c.timeout,
                            rtime: again.rtime.and(c.rtime),
                            ..again
                        },
                        c,
                        "{args:?} does not round-trip"
                    );
                }
                other => panic!("{args:?} parsed, its canonical form gave {other:?}"),
            }
        }
        Parsed::Version => assert!(args.iter().any(|a| a.starts_with('-') && a.contains('v'))),
        Parsed::Fail(f) => check_failure(&f, &args),
    }
    match parse_spipe(args.clone()) {
        Parsed::Run(c) => {
            assert!(!(c.pfs.no_pfs && c.pfs.require_pfs), "-f with -g");
            check_address(&c.target);
            match parse_spipe(spipe_args(&c)) {
                Parsed::Run(again) => assert_eq!(
                    SpipeConfig {
                        timeout: c.timeout,
                        ..again
                    },
                    c,
                    "{args:?} does not round-trip"
                ),
                other => panic!("{args:?} parsed, its canonical form gave {other:?}"),
            }
        }
        Parsed::Version => {}
        Parsed::Fail(f) => check_failure(&f, &args),
    }
}
