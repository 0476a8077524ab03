//! The agent working on one root: the [`Agent`] every phase drives (its root, settings,
//! identity, record and record file, its log), what a caller tells it ([`Options`]) and
//! what its phases end in ([`Outcome`], [`AfterBoot`]), with the helpers the phases share:
//! saving the record, finding the booted slot and its disk, and talking to the update
//! server. The phases themselves are `impl Agent` blocks of their own files: `check`,
//! `install`, `after_boot`, `reboot` and `lock_hold`.

use std::path::PathBuf;
use std::time::Duration;

use super::error::Error;
use super::record_file::RecordFile;
use super::state::Record;
use crate::machine::node::Identity;
use crate::machine::settings::Settings;
use crate::root::Root;

/// How long the health check may take unless the caller says otherwise.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(300);

/// What the caller asked the agent to do about reboots.
#[derive(Debug, Clone)]
pub struct Options {
    /// The disk holding the slots (found from the booted PARTUUID when not given).
    pub disk: Option<PathBuf>,
    /// The reboot command (`systemctl reboot` when the root is `/`).
    pub reboot_command: Option<String>,
    /// How long the health check may take.
    pub health_timeout: Duration,
    /// Whether the update check was asked for by a person (`installsource=ondemandupdate`).
    pub on_demand: bool,
    /// The bus to serve update_engine's interface on (`bus::Choice::None`: none).
    pub bus: crate::bus::Choice,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            disk: None,
            reboot_command: None,
            health_timeout: DEFAULT_HEALTH_TIMEOUT,
            on_demand: false,
            bus: crate::bus::Choice::None,
        }
    }
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
    /// Where the record is kept (and the root's agent lock held).
    pub(super) record_file: RecordFile,
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
#[must_use]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// update_engine's error codes the agent records and reports: omaha's, and the one it adds.
pub mod code {
    pub use crate::omaha::event::code::*;

    /// The slot could not be opened (`kInstallDeviceOpenError`).
    pub const INSTALL_DEVICE_OPEN_ERROR: i32 = 7;
    /// The kernel is not the payload's (`kActionCodeNewKernelVerificationError`).
    pub const NEW_KERNEL_VERIFICATION_ERROR: i32 = 16;
    /// The postinst exited with status 3 (`kActionCodePostinstallBootedFromFirmwareB`).
    pub const POSTINSTALL_BOOTED_FROM_FIRMWARE_B: i32 = 19;
}

impl Agent {
    /// Open the agent for a root: take its lock, load its record, read settings and identity.
    /// `Ok(None)` when another agent holds the root.
    ///
    /// # Errors
    /// Unreadable settings or identity, or a record file that cannot be opened.
    pub fn open(root: Root, options: Options) -> Result<Option<Agent>, Error> {
        let Some(record_file) = RecordFile::locked(&root)? else {
            return Ok(None);
        };
        let (record, warning) = record_file.load()?;
        let settings = Settings::read(&root)?;
        let identity = Identity::read(&root)?;
        let mut agent = Agent {
            root,
            options,
            record,
            settings,
            identity,
            record_file,
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
            lock_held: self.record.memory.lock_held.clone(),
            marked_good: self.marked_good_this_boot(),
            denied: self.record.memory.denylist.iter().cloned().collect(),
            admission: self.admission.clone(),
            reboot_held_back: self.hook_failure(crate::machine::hooks::Which::PreReboot),
            not_back: self.hook_failure(crate::machine::hooks::Which::PostBoot),
        }
    }

    /// The message of a failure of hook `which` still in effect.
    fn hook_failure(&self, which: crate::machine::hooks::Which) -> Option<String> {
        self.record
            .memory
            .hooks
            .failure
            .as_ref()
            .filter(|f| f.hook == which)
            .map(|f| f.message.clone())
    }

    /// Whether the booted slot was judged healthy and marked good in this boot.
    pub(super) fn marked_good_this_boot(&self) -> bool {
        self.record.memory.marked_good_boot.as_deref() == Some(self.identity.boot_id.as_str())
    }

    /// Write a line to the agent's log.
    pub fn say_line(&mut self, line: &str) {
        (self.log)(line);
    }

    /// Save the record now.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save_record(&self) -> Result<(), Error> {
        self.record_file.save(&self.record)
    }

    /// The disk holding the slots: the one given, or the one holding the booted PARTUUID.
    pub(super) fn disk(&self) -> Result<PathBuf, Error> {
        if let Some(d) = &self.options.disk {
            return Ok(d.clone());
        }
        let booted = self.booted()?;
        Ok(crate::slots::find_disk(self.root.path(), &booted)?)
    }

    /// The booted slot's PARTUUID, from the kernel command line.
    pub(super) fn booted(&self) -> Result<String, Error> {
        crate::slots::booted_partuuid(&self.identity.cmdline).ok_or_else(|| Error::NoBootedSlot {
            cmdline: self.identity.cmdline.clone(),
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
        // update_engine's boot event goes with every check: 3/2 with the version the last
        // update came from (`0.0.0.0` on a node that never updated), or 3/0 error 44 while
        // that version runs again (a rollback).
        app.previous_version = self.record.memory.previous_version.clone();
        app
    }

    /// Ask the update server through `ask` (a check, a ping, an event), with this node's
    /// application info.
    pub(super) async fn ask_server<T, F>(
        &self,
        ask: impl FnOnce(crate::omaha::client::Client, crate::omaha::AppInfo) -> F,
    ) -> Result<T, crate::omaha::client::ClientError>
    where
        F: Future<Output = Result<T, crate::omaha::client::ClientError>>,
    {
        let client = crate::omaha::client::Client::new(&self.settings.server)?;
        ask(client, self.app()).await
    }

    /// Report an event; a failure to report is logged, never fatal (update_engine too).
    pub(super) async fn event(&mut self, event: crate::omaha::Event) {
        let result = self
            .ask_server(|c, app| async move { c.event(&app, event).await })
            .await;
        if let Err(e) = result {
            self.say_line(&format!(
                "could not report an event to {}: {e}",
                self.settings.server
            ));
        }
    }
}
