use super::*;
use crate::protocol::wire::parse_batch;
use crate::server::failure::Refusal;
use std::path::Path;

fn config(root: &Path) -> ServerConfig {
    ServerConfig::from_yaml(&format!(
            r#"
event_keys: [k1, k2]
timezone: utc
destinations:
  - {{ name: all, type: filesystem, root: "{0}/all" }}
  - {{ name: auth, type: filesystem, root: "{0}/auth", topics: [authfail], folder_by_routing_key: false, partitioning_period: DAY }}
  - {{ name: k2only, type: filesystem, root: "{0}/k2", required_auth_key: k2, folder_by_topic: false, folder_by_routing_key: false, partitioning_period: MONTH }}
"#,
            root.display()
        ))
        .unwrap()
}

fn batch(lines: &str, key: usize) -> Batch {
    Batch {
        items: parse_batch(lines.as_bytes(), false, 1 << 20).unwrap(),
        peer: "10.0.0.5".parse().unwrap(),
        key,
        // 2020-02-19T15:05:02.441Z
        received: std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_582_124_702_441),
        bytes: lines.len(),
    }
}

fn store_one(store: &Store, b: Batch) -> Outcome {
    store.submit(b).unwrap().blocking_recv().unwrap().unwrap()
}

#[test]
fn routes_dedups_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let keys = c.resolve_keys().unwrap();
    let body = concat!(
        r#"{"node":"n1","seq":1,"topic":"generic","event":{"msgType":"a"}}"#,
        "\n",
        r#"{"node":"n1","seq":2,"topic":"authfail","routingKey":"sso","event":{"msgType":"b"}}"#,
        "\n",
    );
    {
        let (store, recovered) = Store::open(&c, &keys, Arc::default()).unwrap();
        assert!(recovered.is_empty());
        let o = store_one(&store, batch(body, 0));
        assert_eq!(
            o,
            Outcome {
                stored: 2,
                duplicates: 0,
                unrouted: 0
            }
        );
        let o = store_one(&store, batch(body, 0));
        assert_eq!(
            o,
            Outcome {
                stored: 0,
                duplicates: 2,
                unrouted: 0
            }
        );
    }
    let (store, _) = Store::open(&c, &keys, Arc::default()).unwrap();
    assert_eq!(store_one(&store, batch(body, 0)).duplicates, 2);
    // n1 is bound to k1 (index 0), also after the restart: k2 may not send it.
    let refused = store
        .submit(batch(body, 1))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert!(
        matches!(&refused, Err(StoreError::Node(NodeRefusal::BoundToAnotherKey { node })) if node == "n1"),
        "{refused:?}"
    );
    let more = r#"{"node":"n2","seq":3,"topic":"generic","event":{"msgType":"c"}}"#;
    assert_eq!(store_one(&store, batch(more, 1)).stored, 1);
    drop(store);

    let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
    let ts = r#""origAddress":"10.0.0.5","serverTimestamp":"2020-02-19T15:05:02.441+0000"}"#;
    assert_eq!(
            read("all/generic/_none/2020/02/19/15/events.log"),
            format!("{{\"clientEvent\":{{\"msgType\":\"a\"}},{ts}\n{{\"clientEvent\":{{\"msgType\":\"c\"}},{ts}\n")
        );
    assert_eq!(
        read("all/authfail/sso/2020/02/19/15/events.log"),
        format!("{{\"clientEvent\":{{\"msgType\":\"b\"}},{ts}\n")
    );
    assert_eq!(
        read("auth/authfail/2020/02/19/events.log"),
        format!("{{\"clientEvent\":{{\"msgType\":\"b\"}},{ts}\n")
    );
    // Only the batch sent with k2 (index 1) reaches `k2only`: event 3.
    assert_eq!(
        read("k2/2020/02/events.log"),
        format!("{{\"clientEvent\":{{\"msgType\":\"c\"}},{ts}\n")
    );
}

/// A refusal answers its batch with its line and the others with a retry.
#[test]
fn failed_groups_answer_each_batch() {
    let f = GroupFailure::Refused(vec![Refusal {
        job: 1,
        line: 3,
        reason: "too large".into(),
    }]);
    assert_eq!(answer(&f, 1).to_string(), "line 3: too large");
    assert!(matches!(answer(&f, 0), StoreError::Unavailable(_)));
    let disk = GroupFailure::Storage("disk".into());
    assert!(matches!(answer(&disk, 0), StoreError::Failed(_)));
}

#[test]
fn admission_takes_one_batch_whatever_its_size() {
    assert!(admit(0, 500, 100), "a lone large batch");
    assert!(admit(50, 50, 100));
    assert!(!admit(50, 51, 100));
    assert!(!admit(100, 1, 100));
}

fn integrity_config(root: &Path, key: &Path) -> ServerConfig {
    ServerConfig::from_yaml(&format!(
            r#"
event_keys: [k1]
timezone: utc
destinations:
  - {{ name: all, type: filesystem, root: "{0}/all", integrity: {{ signing_key: {{ file: "{1}" }}, checkpoint_lines: 2 }} }}
  - {{ name: plain, type: filesystem, root: "{0}/plain", topics: [authfail] }}
"#,
            root.display(),
            key.display()
        ))
        .unwrap()
}

fn numbered(from: u64, to: u64) -> String {
    (from..=to)
            .map(|n| format!("{{\"node\":\"n1\",\"seq\":{n},\"topic\":\"generic\",\"event\":{{\"msgType\":\"m{n}\"}}}}\n"))
            .collect()
}

/// A group begun but never committed (a crash) is undone at the next start; the sidecar
/// never covered it, resumes, and a clean shutdown leaves every line sealed.
#[test]
fn integrity_survives_an_undone_group_and_seals_at_shutdown() {
    use crate::integrity::{keygen, load_public_key, verify_paths, VerifyOptions};

    let dir = tempfile::tempdir().unwrap();
    let pair = keygen(&dir.path().join("keys")).unwrap();
    let c = integrity_config(dir.path(), &pair.secret);
    let keys = c.resolve_keys().unwrap();
    assert!(keys.integrity[0].is_some() && keys.integrity[1].is_none());
    let log = dir
        .path()
        .join("all/generic/_none/2020/02/19/15/events.log");
    {
        let (store, _) = Store::open(&c, &keys, Arc::default()).unwrap();
        assert_eq!(store_one(&store, batch(&numbered(1, 3), 0)).stored, 3);
    }
    let len = std::fs::metadata(&log).unwrap().len();
    // A crash after the lines of a group were appended, before its commit.
    {
        let mut journal = Journal::open(&c.state_dir(), c.file_mode).unwrap();
        journal.begin(&[(log.as_path(), len)]).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut f, b"{\"never\":\"committed\"}\n").unwrap();
    }
    let (store, recovered) = Store::open(&c, &keys, Arc::default()).unwrap();
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(store_one(&store, batch(&numbered(4, 8), 0)).stored, 5);
    store.shutdown();
    let verify = VerifyOptions {
        public_key: Some(load_public_key(&pair.public).unwrap()),
    };
    let report = verify_paths(&[dir.path().join("all")], &verify).unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert_eq!(report.files.len(), 1);
    assert_eq!((report.files[0].lines, report.files[0].sealed), (8, 8));
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let plain = dir.path().join("plain");
    assert!(!plain.exists() || verify_paths(&[plain], &verify).unwrap().files.is_empty());
}

/// Issue 11, item 6: a file whose digest sidecar cannot be read fails only the batches
/// with events for it (their answer names no path); the other batches of the same group
/// commit are stored, except one that follows a failed batch of the same node (503).
#[test]
fn a_failing_file_fails_only_its_batches_of_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let c = ServerConfig::from_yaml(&format!(
            "event_keys: [k1]\ntimezone: utc\ndestinations:\n  - {{ name: all, type: filesystem, root: '{}', integrity: {{ checkpoint_lines: 1 }} }}\n",
            dir.path().display()
        ))
        .unwrap();
    let keys = c.resolve_keys().unwrap();
    let bad = dir.path().join("generic/bad/2020/02/19/15");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("events.log"), "").unwrap();
    std::fs::write(bad.join("events.log.digest"), "not a record\n").unwrap();
    let line = |node: &str, seq: u64, rk: &str| {
        format!("{{\"node\":\"{node}\",\"seq\":{seq},\"topic\":\"generic\",\"routingKey\":\"{rk}\",\"event\":{{\"msgType\":\"{node}-{seq}\"}}}}\n")
    };
    let jobs: Vec<Job> = [
        line("n1", 1, "bad"),
        line("n2", 1, "good"),
        line("n1", 2, "good"),
        line("n3", 1, "good") + &line("n3", 2, "bad"),
    ]
    .iter()
    .map(|body| Job {
        batch: batch(body, 0),
        reply: oneshot::channel().0,
    })
    .collect();
    let (mut writer, _) = Writer::open(&c, &keys, Arc::default()).unwrap();
    let results = writer.store_group(&jobs);
    let text = |r: &Result<Outcome, StoreError>| match r {
        Err(e) => e.to_string(),
        Ok(o) => format!("{o:?}"),
    };
    for j in [0, 3] {
        assert!(
            matches!(results[j], Err(StoreError::Failed(_))),
            "{}",
            text(&results[j])
        );
        let t = text(&results[j]);
        assert!(t.contains("`all`") && !t.contains('/'), "{t}");
    }
    assert_eq!(results[1].as_ref().map(|o| o.stored).ok(), Some(1));
    assert!(
        matches!(&results[2], Err(StoreError::Unavailable(t)) if t.contains("`n1`")),
        "{}",
        text(&results[2])
    );
    let good = dir.path().join("generic/good/2020/02/19/15/events.log");
    let stored = std::fs::read_to_string(&good).unwrap();
    assert_eq!(stored.lines().count(), 1, "{stored}");
    assert!(stored.contains("n2-1"), "{stored}");
    assert_eq!(std::fs::read_to_string(bad.join("events.log")).unwrap(), "");
    // The marks did not move for the failed batches: once the sidecar is repaired, they
    // are stored, not taken for duplicates.
    std::fs::remove_file(bad.join("events.log.digest")).unwrap();
    let results = writer.store_group(&jobs);
    let stored: Vec<_> = results.iter().map(|r| r.as_ref().unwrap().stored).collect();
    assert_eq!(stored, [1, 0, 1, 2]);
    assert_eq!(results[1].as_ref().unwrap().duplicates, 1);
}

/// With no batch coming, the idle writer still writes the checkpoints due by time.
#[test]
fn idle_writer_checkpoints_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let c = ServerConfig::from_yaml(&format!(
            "event_keys: [k1]\ntimezone: utc\ndestinations:\n  - {{ name: all, type: filesystem, root: '{}', integrity: {{ checkpoint_seconds: 1 }} }}\n",
            dir.path().display()
        ))
        .unwrap();
    let keys = c.resolve_keys().unwrap();
    let (store, _) = Store::open(&c, &keys, Arc::default()).unwrap();
    assert_eq!(store_one(&store, batch(&numbered(1, 2), 0)).stored, 2);
    let log = dir.path().join("generic/_none/2020/02/19/15/events.log");
    let sidecar = crate::integrity::sidecar_path(&log);
    let sealed = || {
        let c = crate::integrity::sidecar::read_sidecar(&sidecar).unwrap();
        c.records.last().map_or(0, |r| r.0.lines)
    };
    assert_eq!(sealed(), 0, "the start record covers nothing yet");
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while sealed() < 2 && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(sealed(), 2);
    drop(store);
}
