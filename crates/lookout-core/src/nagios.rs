//! The Nagios plugin contract, so Debian's monitoring-plugins (`check_*`)
//! work as exec checks unchanged: exit 0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN; the first line of stdout is the status text, and anything
//! after a `|` on it is performance data.

use crate::model::Outcome;

/// Map a plugin's exit status to an outcome and a label for the message.
/// `code` is None when the process was killed by a signal. A plugin that
/// times out by itself exits 2 (CRITICAL): only lookout's own deadline
/// produces TIMED OUT.
pub fn outcome_of_exit(code: Option<i32>, accept_warning: bool) -> (Outcome, &'static str) {
    match code {
        Some(0) => (Outcome::Good, "OK"),
        Some(1) if accept_warning => (Outcome::Good, "WARNING"),
        Some(1) => (Outcome::Failed, "WARNING"),
        Some(2) => (Outcome::Failed, "CRITICAL"),
        Some(3) => (Outcome::Failed, "UNKNOWN"),
        Some(_) => (Outcome::Failed, "exit"),
        None => (Outcome::Failed, "killed"),
    }
}

/// The status text: the first non-empty line of the output, without
/// performance data, lossily decoded.
pub fn status_text(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = line.split('|').next().unwrap_or("").trim();
    line.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(outcome_of_exit(Some(0), false).0, Outcome::Good);
        assert_eq!(
            outcome_of_exit(Some(1), false),
            (Outcome::Failed, "WARNING")
        );
        assert_eq!(outcome_of_exit(Some(1), true).0, Outcome::Good);
        assert_eq!(
            outcome_of_exit(Some(2), false),
            (Outcome::Failed, "CRITICAL")
        );
        assert_eq!(
            outcome_of_exit(Some(3), false),
            (Outcome::Failed, "UNKNOWN")
        );
        assert_eq!(outcome_of_exit(Some(127), false), (Outcome::Failed, "exit"));
        assert_eq!(outcome_of_exit(None, false), (Outcome::Failed, "killed"));
    }

    #[test]
    fn status_text_drops_perfdata() {
        let out =
            b"PING OK - Packet loss = 0%, RTA = 0.05 ms|rta=0.048000ms;100;200;0 pl=0%\nlong\n";
        assert_eq!(
            status_text(out),
            "PING OK - Packet loss = 0%, RTA = 0.05 ms"
        );
        assert_eq!(status_text(b"\n\n  hello \x1b[0m\n"), "hello [0m");
        assert_eq!(status_text(b""), "");
        assert_eq!(status_text(b"\xff\xfeok"), "\u{fffd}\u{fffd}ok");
    }
}
