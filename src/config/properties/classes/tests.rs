use crate::config::{from_properties, PropertiesOptions};
use serde_value::Value;

fn translate(text: &str) -> Result<crate::AuditConfig, String> {
    let options = PropertiesOptions {
        ignore_env: true,
        ..PropertiesOptions::default()
    };
    from_properties(text, None, &options).map_err(|e| e.to_string())
}

fn get<'a>(config: &'a Value, key: &str) -> Option<&'a Value> {
    match config {
        Value::Map(m) => m.get(&Value::String(key.to_owned())),
        _ => None,
    }
}

#[test]
fn event_server_appender() {
    let base = "log4j.logger.dku.audit=INFO, ES\n\
                    log4j.appender.ES=log4rs_audit.EventServerAppender\n\
                    log4j.appender.ES.url=http://127.0.0.1:11004\n\
                    log4j.appender.ES.SpoolDir=/var/spool/audit\n";
    let text = format!(
        "{base}log4j.appender.ES.AUTHKEYENV=AUDIT_KEY\n\
             log4j.appender.ES.RoutingKeyMode=static_if_missing\n\
             log4j.appender.ES.RoutingKey=web-1\n\
             log4j.appender.ES.SpoolMaxBytes=10MB\n\
             log4j.appender.ES.TrustAllCertificates=TRUE\n\
             log4j.appender.ES.CaFile=/etc/ca.pem\n\
             log4j.appender.ES.BatchMaxEvents=500\n\
             log4j.appender.ES.Gzip=true\n\
             log4j.appender.ES.layout=org.apache.log4j.PatternLayout\n"
    );
    let c = translate(&text).unwrap();
    let spec = &c.appenders[0];
    assert_eq!(spec.config.kind, "event_server");
    assert!(spec.config.filters.is_empty());
    let cfg = &spec.config.config;
    let s = |v: &str| Value::String(v.to_owned());
    assert_eq!(get(cfg, "url"), Some(&s("http://127.0.0.1:11004")));
    assert_eq!(get(cfg, "spool_dir"), Some(&s("/var/spool/audit")));
    assert_eq!(
        get(get(cfg, "auth_key").unwrap(), "env"),
        Some(&s("AUDIT_KEY"))
    );
    assert_eq!(get(cfg, "routing_key_mode"), Some(&s("STATIC_IF_MISSING")));
    assert_eq!(get(cfg, "routing_key"), Some(&s("web-1")));
    assert_eq!(get(cfg, "spool_max_bytes"), Some(&s("10MB")));
    assert_eq!(get(cfg, "trust_all_certificates"), Some(&Value::Bool(true)));
    assert_eq!(get(cfg, "ca_file"), Some(&s("/etc/ca.pem")));
    assert_eq!(get(cfg, "batch_max_events"), Some(&Value::U64(500)));
    assert_eq!(get(cfg, "gzip"), Some(&Value::Bool(true)));
    assert_eq!(get(cfg, "encoder"), None);
    assert_eq!(
        c.warnings.len(),
        1,
        "the layout is ignored: {:?}",
        c.warnings
    );
    // The translated options are the kind's own.
    let parsed: crate::append::EventServerConfig = cfg.clone().deserialize_into().unwrap();
    assert!(parsed
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("ca_file: give either"));

    // Inline and file keys; the short class name.
    let c = translate(&format!("{base}log4j.appender.ES.AuthKey=k1\n")).unwrap();
    assert_eq!(
        get(&c.appenders[0].config.config, "auth_key"),
        Some(&s("k1"))
    );
    let text = format!("{base}log4j.appender.ES.AuthKeyFile=/k\n")
        .replace("log4rs_audit.EventServerAppender", "EventServerAppender");
    let c = translate(&text).unwrap();
    let key = get(&c.appenders[0].config.config, "auth_key").unwrap();
    assert_eq!(get(key, "file"), Some(&s("/k")));

    // Errors name the appender or the key.
    let e = translate(base).unwrap_err();
    assert!(
        e.contains("has no AuthKey, AuthKeyFile or AuthKeyEnv option"),
        "{e}"
    );
    let e = translate(&format!(
        "{base}log4j.appender.ES.AuthKey=a\nlog4j.appender.ES.AuthKeyEnv=B\n"
    ))
    .unwrap_err();
    assert!(
        e.contains("give one of AuthKey, AuthKeyFile and AuthKeyEnv"),
        "{e}"
    );
    let e =
        translate(&base.replace("log4j.appender.ES.url=http://127.0.0.1:11004\n", "")).unwrap_err();
    assert!(e.contains("appender `ES` has no URL option"), "{e}");
    let e = translate(&format!(
        "{base}log4j.appender.ES.AuthKey=a\nlog4j.appender.ES.BatchMaxEvents=many\n"
    ))
    .unwrap_err();
    assert!(
        e.contains("log4j.appender.ES.BatchMaxEvents") && e.contains("`many`"),
        "{e}"
    );
    let e = translate(&format!(
        "{base}log4j.appender.ES.AuthKey=a\nlog4j.appender.ES.Gzip=yes\n"
    ))
    .unwrap_err();
    assert!(e.contains("`yes` is not true or false"), "{e}");
    let c = translate(&format!(
        "{base}log4j.appender.ES.AuthKey=a\nlog4j.appender.ES.File=x\n"
    ))
    .unwrap();
    assert!(
        c.warnings[0].to_string().contains("has no option `file`"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn audit_file_integrity_options() {
    let c = translate(
        "log4j.appender.A=AuditFileAppender\nlog4j.appender.A.File=/tmp/a.log\n\
             log4j.appender.A.IntegrityKeyFile=/etc/audit.key\n\
             log4j.appender.A.IntegrityCheckpointLines=500\n\
             log4j.appender.A.IntegrityCheckpointSeconds=30\n\
             log4j.logger.dku.audit=INFO, A\n",
    )
    .unwrap();
    let integrity = get(&c.appenders[0].config.config, "integrity").unwrap();
    assert_eq!(get(integrity, "checkpoint_lines"), Some(&Value::U64(500)));
    assert_eq!(get(integrity, "checkpoint_seconds"), Some(&Value::U64(30)));
    let key = get(integrity, "signing_key").unwrap();
    assert_eq!(
        get(key, "file"),
        Some(&Value::String("/etc/audit.key".into()))
    );
    let bad = "log4j.appender.A=AuditFileAppender\nlog4j.appender.A.File=/tmp/a.log\n\
                   log4j.appender.A.IntegrityCheckpointLines=many\nlog4j.logger.dku.audit=INFO, A\n";
    assert!(translate(bad)
        .unwrap_err()
        .contains("IntegrityCheckpointLines"));
}

fn s(v: Option<&Value>) -> Option<&str> {
    match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

#[test]
fn kafka_appender_class_takes_yaml_like_options_and_properties() {
    let c = translate(
        "log4j.rootLogger=INFO, bus\n\
             log4j.appender.bus=KafkaAppender\n\
             log4j.appender.bus.Brokers=127.0.0.1:9092\n\
             log4j.appender.bus.Topic=dss-audit-{topic}\n\
             log4j.appender.bus.Key=NONE\n\
             log4j.appender.bus.Payload=message\n\
             log4j.appender.bus.DeliveryTimeout=20s\n\
             log4j.appender.bus.Properties.compression.type=zstd\n\
             log4j.appender.bus.properties.linger.ms=20\n",
    )
    .unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let a = &c.appenders[0].config;
    assert_eq!(a.kind, "kafka");
    assert_eq!(s(get(&a.config, "brokers")), Some("127.0.0.1:9092"));
    assert_eq!(s(get(&a.config, "topic")), Some("dss-audit-{topic}"));
    assert_eq!(s(get(&a.config, "key")), Some("none"));
    assert_eq!(s(get(&a.config, "payload")), Some("message"));
    assert_eq!(s(get(&a.config, "delivery_timeout")), Some("20s"));
    assert_eq!(s(get(&a.config, "spool_dir")), Some("run/audit/spool-bus"));
    let props = get(&a.config, "properties").unwrap();
    assert_eq!(s(get(props, "compression.type")), Some("zstd"));
    assert_eq!(s(get(props, "linger.ms")), Some("20"));
    let e = translate("log4j.rootLogger=INFO, bus\nlog4j.appender.bus=KafkaAppender\nlog4j.appender.bus.Topic=t\n")
            .unwrap_err();
    assert!(e.contains("KafkaAppender `bus` needs `Brokers`"), "{e}");
}

#[test]
fn mode_async_wraps_event_server_syslog_and_kafka_classes() {
    for (class, options, kind) in [
            (
                "EventServerAppender",
                "Url=http://127.0.0.1:11004\nlog4j.appender.a.AuthKey=k1\nlog4j.appender.a.SpoolDir=spool",
                "event_server",
            ),
            ("SyslogAppender", "SyslogHost=tcp://127.0.0.1:514", "syslog"),
            (
                "org.apache.kafka.log4jappender.KafkaLog4jAppender",
                "BrokerList=b:9092\nlog4j.appender.a.Topic=t",
                "kafka",
            ),
        ] {
            let c = translate(&format!(
                "log4j.rootLogger=INFO, a\nlog4j.appender.a={class}\nlog4j.appender.a.{options}\n\
                 log4j.appender.a.Mode=async\nlog4j.appender.a.Capacity=1024\n\
                 log4j.appender.a.WhenFull=Block\nlog4j.appender.a.ShutdownTimeout=5s\n"
            ))
            .unwrap();
            assert!(c.warnings.is_empty(), "{class}: {:?}", c.warnings);
            let a = &c.appenders[0].config;
            assert_eq!(a.kind, "async", "{class}");
            assert_eq!(get(&a.config, "capacity"), Some(&Value::U64(1024)));
            assert_eq!(s(get(&a.config, "when_full")), Some("block"));
            assert_eq!(s(get(&a.config, "shutdown_timeout")), Some("5s"));
            let inner = get(&a.config, "appender").unwrap();
            assert_eq!(s(get(inner, "kind")), Some(kind), "{class}");
            assert!(get(inner, "mode").is_none() && get(inner, "capacity").is_none());
        }
    let c = translate(
        "log4j.rootLogger=INFO, a\nlog4j.appender.a=SyslogAppender\nlog4j.appender.a.Mode=sync\n",
    )
    .unwrap();
    assert_eq!(c.appenders[0].config.kind, "syslog");
    let e = translate(
        "log4j.rootLogger=INFO, a\nlog4j.appender.a=SyslogAppender\nlog4j.appender.a.Mode=later\n",
    )
    .unwrap_err();
    assert!(e.contains("line 3") && e.contains("Mode `later`"), "{e}");
}
