//! The spool under SIGKILL: a child process appends numbered records (while its reader thread
//! reads and acknowledges them, deleting segments) and prints each sequence number after
//! `append` returned. After the kill, reopening the spool must hold every confirmed record that
//! was not acknowledged, in order, with the same sequence numbers, and nothing else.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use log4rs_audit::lifecycle;
use log4rs_audit::spool::{Spool, SpoolOptions};

#[path = "support/lifecycle_lines.rs"]
mod lifecycle_lines;
use lifecycle_lines::without_lifecycle;

const CHILD_ENV: &str = "LOG4RS_AUDIT_SPOOL_KILL9_CHILD_DIR";

fn options(dir: &Path) -> SpoolOptions {
    SpoolOptions {
        segment_bytes: 4096,
        max_bytes: 64 << 10, // appends also block on the reader's acks now and then
        ..SpoolOptions::new(dir)
    }
}

fn payload(seq: u64) -> Vec<u8> {
    format!("record {seq} {}", "p".repeat((seq % 97) as usize)).into_bytes()
}

/// The child: appends batches of 1 to 4 records forever, printing the last sequence number of
/// each batch after `append` returned.
#[test]
fn spool_kill9_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spool = std::sync::Arc::new(Spool::open(options(Path::new(&dir))).unwrap());
    let reader = std::sync::Arc::clone(&spool);
    std::thread::spawn(move || loop {
        let batch = reader
            .read_batch(50, 1 << 20, Duration::from_millis(20))
            .unwrap();
        if let Some(last) = batch.last() {
            reader.ack(last.seq).unwrap();
        }
        std::thread::sleep(Duration::from_millis(1));
    });
    let mut next = spool.append(&[]).unwrap() + 1;
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let batch: Vec<Vec<u8>> = (next..next + 1 + n % 4).map(payload).collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let last = spool.append(&refs).unwrap();
        assert_eq!(last, next + n % 4);
        std::io::Write::write_fmt(&mut out, format_args!("appended {last}\n")).unwrap();
        std::io::Write::flush(&mut out).unwrap();
        next = last + 1;
    }
}

/// libtest prints `test spool_kill9_child ... ` before the child's first line.
fn confirmed(line: &str) -> Option<u64> {
    let (_, n) = line.split_once("appended ")?;
    n.trim().parse().ok()
}

/// Runs the child until it confirmed `batches` appends, kills it, and returns the highest
/// sequence number it confirmed.
fn run_and_kill(dir: &Path, batches: usize) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "spool_kill9_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut highest = 0;
    let mut count = 0;
    let mut line = String::new();
    while count < batches {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(n) = confirmed(&line) {
            highest = n;
            count += 1;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Confirmations printed before the kill but not read yet count too.
    for line in reader.lines() {
        if let Some(n) = confirmed(&line.unwrap()) {
            highest = n;
            count += 1;
        }
    }
    assert!(
        count >= batches,
        "child stopped early after {count} appends"
    );
    highest
}

#[test]
fn spool_kill9_loses_nothing_appended() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut node = None;
    for round in 0..3 {
        let highest = run_and_kill(dir.path(), 1500);
        let spool = Spool::open(options(dir.path())).unwrap();
        assert_eq!(
            *node.get_or_insert_with(|| spool.node_id().to_owned()),
            spool.node_id()
        );
        let (pending, _) = spool.pending();
        let mut records = Vec::new();
        loop {
            let batch = spool.read_batch(1000, 1 << 20, Duration::ZERO).unwrap();
            if batch.is_empty() {
                break;
            }
            records.extend(batch);
        }
        assert_eq!(records.len() as u64, pending, "round {round}");
        let last = spool.append(&[]).unwrap();
        let acked = last - pending;
        // Everything confirmed is either acknowledged or still spooled; at most the one batch
        // in flight at the kill is beyond it.
        assert!(
            last >= highest,
            "round {round}: last {last} < confirmed {highest}"
        );
        assert!(
            last <= highest + 4,
            "round {round}: last {last}, confirmed {highest}"
        );
        assert!(
            acked <= highest,
            "round {round}: acked {acked} > confirmed {highest}"
        );
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.seq, acked + 1 + i as u64, "round {round}: contiguous");
            assert_eq!(
                r.payload,
                payload(r.seq),
                "round {round}: payload of {}",
                r.seq
            );
        }
        eprintln!(
            "round {round}: confirmed {highest}, spooled {}..={last}, recovered {:?}",
            acked + 1,
            spool.recovered()
        );
    }
}

/// One flipped byte in an `event_server` spool segment: the config still starts (its local file
/// target included), the segment is set aside as `*.damaged` and reported, and new events are
/// spooled and written as usual.
#[test]
fn a_damaged_spool_segment_is_quarantined_and_the_config_still_starts() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: events stay in the spool.
    let yaml = format!(
        "appenders:\n  local:\n    kind: audit_file\n    path: {0}/audit.log\n  central:\n    kind: event_server\n    \
         url: http://127.0.0.1:9/\n    auth_key: k\n    spool_dir: {0}/spool\n    flush_timeout: 10ms\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [local, central], additive: false }}\n",
        dir.path().display()
    );
    let log = |logger: &log4rs_audit::AuditLogger, n: u64| {
        let kvs: [(&str, log::kv::Value); 2] = [("msgType", "numbered".into()), ("n", n.into())];
        log::Log::log(
            logger,
            &log::Record::builder()
                .target("dku.audit.generic")
                .key_values(&kvs)
                .args(format_args!(""))
                .build(),
        );
    };
    let start = || {
        let (logger, handle) = log4rs_audit::AuditLogger::new(
            log4rs_audit::AuditConfig::from_yaml(&yaml, None).unwrap(),
        )
        .unwrap();
        let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = std::sync::Arc::clone(&errors);
        handle.set_error_handler(move |e| sink.lock().unwrap().push(e.to_string()));
        (logger, handle, errors)
    };
    // Built and logged to on a thread of its own, so nothing keeps the appenders after it.
    std::thread::scope(|s| {
        s.spawn(|| {
            let (logger, handle, _) = start();
            for n in 1..=5 {
                log(&logger, n);
            }
            drop(handle);
        });
    });
    let spool = dir.path().join("spool");
    let segment = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    assert!(bytes.len() > 40, "{} bytes", bytes.len());
    bytes[20] ^= 0x10; // inside the first record
    std::fs::write(&segment, &bytes).unwrap();
    let (reported, errors) = std::thread::scope(|s| {
        s.spawn(|| {
            let (logger, handle, errors) = start();
            // Reported while the config was built, before a handler of ours was set: the
            // default handler printed it (stderr) and counted it.
            let reported = handle.error_count();
            log(&logger, 6);
            log(&logger, 7);
            drop(handle);
            let errors = errors.lock().unwrap().clone();
            (reported, errors)
        })
        .join()
        .unwrap()
    });
    assert_eq!(reported, 1, "the quarantine is reported once");
    let mut aside = segment.clone().into_os_string();
    aside.push(".damaged");
    assert_eq!(std::fs::read(&aside).unwrap(), bytes, "kept as it was");
    let lines = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(
        without_lifecycle(lines.iter().copied()).len(),
        7,
        "the local target got every event"
    );
    // Each run's start and stop, in order around its events.
    assert_eq!(
        lines
            .iter()
            .map(|l| lifecycle_lines::lifecycle_type(l).unwrap_or_else(|| "app".into()))
            .collect::<Vec<_>>(),
        [
            [lifecycle::START].as_slice(),
            &["app"; 5],
            &[lifecycle::STOP, lifecycle::START],
            &["app"; 2],
            &[lifecycle::STOP]
        ]
        .concat()
    );
    // The new events are in the spool (between the second run's start and stop), after the
    // quarantined numbers (the first run's start, five events and stop).
    let reopened = Spool::open(SpoolOptions::new(&spool)).unwrap();
    let records = reopened.read_batch(100, 1 << 20, Duration::ZERO).unwrap();
    let payloads: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect();
    assert_eq!(records.len(), 4, "{payloads:?}");
    assert!(payloads[0].contains(&format!("\"msgType\":\"{}\"", lifecycle::START)));
    assert!(payloads[3].contains(&format!("\"msgType\":\"{}\"", lifecycle::STOP)));
    assert!(payloads[1..3]
        .iter()
        .all(|p| p.contains("\"msgType\":\"numbered\"")));
    assert!(records[0].seq > 7, "{}", records[0].seq);
    // Nothing else went wrong (undelivered events are only noted on stderr at close).
    assert!(errors.iter().all(|e| !e.contains("spool")), "{errors:?}");
}
