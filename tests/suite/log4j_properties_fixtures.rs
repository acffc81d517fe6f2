//! The 24 real log4j 1.x configs of `../shared/fixtures/log4j-properties/` load with zero errors,
//! and resolve to the loggers, appenders and file paths log4j would use.
//!
//! The fixtures live outside the repository: when they are missing the test fails under
//! `CI=true` and is skipped (with a message) otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use log::LevelFilter;
use log4rs_audit::config::{from_properties, PropertiesOptions};
use log4rs_audit::AuditConfig;
use serde_value::Value;

fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/log4j-properties");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{} is missing: CI must have ../shared/", dir.display());
    }
    eprintln!(
        "skipped: {} not found (the shared fixtures are not part of the repository)",
        dir.display()
    );
    None
}

fn load(dir: &Path, file: &str, overrides: &[(&str, &str)]) -> AuditConfig {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let options = PropertiesOptions {
        overrides: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ignore_env: true,
        strict: false,
    };
    from_properties(&text, Some(&path), &options).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn option<'a>(c: &'a AuditConfig, appender: &str, key: &str) -> Option<&'a Value> {
    let spec = c.appenders.iter().find(|a| a.name == appender)?;
    let Value::Map(map) = &spec.config.config else {
        return None;
    };
    map.get(&Value::String(key.into()))
}

fn kind(c: &AuditConfig, appender: &str) -> String {
    c.appenders
        .iter()
        .find(|a| a.name == appender)
        .map(|a| a.config.kind.clone())
        .unwrap_or_else(|| "<absent>".into())
}

fn path(c: &AuditConfig, appender: &str) -> String {
    match option(c, appender, "path") {
        Some(Value::String(p)) => p.clone(),
        other => panic!("{appender}: path {other:?}"),
    }
}

fn policy(c: &AuditConfig, appender: &str, key: &str) -> Option<Value> {
    match option(c, appender, "policy")? {
        Value::Map(m) => m.get(&Value::String(key.into())).cloned(),
        _ => None,
    }
}

fn pattern(c: &AuditConfig, appender: &str) -> String {
    match option(c, appender, "encoder") {
        Some(Value::Map(m)) => match m.get(&Value::String("pattern".into())) {
            Some(Value::String(p)) => p.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn filter_kinds(c: &AuditConfig, appender: &str) -> Vec<String> {
    c.appenders
        .iter()
        .find(|a| a.name == appender)
        .map(|a| a.config.filters.iter().map(|f| f.kind.clone()).collect())
        .unwrap_or_default()
}

fn logger<'a>(c: &'a AuditConfig, name: &str) -> &'a log4rs_audit::config::LoggerSpec {
    c.loggers
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no logger {name}"))
}

fn root(c: &AuditConfig) -> (Option<LevelFilter>, Vec<&str>) {
    (
        c.root.level,
        c.root.appenders.iter().map(String::as_str).collect(),
    )
}

fn warned(c: &AuditConfig, needle: &str) -> bool {
    c.warnings.iter().any(|w| w.to_string().contains(needle))
}

#[test]
fn every_fixture_loads_and_resolves() {
    let Some(dir) = fixtures() else { return };
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "SOURCES.md")
        .collect();
    files.sort();
    assert_eq!(files.len(), 24, "{files:?}");

    let mut checked = BTreeMap::new();
    let mut check = |file: &str, overrides: &[(&str, &str)], facts: &dyn Fn(&AuditConfig)| {
        let c = load(&dir, file, overrides);
        facts(&c);
        checked.insert(file.to_owned(), c.warnings.len());
    };

    check(
        "accumulo__conf__templates__generic_logger.properties",
        &[
            ("org.apache.accumulo.core.dir.log", "/var/log/accumulo"),
            ("org.apache.accumulo.core.application", "tserver"),
            ("org.apache.accumulo.core.ip.localhost.hostname", "h1"),
        ],
        &|c| {
            assert_eq!(root(c), (Some(LevelFilter::Info), vec!["A2", "A3"]));
            assert_eq!(
                path(c, "A2"),
                "/var/log/accumulo/tserver_h1_fromprops.debug.log"
            );
            assert_eq!(kind(c, "ASYNC"), "<absent>");
            assert!(warned(c, "AsyncSocketAppender"));
        },
    );
    check(
        "activemq__assembly__src__release__conf__log4j.properties",
        &[("activemq.base", "/opt/amq")],
        &|c| {
            assert_eq!(path(c, "logfile"), "/opt/amq/data/activemq.log");
            assert_eq!(path(c, "audit"), "/opt/amq/data/audit.log");
            assert_eq!(
                policy(c, "logfile", "max_size"),
                Some(Value::String("1024KB".into()))
            );
            assert_eq!(kind(c, "console"), "console");
        },
    );
    check("alluxio__conf__log4j.properties", &[], &|c| {
        assert!(warned(c, "${alluxio.logger.type}"));
        assert!(c.root.appenders.is_empty());
        assert!(warned(c, "alluxio.metrics.EventCounter") || c.appenders.is_empty());
    });
    check("cassandra__conf__log4j-server.properties", &[], &|c| {
        assert_eq!(root(c), (Some(LevelFilter::Info), vec!["stdout", "R"]));
        assert_eq!(path(c, "R"), "/var/log/cassandra/system.log");
        assert_eq!(
            policy(c, "R", "max_size"),
            Some(Value::String("20MB".into()))
        );
        assert_eq!(policy(c, "R", "max_backups"), Some(Value::U32(50)));
        assert_eq!(pattern(c, "stdout"), "%5p %d{HH:mm:ss,SSS} %m%n");
        assert_eq!(
            logger(c, "org.apache.thrift.server.TNonblockingServer").level,
            Some(LevelFilter::Error)
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    });
    check("chukwa__conf__hadoop-log4j.properties", &[], &|c| {
        assert!(warned(c, "log4j.additivity.SecurityLogger"));
        assert!(warned(c, "did you mean `log4j.threshold`"));
        assert!(warned(c, "ChukwaDailyRollingFileAppender"));
    });
    check("flume__conf__log4j.properties", &[], &|c| {
        assert_eq!(root(c).1, vec!["console"]);
    });
    check(
        "hadoop__hadoop-common-project__hadoop-common__src__main__conf__log4j.properties",
        &[],
        &|c| {
            assert_eq!(root(c), (Some(LevelFilter::Info), vec!["console"]));
            assert_eq!(kind(c, "NullAppender"), "null");
            assert!(warned(c, "org.apache.hadoop.log.metrics.EventCounter"));
        },
    );
    check(
        "hadoop__hadoop-common-project__hadoop-kms__src__main__conf__kms-log4j.properties",
        &[("kms.log.dir", "/var/log/kms")],
        &|c| {
            assert_eq!(path(c, "kms"), "/var/log/kms/kms.log");
            assert_eq!(path(c, "kms-audit"), "/var/log/kms/kms-audit.log");
            assert!(!logger(c, "kms-audit").additive);
        },
    );
    check("hadoop__hadoop-yarn-project__hadoop-yarn__hadoop-yarn-server__hadoop-yarn-server-nodemanager__src__main__resources__container-log4j.properties", &[], &|c| {
        assert!(warned(c, "ContainerLogAppender"));
    });
    check("hbase__conf__log4j.properties", &[], &|c| {
        assert_eq!(root(c), (Some(LevelFilter::Info), vec!["console"]));
        assert_eq!(
            pattern(c, "console"),
            "%d{ISO8601} %-5p [%t] %c{2}: %.1000m%n"
        );
        // log4j.threshold=ALL reaches every appender.
        assert_eq!(filter_kinds(c, "console"), ["threshold"]);
        assert_eq!(logger(c, "SecurityLogger").appenders, ["console"]);
        assert!(!logger(c, "SecurityLogger").additive);
    });
    check(
        "hive__common__src__main__resources__hive-log4j.properties",
        &[],
        &|c| {
            assert_eq!(root(c), (Some(LevelFilter::Warn), vec!["DRFA"]));
            // Java's system properties: java.io.tmpdir and user.name.
            let p = path(c, "DRFA");
            assert!(
                p.starts_with(&std::env::temp_dir().display().to_string()),
                "{p}"
            );
            assert!(p.ends_with("/hive.log"), "{p}");
            assert_eq!(
                policy(c, "DRFA", "date_pattern"),
                Some(Value::String(".yyyy-MM-dd".into()))
            );
        },
    );
    check(
        "kafka__config__connect-log4j.properties",
        &[("kafka.logs.dir", "/var/log/kafka")],
        &|c| {
            assert_eq!(path(c, "connectAppender"), "/var/log/kafka/connect.log");
        },
    );
    check(
        "kafka__config__log4j.properties",
        &[("kafka.logs.dir", "/var/log/kafka")],
        &|c| {
            assert_eq!(
                root(c),
                (Some(LevelFilter::Info), vec!["stdout", "kafkaAppender"])
            );
            assert_eq!(path(c, "kafkaAppender"), "/var/log/kafka/server.log");
            assert_eq!(
                policy(c, "kafkaAppender", "date_pattern"),
                Some(Value::String("'.'yyyy-MM-dd-HH".into()))
            );
            let request = logger(c, "kafka.request.logger");
            assert_eq!(
                (
                    request.level,
                    request.additive,
                    request.appenders.as_slice()
                ),
                (
                    Some(LevelFilter::Warn),
                    false,
                    &["requestAppender".to_owned()][..]
                )
            );
            assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        },
    );
    check("kafka__config__tools-log4j.properties", &[], &|c| {
        assert_eq!(root(c), (Some(LevelFilter::Info), vec!["stderr"]));
        assert_eq!(
            option(c, "stderr", "target"),
            Some(&Value::String("stderr".into()))
        );
        assert_eq!(
            logger(c, "org.apache.kafka.common.security").level,
            Some(LevelFilter::Debug)
        );
    });
    check("karaf__assemblies__apache-karaf__src__main__distribution__text__etc__org.ops4j.pax.logging.cfg", &[("karaf.data", "/opt/karaf/data")], &|c| {
        assert_eq!(path(c, "out"), "/opt/karaf/data/log/karaf.log");
        assert!(warned(c, "osgi:*"));
    });
    check(
        "knox__gateway-release__home__conf__gateway-log4j.properties",
        &[
            ("launcher.dir", "/opt/knox/bin"),
            ("launcher.name", "gateway"),
        ],
        &|c| {
            assert_eq!(root(c).0, Some(LevelFilter::Error));
            assert!(warned(c, "AuditLayout"));
            assert_eq!(kind(c, "auditfile"), "<absent>");
        },
    );
    check(
        "log4j1__examples__lf5__InitUsingMultipleAppenders__example.properties",
        &[],
        &|c| {
            assert_eq!(root(c), (Some(LevelFilter::Debug), vec!["R"]));
            assert!(warned(c, "LF5Appender"));
        },
    );
    check(
        "nutch__conf__log4j.properties",
        &[
            ("hadoop.log.dir", "/var/log/nutch"),
            ("hadoop.log.file", "hadoop.log"),
        ],
        &|c| {
            assert_eq!(path(c, "DRFA"), "/var/log/nutch/hadoop.log");
        },
    );
    check(
        "oozie__core__src__main__conf__oozie-log4j.properties",
        &[("oozie.log.dir", "/var/log/oozie")],
        &|c| {
            assert_eq!(path(c, "oozieops"), "/var/log/oozie/oozie-ops.log");
            assert!(warned(c, "org.apache.log4j.rolling.RollingFileAppender"));
        },
    );
    check("pig__conf__log4j.properties", &[], &|c| {
        assert_eq!(root(c).1, vec!["A"]);
        assert_eq!(kind(c, "A"), "console");
    });
    check(
        "solr__solr__server__resources__log4j.properties",
        &[("solr.log.dir", "/var/solr/logs")],
        &|c| {
            assert_eq!(path(c, "file"), "/var/solr/logs/solr.log");
            assert_eq!(root(c), (Some(LevelFilter::Info), vec!["file", "CONSOLE"]));
        },
    );
    check("spark__conf__log4j.properties.template", &[], &|c| {
        assert_eq!(root(c), (Some(LevelFilter::Info), vec!["console"]));
        assert_eq!(
            option(c, "console", "target"),
            Some(&Value::String("stderr".into()))
        );
        assert_eq!(filter_kinds(c, "console"), ["log4j_string_match"]);
        assert_eq!(
            logger(c, "org.apache.hadoop.hive.metastore.RetryingHMSHandler").level,
            Some(LevelFilter::Error)
        );
        assert_eq!(
            logger(c, "org.apache.spark.repl.SparkIMain$exprTyper").level,
            Some(LevelFilter::Info)
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    });
    check(
        "zeppelin__conf__log4j.properties",
        &[("zeppelin.log.file", "/var/log/zeppelin/zeppelin.log")],
        &|c| {
            assert_eq!(path(c, "dailyfile"), "/var/log/zeppelin/zeppelin.log");
            assert_eq!(filter_kinds(c, "dailyfile"), ["threshold"]);
        },
    );
    check("zookeeper__conf__log4j.properties", &[], &|c| {
        // rootLogger and the audit logger are built from variables of the same file.
        assert_eq!(root(c), (Some(LevelFilter::Info), vec!["CONSOLE"]));
        assert_eq!(path(c, "RFAAUDIT"), "./zookeeper_audit.log");
        let audit = logger(c, "org.apache.zookeeper.audit.Log4jAuditLogger");
        assert_eq!(
            (audit.level, audit.additive),
            (Some(LevelFilter::Info), false)
        );
        assert_eq!(filter_kinds(c, "CONSOLE"), ["threshold"]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    });

    let unchecked: Vec<&String> = files.iter().filter(|f| !checked.contains_key(*f)).collect();
    assert!(
        unchecked.is_empty(),
        "fixtures without facts: {unchecked:?}"
    );
}

#[test]
fn strict_mode_turns_the_first_warning_into_an_error() {
    let Some(dir) = fixtures() else { return };
    let file = "chukwa__conf__hadoop-log4j.properties";
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let options = PropertiesOptions {
        strict: true,
        ignore_env: true,
        ..PropertiesOptions::default()
    };
    let e = from_properties(&text, Some(&dir.join(file)), &options)
        .unwrap_err()
        .to_string();
    assert!(e.contains(file) && e.contains(':'), "{e}");
}

/// `check-config` on corpus files whose names say no format (Spark's `.template`, Karaf's
/// `.cfg`) reads them as properties by their `log4j.` keys, saying it guessed; a file with no
/// such key is still refused, asking for a format.
#[test]
fn check_config_guesses_properties_from_log4j_keys_and_says_so() {
    let Some(dir) = fixtures() else { return };
    let run = |path: &Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .arg("check-config")
            .arg(path)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for file in [
        "spark__conf__log4j.properties.template",
        "karaf__assemblies__apache-karaf__src__main__distribution__text__etc__org.ops4j.pax.logging.cfg",
    ] {
        let (ok, stdout, stderr) = run(&dir.join(file));
        assert!(ok, "{file}: {stdout}{stderr}");
        let first = stdout.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("note: ") && first.contains("read as Java properties"),
            "{file}: {stdout}"
        );
        assert!(stdout.contains(" 0 errors"), "{file}: {stdout}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let other = tmp.path().join("settings.cfg");
    std::fs::write(&other, "appenders: {}\n").unwrap();
    let (ok, stdout, stderr) = run(&other);
    assert!(!ok && !stdout.contains("note:"), "{stdout}");
    assert!(stderr.contains("unsupported config format"), "{stderr}");
}

/// Every corpus file runs, not only loads: its whole config (encoders, filters, appenders) is
/// built with every file appender writing into a temporary folder (and every spool there too),
/// one event is logged through each logger that has appenders, and every file appender that
/// event can reach (by level) holds its line. Variables a `File` option leaves undefined are
/// defined (to a relative name) so that no appender is left out for want of a file name.
#[test]
fn every_fixture_builds_and_logs() {
    use log::Log;
    use log4rs_audit::config::check;

    let Some(dir) = fixtures() else { return };
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "SOURCES.md")
        .collect();
    files.sort();
    let (mut appenders_checked, mut unreached) = (0, Vec::new());
    for file in &files {
        let tmp = tempfile::tempdir().unwrap();
        // Define what a `File` option leaves undefined, so every file appender stays in.
        let first = load(&dir, file, &[]);
        let undefined: Vec<String> = first
            .warnings
            .iter()
            .filter_map(|w| {
                let w = w.to_string();
                if !w.to_ascii_lowercase().contains(".file: `${") {
                    return None;
                }
                let start = w.find("`${")? + 3;
                let end = start + w[start..].find("}`")?;
                Some(w[start..end].to_owned())
            })
            .collect();
        let overrides: Vec<(&str, &str)> = undefined.iter().map(|v| (v.as_str(), "v")).collect();
        let mut config = load(&dir, file, &overrides);

        // Files and spools into the temporary folder.
        let mut files_written = BTreeMap::new();
        for spec in &mut config.appenders {
            let target = tmp.path().join(format!("{}.log", spec.name));
            let redirected = redirect(&mut spec.config.config, &target, tmp.path());
            if redirected {
                files_written.insert(spec.name.clone(), target);
            }
        }
        let errors = check::validate(&config, &log4rs_audit::config::deserializers());
        assert!(errors.is_empty(), "{file}: {errors:?}");

        let (logger, handle) = log4rs_audit::AuditLogger::new(config.clone())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut reached = std::collections::BTreeSet::new();
        let loggers = std::iter::once(&config.root).chain(&config.loggers);
        for l in loggers {
            if l.appenders.is_empty() {
                continue;
            }
            let target = if l.name.is_empty() {
                "corpus.root.check"
            } else {
                l.name.as_str()
            };
            let metadata = log::Metadata::builder()
                .target(target)
                .level(log::Level::Error)
                .build();
            if logger.enabled(&metadata) {
                logger.log(
                    &log::Record::builder()
                        .metadata(metadata)
                        .args(format_args!("corpus check of {file} through {target}"))
                        .build(),
                );
                reached.extend(reachable(&config, target));
            }
        }
        handle.flush();
        drop(handle);
        for (appender, path) in &files_written {
            if !reached.contains(appender) || has_dropping_filter(&config, appender) {
                unreached.push(format!("{file}: {appender}"));
                continue;
            }
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("{file}: appender {appender}: {}: {e}", path.display()));
            assert!(
                text.contains("corpus check of"),
                "{file}: appender {appender} wrote {text:?}"
            );
            appenders_checked += 1;
        }
    }
    assert!(
        appenders_checked >= 20,
        "only {appenders_checked} file appenders checked"
    );
    eprintln!(
        "{} corpus files built and logged; {appenders_checked} file appenders got their line; \
         not reached by an ERROR event or behind a match filter: {unreached:?}",
        files.len()
    );
}

/// Points a file appender's `path` (or the wrapped one's, under `async`) at `target` and any
/// `spool_dir` into `tmp`; whether it writes a file.
fn redirect(options: &mut Value, target: &Path, tmp: &Path) -> bool {
    let Value::Map(map) = options else {
        return false;
    };
    let key = |k: &str| Value::String(k.to_owned());
    if let Some(spool) = map.get_mut(&key("spool_dir")) {
        *spool = Value::String(tmp.join("spool").display().to_string());
    }
    if let Some(inner) = map.get_mut(&key("appender")) {
        return redirect(inner, target, tmp);
    }
    match map.get_mut(&key("path")) {
        Some(path) => {
            *path = Value::String(target.display().to_string());
            true
        }
        None => false,
    }
}

/// The appenders an event of logger `target` reaches: the loggers from `target` up to the root,
/// stopping after one that is not additive.
fn reachable(config: &AuditConfig, target: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut name = target.to_owned();
    loop {
        if let Some(l) = config.loggers.iter().find(|l| l.name == name) {
            out.extend(l.appenders.iter().cloned());
            if !l.additive {
                return out;
            }
        }
        match name.rfind('.') {
            Some(i) => name.truncate(i),
            None => break,
        }
    }
    out.extend(config.root.appenders.iter().cloned());
    out
}

/// Whether a filter of the appender may drop an ERROR event (log4j's match and deny filters).
fn has_dropping_filter(config: &AuditConfig, appender: &str) -> bool {
    config
        .appenders
        .iter()
        .find(|a| a.name == appender)
        .is_some_and(|a| {
            a.config
                .filters
                .iter()
                .any(|f| f.kind.starts_with("log4j_") && f.kind != "log4j_level_range")
        })
}
