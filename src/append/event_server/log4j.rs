//! This crate's `EventServerAppender` class, as `event_server`.

use crate::config::properties::{
    AppenderProperties, Log4jClass, Log4jLayout, Map, Translated, ASYNC_OPTIONS,
};
use crate::config::ConfigError;

/// Options of `EventServerAppender`.
const OPTIONS: &[&str] = &[
    "url",
    "authkey",
    "authkeyfile",
    "authkeyenv",
    "routingkeymode",
    "routingkey",
    "spooldir",
    "spoolmaxbytes",
    "trustallcertificates",
    "cafile",
    "batchmaxevents",
    "gzip",
    "name",
];

/// The classes that become `event_server` (the event is sent as is: no layout).
pub(crate) const CLASSES: &[Log4jClass] = &[
    class("EventServerAppender"),
    class("log4rs_audit.EventServerAppender"),
];

const fn class(class: &'static str) -> Log4jClass {
    Log4jClass::new(class, "event_server", &[OPTIONS, ASYNC_OPTIONS], translate)
        .layout(Log4jLayout::Ignored)
}

/// `URL`, `SpoolDir` and one of `AuthKey`, `AuthKeyFile`, `AuthKeyEnv` are required.
fn translate(p: &mut AppenderProperties) -> Result<Translated, ConfigError> {
    let name = p.name.to_owned();
    for (option, yaml, shown) in [("url", "url", "URL"), ("spooldir", "spool_dir", "SpoolDir")] {
        match p.get(option)? {
            Some((v, _)) => p.set(yaml, v),
            None => return Err(p.missing(format!("appender `{name}` has no {shown} option"))),
        }
    }
    let mut keys = Vec::new();
    for (option, form) in [
        ("authkey", ""),
        ("authkeyfile", "file"),
        ("authkeyenv", "env"),
    ] {
        if let Some((v, key)) = p.get(option)? {
            keys.push((form, v, key));
        }
    }
    match keys.as_slice() {
        [] => {
            return Err(p.missing(format!(
                "appender `{name}` has no AuthKey, AuthKeyFile or AuthKeyEnv option"
            )))
        }
        [("", v, _)] => p.set("auth_key", v.clone()),
        [(form, v, _)] => {
            let mut secret = Map::default();
            secret.set(form, v.clone());
            p.set("auth_key", secret.into_value());
        }
        [_, (_, _, key), ..] => {
            return Err(p.error(key, "give one of AuthKey, AuthKeyFile and AuthKeyEnv"))
        }
    }
    if let Some((mode, _)) = p.get("routingkeymode")? {
        p.set("routing_key_mode", mode.to_ascii_uppercase());
    }
    p.copy(&[("routingkey", "routing_key"), ("cafile", "ca_file")])?;
    if let Some((size, key)) = p.get("spoolmaxbytes")? {
        p.byte_size(&key, &size)?;
        p.set("spool_max_bytes", size);
    }
    p.set_boolean("trustallcertificates", "trust_all_certificates")?;
    p.set_boolean("gzip", "gzip")?;
    if let Some((n, key)) = p.get("batchmaxevents")? {
        let n =
            n.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                p.error(&key, format!("`{n}` is not a whole number greater than 0"))
            })?;
        p.set("batch_max_events", serde_value::Value::U64(n));
    }
    Ok(Translated::Kept)
}
