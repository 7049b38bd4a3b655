//! Option parsing with the rules of the C daemons we replace (libcperciva's
//! getopt), so that every existing command line means the same thing:
//!
//! * short flags may be packed (`-dFj`), an argument may be attached
//!   (`-k/path`, `-o0.5`) or be the next word (`-k /path`, `-k -`);
//! * long options are spelled in full only (`--syslog`; `--syslog=x` is an
//!   unknown option);
//! * `--` ends the options, and so does the first non-option word: no option
//!   may follow it;
//! * repeating an option is an error (checked here, reported by the caller
//!   as a usage error).

/// One option the program accepts.
#[derive(Clone, Copy, Debug)]
pub struct OptSpec {
    /// `"-e"` or `"--syslog"`.
    pub name: &'static str,
    /// Whether it takes an argument.
    pub takes_arg: bool,
    /// Acts as soon as it is seen (`-v`): parsing stops there, so nothing
    /// after it is checked.
    pub immediate: bool,
}

impl OptSpec {
    pub const fn flag(name: &'static str) -> Self {
        OptSpec {
            name,
            takes_arg: false,
            immediate: false,
        }
    }
    pub const fn arg(name: &'static str) -> Self {
        OptSpec {
            name,
            takes_arg: true,
            immediate: false,
        }
    }
    pub const fn immediate(name: &'static str) -> Self {
        OptSpec {
            name,
            takes_arg: false,
            immediate: true,
        }
    }
}

/// An option as found on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The spec's name, e.g. `"-k"`.
    pub name: &'static str,
    pub arg: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GetoptError {
    /// Upstream wording: `illegal option -- -x`.
    #[error("illegal option -- {0}")]
    Unknown(String),
    #[error("Missing argument to {0}")]
    MissingArgument(&'static str),
    /// Reported by the programs as a plain usage error.
    #[error("option {0} given more than once")]
    Repeated(&'static str),
}

/// The parsed command line: options in order, then the left-over operands.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub opts: Vec<Found>,
    pub operands: Vec<String>,
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|o| o.name == name)
    }
    /// Every argument given to a repeatable option, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.opts
            .iter()
            .filter(move |o| o.name == name)
            .filter_map(|o| o.arg.as_deref())
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|o| o.name == name)
            .and_then(|o| o.arg.as_deref())
    }
}

/// Parse `args` (without the program name). Options are returned in the
/// order they appeared, which matters for options such as `-v` that act as
/// soon as they are seen: callers may stop at the first one.
pub fn parse<I, S>(specs: &[OptSpec], args: I) -> Result<Parsed, GetoptError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    parse_with_repeats(specs, args, &[])
}

/// [`parse`], except that the options named in `repeatable` may be given
/// several times (kivaloo-mux's `-s`); read them with [`Parsed::values`].
pub fn parse_with_repeats<I, S>(
    specs: &[OptSpec],
    args: I,
    repeatable: &[&str],
) -> Result<Parsed, GetoptError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into);
    let mut out = Parsed::default();
    let push = |out: &mut Parsed, f: Found| {
        if out.has(f.name) && !repeatable.contains(&f.name) {
            return Err(GetoptError::Repeated(f.name));
        }
        out.opts.push(f);
        Ok(())
    };
    while let Some(word) = args.next() {
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let spec = specs
                .iter()
                .find(|s| s.name.strip_prefix("--") == Some(long))
                // Upstream names the option without any "=value".
                .ok_or_else(|| {
                    GetoptError::Unknown(word.split('=').next().unwrap_or("").to_string())
                })?;
            let arg = if spec.takes_arg {
                Some(args.next().ok_or(GetoptError::MissingArgument(spec.name))?)
            } else {
                None
            };
            push(
                &mut out,
                Found {
                    name: spec.name,
                    arg,
                },
            )?;
            if spec.immediate {
                return Ok(out);
            }
            continue;
        }
        if word.len() < 2 || !word.starts_with('-') {
            out.operands.push(word);
            break;
        }
        let body = &word[1..];
        for (i, c) in body.char_indices() {
            let spec = specs
                .iter()
                .find(|s| {
                    s.name.len() == 2 && s.name.starts_with('-') && s.name[1..].starts_with(c)
                })
                .ok_or_else(|| GetoptError::Unknown(format!("-{c}")))?;
            if spec.takes_arg {
                let rest = &body[i + c.len_utf8()..];
                let arg = if rest.is_empty() {
                    args.next().ok_or(GetoptError::MissingArgument(spec.name))?
                } else {
                    rest.to_string()
                };
                push(
                    &mut out,
                    Found {
                        name: spec.name,
                        arg: Some(arg),
                    },
                )?;
                break;
            }
            push(
                &mut out,
                Found {
                    name: spec.name,
                    arg: None,
                },
            )?;
            if spec.immediate {
                return Ok(out);
            }
        }
    }
    out.operands.extend(args);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptSpec] = &[
        OptSpec::flag("-d"),
        OptSpec::flag("-F"),
        OptSpec::flag("-j"),
        OptSpec::arg("-k"),
        OptSpec::arg("-o"),
        OptSpec::flag("--syslog"),
        OptSpec::immediate("-v"),
    ];

    fn run(a: &[&str]) -> Result<Parsed, GetoptError> {
        parse(SPECS, a.iter().copied())
    }

    #[test]
    fn packed_flags_and_attached_args() {
        let p = run(&["-dFj", "-k/path", "-o", "0.5"]).unwrap();
        assert!(p.has("-d") && p.has("-F") && p.has("-j"));
        assert_eq!(p.value("-k"), Some("/path"));
        assert_eq!(p.value("-o"), Some("0.5"));
        let p = run(&["-dk", "-"]).unwrap();
        assert_eq!(p.value("-k"), Some("-"));
    }

    #[test]
    fn long_options_exact_only() {
        assert!(run(&["--syslog"]).unwrap().has("--syslog"));
        assert_eq!(
            run(&["--syslog=x"]).unwrap_err().to_string(),
            "illegal option -- --syslog"
        );
        assert_eq!(
            run(&["--help"]).unwrap_err().to_string(),
            "illegal option -- --help"
        );
        assert_eq!(
            run(&["-h"]).unwrap_err().to_string(),
            "illegal option -- -h"
        );
    }

    #[test]
    fn missing_and_repeated() {
        assert_eq!(
            run(&["-d", "-k"]).unwrap_err().to_string(),
            "Missing argument to -k"
        );
        assert_eq!(run(&["-d", "-d"]).unwrap_err(), GetoptError::Repeated("-d"));
        assert_eq!(run(&["-dd"]).unwrap_err(), GetoptError::Repeated("-d"));
        assert_eq!(
            run(&["-k", "a", "-k", "b"]).unwrap_err(),
            GetoptError::Repeated("-k")
        );
    }

    #[test]
    fn repeatable_options() {
        let p = parse_with_repeats(SPECS, ["-k", "a", "-kb", "-d"], &["-k"]).unwrap();
        assert_eq!(p.values("-k").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.value("-k"), Some("a"));
        assert_eq!(
            parse_with_repeats(SPECS, ["-d", "-d"], &["-k"]).unwrap_err(),
            GetoptError::Repeated("-d")
        );
    }

    #[test]
    fn immediate_option_stops_parsing() {
        let p = run(&["-d", "-v", "-h", "junk"]).unwrap();
        assert!(p.has("-v"));
        let p = run(&["-dv", "-h"]).unwrap();
        assert!(p.has("-v") && p.has("-d"));
        assert!(run(&["-h", "-v"]).is_err());
    }

    #[test]
    fn operands_stop_option_parsing() {
        let p = run(&["-d", "extra", "-F"]).unwrap();
        assert!(!p.has("-F"));
        assert_eq!(p.operands, vec!["extra", "-F"]);
        let p = run(&["--", "-d"]).unwrap();
        assert!(!p.has("-d"));
        assert_eq!(p.operands, vec!["-d"]);
        let p = run(&["-", "-d"]).unwrap();
        assert_eq!(p.operands, vec!["-", "-d"]);
    }
}
