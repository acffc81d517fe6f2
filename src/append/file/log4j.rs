//! log4j's file appender classes (`FileAppender`, `RollingFileAppender`,
//! `DailyRollingFileAppender`) and this crate's `AuditFileAppender`, as `audit_file`.

use serde_value::Value;

use crate::config::properties::{AppenderProperties, Log4jClass, Map, Translated};
use crate::config::ConfigError;

/// Options of log4j's FileAppender, which its rolling subclasses share.
const FILE_OPTIONS: &[&str] = &[
    "file",
    "append",
    "bufferedio",
    "buffersize",
    "immediateflush",
    "encoding",
    "name",
];

/// Options of this crate's `AuditFileAppender` (`mode: async` and its queue included).
const AUDIT_FILE_OPTIONS: &[&str] = &[
    "file",
    "append",
    "maxfilesize",
    "maxbackupindex",
    "datepattern",
    "durability",
    "fsync",
    "compress",
    "buffersize",
    "flushinterval",
    "integritykeyfile",
    "integritycheckpointlines",
    "integritycheckpointseconds",
    "name",
    "mode",
    "capacity",
    "whenfull",
    "shutdowntimeout",
];

/// The classes that become `audit_file`.
pub(crate) const CLASSES: &[Log4jClass] = &[
    file_class("org.apache.log4j.FileAppender", &[FILE_OPTIONS]),
    file_class(
        "org.apache.log4j.RollingFileAppender",
        &[FILE_OPTIONS, &["maxfilesize", "maxbackupindex"]],
    ),
    file_class(
        "org.apache.log4j.DailyRollingFileAppender",
        &[FILE_OPTIONS, &["datepattern"]],
    ),
    file_class("AuditFileAppender", &[AUDIT_FILE_OPTIONS]),
    file_class("log4rs_audit.AuditFileAppender", &[AUDIT_FILE_OPTIONS]),
];

const fn file_class(
    class: &'static str,
    options: &'static [&'static [&'static str]],
) -> Log4jClass {
    Log4jClass::new(class, "audit_file", options, translate).native_async()
}

/// `File` → `path`, the rolling options → `policy`, log4j's buffering → `durability`,
/// `Mode=async` and its queue, `Integrity*` → `integrity`.
fn translate(p: &mut AppenderProperties) -> Result<Translated, ConfigError> {
    let name = p.name.to_owned();
    let class = p.class.to_owned();
    if !p.has("file") {
        return Err(p.missing(format!("appender `{name}` has no File option")));
    }
    let Some((path, _)) = p.get("file")? else {
        // log4j too ends up with no file here ("File option not set").
        let key = p.options()["file"].clone();
        p.warn(&key, format!("File is empty after substitution; appender `{name}` left out (define the variable, e.g. with an override)"))?;
        return Ok(Translated::LeftOut);
    };
    p.set("path", path);
    let mut policy = Map::default();
    let rolling = class.ends_with("RollingFileAppender") && !class.contains("Daily");
    if rolling || p.has("maxfilesize") {
        let size = match p.get("maxfilesize")? {
            Some((s, key)) => {
                p.byte_size(&key, &s)?;
                s
            }
            None => "10MB".to_owned(),
        };
        policy.set("max_size", size);
        let backups = match p.get("maxbackupindex")? {
            Some((n, key)) => p.whole_number::<u32>(&key, &n)?,
            None => 1,
        };
        policy.set("max_backups", Value::U32(backups));
    }
    if class.contains("Daily") || p.has("datepattern") {
        let pattern = p.untrimmed("datepattern")?.filter(|v| !v.trim().is_empty());
        policy.set(
            "date_pattern",
            pattern.unwrap_or_else(|| "'.'yyyy-MM-dd".to_owned()),
        );
    }
    if let Some((c, _)) = p.get("compress")? {
        policy.set("compress", c.to_ascii_lowercase());
    }
    if !policy.0.is_empty() {
        p.set("policy", policy.into_value());
    }
    p.set_boolean("append", "append")?;
    let buffered = match p.get("bufferedio")? {
        Some((b, key)) => p.boolean(&key, &b)?,
        None => false,
    };
    let immediate_flush = match p.get("immediateflush")? {
        Some((b, key)) => p.boolean(&key, &b)?,
        None => true,
    };
    if let Some((d, _)) = p.get("durability")? {
        p.set("durability", d.to_ascii_lowercase());
    } else if buffered || !immediate_flush {
        p.set("durability", "buffered");
    }
    if let Some((size, key)) = p.get("buffersize")? {
        p.byte_size(&key, &size)?;
        p.set("buffer_size", size);
    }
    if let Some((f, _)) = p.get("fsync")? {
        p.set("fsync", f.to_ascii_lowercase());
    }
    p.copy(&[("flushinterval", "flush_interval")])?;
    // Non-blocking mode: Mode=async, Capacity, WhenFull, ShutdownTimeout.
    if let Some((v, _)) = p.get("mode")? {
        p.set("mode", v.to_ascii_lowercase());
    }
    let mut queue = Map::default();
    p.queue_options(&mut queue)?;
    p.config.0.append(&mut queue.0);
    // Tamper evidence: any Integrity* option turns it on.
    let mut integrity = Map::default();
    if let Some((file, _)) = p.get("integritykeyfile")? {
        let mut key = Map::default();
        key.set("file", file);
        integrity.set("signing_key", key.into_value());
    }
    for (option, field) in [
        ("integritycheckpointlines", "checkpoint_lines"),
        ("integritycheckpointseconds", "checkpoint_seconds"),
    ] {
        if let Some((n, key)) = p.get(option)? {
            integrity.set(field, Value::U64(p.whole_number(&key, &n)?));
        }
    }
    if !integrity.0.is_empty() {
        p.set("integrity", integrity.into_value());
    }
    if let Some((_, key)) = p.get("encoding")? {
        p.warn(&key, "files are always written in UTF-8 (ignored)")?;
    }
    Ok(Translated::Kept)
}
