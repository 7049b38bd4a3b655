//! The example config in docs/lookout.md is valid and watches what it says.

use lookout_core::config::{self, CheckKind};

#[test]
fn the_documented_example_config_is_valid() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/lookout.md"
    ))
    .unwrap();
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let len = doc[start..].find("```").unwrap();
    let cfg = config::parse(&doc[start..start + len])
        .unwrap_or_else(|e| panic!("docs/lookout.md example: {e}"));
    let kind = |n: &str| {
        cfg.checks[cfg
            .check_by_name(n)
            .unwrap_or_else(|| panic!("no check {n}"))]
        .kind
        .clone()
    };
    assert!(matches!(kind("spiped-local"), CheckKind::Tcp { .. }));
    assert!(
        matches!(kind("spiped-through"), CheckKind::Exec { command, .. } if command[0].ends_with("check_tcp"))
    );
    assert!(
        matches!(kind("kivaloo-write"), CheckKind::Exec { command, .. } if command[0].ends_with("/kivaloo"))
    );
    assert!(matches!(kind("kivaloo-port"), CheckKind::Tcp { .. }));
    assert!(matches!(
        kind("website"),
        CheckKind::Http {
            cert_min_days: Some(14),
            ..
        }
    ));
    assert!(matches!(kind("backup-roundtrip"), CheckKind::Exec { .. }));
    assert!(matches!(
        kind("nightly-backup"),
        CheckKind::Heartbeat { .. }
    ));
    assert_eq!(cfg.monitor.canary.len(), 2);
    assert_eq!(cfg.policies[0].steps.len(), 2);
}
