//! The `syslog` options as written in YAML, checked without side effects
//! ([`SyslogConfig::validate`]: no socket, no spool, no file read) and turned into the
//! appender ([`SyslogConfig::build`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::format::{is_header_field, Facility};
use super::transport::Address;
use crate::config::duration::parse_option as duration;
use crate::event::Topic;
use crate::spool::SpoolOptions;

/// `format`: the syslog protocol version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    /// RFC 5424 (default).
    #[default]
    Rfc5424,
    /// RFC 3164, the BSD format (log4j 1.2's SyslogAppender speaks it).
    Rfc3164,
}

/// `payload`: where the audit event goes in the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogPayload {
    /// The envelope line (without its `\n`) as MSG (default).
    #[default]
    Envelope,
    /// The event's fields as RFC 5424 SD-PARAMs, no MSG (rfc5424 only).
    Structured,
}

/// `msgid`: one MSGID for every record, or one per topic.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum MsgId {
    /// The same MSGID for every record (`-` for none).
    Fixed(String),
    /// Per topic (`generic: GEN`); topics not listed get their topic name.
    PerTopic(BTreeMap<String, String>),
}

crate::config::flat::flat_config! {
    /// Options of the `syslog` appender kind, as written in YAML.
    ///
    /// ```
    /// use log4rs_audit::append::SyslogConfig;
    ///
    /// let yaml = r#"
    /// address: tcp://127.0.0.1:514     # udp:// tcp:// tls:// unix:///dev/log
    /// format: rfc5424                  # rfc5424 | rfc3164
    /// facility: local4
    /// app_name: log4rs-audit
    /// hostname: web-1                  # default: the machine's host name
    /// msgid: { authfail: AUTHFAIL }    # or one string; default: the topic name
    /// payload: envelope                # envelope (as MSG) | structured (as SD-PARAMs)
    /// spool_dir: run/audit/spool-syslog
    /// "#;
    /// let config: SyslogConfig = serde_yaml::from_str(yaml).unwrap();
    /// config.validate().unwrap();
    ///
    /// let bad: SyslogConfig = serde_yaml::from_str(
    ///     "address: tcp://127.0.0.1\nspool_dir: /tmp/s").unwrap();
    /// assert!(bad.validate().unwrap_err().to_string().contains("port"));
    /// ```
    pub struct SyslogConfig {
        own: Own,
        spooled: crate::spool::config::SpooledConfig,
    }
}

/// The options of this kind alone (the spooled ones are [`crate::spool::config::SpooledConfig`]'s).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Own {
    address: String,
    #[serde(default)]
    format: SyslogFormat,
    #[serde(default)]
    facility: Option<String>,
    #[serde(default)]
    app_name: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    msgid: Option<MsgId>,
    #[serde(default)]
    payload: SyslogPayload,
    /// rfc3164 only: write the timestamp, hostname and tag (default true; log4j's `Header`).
    #[serde(default)]
    header: Option<bool>,
    /// rfc3164 only: the facility name and `:` before the message (log4j's `FacilityPrinting`).
    #[serde(default)]
    facility_printing: bool,
    /// Timezone of the envelope's `timestamp` (`local`, `utc`, `+HHMM`).
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    ca_file: Option<String>,
    #[serde(default)]
    trust_all_certificates: bool,
    #[serde(default)]
    ack_delay: Option<String>,
    #[serde(default)]
    connect_timeout: Option<String>,
}

/// Default `ack_delay`.
pub const DEFAULT_ACK_DELAY: Duration = Duration::from_millis(1000);

/// The checked options, before anything is opened.
#[derive(Clone, Debug)]
pub(crate) struct ValidSyslogConfig {
    pub address: Address,
    pub format: SyslogFormat,
    pub facility: Facility,
    pub app_name: String,
    pub hostname: Option<String>,
    pub msgid_fixed: Option<String>,
    pub msgid_per_topic: BTreeMap<Topic, String>,
    pub payload: SyslogPayload,
    pub header: bool,
    pub facility_printing: bool,
    pub timezone: crate::encode::Timezone,
    pub spool: SpoolOptions,
    pub ca_file: Option<PathBuf>,
    pub ack_delay: Duration,
    pub connect_timeout: Duration,
    pub retry_max: Duration,
    pub flush_timeout: Duration,
}

impl crate::config::check::Describe for SyslogConfig {
    fn describe(&self, details: &mut Vec<String>) -> String {
        let format = match self.own.format {
            SyslogFormat::Rfc5424 => "rfc5424",
            SyslogFormat::Rfc3164 => "rfc3164",
        };
        details.push(format!("format {format}"));
        if let Some(f) = &self.own.facility {
            details.push(format!("facility {f}"));
        }
        let payload = match self.own.payload {
            SyslogPayload::Envelope => "envelope",
            SyslogPayload::Structured => "structured",
        };
        details.push(format!("payload {payload}"));
        details.push(format!("spool_dir {}", self.spooled.spool_dir()));
        self.own.address.clone()
    }
}

impl SyslogConfig {
    /// Checks every option without opening a socket or the spool.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.check().map(drop)
    }

    pub(crate) fn check(&self) -> anyhow::Result<ValidSyslogConfig> {
        let address = Address::parse(&self.own.address)?;
        let facility = match &self.own.facility {
            None => Facility(1),
            Some(f) => Facility::parse(f).ok_or_else(|| {
                anyhow::anyhow!(
                    "facility: `{f}` is not a facility (kern, user, …, local0 … local7)"
                )
            })?,
        };
        let app_name = self
            .own
            .app_name
            .clone()
            .unwrap_or_else(|| "log4rs-audit".into());
        if !is_header_field(&app_name, 48) {
            anyhow::bail!("app_name: `{app_name}`: 1 to 48 printable ASCII characters, no spaces");
        }
        if let Some(h) = &self.own.hostname {
            if !is_header_field(h, 255) {
                anyhow::bail!("hostname: `{h}`: 1 to 255 printable ASCII characters, no spaces");
            }
        }
        let check_msgid = |m: &str, at: &str| -> anyhow::Result<()> {
            if is_header_field(m, 32) {
                Ok(())
            } else {
                anyhow::bail!("{at}: `{m}`: 1 to 32 printable ASCII characters, no spaces")
            }
        };
        let (mut msgid_fixed, mut msgid_per_topic) = (None, BTreeMap::new());
        match &self.own.msgid {
            None => {}
            Some(MsgId::Fixed(m)) => {
                check_msgid(m, "msgid")?;
                msgid_fixed = Some(m.clone());
            }
            Some(MsgId::PerTopic(map)) => {
                for (topic, m) in map {
                    let t: Topic = topic
                        .parse()
                        .map_err(|e| anyhow::anyhow!("msgid.{topic}: {e}"))?;
                    check_msgid(m, &format!("msgid.{topic}"))?;
                    msgid_per_topic.insert(t, m.clone());
                }
            }
        }
        if self.own.payload == SyslogPayload::Structured && self.own.format == SyslogFormat::Rfc3164
        {
            anyhow::bail!(
                "payload: structured needs format: rfc5424 (RFC 3164 has no structured data)"
            );
        }
        if self.own.format == SyslogFormat::Rfc5424
            && (self.own.header.is_some() || self.own.facility_printing)
        {
            anyhow::bail!("header and facility_printing are options of format: rfc3164");
        }
        let timezone = crate::encode::Timezone::from_option(self.own.timezone.as_deref())
            .map_err(|e| anyhow::anyhow!("timezone: {e}"))?;
        let delivery = self.spooled.check(crate::spool::WhenFull::Block)?;
        let tls = matches!(address, Address::Tls { .. });
        if !tls && (self.own.ca_file.is_some() || self.own.trust_all_certificates) {
            anyhow::bail!("ca_file and trust_all_certificates need a tls:// address");
        }
        if tls && self.own.ca_file.is_none() && !self.own.trust_all_certificates {
            anyhow::bail!("a tls:// address needs ca_file (PEM roots of the server's certificate)");
        }
        Ok(ValidSyslogConfig {
            address,
            format: self.own.format,
            facility,
            app_name,
            hostname: self.own.hostname.clone(),
            msgid_fixed,
            msgid_per_topic,
            payload: self.own.payload,
            header: self.own.header.unwrap_or(true),
            facility_printing: self.own.facility_printing,
            timezone,
            spool: delivery.spool,
            ca_file: self
                .own
                .ca_file
                .as_deref()
                .map(|f| crate::config::expand_env(f).into()),
            ack_delay: duration("ack_delay", &self.own.ack_delay, DEFAULT_ACK_DELAY)?,
            connect_timeout: duration(
                "connect_timeout",
                &self.own.connect_timeout,
                Duration::from_secs(5),
            )?,
            retry_max: delivery.retry_max,
            flush_timeout: delivery.flush_timeout,
        })
    }

    /// Opens the spool and starts the sender thread.
    pub fn build(&self) -> anyhow::Result<super::SyslogAppender> {
        super::SyslogAppender::start(self.check()?)
    }

    /// The destination as written (for `check-config`).
    pub fn address(&self) -> &str {
        &self.own.address
    }
}
