//! The `syslog` target against a real rsyslogd (Debian's package, installed by
//! scripts/install-test-peers.sh), each test with its own rsyslogd on free loopback ports,
//! started without systemd (`rsyslogd -n -f CONF -i PIDFILE`), writing raw messages and the
//! fields it parsed to files. Without rsyslogd the tests are skipped, or fail when CI=true.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use log4rs::append::Append;

use crate::certs;
use log4rs_audit::append::SyslogConfig;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

fn have_rsyslogd() -> bool {
    if Path::new(RSYSLOGD).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("rsyslogd is missing: run scripts/install-test-peers.sh");
    }
    eprintln!("skipped: rsyslogd not installed (scripts/install-rsyslog.sh installs it)");
    false
}

fn free_port() -> u16 {
    loop {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

struct Rsyslog {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Rsyslog {
    fn start(dir: &Path) -> Rsyslog {
        Rsyslog::start_with(dir, None)
    }

    /// Its TCP input speaks TLS (RFC 5425) through rsyslog's own OpenSSL network stream
    /// driver (`lmnsd_ossl`, Debian's rsyslog-openssl) with this certificate and key.
    fn start_tls(dir: &Path, cert: &Path, key: &Path) -> Rsyslog {
        let driver = std::fs::read_dir("/usr/lib")
            .unwrap()
            .filter_map(Result::ok)
            .any(|d| d.path().join("rsyslog/lmnsd_ossl.so").exists());
        assert!(
            driver,
            "rsyslog's OpenSSL driver (lmnsd_ossl) is missing: run scripts/install-rsyslog.sh"
        );
        Rsyslog::start_with(dir, Some((cert, key)))
    }

    fn start_with(dir: &Path, tls: Option<(&Path, &Path)>) -> Rsyslog {
        let mut r = Rsyslog {
            dir: dir.to_owned(),
            port: free_port(),
            child: None,
        };
        std::fs::create_dir_all(dir.join("work")).unwrap();
        let d = dir.display();
        let (driver_files, imtcp) = match tls {
            None => (String::new(), r#"module(load="imtcp")"#.to_owned()),
            Some((cert, key)) => (
                format!(
                    r#" DefaultNetstreamDriverCAFile="{c}" DefaultNetstreamDriverCertFile="{c}" DefaultNetstreamDriverKeyFile="{k}""#,
                    c = cert.display(),
                    k = key.display()
                ),
                r#"module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")"#
                    .to_owned(),
            ),
        };
        let conf = format!(
            r#"global(workDirectory="{d}/work" maxMessageSize="64k"{driver_files})
module(load="imudp")
{imtcp}
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{d}/log.sock" CreatePath="on")
input(type="imudp" address="127.0.0.1" port="{p}")
input(type="imtcp" address="127.0.0.1" port="{p}")
template(name="raw" type="string" string="%rawmsg%\n")
template(name="fields" type="list") {{
  property(name="pri") constant(value="|") property(name="protocol-version") constant(value="|")
  property(name="hostname") constant(value="|") property(name="app-name") constant(value="|")
  property(name="procid") constant(value="|") property(name="msgid") constant(value="|")
  property(name="structured-data") constant(value="|") property(name="msg" droplastlf="on")
  constant(value="\n")
}}
if $app-name startswith "log4rs-audit" then {{
  action(type="omfile" file="{d}/raw.log" template="raw")
  action(type="omfile" file="{d}/fields.log" template="fields")
}}
"#,
            p = r.port
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "rsyslogd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM (rsyslog writes what it read, then exits) and wait.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_kill(c.id());
            c.wait().unwrap();
        }
    }

    fn fields(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.dir.join("fields.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.splitn(8, '|').map(str::to_owned).collect())
            .collect()
    }
}

fn unsafe_kill(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn appender(yaml: &str) -> log4rs_audit::append::SyslogAppender {
    let config: SyslogConfig = serde_yaml::from_str(yaml).unwrap();
    config.build().unwrap()
}

fn log_numbered(a: &dyn Append, n: u64) {
    let text = format!("{{\"msgType\":\"numbered\",\"n\":{n}}}");
    a.append(
        &log::Record::builder()
            .target("dku.audit.generic")
            .level(log::Level::Info)
            .args(format_args!("{text}"))
            .build(),
    )
    .unwrap();
}

fn numbers(fields: &[Vec<String>]) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for f in fields {
        let msg = &f[7];
        let v: serde_json::Value =
            serde_json::from_str(msg).unwrap_or_else(|e| panic!("{e}: {msg}"));
        *seen.entry(v["message"]["n"].as_u64().unwrap()).or_insert(0) += 1;
    }
    seen
}

#[test]
fn tcp_rfc5424_envelope_arrives_once_and_parses() {
    if !have_rsyslogd() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::start(&tmp.path().join("rs"));
    let a = appender(&format!(
        "address: tcp://127.0.0.1:{}\nfacility: local4\nhostname: web-1\nmsgid: {{ authfail: AUTHFAIL }}\nspool_dir: {}\nack_delay: 200ms\n",
        rs.port,
        tmp.path().join("spool").display()
    ));
    for n in 0..500 {
        log_numbered(&a, n);
    }
    a.flush();
    assert_eq!(a.stats().pending, 0, "{:?}", a.stats());
    drop(a);
    rs.stop();
    let fields = rs.fields();
    let seen = numbers(&fields);
    assert_eq!(seen.len(), 500);
    assert!(
        seen.values().all(|&c| c == 1),
        "duplicates without a restart"
    );
    let f = &fields[0];
    assert_eq!(f[0], "166", "local4.info");
    assert_eq!(f[1], "1", "RFC 5424");
    assert_eq!(
        (f[2].as_str(), f[3].as_str(), f[5].as_str(), f[6].as_str()),
        ("web-1", "log4rs-audit", "generic", "-")
    );
    assert_eq!(f[4], std::process::id().to_string());
    assert!(
        f[7].starts_with("{\"severity\":\"INFO\",\"logger\":\"dku.audit.generic\""),
        "{}",
        f[7]
    );
}

#[test]
fn tcp_survives_an_rsyslog_restart_without_loss() {
    if !have_rsyslogd() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::start(&tmp.path().join("rs"));
    let a = appender(&format!(
        "address: tcp://127.0.0.1:{}\nspool_dir: {}\nack_delay: 300ms\nretry_max: 200ms\nflush_timeout: 30s\n",
        rs.port,
        tmp.path().join("spool").display()
    ));
    through_a_restart(&mut rs, a, 3000, "tcp");
}

/// Logs `total` numbered events, stopping rsyslog a third of the way in and starting it again
/// half way; then checks none was lost and duplicates (at-least-once) lie only around the
/// restart: what was written in the last `ack_delay` before it. Returns the parsed fields.
fn through_a_restart(
    rs: &mut Rsyslog,
    a: log4rs_audit::append::SyslogAppender,
    total: u64,
    label: &str,
) -> Vec<Vec<String>> {
    for n in 0..total {
        log_numbered(&a, n);
        if n % 20 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        if n == total / 3 {
            rs.stop();
        }
        if n == total / 2 {
            rs.spawn();
        }
    }
    a.flush();
    let stats = a.stats();
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert!(stats.reconnects >= 1, "{stats:?}");
    drop(a);
    rs.stop();
    let fields = rs.fields();
    let seen = numbers(&fields);
    let missing: Vec<u64> = (0..total).filter(|n| !seen.contains_key(n)).collect();
    assert!(missing.is_empty(), "lost over the restart: {missing:?}");
    let dups: Vec<u64> = seen
        .iter()
        .filter(|(_, &c)| c > 1)
        .map(|(&n, _)| n)
        .collect();
    eprintln!(
        "{label} restart: {total} events, {} duplicated (at-least-once): {dups:?}",
        dups.len()
    );
    assert!(
        dups.iter().all(|&n| n <= total / 2 + 50),
        "duplicates away from the restart: {dups:?}"
    );
    fields
}

#[test]
fn structured_payload_parses_as_sd_params() {
    if !have_rsyslogd() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::start(&tmp.path().join("rs"));
    let a = appender(&format!(
        "address: udp://127.0.0.1:{}\npayload: structured\napp_name: log4rs-audit-sd\nspool_dir: {}\n",
        rs.port,
        tmp.path().join("spool").display()
    ));
    log_numbered(&a, 7);
    a.flush();
    drop(a);
    std::thread::sleep(Duration::from_millis(300));
    rs.stop();
    let fields = rs.fields();
    assert_eq!(fields.len(), 1, "{fields:?}");
    let sd = &fields[0][6];
    assert!(sd.starts_with("[audit@32473 msgType=\"numbered\" n=\"7\"][context@32473 logger=\"dku.audit.generic\" severity=\"INFO\""), "{sd}");
    assert_eq!(fields[0][3], "log4rs-audit-sd");
}

fn run_demo(config: &Path, cwd: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["demo", "--events", "300", "--config"])
        .arg(config)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn syslog_config_examples_deliver_through_the_demo() {
    if !have_rsyslogd() {
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/syslog");
    for name in ["ops-tcp.yaml", "ops-log4j.properties"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut rs = Rsyslog::start(&tmp.path().join("rs"));
        let text = std::fs::read_to_string(examples.join(name)).unwrap();
        let text = text.replace("127.0.0.1:514", &format!("127.0.0.1:{}", rs.port));
        let config = tmp.path().join(name);
        std::fs::write(&config, text).unwrap();
        run_demo(&config, tmp.path());
        std::thread::sleep(Duration::from_millis(300));
        rs.stop();
        let raw = std::fs::read_to_string(rs.dir.join("raw.log")).unwrap_or_default();
        let fields = rs.fields();
        // The demo's 300 events and the logger's own start and stop (a syslog target is an
        // audit target too).
        let own = raw
            .lines()
            .filter(|l| l.contains("audit-logger-start") || l.contains("audit-logger-stop"))
            .count();
        assert_eq!(own, 2, "{name}: {raw}");
        assert_eq!(fields.len(), 302, "{name}: {} lines", fields.len());
        if name.ends_with(".yaml") {
            assert!(
                fields
                    .iter()
                    .all(|f| f[1] == "1" && f[0].parse::<u32>().unwrap() / 8 == 20),
                "{name}"
            );
            assert!(fields.iter().any(|f| f[5] == "AUTHFAIL"), "{name}");
        } else {
            assert!(
                raw.lines()
                    .all(|l| l.starts_with('<') && l.contains("log4rs-audit[")),
                "{name}: {raw}"
            );
        }
    }
}

#[test]
fn log4j_syslog_appender_options_map_onto_the_kind() {
    use log4rs_audit::config::{from_properties, PropertiesOptions};
    let text = "log4j.rootLogger=INFO, SYS\n\
                log4j.appender.SYS=org.apache.log4j.net.SyslogAppender\n\
                log4j.appender.SYS.SyslogHost=logs.example.com:1514\n\
                log4j.appender.SYS.Facility=LOCAL4\n\
                log4j.appender.SYS.FacilityPrinting=true\n\
                log4j.appender.SYS.Header=true\n\
                log4j.appender.SYS.layout=org.apache.log4j.PatternLayout\n";
    let c = from_properties(
        text,
        Some(Path::new("t.properties")),
        &PropertiesOptions::default(),
    )
    .unwrap();
    assert_eq!(c.root.appenders, ["SYS"]);
    let spec = &c.appenders[0];
    assert_eq!(spec.config.kind, "syslog");
    let options: BTreeMap<String, serde_value::Value> =
        spec.config.config.clone().deserialize_into().unwrap();
    let get = |k: &str| format!("{:?}", options.get(k).unwrap());
    assert_eq!(get("address"), "String(\"udp://logs.example.com:1514\")");
    assert_eq!(get("format"), "String(\"rfc3164\")");
    assert_eq!(get("facility"), "String(\"local4\")");
    assert_eq!(get("facility_printing"), "Bool(true)");
    assert_eq!(get("header"), "Bool(true)");
    assert_eq!(get("spool_dir"), "String(\"run/audit/spool-SYS\")");
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert!(w.len() == 1 && w[0].contains("layout ignored"), "{w:?}");
    // The default port, and an unknown facility is an error naming it.
    let text = "log4j.rootLogger=INFO, SYS\nlog4j.appender.SYS=org.apache.log4j.net.SyslogAppender\nlog4j.appender.SYS.SyslogHost=localhost\nlog4j.appender.SYS.Facility=LOCAL9\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.properties");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    let stderr =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("facility: `local9`"), "{stderr}");
}

#[test]
fn check_config_validates_without_a_server() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/syslog");
    for name in ["ops-tcp.yaml", "ops-log4j.properties"] {
        let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .arg("check-config")
            .arg(examples.join(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn unix_socket_rfc3164_reaches_imuxsock() {
    if !have_rsyslogd() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::start(&tmp.path().join("rs"));
    let socket = rs.dir.join("log.sock");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "imuxsock socket not created");
        std::thread::sleep(Duration::from_millis(20));
    }
    let a = appender(&format!(
        "address: unix://{}\nformat: rfc3164\nfacility: auth\nspool_dir: {}\n",
        socket.display(),
        tmp.path().join("spool").display()
    ));
    for n in 0..50 {
        log_numbered(&a, n);
    }
    a.flush();
    assert_eq!(a.stats().pending, 0, "{:?}", a.stats());
    drop(a);
    std::thread::sleep(Duration::from_millis(300));
    rs.stop();
    let fields = rs.fields();
    let seen = numbers(&fields);
    assert_eq!(seen.len(), 50, "{fields:?}");
    assert!(
        fields
            .iter()
            .all(|f| f[0] == "38" && f[3] == "log4rs-audit"),
        "{fields:?}"
    );
}

#[test]
fn a_second_appender_of_the_same_spool_takes_over_its_sender() {
    // What a reload that changes the destination does: the new appender is built while the
    // old one still exists; they share the spool and the sender follows the newest settings.
    if !have_rsyslogd() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut first = Rsyslog::start(&tmp.path().join("rs1"));
    let mut second = Rsyslog::start(&tmp.path().join("rs2"));
    let spool = tmp.path().join("spool");
    let yaml = |port: u16| {
        format!(
            "address: tcp://127.0.0.1:{port}\nspool_dir: {}\nack_delay: 100ms\n",
            spool.display()
        )
    };
    let old = appender(&yaml(first.port));
    for n in 0..100 {
        log_numbered(&old, n);
    }
    old.flush();
    let new = appender(&yaml(second.port));
    drop(old);
    for n in 100..200 {
        log_numbered(&new, n);
    }
    new.flush();
    assert_eq!(new.stats().pending, 0, "{:?}", new.stats());
    drop(new);
    first.stop();
    second.stop();
    let a = numbers(&first.fields());
    let b = numbers(&second.fields());
    assert_eq!(
        a.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(
        b.keys().copied().collect::<Vec<_>>(),
        (100..200).collect::<Vec<_>>()
    );
}

/// A TLS syslog receiver (RFC 5425: octet counting inside TLS) with rustls: the first
/// connection is closed after `close_after` messages, later ones are read to the end.
fn tls_receiver(
    dir: &Path,
    close_after: usize,
) -> (u16, PathBuf, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::Read;
    let (cert, key) = certs::self_signed(dir);
    let certs: Vec<_> = rustls_pemfile::certs(&mut &std::fs::read(&cert).unwrap()[..])
        .map(Result::unwrap)
        .collect();
    let key = rustls_pemfile::private_key(&mut &std::fs::read(&key).unwrap()[..])
        .unwrap()
        .unwrap();
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&got);
    std::thread::spawn(move || {
        for (i, tcp) in listener.incoming().enumerate() {
            let Ok(tcp) = tcp else { continue };
            let conn = rustls::ServerConnection::new(std::sync::Arc::clone(&config)).unwrap();
            let mut s = rustls::StreamOwned::new(conn, tcp);
            let limit = if i == 0 { close_after } else { usize::MAX };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let mut count = 0;
            'conn: while count < limit {
                // Frames: LEN SP MSG.
                while let Some(sp) = buf.iter().position(|&b| b == b' ') {
                    let len: usize = std::str::from_utf8(&buf[..sp])
                        .unwrap()
                        .parse()
                        .expect("octet count");
                    if buf.len() < sp + 1 + len {
                        break;
                    }
                    let msg = String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap();
                    buf.drain(..sp + 1 + len);
                    sink.lock().unwrap().push(msg);
                    count += 1;
                    if count >= limit {
                        break 'conn;
                    }
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            s.conn.send_close_notify();
            let _ = std::io::Write::flush(&mut s);
        }
    });
    (port, dir.join("cert.pem"), got)
}

#[test]
fn tls_octet_counted_and_resent_after_the_server_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, ca, got) = tls_receiver(tmp.path(), 50);
    let a = appender(&format!(
        "address: tls://localhost:{port}\nca_file: {}\nspool_dir: {}\nack_delay: 200ms\nretry_max: 200ms\n",
        ca.display(),
        tmp.path().join("spool").display()
    ));
    for n in 0..50 {
        log_numbered(&a, n);
    }
    std::thread::sleep(Duration::from_millis(100));
    for n in 50..100 {
        log_numbered(&a, n);
        std::thread::sleep(Duration::from_millis(2));
    }
    a.flush();
    assert_eq!(a.stats().pending, 0, "{:?}", a.stats());
    assert!(a.stats().reconnects >= 1, "{:?}", a.stats());
    drop(a);
    let got = got.lock().unwrap().clone();
    let mut seen = BTreeMap::new();
    for m in &got {
        assert!(m.starts_with("<14>1 "), "{m}");
        let json = &m[m.find(" - {").expect("envelope as MSG") + 3..];
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        *seen.entry(v["message"]["n"].as_u64().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    let dups = seen.values().filter(|&&c| c > 1).count();
    eprintln!("tls: 100 events, {dups} sent twice after the server closed");
}

#[test]
fn tls_with_an_untrusted_certificate_keeps_events_spooled() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, _ca, got) = tls_receiver(tmp.path(), usize::MAX);
    let other = tempfile::tempdir().unwrap();
    let (_, other_ca, _) = tls_receiver(other.path(), usize::MAX);
    let a = appender(&format!(
        "address: tls://localhost:{port}\nca_file: {}\nspool_dir: {}\nflush_timeout: 300ms\n",
        other_ca.display(),
        tmp.path().join("spool").display()
    ));
    log_numbered(&a, 1);
    a.flush();
    let stats = a.stats();
    assert_eq!(stats.pending, 1, "{stats:?}");
    assert!(
        stats
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("connect"),
        "{stats:?}"
    );
    assert!(got.lock().unwrap().is_empty());
}

#[test]
fn tls_to_rsyslog_arrives_once_parses_and_survives_a_restart() {
    if !have_rsyslogd() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certs::self_signed(tmp.path());
    let mut rs = Rsyslog::start_tls(&tmp.path().join("rs"), &cert, &key);
    let a = appender(&format!(
        "address: tls://localhost:{}\nca_file: {}\nfacility: local4\nspool_dir: {}\nack_delay: 300ms\nretry_max: 200ms\nflush_timeout: 30s\n",
        rs.port,
        cert.display(),
        tmp.path().join("spool").display()
    ));
    let fields = through_a_restart(&mut rs, a, 2000, "tls");
    // rsyslog read them out of TLS and parsed them as RFC 5424.
    let f = &fields[0];
    assert_eq!((f[0].as_str(), f[1].as_str()), ("166", "1"), "{f:?}");
    assert_eq!(f[3], "log4rs-audit");
}
