//! Audit that no log level can switch off (issue 14): `audit!` reaches the installed pipeline
//! whatever `log::max_level()` is, whichever `log` features the program was built with; only
//! the audit config decides. Plain `log` records keep `log`'s rules.

use std::path::Path;
use std::process::Command;

use log4rs_audit::{audit, AuditConfig, InitError};

fn config(dir: &Path) -> AuditConfig {
    let yaml = format!(
        "appenders:\n  audit: {{ kind: audit_file, path: '{}/audit.log' }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n",
        dir.display()
    );
    AuditConfig::from_yaml(&yaml, None).unwrap()
}

fn msg_types(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["message"]["msgType"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The one test of this binary that installs the pipeline (one per process).
#[test]
fn log_levels_do_not_switch_audit_off_and_the_pipeline_cannot_be_swapped() {
    let dir = tempfile::tempdir().unwrap();
    let handle = log4rs_audit::init_config(config(dir.path())).unwrap();

    log::set_max_level(log::LevelFilter::Off);
    for n in 0..4 {
        audit!(generic, "audited", n = n);
    }
    // A plain `log` record keeps `log`'s rules: switched off with the level.
    log::info!(target: "dku.audit.generic", msgType = "plain-while-off"; "");
    log::set_max_level(log::LevelFilter::Info);
    log::info!(target: "dku.audit.generic", msgType = "plain-while-on"; "");
    handle.flush();
    // The trail starts with the logger's own `audit-logger-start`.
    assert_eq!(
        msg_types(dir.path()),
        [
            "audit-logger-start",
            "audited",
            "audited",
            "audited",
            "audited",
            "plain-while-on"
        ]
    );

    // Nothing installed after it takes `audit!` away from the running trail.
    let other = tempfile::tempdir().unwrap();
    let second = log4rs_audit::init_config(config(other.path())).unwrap_err();
    assert!(matches!(second, InitError::AlreadyInstalled(_)), "{second}");
    #[cfg(feature = "tracing")]
    {
        let layer = log4rs_audit::AuditLayer::from_config(config(other.path())).unwrap_err();
        assert!(matches!(layer, InitError::AlreadyInstalled(_)), "{layer}");
        assert!(layer.to_string().contains("already installed"), "{layer}");
    }

    // The audit config does decide: a reload that raises the level stops the event.
    let mut quiet = handle.config();
    for l in &mut quiet.loggers {
        l.level = Some(log::LevelFilter::Warn);
    }
    handle.set_config(quiet).unwrap();
    audit!(generic, "below-the-configured-level");
    handle.flush();
    // The change itself is the trail's last word: the target no longer takes audit events.
    let got = msg_types(dir.path());
    assert_eq!(got.len(), 7, "{got:?}");
    assert_eq!(got[6], "audit-config-change");
}

/// `tests/level-off`: a program built with `log`'s `max_level_off` and
/// `release_max_level_off`, so `log::info!` compiles to nothing; its four `audit!` events
/// arrive all the same.
#[test]
fn audit_survives_log_compiled_to_level_off() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let krate = root.join("tests/level-off");
    // The main crate's lock, so the build uses the versions everything else was tested with.
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = root.join("target/level-off");
    let build = Command::new(&cargo)
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(krate.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "building tests/level-off: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new(target.join("debug/level-off-check"))
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(stdout.trim(), "STATIC_MAX_LEVEL=OFF");
    // Between the logger's own start and stop (the handle drops at the end of main).
    let mut want = vec!["audit-logger-start"];
    want.extend(["numbered"; 4]);
    want.push("audit-logger-stop");
    assert_eq!(msg_types(dir.path()), want);
}
