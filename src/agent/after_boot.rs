//! The after-boot step, run first whenever the agent starts: repair a torn partition
//! table, take up an update the agent was stopped in the middle of, and judge the boot.
//!
//! A staged update whose boot id differs from this boot's was rebooted into: running the
//! staged version and healthy, its slot is marked good and 3/2 reported; running it but
//! unhealthy, it is denied and the next boot returns to the old slot; running the old
//! version, the firmware fell back (a rollback, reported as 3/0 errorcode 44, the version
//! denied). With nothing staged, a healthy booted slot is marked good once per boot.

use super::driver::{AfterBoot, Agent, code, now};
use super::error::Error;
use super::state::{LastError, Staged, Status};
use crate::machine::health::{self, Verdict};

impl Agent {
    /// The after-boot step: judge a staged update once the node rebooted, and mark a healthy
    /// booted slot good.
    ///
    /// # Errors
    /// I/O on the record or the disk.
    pub async fn after_boot(&mut self) -> Result<AfterBoot, Error> {
        self.repair_table()?;
        self.resume_record()?;
        match self.record.state.staged().cloned() {
            Some(s) if s.boot_id != self.identity.boot_id => {
                if self.settings.version == s.version {
                    self.judge_new_release(s).await
                } else {
                    self.rolled_back(s).await
                }
            }
            Some(_) => Ok(AfterBoot::Nothing),
            None => self.judge_booted().await,
        }
    }

    /// A table write cut short (a crash, a SIGKILL) leaves one of the two GPT copies torn
    /// and the other whole: rewrite the torn one first, as flatcar-postinst's `cgpt repair`
    /// does. A disk that cannot be found is the install step's error.
    fn repair_table(&mut self) -> Result<(), Error> {
        if let Ok(path) = self.disk()
            && let Ok(disk) = crate::slots::Disk::open(&path)
            && disk.repair()?
        {
            self.say_line(&format!(
                "repaired a damaged copy of the partition table of {}",
                path.display()
            ));
        }
        Ok(())
    }

    /// Bring the record to where this start takes it up: a config's reboot that happened is
    /// forgotten, an interrupted update resumes from its download, a check is asked again
    /// and an error being reported is done with.
    fn resume_record(&mut self) -> Result<(), Error> {
        // A reboot a fleet config asked for happened: its changes are now in effect.
        if self
            .record
            .memory
            .config_reboot
            .as_ref()
            .is_some_and(|c| c.boot_id != self.identity.boot_id)
        {
            self.record.memory.config_reboot = None;
            self.save_record()?;
        }
        match self.record.status() {
            // Stopped mid-way through an update: take it up again from the download.
            Status::Downloading | Status::Verifying | Status::Finalizing => {
                self.record.interrupted()?;
            }
            // A check cannot be resumed; it is simply asked again.
            Status::CheckingForUpdate => self.record.abandon_check()?,
            Status::ReportingErrorEvent => self.record.reported()?,
            _ => return Ok(()),
        }
        self.save_record()
    }

    /// The staged release is running: marked good when healthy, denied when not.
    async fn judge_new_release(&mut self, s: Staged) -> Result<AfterBoot, Error> {
        let (event, line, after) = match self.health().await {
            Verdict::Healthy(_) => {
                self.mark_booted_good()?;
                self.record.reset()?;
                self.save_record()?;
                let line = format!(
                    "{} is up and healthy; its slot is marked good (was {})",
                    s.version, s.previous_version
                );
                let event = crate::omaha::Event::rebooted(Some(s.previous_version.clone()));
                let after = AfterBoot::Updated {
                    from: s.previous_version,
                    to: s.version,
                };
                (event, line, after)
            }
            Verdict::Unhealthy(why) => {
                let message = format!("{} failed its health check: {why}", s.version);
                self.deny(&s.version, code::POSTINSTALL_RUNNER_ERROR, message)?;
                let line = format!(
                    "{} failed its health check ({why}); it is not marked good and will not be installed again; the next boot returns to {}",
                    s.version, s.previous_version
                );
                let event = crate::omaha::Event::error(code::POSTINSTALL_RUNNER_ERROR);
                let after = AfterBoot::Unhealthy {
                    version: s.version,
                    why,
                };
                (event, line, after)
            }
        };
        self.event(event).await;
        self.say_line(&line);
        Ok(after)
    }

    /// Back on the old release: the firmware fell back (the new slot's one try was spent
    /// without it being marked good).
    async fn rolled_back(&mut self, s: Staged) -> Result<AfterBoot, Error> {
        let running = self.settings.version.clone();
        let message = format!(
            "rollback detected: staged {} but running {running}",
            s.version
        );
        self.deny(&s.version, code::ROLLBACK, message)?;
        // No event of its own: the next update check carries 3/0 error 44, since the
        // previous version runs again (update_engine's way).
        self.say_line(&format!(
            "rollback detected: {} did not stay booted; running {running}; {} will not be installed again",
            s.version, s.version
        ));
        if let Verdict::Healthy(_) = self.health().await {
            self.mark_booted_good()?;
        }
        Ok(AfterBoot::RolledBack { version: s.version })
    }

    /// Never install `version` again: denied, the staged update forgotten (back to IDLE)
    /// and the reason kept as the last error.
    fn deny(&mut self, version: &str, code: i32, message: String) -> Result<(), Error> {
        self.record.memory.denylist.insert(version.to_string());
        self.record.reset()?;
        self.record.memory.last_error = Some(LastError {
            code: code.unsigned_abs(),
            message,
            at: now(),
        });
        self.save_record()
    }

    /// Nothing staged: mark a healthy booted slot good, once per boot.
    async fn judge_booted(&mut self) -> Result<AfterBoot, Error> {
        if self.marked_good_this_boot() {
            return Ok(AfterBoot::Nothing);
        }
        match self.health().await {
            Verdict::Healthy(_) => {
                let slot = self.mark_booted_good()?;
                Ok(slot.map_or(AfterBoot::Nothing, AfterBoot::MarkedGood))
            }
            Verdict::Unhealthy(why) => {
                self.say_line(&format!(
                    "the booted release is not healthy ({why}); its slot is left as it is"
                ));
                Ok(AfterBoot::Nothing)
            }
        }
    }

    /// The health check, run on a blocking thread: it may take minutes, and the runtime
    /// (one thread) meanwhile keeps a re-attached reboot lock's lease alive.
    pub(super) async fn health(&mut self) -> Verdict {
        let timeout = self.options.health_timeout;
        let settings = self.settings.health.clone();
        let root = self.root.path().to_path_buf();
        let is_host = self.root.is_host();
        let verdict =
            tokio::task::spawn_blocking(move || health::check(&settings, &root, is_host, timeout))
                .await
                .unwrap_or_else(|e| {
                    Verdict::Unhealthy(format!("the health check did not finish: {e}"))
                });
        if let Verdict::Healthy(checked) = &verdict {
            let line = format!("health check passed: {}", checked.join("; "));
            self.say_line(&line);
        }
        verdict
    }

    /// Mark the booted slot good (successful, tries 0, top priority), as coreos-setgoodroot
    /// does; returns its PARTUUID, or None when the node has no A/B disk to mark.
    fn mark_booted_good(&mut self) -> Result<Option<String>, Error> {
        let booted = self.booted()?;
        let disk_path = self.disk()?;
        let disk = crate::slots::Disk::open(&disk_path)?;
        let slot = disk.slot_by_partuuid(&booted)?;
        let top = disk
            .usr_slots()?
            .iter()
            .all(|s| s.partuuid == slot.partuuid || s.priority < slot.priority);
        // Already good and on top: no write (a GPT write on every boot is needless wear).
        if !(slot.successful && slot.tries == 0 && top) {
            disk.mark_good(&booted)?;
        }
        self.record.memory.marked_good_boot = Some(self.identity.boot_id.clone());
        self.save_record()?;
        Ok(Some(booted))
    }
}
