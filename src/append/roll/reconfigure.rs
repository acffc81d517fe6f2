//! A reload's new config for a file that is already open: see [`RollingFile::reconfigure`].

use std::io;
use std::time::SystemTime;

use super::period::Slot;
use super::{RollPolicy, RollingFile};
use crate::integrity::{IntegrityOptions, SidecarWriter};

impl RollingFile {
    /// Takes the policy and integrity options of a new config for this same file (a reload):
    /// the open file, its length, period and backups carry over, so no second roll state ever
    /// shifts the same backups. A changed `integrity` closes the current sidecar (a `close`
    /// record) and resumes the chain with the new options. An unusable suffix is an
    /// `InvalidInput` error and changes nothing.
    pub fn reconfigure(
        &mut self,
        policy: RollPolicy,
        integrity: Option<IntegrityOptions>,
        now: SystemTime,
    ) -> io::Result<()> {
        let stamp = policy.stamp()?;
        if integrity != self.integrity_options {
            if let Some(w) = &mut self.integrity {
                if let Some(file) = self.file.as_ref().filter(|_| w.fsync()) {
                    file.sync_data()?;
                }
                w.close(now)?;
            }
            self.integrity = None;
            self.integrity_options = None;
            if let Some(options) = integrity {
                if self.file.is_none() {
                    self.reopen()?;
                }
                let (writer, repairs) = SidecarWriter::open(&self.path, options.clone(), now)?;
                for r in repairs {
                    eprintln!("log4rs-audit: {r}");
                }
                self.integrity = Some(writer);
                self.integrity_options = Some(options);
            }
        }
        if policy.every != self.policy.every {
            self.slot = match policy.every {
                Some(period) if self.len > 0 => Some(Slot::containing(period, now)),
                _ => None,
            };
        }
        self.next_size_roll = policy.max_size.unwrap_or(u64::MAX);
        self.policy = policy;
        self.stamp = stamp;
        Ok(())
    }
}
