//! The command line as strings. `std::env::args()` panics on an argument
//! that is not valid UTF-8 (a path or host name in another encoding, or
//! garbage); a daemon must refuse it with a message and exit 1 instead.

use std::ffi::OsString;

/// argv[0] (lossy, for the program name; `default_name` if argv is empty)
/// and the other arguments, or a message naming the first argument that is
/// not UTF-8.
pub fn from_env(default_name: &str) -> (String, Result<Vec<String>, String>) {
    let mut raw = std::env::args_os();
    let argv0 = raw
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| default_name.to_string());
    (argv0, utf8(raw))
}

/// The arguments as strings, or a message about the first one that is not
/// valid UTF-8.
pub fn utf8(args: impl IntoIterator<Item = OsString>) -> Result<Vec<String>, String> {
    args.into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|bad| format!("Argument is not valid UTF-8: {}", bad.to_string_lossy()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn refuses_invalid_utf8_with_a_message() {
        let ok = utf8([OsString::from("-k"), OsString::from("/etc/key")]).unwrap();
        assert_eq!(ok, vec!["-k", "/etc/key"]);
        let bad = utf8([OsString::from("-k"), OsString::from_vec(b"/k\xff".to_vec())]);
        assert_eq!(bad.unwrap_err(), "Argument is not valid UTF-8: /k\u{fffd}");
    }
}
