//! log4j `.properties` configs end to end: the full `java.util.Properties` syntax, `${}`
//! substitution order, log4j keys (levels, additivity, thresholds, filters), errors and
//! warnings with file and line, events landing in real files, reload and `check-config`.

use std::path::Path;
use std::process::Command;

use log::{Level, LevelFilter, Log};
use log4rs_audit::config::{from_properties, PropertiesOptions};
use log4rs_audit::{lifecycle, AuditConfig, AuditLogger};

#[path = "support/lifecycle_lines.rs"]
mod lifecycle_lines;
use lifecycle_lines::{assert_started, lifecycle_types, without_lifecycle};

fn opts(overrides: &[(&str, &str)]) -> PropertiesOptions {
    PropertiesOptions {
        overrides: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ignore_env: true,
        strict: false,
    }
}

fn load(text: &str) -> AuditConfig {
    from_properties(text, Some(Path::new("t.properties")), &opts(&[]))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    from_properties(text, Some(Path::new("t.properties")), &opts(&[]))
        .unwrap_err()
        .to_string()
}

#[test]
fn java_properties_syntax_in_full() {
    let text = "# comment\r\n! bang comment\r\n  log4j.rootLogger : INFO, A\r\n\
                log4j.appender.A org.apache.log4j.ConsoleAppender\n\
                log4j.appender.A.layout=org.apache.log4j.PatternLayout\n\
                log4j.appender.A.layout.ConversionPattern=%d \\\n     %p\\t%m\\u0021%n\n\
                log4j.logger.a\\ b=WARN\n\
                log4j.logger.dup=ERROR\n\
                log4j.logger.dup=DEBUG\n";
    let c = load(text);
    assert_eq!(c.root.level, Some(LevelFilter::Info));
    assert_eq!(c.root.appenders, ["A"]);
    let pattern = format!("{:?}", c.appenders[0].config.config);
    assert!(pattern.contains(r#"String("%d %p\t%m!%n")"#), "{pattern}");
    assert!(c
        .loggers
        .iter()
        .any(|l| l.name == "a b" && l.level == Some(LevelFilter::Warn)));
    // The last duplicate wins.
    assert!(c
        .loggers
        .iter()
        .any(|l| l.name == "dup" && l.level == Some(LevelFilter::Debug)));
    assert_eq!(c.appenders[0].line, Some(4));
}

#[test]
fn substitution_order_overrides_env_file_and_recursion() {
    std::env::set_var("L4A_TEST_DIR", "/from-env");
    let text = "dir=/from-file\nname=${base}.log\nbase=audit\n\
                log4j.rootLogger=INFO, F\n\
                log4j.appender.F=org.apache.log4j.FileAppender\n\
                log4j.appender.F.File=${L4A_TEST_DIR}/${name}\n\
                log4j.appender.F.layout=com.dataiku.dip.logging.JSONAuditLayout\n";
    let with_env = PropertiesOptions {
        ignore_env: false,
        ..opts(&[])
    };
    let c = from_properties(text, None, &with_env).unwrap();
    assert!(format!("{:?}", c.appenders[0].config.config).contains("/from-env/audit.log"));
    let with_override = PropertiesOptions {
        ignore_env: false,
        ..opts(&[("L4A_TEST_DIR", "/over")])
    };
    let c = from_properties(text, None, &with_override).unwrap();
    assert!(format!("{:?}", c.appenders[0].config.config).contains("/over/audit.log"));
    let c = from_properties(&text.replace("${L4A_TEST_DIR}", "${dir}"), None, &opts(&[])).unwrap();
    assert!(format!("{:?}", c.appenders[0].config.config).contains("/from-file/audit.log"));
    // Undefined: empty with a warning naming the line; unclosed: an error naming the line.
    let c = load(&text.replace("${L4A_TEST_DIR}", "/x/${nope}"));
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].to_string(), "t.properties:6: log4j.appender.F.File: `${nope}` is not defined; it reads as empty (as in log4j)");
    let e = err(&text.replace("${L4A_TEST_DIR}/${name}", "/x/${oops"));
    assert!(
        e.starts_with("t.properties:6: log4j.appender.F.File: unclosed"),
        "{e}"
    );
}

#[test]
fn mistakes_are_errors_with_file_line_and_key() {
    let base = "log4j.rootLogger=INFO, R\nlog4j.appender.R=org.apache.log4j.RollingFileAppender\n\
                log4j.appender.R.File=/tmp/x.log\nlog4j.appender.R.MaxFileSize=10MB\n\
                log4j.appender.R.layout=org.apache.log4j.SimpleLayout\n";
    assert!(load(base).warnings.is_empty());
    let e = err(&base.replace("INFO, R", "LOUD, R"));
    assert!(
        e.starts_with("t.properties:1: log4j.rootLogger: unknown level `LOUD`"),
        "{e}"
    );
    let e = err(&base.replace("10MB", "10 parsecs"));
    assert!(
        e.starts_with("t.properties:4: log4j.appender.R.MaxFileSize: invalid size `10 parsecs`"),
        "{e}"
    );
    let e = err(&base.replace("log4j.appender.R.File=/tmp/x.log\n", ""));
    assert!(
        e.starts_with("t.properties:2: log4j.appender.R: appender `R` has no File option"),
        "{e}"
    );
    let e = err(&format!("{base}log4j.additivity.R=maybe\n"));
    assert!(
        e.starts_with("t.properties:6: log4j.additivity.R: `maybe` is not true or false"),
        "{e}"
    );
    let e = err("a=\\u12\n");
    assert!(e.starts_with("t.properties:1: malformed"), "{e}");
}

#[test]
fn unknown_classes_are_warnings_and_loggers_keep_their_other_appenders() {
    let text = "log4j.rootLogger=INFO, GOOD, SOCK, SYS\n\
                log4j.appender.GOOD=org.apache.log4j.varia.NullAppender\n\
                log4j.appender.SOCK=org.apache.log4j.net.SocketAppender\n\
                log4j.appender.SYS=org.apache.log4j.net.SyslogAppender\n\
                log4j.appender.SYS.SyslogHost=localhost\n";
    let c = load(text);
    // SyslogAppender is the `syslog` kind now (tests/suite/syslog.rs).
    assert_eq!(c.root.appenders, ["GOOD", "SYS"]);
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("t.properties:3: log4j.appender.SOCK: unknown appender class org.apache.log4j.net.SocketAppender"), "{w:?}");
    let strict = PropertiesOptions {
        strict: true,
        ..opts(&[])
    };
    let e = from_properties(text, Some(Path::new("t.properties")), &strict)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.properties:3: log4j.appender.SOCK:"), "{e}");
}

/// A config whose audit appender has thresholds and a filter chain, run through the logger.
#[test]
fn thresholds_and_filters_decide_like_log4j() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "log4j.threshold=DEBUG\n\
         log4j.rootLogger=TRACE, F\n\
         log4j.appender.F=org.apache.log4j.FileAppender\n\
         log4j.appender.F.File={dir}/f.log\n\
         log4j.appender.F.Threshold=INFO\n\
         log4j.appender.F.layout=com.dataiku.dip.logging.JSONAuditLayout\n\
         log4j.appender.F.filter.1=org.apache.log4j.varia.StringMatchFilter\n\
         log4j.appender.F.filter.1.StringToMatch=secret\n\
         log4j.appender.F.filter.1.AcceptOnMatch=false\n\
         log4j.appender.F.filter.2=org.apache.log4j.varia.LevelMatchFilter\n\
         log4j.appender.F.filter.2.LevelToMatch=ERROR\n\
         log4j.appender.F.filter.10=org.apache.log4j.varia.LevelRangeFilter\n\
         log4j.appender.F.filter.10.LevelMin=INFO\n\
         log4j.appender.F.filter.10.LevelMax=WARN\n\
         log4j.appender.F.filter.10.AcceptOnMatch=true\n\
         log4j.appender.F.filter.11=org.apache.log4j.varia.DenyAllFilter\n",
        dir = dir.path().display()
    );
    let config = from_properties(&text, None, &opts(&[])).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let (logger, _handle) = AuditLogger::new(config).unwrap();
    for (level, msg) in [
        (Level::Debug, "debug: below the appender threshold"),
        (Level::Info, "info: accepted by the range filter"),
        (Level::Info, "info with secret: denied by the string filter"),
        // log4j sorts filter IDs as strings (1, 10, 11, 2): the range filter (10) denies ERROR
        // before the level match (2) could accept it.
        (
            Level::Error,
            "error: denied by the range filter, which runs before filter 2",
        ),
        (Level::Warn, "warn: accepted by the range filter"),
        (Level::Trace, "trace: below log4j.threshold"),
    ] {
        logger.log(
            &log::Record::builder()
                .target("app")
                .level(level)
                .args(format_args!("{msg}"))
                .build(),
        );
    }
    logger.flush();
    let text = std::fs::read_to_string(dir.path().join("f.log")).unwrap();
    // The root at TRACE makes `F` an audit target: the logger's start, at INFO, passes its
    // threshold and log4j filters as any INFO event does, first.
    let all: Vec<&str> = text.lines().collect();
    assert_started(&all, "f.log");
    assert_eq!(lifecycle_types(&all), [lifecycle::START]);
    let messages: Vec<String> = without_lifecycle(all)
        .into_iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        messages,
        [
            "info: accepted by the range filter",
            "warn: accepted by the range filter"
        ]
    );
}

#[test]
fn dku_default_file_works_unchanged_through_init_file_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("log4j.properties");
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/dku-log4j.properties"),
    )
    .unwrap();
    let example = example.replace("${DIP_HOME}", &dir.path().join("dss").display().to_string());
    std::fs::write(&cfg, format!("log4rs.refresh_rate=50 ms\n{example}")).unwrap();
    let (logger, handle) = AuditLogger::new(AuditConfig::from_file(&cfg).unwrap()).unwrap();
    let kvs = [("msgType", log::kv::Value::from("login"))];
    let event = |logger: &AuditLogger| {
        logger.log(
            &log::Record::builder()
                .target("dku.audit.generic")
                .level(Level::Info)
                .key_values(&kvs)
                .build(),
        )
    };
    event(&logger);
    logger.log(
        &log::Record::builder()
            .target("app")
            .level(Level::Error)
            .args(format_args!("not audit"))
            .build(),
    );
    let audit = dir.path().join("dss/run/audit/audit.log");
    let trail = || -> Vec<String> {
        std::fs::read_to_string(&audit)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let lines = || without_lifecycle(trail()).len();
    assert_eq!(lines(), 1);
    assert_started(&trail(), "audit.log");
    // A broken edit is reported and changes nothing; the fixed file applies.
    let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = errors.clone();
    handle.set_error_handler(move |e| sink.lock().unwrap().push(e.to_string()));
    std::fs::write(
        &cfg,
        format!(
            "log4rs.refresh_rate=50 ms\n{}",
            example.replace("MaxBackupIndex=20", "MaxBackupIndex=twenty")
        ),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while errors.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload error reported"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let e = errors.lock().unwrap()[0].clone();
    assert!(
        e.contains(&format!(
            "{}:13: log4j.appender.AUDITFILE.MaxBackupIndex: `twenty` is not a whole number",
            cfg.display()
        )),
        "{e}"
    );
    event(&logger);
    assert_eq!(lines(), 2);
    // The refused reload is in the trail, between the two events.
    let msg_types: Vec<String> = trail()
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]["msgType"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        msg_types,
        [
            lifecycle::START,
            "login",
            lifecycle::CONFIG_CHANGE_REFUSED,
            "login"
        ]
    );
}

#[test]
fn check_config_prints_resolution_warnings_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.properties");
    std::fs::write(
        &cfg,
        "log4j.rootLogger=WARN\nlog4j.logger.dku.audit=INFO, AUDIT, GONE\nlog4j.additivity.dku.audit=false\n\
         log4j.appender.AUDIT=org.apache.log4j.RollingFileAppender\nlog4j.appender.AUDIT.File=${DIP_HOME}/run/audit/audit.log\n\
         log4j.appender.AUDIT.MaxFileSize=100MB\nlog4j.appender.AUDIT.MaxBackupIndex=20\n\
         log4j.appender.AUDIT.layout=com.dataiku.dip.logging.JSONAuditLayout\n\
         log4j.appender.GONE=com.example.VendorAppender\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .arg("check-config")
            .arg(&cfg)
            .args(args)
            .env_remove("DIP_HOME")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, stdout, stderr) = run(&["-D", "DIP_HOME=/data/dss"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("dku.audit") && stdout.contains("-> AUDIT  (additive: false)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("AUDIT                audit_file  -> /data/dss/run/audit/audit.log"),
        "{stdout}"
    );
    assert!(
        stdout.contains("max_size 100MB; max_backups 20; audit_envelope"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "warning: {}:9: log4j.appender.GONE: unknown appender class com.example.VendorAppender",
            cfg.display()
        )),
        "{stdout}"
    );
    let (code, _, stderr) = run(&["-D", "DIP_HOME=/data/dss", "--strict"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!("{}:9: log4j.appender.GONE", cfg.display())),
        "{stderr}"
    );
    // Without DIP_HOME the path is relative to the root, with a warning naming the line.
    let (code, stdout, _) = run(&[]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains(&format!(
            "warning: {}:5: log4j.appender.AUDIT.File: `${{DIP_HOME}}` is not defined",
            cfg.display()
        )),
        "{stdout}"
    );
}

#[test]
fn audit_route_filter_makes_per_topic_targets_in_properties() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "log4j.logger.dku.audit=INFO, AUTHFAIL, FRAUD\nlog4j.additivity.dku.audit=false\n\
         log4j.appender.AUTHFAIL=AuditFileAppender\nlog4j.appender.AUTHFAIL.File={dir}/authfail.log\n\
         log4j.appender.AUTHFAIL.filter.1=AuditRouteFilter\nlog4j.appender.AUTHFAIL.filter.1.Topics=authfail, generic-failure\n\
         log4j.appender.FRAUD=AuditFileAppender\nlog4j.appender.FRAUD.File={dir}/fraud.log\n\
         log4j.appender.FRAUD.filter.1=AuditRouteFilter\nlog4j.appender.FRAUD.filter.1.Topics=apinode-query\n\
         log4j.appender.FRAUD.filter.1.RoutingKeys=fraud-svc\n",
        dir = dir.path().display()
    );
    let config = from_properties(&text, None, &opts(&[])).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let (logger, _handle) = AuditLogger::new(config).unwrap();
    for (target, msg_type, rk) in [
        ("dku.audit.authfail", "authentication-failed", None),
        ("dku.audit.generic", "login", None),
        ("dku.audit.apinode-query", "q1", Some("fraud-svc")),
        ("dku.audit.apinode-query", "q2", Some("churn-svc")),
    ] {
        let mut kvs = vec![("msgType", log::kv::Value::from(msg_type))];
        if let Some(rk) = rk {
            kvs.push(("routingKey", rk.into()));
        }
        logger.log(
            &log::Record::builder()
                .target(target)
                .level(Level::Info)
                .key_values(&kvs)
                .build(),
        );
    }
    let trail = |f: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(f))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let types = |f: &str| -> Vec<String> {
        without_lifecycle(trail(f))
            .iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]["msgType"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(types("authfail.log"), ["authentication-failed"]);
    assert_eq!(types("fraud.log"), ["q1"]);
    // Both are audit targets: the start reaches them past their route filters, first.
    for f in ["authfail.log", "fraud.log"] {
        assert_started(&trail(f), f);
        assert_eq!(lifecycle_types(trail(f)), [lifecycle::START], "{f}");
    }
    let bad = text.replace("authfail, generic-failure", "authfial");
    let e = from_properties(&bad, Some(Path::new("r.properties")), &opts(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("r.properties:6: log4j.appender.AUTHFAIL.filter.1.Topics: unknown audit topic `authfial`"),
        "{e}"
    );
}

#[test]
fn log4j_reads_additivity_only_for_configured_loggers_and_ignores_foreign_options() {
    let text = "log4j.rootLogger=INFO, F\nlog4j.additivity.dku.audit=false\n\
                log4j.threshold=WARN\n\
                log4j.appender.F=org.apache.log4j.FileAppender\nlog4j.appender.F.File=/tmp/f.log\n\
                log4j.appender.F.MaxFileSize=1KB\n\
                log4j.appender.F.layout=org.apache.log4j.SimpleLayout\n\
                log4j.appender.F.filter.1=org.apache.log4j.varia.LevelMatchFilter\n\
                log4j.appender.F.filter.1.LevelToMatch=INFO\n";
    let c = load(text);
    // No logger `dku.audit`: the additivity line is ignored (as log4j does), with a warning.
    assert!(c.loggers.is_empty(), "{:?}", c.loggers);
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter().any(|w| w.starts_with(
            "t.properties:2: log4j.additivity.dku.audit: no `log4j.logger.dku.audit`"
        )),
        "{w:?}"
    );
    // FileAppender has no MaxFileSize: warned about and not applied (no rolling, no deletion).
    assert!(w.iter().any(|w| w.starts_with("t.properties:6: log4j.appender.F.MaxFileSize: org.apache.log4j.FileAppender has no option `maxfilesize`")), "{w:?}");
    let options = format!("{:?}", c.appenders[0].config.config);
    assert!(!options.contains("policy"), "{options}");
    // The repository threshold comes before the appender's filters.
    let kinds: Vec<&str> = c.appenders[0]
        .config
        .filters
        .iter()
        .map(|f| f.kind.as_str())
        .collect();
    assert_eq!(kinds, ["threshold", "log4j_level_match"]);
}

#[test]
fn check_config_reads_other_extensions_with_format() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("log4j.properties.template");
    std::fs::write(
        &cfg,
        "log4j.rootLogger=WARN, N\nlog4j.appender.N=org.apache.log4j.varia.NullAppender\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .arg("check-config")
            .arg(&cfg)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    // Without --format the content decides (issue 16), and the listing says it guessed.
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.starts_with("note: ") && stdout.contains("read as Java properties"),
        "{stdout}"
    );
    assert!(
        stdout.contains("N                    null        -> (discarded)"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(&["--format", "properties"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.contains("note:"), "{stdout}");
    assert!(
        stdout.contains("N                    null        -> (discarded)"),
        "{stdout}"
    );
    // A name that says no format and content that is not properties: still refused.
    std::fs::write(&cfg, "appenders: {}\n").unwrap();
    let (code, _, stderr) = run(&[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("unsupported config format"), "{stderr}");
}

/// With stdout and stderr in one file (`2>&1`), the listing comes first and every warning and
/// error is a line of its own: a syslog appender's details (`payload envelope`) never run into
/// the first error.
#[test]
fn check_config_listing_and_errors_do_not_run_together() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("log4j.properties");
    std::fs::write(
        &config,
        "log4j.rootLogger=INFO, SYS, BAD\n\
         log4j.appender.SYS=org.apache.log4j.net.SyslogAppender\n\
         log4j.appender.SYS.SyslogHost=127.0.0.1:5514\n\
         log4j.appender.SYS.SpoolDir=spool\n\
         log4j.appender.BAD=org.apache.log4j.ConsoleAppender\n\
         log4j.appender.BAD.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.BAD.layout.ConversionPattern=%q %m%n\n",
    )
    .unwrap();
    let combined = tmp.path().join("out.txt");
    let file = std::fs::File::create(&combined).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .arg("check-config")
        .arg(&config)
        .current_dir(tmp.path())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert!(!status.success());
    let text = std::fs::read_to_string(&combined).unwrap();
    assert!(text.contains("payload envelope"), "{text}");
    let first_error = text.find("error: ").expect("an error");
    assert!(text[..first_error].ends_with('\n'), "{text}");
    assert!(
        !text[first_error..].contains("topics:"),
        "listing after errors: {text}"
    );
    for line in text.lines().filter(|l| l.contains("error:")) {
        assert!(line.starts_with("error: "), "{line:?} in {text}");
    }
}
