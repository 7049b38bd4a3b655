//! The vocabulary shared by the core and the daemon.

/// Unix time in milliseconds (UTC). Every time in the core is one of these,
/// handed in by the caller: the core never reads a clock.
pub type Millis = u64;

/// Index of a check in the validated config.
pub type CheckId = usize;
pub type IncidentId = u64;
pub type DeliveryId = u64;

/// How one run of a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Good,
    Failed,
    TimedOut,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Good => "GOOD",
            Outcome::Failed => "FAILED",
            Outcome::TimedOut => "TIMED OUT",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "GOOD" => Some(Outcome::Good),
            "FAILED" => Some(Outcome::Failed),
            "TIMED OUT" => Some(Outcome::TimedOut),
            _ => None,
        }
    }

    pub fn is_good(self) -> bool {
        self == Outcome::Good
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finished run of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub outcome: Outcome,
    /// Wall time the run took.
    pub duration_ms: Millis,
    /// A short line for people: `HTTP 503`, `connection refused`, the first
    /// line of a plugin's output.
    pub message: String,
}

/// Longest message kept with a result; plugin output can be huge.
pub const MAX_MESSAGE: usize = 300;

impl CheckResult {
    pub fn new(outcome: Outcome, duration_ms: Millis, message: impl Into<String>) -> Self {
        CheckResult {
            outcome,
            duration_ms,
            message: truncate(&message.into(), MAX_MESSAGE),
        }
    }
}

/// Cut `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
