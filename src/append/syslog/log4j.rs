//! log4j's `SyslogAppender` (and this crate's own class names for it), as `syslog`.

use serde_value::Value;

use crate::config::properties::{
    AppenderProperties, Log4jClass, Log4jLayout, Translated, ASYNC_OPTIONS,
};
use crate::config::ConfigError;

/// Options of log4j's SyslogAppender, plus this crate's (`SpoolDir`, `Format`, `AppName`, …).
const OPTIONS: &[&str] = &[
    "sysloghost",
    "facility",
    "facilityprinting",
    "header",
    "name",
    "spooldir",
    "format",
    "appname",
    "hostname",
    "msgid",
    "payload",
    "cafile",
    "trustallcertificates",
];

/// The classes that become `syslog` (the event is sent as is: no layout).
pub(crate) const CLASSES: &[Log4jClass] = &[
    class("org.apache.log4j.net.SyslogAppender"),
    class("SyslogAppender"),
    class("log4rs_audit.SyslogAppender"),
];

const fn class(class: &'static str) -> Log4jClass {
    Log4jClass::new(class, "syslog", &[OPTIONS, ASYNC_OPTIONS], translate)
        .layout(Log4jLayout::Ignored)
}

/// `SyslogHost` (`host[:port]`, UDP, port 514 by default; this crate also takes `tcp://`,
/// `tls://`, `udp://`, `unix://` addresses), `Facility` (default USER), `FacilityPrinting`,
/// `Header` (default false, as in log4j) map onto an RFC 3164 `syslog` appender; `SpoolDir`
/// defaults to `run/audit/spool-<appender>`.
fn translate(p: &mut AppenderProperties) -> Result<Translated, ConfigError> {
    let host = p
        .get("sysloghost")?
        .map_or_else(|| "localhost".to_owned(), |(h, _)| h);
    let address = if host.contains("://") {
        host
    } else if host
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.ends_with(':') && p.parse::<u16>().is_ok() && !h.is_empty())
    {
        format!("udp://{host}")
    } else {
        format!("udp://{host}:514")
    };
    p.set("address", address);
    let format = p
        .get("format")?
        .map_or_else(|| "rfc3164".to_owned(), |(f, _)| f.to_ascii_lowercase());
    let rfc3164 = format == "rfc3164";
    p.set("format", format);
    if let Some((f, _)) = p.get("facility")? {
        p.set("facility", f.to_ascii_lowercase());
    }
    if rfc3164 {
        for (option, yaml) in [
            ("facilityprinting", "facility_printing"),
            ("header", "header"),
        ] {
            let value = match p.get(option)? {
                Some((b, key)) => p.boolean(&key, &b)?,
                None => false,
            };
            p.set(yaml, Value::Bool(value));
        }
    }
    let name = p.name.to_owned();
    let spool = p
        .get("spooldir")?
        .map_or_else(|| format!("run/audit/spool-{name}"), |(d, _)| d);
    p.set("spool_dir", spool);
    p.copy(&[
        ("appname", "app_name"),
        ("hostname", "hostname"),
        ("msgid", "msgid"),
        ("cafile", "ca_file"),
    ])?;
    if let Some((payload, _)) = p.get("payload")? {
        p.set("payload", payload.to_ascii_lowercase());
    }
    p.set_boolean("trustallcertificates", "trust_all_certificates")?;
    Ok(Translated::Kept)
}
