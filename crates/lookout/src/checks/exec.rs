//! Exec checks: run a program (argv, no shell) in its own process group,
//! capture at most `max_output` bytes of stdout+stderr, and enforce a hard
//! deadline: past it the whole group is killed and the result is TIMED OUT.
//! The exit status follows the Nagios plugin contract, so Debian's
//! monitoring-plugins work unchanged.

use std::process::Stdio;
use std::time::{Duration, Instant};

use lookout_core::model::{CheckResult, Outcome};
use lookout_core::nagios;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// After the program exits, how long its output may still trickle in
/// (from children that inherited the pipe) before the group is killed.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

pub struct ExecSpec<'a> {
    pub command: &'a [String],
    pub timeout: Duration,
    pub max_output: usize,
    pub accept_warning: bool,
    /// Environment variables the child must not see (secrets).
    pub scrub_env: &'a [String],
}

fn kill_group(pgid: u32) {
    // SAFETY: plain syscall; a negative pid addresses the process group.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
    }
}

/// Read everything, keeping the first `max` bytes: a chatty program must
/// not block on a full pipe, nor fill our memory.
async fn read_capped(
    mut r: impl AsyncRead + Unpin,
    buf: &mut Vec<u8>,
    max: usize,
    truncated: &mut bool,
) {
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = max.saturating_sub(buf.len());
                if n > room {
                    *truncated = true;
                }
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

pub async fn run(spec: &ExecSpec<'_>) -> CheckResult {
    let start = Instant::now();
    let elapsed = || start.elapsed().as_millis() as u64;
    let mut cmd = Command::new(&spec.command[0]);
    cmd.args(&spec.command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for n in spec.scrub_env {
        cmd.env_remove(n);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return CheckResult::new(
                Outcome::Failed,
                elapsed(),
                format!("cannot run {}: {e}", spec.command[0]),
            );
        }
    };
    let pgid = child.id().unwrap_or(0);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut t1, mut t2) = (false, false);
    let max = spec.max_output;

    let outcome = {
        let reading = async {
            if let Some(s) = stdout {
                read_capped(s, &mut out, max, &mut t1).await;
            }
        };
        let reading_err = async {
            if let Some(s) = stderr {
                read_capped(s, &mut err, max, &mut t2).await;
            }
        };
        let reads = async { tokio::join!(reading, reading_err) };
        tokio::pin!(reads);
        let deadline = tokio::time::sleep(spec.timeout);
        tokio::pin!(deadline);
        let mut status = None;
        let mut reads_done = false;
        let mut drain: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            tokio::select! {
                st = child.wait(), if status.is_none() => {
                    status = Some(st);
                    if reads_done { break; }
                    drain = Some(Box::pin(tokio::time::sleep(DRAIN_AFTER_EXIT)));
                }
                _ = &mut reads, if !reads_done => {
                    reads_done = true;
                    if status.is_some() { break; }
                }
                _ = async { drain.as_mut().expect("guarded").await }, if drain.is_some() => break,
                _ = &mut deadline => {
                    status = None;
                    break;
                }
            }
        }
        status
    };
    // Whatever is left in the group (a hung program, or its stray
    // children) goes now; then reap our child so no zombie remains.
    if pgid != 0 {
        kill_group(pgid);
    }
    let reaped = child.wait().await;
    let ms = elapsed();
    let Some(status) = outcome else {
        return CheckResult::new(
            Outcome::TimedOut,
            ms,
            format!(
                "no result within {}; process group killed",
                lookout_core::duration::format(spec.timeout.as_millis() as u64)
            ),
        );
    };
    let status = match status.or(reaped) {
        Ok(s) => s,
        Err(e) => return CheckResult::new(Outcome::Failed, ms, format!("wait: {e}")),
    };
    use std::os::unix::process::ExitStatusExt;
    let (outcome, label) = nagios::outcome_of_exit(status.code(), spec.accept_warning);
    let mut text = nagios::status_text(&out);
    if text.is_empty() {
        text = nagios::status_text(&err);
    }
    let what = match (status.code(), status.signal()) {
        (Some(c), _) if label == "exit" => format!("exit {c}"),
        (Some(_), _) => label.to_string(),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => label.to_string(),
    };
    let text = lookout_core::model::truncate(&text, 200);
    let mut msg = if text.is_empty() {
        what.clone()
    } else if text.contains(label) {
        text
    } else {
        format!("{what}: {text}")
    };
    if t1 || t2 {
        msg.push_str(" (output truncated)");
    }
    CheckResult::new(outcome, ms, msg)
}
