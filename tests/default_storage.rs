//! `init_default()`: run/audit/audit.log under the working directory, rolling at 100 MB with
//! 20 backups, log4j names, the first line after a roll in the new file.

use log4rs_audit::audit;

const MIB: u64 = 1024 * 1024;

/// The `seq` of each `bulk` event in `path` (the logger's own `audit-…` events have none).
fn seqs(path: &std::path::Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["message"]["msgType"] == "bulk")
        .map(|v| v["message"]["seq"].as_u64().unwrap())
        .collect()
}

#[test]
fn default_storage_rolls_at_100_mb() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    let handle = log4rs_audit::init_default().unwrap();
    let destinations = handle.destinations();
    assert_eq!(destinations.len(), 1);
    assert_eq!(
        destinations[0].path.as_deref(),
        Some(std::path::Path::new("run/audit/audit.log"))
    );

    let pad = "x".repeat(64 * 1024);
    let log = dir.path().join("run/audit/audit.log");
    let rolled = dir.path().join("run/audit/audit.log.1");
    let mut seq = 0u64;
    while !rolled.exists() {
        audit!(generic, "bulk", seq = seq, pad = pad.as_str());
        seq += 1;
        assert!(seq < 2_000, "never rolled");
    }
    audit!(generic, "bulk", seq = seq, pad = pad.as_str());
    handle.flush();

    let rolled_len = std::fs::metadata(&rolled).unwrap().len();
    assert!(
        (100 * MIB..100 * MIB + 70 * 1024).contains(&rolled_len),
        "{rolled_len}"
    );
    let old = seqs(&rolled);
    assert_eq!(old, (0..seq).collect::<Vec<_>>());
    let first = std::fs::read_to_string(&rolled).unwrap();
    assert!(
        first.starts_with(r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"audit-logger-start","#),
        "the trail starts with the logger's own start"
    );
    assert_eq!(
        seqs(&log),
        [seq],
        "the first line after the roll goes to the new file"
    );
    assert!(!dir.path().join("run/audit/audit.log.2").exists());
    let config = handle.config();
    let options = format!("{:?}", config.appenders[0].config.config);
    assert!(
        options.contains(r#"String("max_backups"): U64(20)"#),
        "{options}"
    );
    assert!(
        options.contains(r#"String("max_size"): String("100 MB")"#),
        "{options}"
    );
    drop(handle);
    std::env::set_current_dir("/").unwrap();
}
