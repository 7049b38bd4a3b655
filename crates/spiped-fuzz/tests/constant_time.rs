//! Constant-time code, checked with valgrind's memcheck (the ctgrind
//! method): `ct_check` marks the secrets undefined, and memcheck reports
//! any branch or memory address that depends on them. The control runs
//! branch on a secret on purpose (one plainly, one as the textbook
//! square-and-multiply does), so a check that sees nothing fails.
//! valgrind is installed by scripts/deps/spiped-sec.sh.

use std::process::Command;

fn memcheck(mode: &str) -> (Option<i32>, String) {
    let out = Command::new("valgrind")
        .args([
            "--tool=memcheck",
            "--error-exitcode=99",
            "--track-origins=yes",
            env!("CARGO_BIN_EXE_ct_check"),
            mode,
        ])
        .output()
        .expect("valgrind is missing: run scripts/deps/spiped-sec.sh");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// memcheck finds nothing that depends on a secret.
fn clean(mode: &str) {
    let (code, log) = memcheck(mode);
    assert_eq!(code, Some(0), "{mode}: {log}");
    assert!(log.contains("ERROR SUMMARY: 0 errors"), "{mode}: {log}");
}

/// memcheck reports a branch on a secret.
fn reported(mode: &str) {
    let (code, log) = memcheck(mode);
    assert_eq!(code, Some(99), "{mode}: {log}");
    assert!(
        log.contains("Conditional jump or move depends on uninitialised value"),
        "{mode}: {log}"
    );
}

#[test]
fn modexp_does_not_branch_or_index_on_the_exponent() {
    clean("modexp");
}

#[test]
fn key_derivation_and_packet_sealing_do_not_branch_on_keys() {
    clean("keys");
}

#[test]
fn the_check_sees_a_secret_dependent_branch() {
    reported("control");
}

#[test]
fn the_check_sees_a_variable_time_modexp() {
    reported("control-modexp");
}

#[test]
fn the_mark_reaches_the_modexp_result() {
    reported("control-taint");
}
