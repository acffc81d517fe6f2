use super::*;
use crate::integrity::{IntegrityOptions, SidecarWriter};
use std::time::SystemTime;

/// An Event Server root: many `events.log`, each its own trail, in nested time folders,
/// and a hidden journal folder that is not a trail.
#[test]
fn a_folder_of_many_nested_trails() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let now = SystemTime::now();
    let mut logs = Vec::new();
    for topic in ["generic", "authfail"] {
        for hour in 0..150 {
            let folder = root.join(format!(
                "{topic}/_none/2020/02/{:02}/{:02}",
                1 + hour / 24,
                hour % 24
            ));
            fs::create_dir_all(&folder).unwrap();
            let log = folder.join("events.log");
            fs::write(&log, "").unwrap();
            let (mut w, _) = SidecarWriter::open(&log, IntegrityOptions::default(), now).unwrap();
            let lines = format!("{topic} {hour} a\n{topic} {hour} b\n");
            fs::write(&log, &lines).unwrap();
            w.absorb(lines.as_bytes());
            w.close(now).unwrap();
            logs.push(log);
        }
    }
    fs::create_dir_all(root.join(".event-server")).unwrap();
    fs::write(root.join(".event-server/journal"), "not a trail").unwrap();
    let options = VerifyOptions::default();
    let report = verify_paths(&[root.to_owned()], &options).unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert_eq!(report.files.len(), 300);
    assert!(report.files.iter().all(|f| f.lines == 2 && f.sealed == 2));
    assert!(report.notes.is_empty(), "{:?}", report.notes);

    let victim = &logs[77];
    let text = fs::read_to_string(victim).unwrap().replacen(" b", " B", 1);
    fs::write(victim, text).unwrap();
    let report = verify_paths(&[root.to_owned()], &options).unwrap();
    assert_eq!(report.failures.len(), 1, "{}", report.to_text());
    let f = &report.failures[0];
    assert_eq!(
        (f.kind, &f.file, f.line),
        (FindingKind::Modified, victim, Some(2))
    );
}

/// A sidecar followed by a run of NULs (not what a crash leaves: a crash tears a record)
/// fails `verify` as trailing garbage naming offset and length, read in bounded memory; a
/// torn record at the end stays a crash's trace, not a failure.
#[test]
fn trailing_garbage_after_a_sidecar_fails_a_torn_record_does_not() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    fs::write(&log, "").unwrap();
    let now = SystemTime::now();
    let (mut w, _) = SidecarWriter::open(&log, IntegrityOptions::default(), now).unwrap();
    fs::write(&log, "a\nb\n").unwrap();
    w.absorb(b"a\nb\n");
    w.close(now).unwrap();
    let sidecar = sidecar_path(&log);
    let whole = fs::metadata(&sidecar).unwrap().len();
    let options = VerifyOptions::default();
    assert!(verify_paths(std::slice::from_ref(&log), &options)
        .unwrap()
        .ok());

    let mut f = fs::OpenOptions::new().append(true).open(&sidecar).unwrap();
    f.write_all(b"{\"n\":9,\"kind\":\"chec").unwrap();
    drop(f);
    let report = verify_paths(std::slice::from_ref(&log), &options).unwrap();
    assert!(
        report.ok(),
        "a torn record is no failure: {}",
        report.to_text()
    );

    // 20 MiB of NULs (past the record limit) after the whole records.
    let f = fs::OpenOptions::new().write(true).open(&sidecar).unwrap();
    f.set_len(whole + (20 << 20)).unwrap();
    drop(f);
    let report = verify_paths(std::slice::from_ref(&log), &options).unwrap();
    assert!(!report.ok());
    let text = report.to_text();
    assert!(
        text.contains(&format!(
            "trailing garbage: {} bytes from byte {whole}",
            20 << 20
        )),
        "{text}"
    );
    // A few NULs only: still garbage.
    let f = fs::OpenOptions::new().write(true).open(&sidecar).unwrap();
    f.set_len(whole).unwrap();
    f.set_len(whole + 3).unwrap();
    drop(f);
    let text = verify_paths(&[log], &options).unwrap().to_text();
    assert!(
        text.contains(&format!("trailing garbage: 3 bytes from byte {whole}")),
        "{text}"
    );
}
