use super::*;
use crate::protocol::layout::Partitioning;
use crate::Topic;

const FULL: &str = r#"
listen: 127.0.0.1:11004
event_keys: [ "k-node-1", { env: LOG4RS_AUDIT_TEST_K3 } ]
stats_keys: [ "k-stats" ]
max_body_bytes: 10485760
destinations:
  - name: disk
    type: filesystem
    root: /var/lib/audit/events
    topics: ALL
    routing_keys: ALL
    required_auth_key: null
    folder_by_topic: true
    folder_by_routing_key: true
    partitioning_period: HOUR
    flush_every_bytes: 1048576
    flush_every_s: 1
  - name: api
    type: filesystem
    root: api
    topics: [apinode-query]
    routing_keys: [fraud-svc]
    required_auth_key: { env: LOG4RS_AUDIT_TEST_K3 }
    partitioning_period: DAY
"#;

#[test]
fn the_documented_shape_parses() {
    let c = ServerConfig::from_yaml(FULL).unwrap();
    assert_eq!(c.listen, "127.0.0.1:11004".parse().unwrap());
    assert_eq!(c.max_body_bytes, ByteSize(10485760));
    assert_eq!(c.destinations.len(), 2);
    let api = &c.destinations[1];
    assert!(api.topics.accepts(&Topic::ApinodeQuery));
    assert!(!api.topics.accepts(&Topic::Generic));
    assert!(api.routing_keys.accepts(&"fraud-svc".to_owned()));
    assert_eq!(api.layout().partitioning, Partitioning::Day);
    assert!(api.layout().folder_by_topic);
    std::env::set_var("LOG4RS_AUDIT_TEST_K3", "k3");
    let keys = c.resolve_keys().unwrap();
    assert_eq!(keys.event, ["k-node-1", "k3"]);
    assert_eq!(keys.required, [None, Some(1)]);
    assert_eq!(
        c.state_dir(),
        Path::new("/var/lib/audit/events/.event-server")
    );
}

#[test]
fn errors_name_the_line_or_field() {
    let bad_topic = FULL.replace("[apinode-query]", "[apinode-qurey]");
    let e = ServerConfig::from_yaml(&bad_topic).unwrap_err().to_string();
    assert!(
        e.contains("destinations[1]: topics: unknown audit topic `apinode-qurey`")
            && e.contains("line 18"),
        "{e}"
    );
    let bad_period = FULL.replace("DAY", "WEEK");
    let e = ServerConfig::from_yaml(&bad_period)
        .unwrap_err()
        .to_string();
    assert!(e.contains("WEEK") && e.contains("line"), "{e}");
    let unknown = FULL.replace("flush_every_s: 1", "flush_every_sec: 1");
    let e = ServerConfig::from_yaml(&unknown).unwrap_err().to_string();
    assert!(e.contains("flush_every_sec"), "{e}");
    let dup = FULL.replace("name: api", "name: disk");
    let e = ServerConfig::from_yaml(&dup).unwrap_err().to_string();
    assert!(e.contains("destinations[1] (`disk`).name"), "{e}");
    let nested = FULL.replace("root: api", "root: /var/lib/audit/events/api");
    let e = ServerConfig::from_yaml(&nested).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "destinations[1] (`api`).root: /var/lib/audit/events/api overlaps the root of `disk`"
        ),
        "{e}"
    );
    let escape = FULL.replace("[fraud-svc]", "[../etc]");
    let e = ServerConfig::from_yaml(&escape).unwrap_err().to_string();
    assert!(e.contains("invalid routing key"), "{e}");
    let c = ServerConfig::from_yaml(&FULL.replace("LOG4RS_AUDIT_TEST_K3", "LOG4RS_AUDIT_UNSET_K9"))
        .unwrap();
    let e = c.resolve_keys().unwrap_err().to_string();
    assert_eq!(
        e,
        "event_keys[1]: environment variable LOG4RS_AUDIT_UNSET_K9 is not set"
    );
}

/// The same secret twice (inline and from the environment here) is refused, naming both
/// places and never the secret.
#[test]
fn duplicate_keys_are_refused() {
    std::env::set_var("LOG4RS_AUDIT_TEST_DUP_KEY", "k-dup-secret");
    let cases = [
        (
            "event_keys: [ k-a, k-dup-secret, { env: LOG4RS_AUDIT_TEST_DUP_KEY } ]\n",
            "event_keys[2]: the same key as event_keys[1] (list each key once)",
        ),
        (
            "event_keys: [k-a]\nstats_keys: [s, t, s]\n",
            "stats_keys[2]: the same key as stats_keys[0] (list each key once)",
        ),
    ];
    for (keys, expected) in cases {
        let yaml =
            format!("{keys}destinations:\n  - {{ name: disk, type: filesystem, root: /r }}\n");
        let e = ServerConfig::from_yaml(&yaml)
            .unwrap()
            .resolve_keys()
            .unwrap_err()
            .to_string();
        assert_eq!(e, expected);
        assert!(!e.contains("k-dup-secret"));
    }
}

/// The options of one destination type on the other are errors naming them, in every
/// build; without the `kafka` feature, `type: kafka` says how to get it.
#[test]
fn options_belong_to_their_type() {
    let with = |dest: &str| {
        ServerConfig::from_yaml(&format!(
                "event_keys: [k]\ndestinations:\n  - {{ name: disk, type: filesystem, root: /r }}\n  - {{ name: x, {dest} }}\n"
            ))
        .map_err(|e| e.to_string())
    };
    let e = with("type: filesystem, root: /s, topic: t").unwrap_err();
    assert_eq!(
            e,
            "destinations[1] (`x`).topic: not an option of a `filesystem` destination (it is one of `type: kafka`)"
        );
    let e = with("type: kafka, brokers: h:1, topic: t, partitioning_period: DAY").unwrap_err();
    assert!(
        e.starts_with(
            "destinations[1] (`x`).partitioning_period: not an option of a `kafka` destination"
        ),
        "{e}"
    );
    let e = with("type: filesystem").unwrap_err();
    assert_eq!(
        e,
        "destinations[1] (`x`).root: required for a filesystem destination"
    );
    let e = with("type: kafkaa").unwrap_err();
    assert!(
        e.contains("unknown variant `kafkaa`, expected `filesystem` or `kafka`"),
        "{e}"
    );
    let kafka = with("type: kafka, brokers: h:1, topic: t");
    #[cfg(feature = "kafka")]
    {
        let c = kafka.unwrap();
        assert_eq!(c.destinations[1].kind(), DestinationKind::Kafka);
        assert_eq!(c.destinations[1].root(), None);
        // The journal stays in the first filesystem destination.
        assert_eq!(c.state_dir(), Path::new("/r/.event-server"));
    }
    #[cfg(not(feature = "kafka"))]
    assert_eq!(
            kafka.unwrap_err(),
            "destinations[1] (`x`).type: `kafka` destinations need a log4rs-audit built with the `kafka` feature (cargo build --features kafka); this one was built without it"
        );
}

#[test]
fn relative_paths_follow_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.yaml");
    std::fs::write(&path, FULL).unwrap();
    let c = ServerConfig::from_file(&path).unwrap();
    assert_eq!(c.destinations[1].root(), Some(&*dir.path().join("api")));
    assert_eq!(
        c.destinations[0].root(),
        Some(Path::new("/var/lib/audit/events"))
    );
}

#[test]
fn integrity_parses_and_its_key_follows_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let pair = crate::integrity::keygen(&dir.path().join("keys")).unwrap();
    let text = FULL.replace(
            "    flush_every_s: 1\n",
            "    flush_every_s: 1\n    integrity: { signing_key: { file: keys/audit.key }, checkpoint_lines: 10, checkpoint_seconds: 5 }\n",
        );
    let path = dir.path().join("server.yaml");
    std::fs::write(&path, &text).unwrap();
    let c = ServerConfig::from_file(&path).unwrap();
    let i = c.destinations[0].integrity().unwrap();
    assert_eq!(
        i.signing_key,
        Some(Secret::File {
            file: pair.secret.clone()
        })
    );
    assert!(c.destinations[1].integrity().is_none());
    std::env::set_var("LOG4RS_AUDIT_TEST_K3", "k3");
    let keys = c.resolve_keys().unwrap();
    let options = keys.integrity[0].as_ref().unwrap();
    assert!(options.signing_key.is_some() && options.fsync);
    assert_eq!(options.checkpoint_lines, 10);
    assert_eq!(options.checkpoint_every, Duration::from_secs(5));
    assert!(keys.integrity[1].is_none());

    let unknown = text.replace("checkpoint_seconds: 5", "checkpoint_secs: 5");
    let e = ServerConfig::from_yaml(&unknown).unwrap_err().to_string();
    assert!(e.contains("checkpoint_secs"), "{e}");
    std::fs::write(
        &path,
        text.replace("checkpoint_lines: 10", "checkpoint_lines: 0"),
    )
    .unwrap();
    let zero = ServerConfig::from_file(&path).unwrap();
    let e = zero.resolve_keys().unwrap_err().to_string();
    assert_eq!(
        e,
        "destinations[0] (`disk`).integrity.checkpoint_lines: must be greater than 0"
    );
    let missing = ServerConfig::from_yaml(&text).unwrap(); // not rebased: no such file here
    let e = missing.resolve_keys().unwrap_err().to_string();
    assert!(
        e.starts_with("destinations[0] (`disk`).integrity.signing_key: "),
        "{e}"
    );
}
