//! `level-off-check <folder>`: with `log` compiled to let nothing through, writes four `audit!`
//! events (and one plain `log::info!`, which `log` removes) to `<folder>/audit.log`.

use log4rs_audit::{audit, AuditConfig};

fn main() {
    let dir = std::env::args().nth(1).expect("usage: level-off-check <folder>");
    let yaml = format!(
        "appenders:\n  audit: {{ kind: audit_file, path: '{dir}/audit.log' }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n"
    );
    let config = AuditConfig::from_yaml(&yaml, None).expect("config");
    let handle = log4rs_audit::init_config(config).expect("init");
    log::set_max_level(log::LevelFilter::Off);
    for seq in 0..4u32 {
        audit!(generic, "numbered", authUser = "bob", seq = seq);
    }
    log::info!(target: "dku.audit.generic", msgType = "plain-log"; "compiled out");
    handle.flush();
    println!("STATIC_MAX_LEVEL={}", log::STATIC_MAX_LEVEL);
}
