//! One update cycle and the after-boot step, driving the state machine.
//!
//! The order of effects is what keeps a node safe, so it is spelled out here:
//! 1. the passive slot (never the booted one) is made unbootable, and only then is the
//!    record moved to DOWNLOADING, so no bytes are written into a slot the firmware could
//!    choose;
//! 2. the payload is streamed into that slot (resuming from the recorded count, whose prefix
//!    the payload module re-hashes);
//! 3. size, SHA-256 and the minisign signature are checked over the bytes as they are in the
//!    slot; only after that is the record moved to FINALIZING;
//! 4. only from FINALIZING is the slot given tries=1 and the top priority.
//!
//! A kill anywhere leaves either an unbootable passive slot (steps 1–3) or a verified one
//! (step 4), and the booted slot keeps its attributes throughout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::state::{LastError, Offer, Record, Staged, Status};
use super::store::Store;
use crate::machine::health::{self, Verdict};
use crate::machine::node::Identity;
use crate::machine::settings::Settings;
use crate::root::Root;

/// What the caller asked the agent to do about reboots.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The disk holding the slots (found from the booted PARTUUID when not given).
    pub disk: Option<PathBuf>,
    /// The reboot command (`systemctl reboot` when the root is `/`).
    pub reboot_command: Option<String>,
    /// How long the health check may take.
    pub health_timeout: Option<Duration>,
    /// Whether the update check was asked for by a person (`installsource=ondemandupdate`).
    pub on_demand: bool,
}

/// What a cycle ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No update (or one that is denied).
    NoUpdate(String),
    /// An update is staged; a reboot runs it.
    Staged(String),
    /// The cycle failed; the record says why and the next cycle retries with backoff.
    Failed(String),
}

/// What the after-boot step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterBoot {
    /// Nothing was staged, or the node did not reboot yet.
    Nothing,
    /// The booted slot was judged healthy and marked good.
    MarkedGood(String),
    /// The staged release came up healthy: marked good, 3/2 reported.
    Updated { from: String, to: String },
    /// The node came back on the old release: 3/0 errorcode 44 reported, version denied.
    RolledBack { version: String },
    /// The new release booted but failed its health check: denied; a reboot returns to
    /// the old slot.
    Unhealthy { version: String, why: String },
}

/// An agent working on one root.
pub struct Agent {
    /// The root.
    pub root: Root,
    /// What it was told.
    pub options: Options,
    /// The record.
    pub record: Record,
    /// The settings read at start.
    pub settings: Settings,
    /// This boot's identity.
    pub identity: Identity,
    store: Store,
    /// Called with (written, total) while downloading.
    pub on_progress: Option<Box<dyn FnMut(u64, u64) + Send>>,
    /// Lines for the journal (stderr by default).
    pub log: Box<dyn FnMut(&str) + Send>,
    /// The fleet member's handle, when the daemon joined a fleet (the release gate tells
    /// it what the reboot waits for).
    pub fleet: Option<crate::fleet::Publisher>,
    /// What the reboot into the staged release waits for with the group's release rollout.
    pub admission: Option<String>,
    /// The reboot lock a slot held across the reboot was re-attached through at start: it
    /// keeps the hold alive (etcd v3: the lease's keep-alive) until the slot is given back.
    pub(crate) held_lock: Option<Box<dyn crate::lock::RebootLock>>,
    /// The re-attachment under way (started at start, joined after the after-boot step or
    /// before the slot is given back): the lock, when it is to be kept, and the line to log.
    pub(crate) renewing: Option<Renewing>,
}

/// A re-attachment under way: the lock to keep (when it is to be kept) and the line to log.
pub(crate) type Renewing =
    tokio::task::JoinHandle<(Option<Box<dyn crate::lock::RebootLock>>, String)>;

/// Unix seconds now (the record's timestamps).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// update_engine's error codes (`ErrorCode` in its `error_code.h`) that kindling reports.
pub mod code {
    /// Generic error.
    pub const ERROR: u32 = 1;
    /// The update check failed.
    pub const OMAHA_REQUEST: u32 = 2;
    /// The response could not be used.
    pub const OMAHA_RESPONSE_HANDLER: u32 = 3;
    /// The slot could not be opened.
    pub const INSTALL_DEVICE_OPEN: u32 = 7;
    /// The download failed.
    pub const DOWNLOAD_TRANSFER: u32 = 9;
    /// SHA-256 mismatch.
    pub const PAYLOAD_HASH_MISMATCH: u32 = 10;
    /// Size mismatch.
    pub const PAYLOAD_SIZE_MISMATCH: u32 = 11;
    /// Signature verification failed.
    pub const DOWNLOAD_PAYLOAD_VERIFICATION: u32 = 12;
    /// Writing the slot failed.
    pub const DOWNLOAD_WRITE: u32 = 14;
    /// The new release failed its health check (postinstall-like failure).
    pub const POSTINSTALL_RUNNER: u32 = 5;
    /// The node came back on the old release.
    pub const ROLLBACK: u32 = 44;
}

impl Agent {
    /// Open the agent for a root: take its lock, load its record, read settings and identity.
    /// `Ok(None)` when another agent holds the root.
    ///
    /// # Errors
    /// Unreadable settings or identity, or a store that cannot be opened.
    pub fn open(root: Root, options: Options) -> Result<Option<Agent>, String> {
        let Some(store) = Store::locked(&root)? else {
            return Ok(None);
        };
        let (record, warning) = store.load()?;
        let settings = Settings::read(&root).map_err(|e| e.to_string())?;
        let identity = Identity::read(&root).map_err(|e| e.to_string())?;
        let mut agent = Agent {
            root,
            options,
            record,
            settings,
            identity,
            store,
            on_progress: None,
            log: Box::new(|line| eprintln!("kindling agent: {line}")),
            fleet: None,
            admission: None,
            held_lock: None,
            renewing: None,
        };
        if let Some(w) = warning {
            agent.say_line(&w);
        }
        Ok(Some(agent))
    }

    /// The agent's state as the fleet record shows it.
    pub(crate) fn view(&self) -> crate::fleet::AgentView {
        crate::fleet::AgentView {
            status: self.record.status().update_engine_name().to_string(),
            running_version: self.settings.version.clone(),
            staged_version: self.record.state.staged().map(|s| s.version.clone()),
            lock_held: self.record.lock_held.clone(),
            marked_good: self.record.marked_good_boot.as_deref()
                == Some(self.identity.boot_id.as_str()),
            denied: self.record.denylist.iter().cloned().collect(),
            admission: self.admission.clone(),
        }
    }

    /// Write a line to the agent's log.
    pub fn say_line(&mut self, line: &str) {
        (self.log)(line);
    }

    /// Save the record now.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save_record(&self) -> Result<(), String> {
        self.save()
    }

    /// Reboot to leave a release that failed its health check: the firmware then returns to
    /// the old slot, since the failed one spent its only try and was never marked good.
    ///
    /// # Errors
    /// When the reboot command could not be run.
    pub fn fallback_reboot(&mut self) -> Result<String, String> {
        self.say_line("rebooting to return to the previous release");
        self.reboot_now()
    }

    fn save(&self) -> Result<(), String> {
        self.store.save(&self.record)
    }

    fn bug(e: impl std::fmt::Display) -> String {
        e.to_string()
    }

    /// The disk holding the slots: the one given, or the one holding the booted PARTUUID.
    fn disk(&self) -> Result<PathBuf, String> {
        if let Some(d) = &self.options.disk {
            return Ok(d.clone());
        }
        let booted = self.booted()?;
        crate::slots::find_disk(self.root.path(), &booted).map_err(|e| e.to_string())
    }

    /// The booted slot's PARTUUID, from the kernel command line.
    fn booted(&self) -> Result<String, String> {
        crate::slots::booted_partuuid(&self.identity.cmdline).ok_or_else(|| {
            format!(
                "the kernel command line ({}) names no mount.usr=PARTUUID=/usr=PARTUUID=: cannot tell the booted slot",
                self.identity.cmdline
            )
        })
    }

    fn app(&self) -> crate::omaha::AppInfo {
        let mut app = crate::omaha::AppInfo::new(
            self.settings.app_id.clone(),
            self.settings.version.clone(),
            self.settings.group.clone(),
            self.identity.machine_id.clone(),
            crate::omaha::AppInfo::braced_boot_id(&self.identity.boot_id),
        );
        app.board = self.settings.board.clone();
        app.interactive = self.options.on_demand;
        // The boot events (3/2, rollback) are sent by the after-boot step as soon as the
        // verdict is known, not attached to every check.
        app.previous_version = Some(String::new());
        app
    }

    fn omaha(&self) -> Result<crate::omaha::client::Client, String> {
        crate::omaha::client::Client::new(&self.settings.server).map_err(|e| e.to_string())
    }

    /// Report an event; a failure to report is logged, never fatal (update_engine too).
    async fn event(&mut self, event: crate::omaha::Event) {
        let app = self.app();
        let result = match self.omaha() {
            Ok(c) => c.event(&app, event).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.say_line(&format!(
                "could not report an event to {}: {e}",
                self.settings.server
            ));
        }
    }

    /// The after-boot step: judge a staged update once the node rebooted, and mark a healthy
    /// booted slot good.
    ///
    /// # Errors
    /// I/O on the record or the disk.
    pub async fn after_boot(&mut self) -> Result<AfterBoot, String> {
        // A table write cut short (a crash, a SIGKILL) leaves one of the two GPT copies torn
        // and the other whole: rewrite the torn one first, as flatcar-postinst's
        // `cgpt repair` does. A disk that cannot be found is the install step's error.
        if let Ok(path) = self.disk()
            && let Ok(disk) = crate::slots::Disk::open(&path)
        {
            match disk.repair() {
                Ok(true) => self.say_line(&format!(
                    "repaired a damaged copy of the partition table of {}",
                    path.display()
                )),
                Ok(false) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        // A reboot a fleet config asked for happened: its changes are now in effect.
        if self
            .record
            .config_reboot
            .as_ref()
            .is_some_and(|c| c.boot_id != self.identity.boot_id)
        {
            self.record.config_reboot = None;
            self.save()?;
        }
        // Stopped mid-way through an update: take it up again from the download.
        if matches!(
            self.record.status(),
            Status::Downloading | Status::Verifying | Status::Finalizing
        ) {
            self.record.interrupted().map_err(Self::bug)?;
            self.save()?;
        }
        if self.record.status() == Status::CheckingForUpdate {
            // A check cannot be resumed; it is simply asked again.
            self.record.abandon_check().map_err(Self::bug)?;
            self.save()?;
        }
        if self.record.status() == Status::ReportingErrorEvent {
            self.record.reported().map_err(Self::bug)?;
            self.save()?;
        }
        let running = self.settings.version.clone();
        let staged = self.record.state.staged().cloned();
        match staged {
            Some(s) if s.boot_id != self.identity.boot_id => {
                if running == s.version {
                    match self.health().await {
                        Verdict::Healthy(_) => {
                            self.mark_booted_good()?;
                            self.record.reset().map_err(Self::bug)?;
                            self.save()?;
                            self.event(crate::omaha::Event::rebooted(Some(
                                s.previous_version.clone(),
                            )))
                            .await;
                            self.say_line(&format!(
                                "{} is up and healthy; its slot is marked good (was {})",
                                s.version, s.previous_version
                            ));
                            Ok(AfterBoot::Updated {
                                from: s.previous_version,
                                to: s.version,
                            })
                        }
                        Verdict::Unhealthy(why) => {
                            self.record.denylist.insert(s.version.clone());
                            self.record.reset().map_err(Self::bug)?;
                            self.record.last_error = Some(LastError {
                                code: code::POSTINSTALL_RUNNER,
                                message: format!("{} failed its health check: {why}", s.version),
                                at: now(),
                            });
                            self.save()?;
                            self.event(crate::omaha::Event::error(
                                i32::try_from(code::POSTINSTALL_RUNNER).unwrap_or(1),
                            ))
                            .await;
                            self.say_line(&format!(
                                "{} failed its health check ({why}); it is not marked good and will not be installed again; the next boot returns to {}",
                                s.version, s.previous_version
                            ));
                            Ok(AfterBoot::Unhealthy {
                                version: s.version,
                                why,
                            })
                        }
                    }
                } else {
                    // Back on the old release: the firmware fell back (the new slot's one
                    // try was spent without it being marked good).
                    self.record.denylist.insert(s.version.clone());
                    self.record.reset().map_err(Self::bug)?;
                    self.record.last_error = Some(LastError {
                        code: code::ROLLBACK,
                        message: format!(
                            "rollback detected: staged {} but running {running}",
                            s.version
                        ),
                        at: now(),
                    });
                    self.save()?;
                    self.event(crate::omaha::Event::rollback()).await;
                    self.say_line(&format!(
                        "rollback detected: {} did not stay booted; running {running}; {} will not be installed again",
                        s.version, s.version
                    ));
                    if let Verdict::Healthy(_) = self.health().await {
                        self.mark_booted_good()?;
                    }
                    Ok(AfterBoot::RolledBack { version: s.version })
                }
            }
            Some(_) => Ok(AfterBoot::Nothing),
            None => {
                if self.record.marked_good_boot.as_deref() == Some(&self.identity.boot_id) {
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
        }
    }

    /// The health check, run on a blocking thread: it may take minutes, and the runtime
    /// (one thread) meanwhile keeps a re-attached reboot lock's lease alive.
    async fn health(&mut self) -> Verdict {
        let timeout = self
            .options
            .health_timeout
            .unwrap_or(Duration::from_secs(300));
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
    fn mark_booted_good(&mut self) -> Result<Option<String>, String> {
        let booted = self.booted()?;
        let disk_path = self.disk()?;
        let disk = crate::slots::Disk::open(&disk_path).map_err(|e| e.to_string())?;
        let slot = disk.slot_by_partuuid(&booted).map_err(|e| e.to_string())?;
        let top = disk
            .usr_slots()
            .map_err(|e| e.to_string())?
            .iter()
            .all(|s| s.partuuid == slot.partuuid || s.priority < slot.priority);
        // Already good and on top: no write (a GPT write on every boot is needless wear).
        if !(slot.successful && slot.tries == 0 && top) {
            disk.mark_good(&booted).map_err(|e| e.to_string())?;
        }
        self.record.marked_good_boot = Some(self.identity.boot_id.clone());
        self.save()?;
        Ok(Some(booted))
    }

    fn fail(&mut self, code: u32, message: String) -> Result<Outcome, String> {
        self.fail_with(code, message, true)
    }

    fn fail_with(
        &mut self,
        code: u32,
        message: String,
        keep_download: bool,
    ) -> Result<Outcome, String> {
        self.record
            .failed(
                LastError {
                    code,
                    message: message.clone(),
                    at: now(),
                },
                keep_download,
            )
            .map_err(Self::bug)?;
        self.save()?;
        Ok(Outcome::Failed(message))
    }

    /// Finish a failure: report the error event (except for a failed check, which had no
    /// server to report to) and go back to IDLE.
    async fn report_failure(&mut self, outcome: Outcome) -> Result<Outcome, String> {
        if let Some(e) = self.record.last_error().cloned()
            && e.code != code::OMAHA_REQUEST
        {
            self.event(crate::omaha::Event::error(
                i32::try_from(e.code).unwrap_or(1),
            ))
            .await;
        }
        self.record.reported().map_err(Self::bug)?;
        self.save()?;
        if let Outcome::Failed(m) = &outcome {
            self.say_line(&format!("update failed: {m}"));
        }
        Ok(outcome)
    }

    /// One update cycle: check, and when a release is offered, download, verify and stage it.
    ///
    /// # Errors
    /// Only for failures of the agent's own record; everything else is an `Outcome::Failed`
    /// recorded for `status` and retried with backoff.
    pub async fn cycle(&mut self) -> Result<Outcome, String> {
        if self.record.status() == Status::UpdatedNeedReboot {
            // update_engine only pings while an update waits for its reboot.
            let app = self.app();
            if let Err(e) = match self.omaha() {
                Ok(c) => c.ping(&app).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            } {
                self.say_line(&format!("could not ping {}: {e}", self.settings.server));
            }
            let version = self
                .record
                .state
                .staged()
                .map_or_else(String::new, |s| s.version.clone());
            return Ok(Outcome::Staged(version));
        }
        if self.record.status() == Status::Idle {
            self.record.start_check().map_err(Self::bug)?;
            self.save()?;
            let app = self.app();
            let response = match self.omaha() {
                Ok(c) => c.check(&app).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    let outcome = self.fail(
                        code::OMAHA_REQUEST,
                        format!("update check at {} failed: {e}", self.settings.server),
                    )?;
                    return self.report_failure(outcome).await;
                }
            };
            self.record.poll_interval = response.poll_interval.map(u64::from);
            let crate::omaha::UpdateCheck::Update(update) = response.update else {
                self.record.no_update(now()).map_err(Self::bug)?;
                self.save()?;
                return Ok(Outcome::NoUpdate(format!(
                    "{} is the newest release of {}",
                    self.settings.version, self.settings.group
                )));
            };
            if self.record.denylist.contains(&update.version) {
                self.record.no_update(now()).map_err(Self::bug)?;
                self.save()?;
                let m = format!(
                    "{} is offered but failed on this node before; not installing it again",
                    update.version
                );
                self.say_line(&m);
                return Ok(Outcome::NoUpdate(m));
            }
            let Some(url) = update.payload_urls.first().cloned() else {
                let outcome = self.fail(
                    code::OMAHA_RESPONSE_HANDLER,
                    "the update server offered a release without a payload URL".into(),
                )?;
                return self.report_failure(outcome).await;
            };
            let offer = Offer {
                version: update.version,
                url,
                size: update.size,
                sha256: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    update.sha256,
                ),
            };
            self.say_line(&format!(
                "{} offered ({} bytes) from {}",
                offer.version, offer.size, offer.url
            ));
            self.record.offered(offer, now()).map_err(Self::bug)?;
            self.save()?;
        }
        if self.record.status() != Status::UpdateAvailable {
            return Err(format!(
                "internal error (a bug in kindling): a cycle cannot start in {:?}",
                self.record.status()
            ));
        }
        let outcome = match self.install().await? {
            Ok(version) => Outcome::Staged(version),
            Err(outcome) => return self.report_failure(outcome).await,
        };
        Ok(outcome)
    }

    /// UPDATE_AVAILABLE → … → UPDATED_NEED_REBOOT. The outer `Err` is a failure of the
    /// record; the inner `Err` an update failure already recorded.
    async fn install(&mut self) -> Result<Result<String, Outcome>, String> {
        let Some(offer) = self.record.state.offer().cloned() else {
            return Err("internal error (a bug in kindling): no offer to install".into());
        };
        // The slots: the booted one is never written.
        let booted = match self.booted() {
            Ok(b) => b,
            Err(e) => return Ok(Err(self.fail(code::INSTALL_DEVICE_OPEN, e)?)),
        };
        let disk_path = match self.disk() {
            Ok(d) => d,
            Err(e) => return Ok(Err(self.fail(code::INSTALL_DEVICE_OPEN, e)?)),
        };
        let target = match self.prepare_passive(&disk_path, &booted) {
            Ok(t) => t,
            Err(e) => return Ok(Err(self.fail(code::INSTALL_DEVICE_OPEN, e)?)),
        };
        let fresh = self.record.state.download().is_none_or(|d| d.written == 0);
        self.record
            .start_download(target.partuuid.clone())
            .map_err(Self::bug)?;
        self.save()?;
        if fresh {
            self.event(crate::omaha::Event::download_started()).await;
        }
        // Download, resuming.
        let resume_from = self.record.state.download().map_or(0, |d| d.written);
        let expected = crate::payload::Expected {
            url: offer.url.clone(),
            size: offer.size,
            sha256_b64: offer.sha256.clone(),
            signature_url: None,
        };
        let region = crate::payload::Target {
            path: disk_path.clone(),
            offset: target.offset,
            len: target.len,
        };
        let keys = match crate::payload::TrustedKeys::load(self.root.path()) {
            Ok(k) => k,
            Err(e) => {
                return Ok(Err(
                    self.fail(code::DOWNLOAD_PAYLOAD_VERIFICATION, e.to_string())?
                ));
            }
        };
        // The signature first: without one there is no point in downloading.
        let signature = match self.http() {
            Ok(client) => crate::payload::fetch_signature(
                &client,
                &expected,
                &crate::payload::Timeouts::default(),
            )
            .await
            .map_err(|e| (error_code(&e), e.to_string())),
            Err(e) => Err((code::DOWNLOAD_TRANSFER, e)),
        };
        // A signature by an untrusted key (or in a form that cannot be checked) fails here,
        // before a byte of the payload is downloaded.
        let signature = signature.and_then(|s| {
            crate::payload::precheck(&keys, &s)
                .map(|_| s)
                .map_err(|e| (error_code(&e), e.to_string()))
        });
        let signature = match signature {
            Ok(s) => s,
            Err((c, m)) => return Ok(Err(self.fail(c, m)?)),
        };
        let fetched = match self.fetch(&expected, &region, resume_from).await? {
            Ok(f) => f,
            Err((c, m)) => return Ok(Err(self.fail(c, m)?)),
        };
        self.record.downloaded().map_err(Self::bug)?;
        self.save()?;
        self.event(crate::omaha::Event::download_finished()).await;
        // Verify what is in the slot, read back, against the signature fetched before.
        let verified = crate::payload::verify(&region, &expected, &fetched, &keys, &signature);
        match verified {
            Ok(v) => self.say_line(&format!(
                "{} verified: {} bytes, SHA-256 and the signature by key {} match",
                offer.version,
                v.size(),
                v.key_id()
            )),
            Err(e) => {
                // What is in the slot is not the payload unless it may resume: it starts over.
                let keep = e.retry() == crate::payload::Retry::Resume;
                return Ok(Err(self.fail_with(error_code(&e), e.to_string(), keep)?));
            }
        }
        self.record.verified().map_err(Self::bug)?;
        self.save()?;
        // Only now may the slot boot, once.
        let staged = (|| -> Result<(), String> {
            let disk = crate::slots::Disk::open(&disk_path).map_err(|e| e.to_string())?;
            disk.prioritize_for_trial(&target.partuuid)
                .map(drop)
                .map_err(|e| e.to_string())
        })();
        if let Err(e) = staged {
            return Ok(Err(self.fail(code::DOWNLOAD_WRITE, e)?));
        }
        self.record
            .staged(Staged {
                version: offer.version.clone(),
                previous_version: self.settings.version.clone(),
                slot: target.partuuid.clone(),
                boot_id: self.identity.boot_id.clone(),
            })
            .map_err(Self::bug)?;
        self.save()?;
        self.mark_reboot_required();
        self.event(crate::omaha::Event::installed()).await;
        self.say_line(&format!(
            "{} is staged in {}; a reboot runs it (status UPDATE_STATUS_UPDATED_NEED_REBOOT)",
            offer.version, target.partuuid
        ));
        Ok(Ok(offer.version))
    }

    /// `/run/reboot-required`, as flatcar-postinst leaves it for kured and friends.
    fn mark_reboot_required(&mut self) {
        if let Ok(path) = self.root.resolve("/run/reboot-required")
            && let Err(e) = crate::apply::write_file(&path, b"", 0o644, (0, 0))
        {
            self.say_line(&format!("cannot write /run/reboot-required: {e}"));
        }
    }

    /// Find the passive slot (the USR slot that is not booted) and make it unbootable.
    fn prepare_passive(&self, disk_path: &Path, booted: &str) -> Result<Passive, String> {
        let disk = crate::slots::Disk::open(disk_path).map_err(|e| e.to_string())?;
        let passive = disk.passive_of(booted).map_err(|e| e.to_string())?;
        if passive.partuuid.eq_ignore_ascii_case(booted) {
            return Err(format!(
                "internal error (a bug in kindling): the passive slot of {booted} is itself"
            ));
        }
        // Already unbootable (a resumed download): no table write.
        if passive.priority != 0 || passive.tries != 0 || passive.successful {
            disk.make_unbootable(&passive.partuuid)
                .map_err(|e| e.to_string())?;
        }
        Ok(Passive {
            partuuid: passive.partuuid,
            offset: passive.first_byte,
            len: passive.size_bytes,
        })
    }

    /// The HTTP client for payloads and signatures, through the environment's proxies.
    fn http(&self) -> Result<reqwest::Client, String> {
        crate::payload::client(&crate::payload::ClientOptions {
            proxy: crate::payload::ProxyEnv::from_process(),
            ..crate::payload::ClientOptions::default()
        })
        .map_err(|e| e.to_string())
    }

    /// Stream the payload into the slot, recording progress. The inner `Err` is
    /// (error code, message).
    async fn fetch(
        &mut self,
        expected: &crate::payload::Expected,
        region: &crate::payload::Target,
        resume_from: u64,
    ) -> Result<Result<crate::payload::Fetched, (u32, String)>, String> {
        let client = match self.http() {
            Ok(c) => c,
            Err(e) => return Ok(Err((code::DOWNLOAD_TRANSFER, e))),
        };
        let mut last_saved = resume_from;
        // The last count payload reported: bytes written and synced to the slot, on success
        // and on failure alike (payload's contract), so a failed download resumes from it.
        let mut last_done = resume_from;
        let mut save_error = None;
        let total = expected.size;
        let result = {
            let record = &mut self.record;
            let store = &self.store;
            let on_progress = &mut self.on_progress;
            let mut progress = |written: u64, total: u64| {
                last_done = written;
                if let Some(p) = on_progress.as_mut() {
                    p(written, total);
                }
                // Persist every 1% or 8 MiB, whichever is larger, and at the end.
                let step = (total / 100).max(8 << 20);
                if written >= last_saved.saturating_add(step) || written == total {
                    last_saved = written;
                    if record.progress(written).is_ok()
                        && let Err(e) = store.save(record)
                    {
                        save_error = Some(e);
                    }
                }
            };
            crate::payload::fetch(
                &client,
                expected,
                region,
                resume_from,
                &crate::payload::Timeouts::default(),
                &mut progress,
            )
            .await
        };
        if let Some(e) = save_error {
            return Err(e);
        }
        match result {
            Ok(fetched) => {
                self.record.progress(total).map_err(Self::bug)?;
                self.save()?;
                Ok(Ok(fetched))
            }
            Err(e) => {
                let resume = if e.retry() == crate::payload::Retry::Restart {
                    // The prefix in the slot is not the payload's: start over.
                    0
                } else {
                    last_done
                };
                self.record.progress(resume).map_err(Self::bug)?;
                self.save()?;
                Ok(Err((error_code(&e), e.to_string())))
            }
        }
    }

    /// Run the reboot command.
    pub(crate) fn reboot_now(&mut self) -> Result<String, String> {
        let command = match (&self.options.reboot_command, self.root.is_host()) {
            (Some(c), _) => c.clone(),
            (None, true) => "systemctl reboot".to_string(),
            (None, false) => {
                return Err(format!(
                    "{} is not the running system: pass --reboot-command to say what a reboot is",
                    self.root.path().display()
                ));
            }
        };
        self.say_line(&format!("rebooting into the staged release: {command}"));
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .env("KINDLING_ROOT", self.root.path())
            .status()
            .map_err(|e| format!("cannot run the reboot command `{command}`: {e}"))?;
        if status.success() {
            Ok(format!("rebooted with `{command}`"))
        } else {
            Err(format!("the reboot command `{command}` failed ({status})"))
        }
    }
}

/// The passive slot, ready to be written.
struct Passive {
    partuuid: String,
    offset: u64,
    len: u64,
}

/// update_engine's error code for a payload error.
fn error_code(e: &crate::payload::PayloadError) -> u32 {
    use crate::payload::PayloadError as E;
    match e {
        E::HashMismatch { .. } => code::PAYLOAD_HASH_MISMATCH,
        E::SizeMismatch { .. } => code::PAYLOAD_SIZE_MISMATCH,
        E::NoTrustedKeys { .. }
        | E::SignatureMissing { .. }
        | E::MalformedSignature { .. }
        | E::LegacySignature { .. }
        | E::UntrustedKey { .. }
        | E::BadSignature { .. } => code::DOWNLOAD_PAYLOAD_VERIFICATION,
        E::RegionUnusable { .. }
        | E::RegionTooSmall { .. }
        | E::RegionOutsideDevice { .. }
        | E::RegionFull { .. }
        | E::RegionIo { .. } => code::DOWNLOAD_WRITE,
        E::BadOffer { .. } => code::OMAHA_RESPONSE_HANDLER,
        _ => code::DOWNLOAD_TRANSFER,
    }
}
