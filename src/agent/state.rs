//! The agent's state machine and its persisted record.
//!
//! The states are update_engine's (`UPDATE_STATUS_*`), and each [`State`] carries what that
//! state needs and nothing else (as Zincati's `UpdateAgentState` does): the offer while an
//! update is available, the offer and the download while it is written and checked, the
//! staged slot once it waits for a reboot, the error while it is reported. Every transition
//! is a method that names the states it may come from: a transition from anywhere else is a
//! bug and is refused, never silently taken.
//!
//! The whole record is written atomically to `/var/lib/kindling/agent.json` in the root
//! after every transition, so a restart or a SIGKILL resumes from the last transition: a
//! download resumes from the bytes recorded as written (the payload module re-hashes that
//! prefix, never trusting it), and a slot is made bootable only after a transition that
//! follows a complete verification. On disk the record keeps the flat shape of earlier
//! releases ([`RecordWire`]: a status beside optional parts); reading it checks that the
//! parts fit the status.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// update_engine's states, in its order: the name of a [`State`] without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Nothing to do until the next check.
    #[default]
    Idle,
    /// Asking the update server.
    CheckingForUpdate,
    /// The server offered a release; the download has not started.
    UpdateAvailable,
    /// Writing the payload into the passive slot.
    Downloading,
    /// Checking size, SHA-256 and signature of what is in the slot.
    Verifying,
    /// Making the verified slot the one to try on the next boot.
    Finalizing,
    /// The new release is staged; a reboot runs it.
    UpdatedNeedReboot,
    /// An error is being reported to the update server.
    ReportingErrorEvent,
}

impl Status {
    /// The name `update_engine_client -status` prints (`UPDATE_STATUS_IDLE`...).
    #[must_use]
    pub fn update_engine_name(self) -> &'static str {
        match self {
            Status::Idle => "UPDATE_STATUS_IDLE",
            Status::CheckingForUpdate => "UPDATE_STATUS_CHECKING_FOR_UPDATE",
            Status::UpdateAvailable => "UPDATE_STATUS_UPDATE_AVAILABLE",
            Status::Downloading => "UPDATE_STATUS_DOWNLOADING",
            Status::Verifying => "UPDATE_STATUS_VERIFYING",
            Status::Finalizing => "UPDATE_STATUS_FINALIZING",
            Status::UpdatedNeedReboot => "UPDATE_STATUS_UPDATED_NEED_REBOOT",
            Status::ReportingErrorEvent => "UPDATE_STATUS_REPORTING_ERROR_EVENT",
        }
    }
}

/// The release the server offered, as the Omaha response described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The new version.
    pub version: String,
    /// Payload URL.
    pub url: String,
    /// Payload size in bytes.
    pub size: u64,
    /// Base64 SHA-256 of the payload (the postinstall action's `sha256`).
    pub sha256: String,
}

/// Where a download stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    /// The slot being written (PARTUUID).
    pub slot: String,
    /// Bytes written and synced to the slot so far.
    pub written: u64,
    /// For an update_engine (CrAU) payload, where its application resumes (the operations
    /// written and synced so far, the payload's hash state); absent for kindling's format,
    /// and then not written at all, so records of earlier releases read and write unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crau: Option<crate::payload::CrauResume>,
}

/// An update that was staged and awaits the boot that proves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staged {
    /// The staged version.
    pub version: String,
    /// The version that was running when it was staged.
    pub previous_version: String,
    /// The slot it was written to (PARTUUID).
    pub slot: String,
    /// The boot id of the boot that staged it; a different boot id means the node rebooted.
    pub boot_id: String,
}

/// The last error, kept for `status` and the error event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// update_engine's error code (9 transfer, 10 hash, 11 size, 12 verification, ...).
    pub code: u32,
    /// What went wrong, for people.
    pub message: String,
    /// Unix seconds.
    pub at: i64,
}

/// A reboot a fleet config asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReboot {
    /// Which planned changes need it.
    pub reason: String,
    /// The boot that applied them.
    pub boot_id: String,
}

/// A release offered and how far its download into a slot got (if it started): what an
/// available update is, and what a stopped or failed one leaves for the next check to
/// resume (the same offer again) or drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The offered release.
    pub offer: Offer,
    /// The download into the passive slot, once it started.
    pub download: Option<Download>,
}

/// Where the agent is, with what that state needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Nothing to do until the next check; `interrupted` is an update a failure stopped.
    Idle {
        /// What the next check may resume.
        interrupted: Option<Update>,
    },
    /// Asking the update server.
    CheckingForUpdate {
        /// What this check may resume.
        interrupted: Option<Update>,
    },
    /// The server offered a release; a download stopped earlier may resume.
    UpdateAvailable {
        /// The offer, and the download to resume.
        update: Update,
    },
    /// Writing the payload into the passive slot.
    Downloading {
        /// The offer.
        offer: Offer,
        /// How far it got.
        download: Download,
    },
    /// Checking size, SHA-256 and signature of what is in the slot.
    Verifying {
        /// The offer.
        offer: Offer,
        /// The finished download.
        download: Download,
    },
    /// Making the verified slot the one to try on the next boot.
    Finalizing {
        /// The offer.
        offer: Offer,
        /// The verified download.
        download: Download,
    },
    /// The new release is staged; a reboot runs it.
    UpdatedNeedReboot {
        /// The offer it came from (absent in records that never had one).
        offer: Option<Offer>,
        /// The staged slot.
        staged: Staged,
    },
    /// An error is being reported to the update server.
    ReportingErrorEvent {
        /// The error.
        error: LastError,
        /// What the next check may resume.
        interrupted: Option<Update>,
    },
}

impl Default for State {
    fn default() -> Self {
        State::Idle { interrupted: None }
    }
}

impl State {
    /// The state's name.
    #[must_use]
    pub fn status(&self) -> Status {
        match self {
            State::Idle { .. } => Status::Idle,
            State::CheckingForUpdate { .. } => Status::CheckingForUpdate,
            State::UpdateAvailable { .. } => Status::UpdateAvailable,
            State::Downloading { .. } => Status::Downloading,
            State::Verifying { .. } => Status::Verifying,
            State::Finalizing { .. } => Status::Finalizing,
            State::UpdatedNeedReboot { .. } => Status::UpdatedNeedReboot,
            State::ReportingErrorEvent { .. } => Status::ReportingErrorEvent,
        }
    }

    /// The update the state works on or remembers (offer and download), if any.
    fn update(&self) -> Option<(&Offer, Option<&Download>)> {
        match self {
            State::Idle { interrupted }
            | State::CheckingForUpdate { interrupted }
            | State::ReportingErrorEvent { interrupted, .. } => interrupted
                .as_ref()
                .map(|u| (&u.offer, u.download.as_ref())),
            State::UpdateAvailable { update } => Some((&update.offer, update.download.as_ref())),
            State::Downloading { offer, download }
            | State::Verifying { offer, download }
            | State::Finalizing { offer, download } => Some((offer, Some(download))),
            State::UpdatedNeedReboot { offer, .. } => offer.as_ref().map(|o| (o, None)),
        }
    }

    /// The offered release the state works on or remembers.
    #[must_use]
    pub fn offer(&self) -> Option<&Offer> {
        self.update().map(|(offer, _)| offer)
    }

    /// The download the state works on or remembers.
    #[must_use]
    pub fn download(&self) -> Option<&Download> {
        self.update().and_then(|(_, download)| download)
    }

    /// The staged update (UPDATED_NEED_REBOOT only).
    #[must_use]
    pub fn staged(&self) -> Option<&Staged> {
        match self {
            State::UpdatedNeedReboot { staged, .. } => Some(staged),
            _ => None,
        }
    }
}

/// Everything the agent remembers between runs (and reboots): the state, and what outlives
/// every state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "RecordWire", into = "RecordWire")]
pub struct Record {
    /// The current state, with its data.
    pub state: State,
    /// Unix seconds of the last successful update check response (0: none).
    pub last_checked_time: i64,
    /// What outlives every state.
    pub memory: Memory,
}

/// What the agent keeps whatever its state: on disk, the fields after the state's parts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    /// Versions that failed after a reboot (rolled back): never installed again.
    pub denylist: BTreeSet<String>,
    /// Consecutive failed cycles, for the backoff.
    pub failures: u32,
    /// The last error (while one is reported, the state holds it and this is empty).
    pub last_error: Option<LastError>,
    /// The server's `PollInterval` (seconds), when it sent one.
    pub poll_interval: Option<u64>,
    /// The booted slot was judged healthy and marked good in this boot (its boot id).
    pub marked_good_boot: Option<String>,
    /// The reboot lock this node holds across a reboot (its description), given back after
    /// the next boot's verdict.
    pub lock_held: Option<String>,
    /// A fleet config whose reboot-required part waits for a reboot (window and lock, as
    /// an update does); cleared by the first step of the next boot.
    pub config_reboot: Option<ConfigReboot>,
    /// The reboot hooks' memory (left out of the file while there is nothing to remember).
    #[serde(skip_serializing_if = "HookMemory::is_empty")]
    pub hooks: HookMemory,
    /// update_engine's `previous-version` preference: the version that was running when the
    /// last update was staged. Every update check carries it (3/2 `previousversion`; 3/0
    /// error 44 when it is the running version again, a rollback); never set, the check
    /// says `0.0.0.0`. Kept until the next update is staged, as update_engine keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
}

/// What the agent remembers of its reboot hooks (`agent::hooks`): the failures the backoff
/// counts, the post-boot hook a reboot left owed, and the failure still in effect, which
/// `agent status --json` and the fleet record show.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HookMemory {
    /// Consecutive failures of the pre-reboot hook.
    pub pre_reboot_failures: u32,
    /// The boot that rebooted: the post-boot hook is owed by the next boot (and stays owed
    /// until it succeeded).
    pub post_boot_owed: Option<String>,
    /// Consecutive failures of the post-boot hook.
    pub post_boot_failures: u32,
    /// The failure still in effect (cleared by the hook's next success).
    pub failure: Option<HookFailure>,
}

impl HookMemory {
    /// Nothing to remember.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == HookMemory::default()
    }
}

/// A hook that failed, and what it means for the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookFailure {
    /// Which hook.
    pub hook: crate::machine::hooks::Which,
    /// What the node says: why there was no reboot, or why it is not back in service.
    pub message: String,
    /// Unix seconds.
    pub at: i64,
    /// Unix seconds of the next try, when one is planned.
    pub retry_at: Option<i64>,
}

/// The record as `/var/lib/kindling/agent.json` holds it, byte for byte the shape earlier
/// releases wrote and read: a status beside optional parts, every field optional on input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RecordWire {
    /// The current state.
    pub status: Status,
    /// Unix seconds of the last successful update check response (0: none).
    pub last_checked_time: i64,
    /// The offered release (UPDATE_AVAILABLE .. UPDATED_NEED_REBOOT).
    pub offer: Option<Offer>,
    /// The download in progress.
    pub download: Option<Download>,
    /// The staged update (UPDATED_NEED_REBOOT, and after the reboot until it is judged).
    pub staged: Option<Staged>,
    /// The rest, in its order (the last error included, the reported one too).
    #[serde(flatten)]
    pub memory: Memory,
}

/// A record on disk whose parts do not fit its status (no release writes one).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a record in {status:?} {problem}")]
pub struct MismatchedRecord {
    /// The status read.
    pub status: Status,
    /// What does not fit.
    pub problem: &'static str,
}

impl From<Record> for RecordWire {
    fn from(record: Record) -> RecordWire {
        let offer = record.state.offer().cloned();
        let download = record.state.download().cloned();
        let status = record.state.status();
        let mut memory = record.memory;
        let staged = match record.state {
            State::UpdatedNeedReboot { staged, .. } => Some(staged),
            State::ReportingErrorEvent { error, .. } => {
                memory.last_error = Some(error);
                None
            }
            _ => None,
        };
        RecordWire {
            status,
            last_checked_time: record.last_checked_time,
            offer,
            download,
            staged,
            memory,
        }
    }
}

impl TryFrom<RecordWire> for Record {
    type Error = MismatchedRecord;

    fn try_from(wire: RecordWire) -> Result<Record, MismatchedRecord> {
        let status = wire.status;
        let bad = |problem| MismatchedRecord { status, problem };
        if wire.staged.is_some() && status != Status::UpdatedNeedReboot {
            return Err(bad("has a staged update"));
        }
        let interrupted = match (wire.offer.clone(), wire.download.clone()) {
            (Some(offer), download) => Some(Update { offer, download }),
            (None, Some(_)) => return Err(bad("has a download without an offer")),
            (None, None) => None,
        };
        let in_slot = || match (wire.offer.clone(), wire.download.clone()) {
            (Some(offer), Some(download)) => Ok((offer, download)),
            _ => Err(bad("needs an offer and a download")),
        };
        let mut memory = wire.memory;
        let state = match status {
            Status::Idle => State::Idle { interrupted },
            Status::CheckingForUpdate => State::CheckingForUpdate { interrupted },
            Status::UpdateAvailable => State::UpdateAvailable {
                update: interrupted.ok_or_else(|| bad("needs an offer"))?,
            },
            Status::Downloading => {
                let (offer, download) = in_slot()?;
                State::Downloading { offer, download }
            }
            Status::Verifying => {
                let (offer, download) = in_slot()?;
                State::Verifying { offer, download }
            }
            Status::Finalizing => {
                let (offer, download) = in_slot()?;
                State::Finalizing { offer, download }
            }
            Status::UpdatedNeedReboot => {
                if wire.download.is_some() {
                    return Err(bad("has a download"));
                }
                State::UpdatedNeedReboot {
                    offer: wire.offer,
                    staged: wire.staged.ok_or_else(|| bad("needs a staged update"))?,
                }
            }
            Status::ReportingErrorEvent => State::ReportingErrorEvent {
                error: memory
                    .last_error
                    .take()
                    .ok_or_else(|| bad("needs an error"))?,
                interrupted,
            },
        };
        Ok(Record {
            state,
            last_checked_time: wire.last_checked_time,
            memory,
        })
    }
}

impl Record {
    /// The record a wire record stands for; one whose parts do not fit its status (no
    /// release writes one, a hand edit can) keeps what outlives every state (denied
    /// versions, failures, the lock held) and starts idle, with the reason.
    #[must_use]
    pub fn from_wire_keeping_memory(wire: RecordWire) -> (Record, Option<MismatchedRecord>) {
        let kept = Record {
            state: State::default(),
            last_checked_time: wire.last_checked_time,
            memory: wire.memory.clone(),
        };
        match Record::try_from(wire) {
            Ok(record) => (record, None),
            Err(mismatch) => (kept, Some(mismatch)),
        }
    }
}

/// A transition from a state it may not come from: a bug in the agent, reported as such.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("internal error (a bug in kindling): the agent cannot go from {from:?} to {to:?}")]
pub struct BadTransition {
    /// Where the agent was.
    pub from: Status,
    /// Where it was asked to go.
    pub to: Status,
}

/// What a transition makes of the state it found: the next state, or the same state handed
/// back because the transition does not come from it.
enum Next {
    To(State),
    Refused(State),
}

impl Record {
    /// The current state's name.
    #[must_use]
    pub fn status(&self) -> Status {
        self.state.status()
    }

    /// The last error: the one being reported, or the last one of a finished cycle or boot.
    #[must_use]
    pub fn last_error(&self) -> Option<&LastError> {
        match &self.state {
            State::ReportingErrorEvent { error, .. } => Some(error),
            _ => self.memory.last_error.as_ref(),
        }
    }

    /// Move to the state `next` makes of the current one, or refuse (the current state is
    /// kept) when `next` hands it back: it is not a state the transition to `to` comes from.
    fn go(&mut self, to: Status, next: impl FnOnce(State) -> Next) -> Result<(), BadTransition> {
        match next(std::mem::take(&mut self.state)) {
            Next::To(state) => {
                self.state = state;
                Ok(())
            }
            Next::Refused(state) => {
                let from = state.status();
                self.state = state;
                Err(BadTransition { from, to })
            }
        }
    }

    /// IDLE → CHECKING_FOR_UPDATE.
    ///
    /// # Errors
    /// When not idle.
    pub fn start_check(&mut self) -> Result<(), BadTransition> {
        self.go(Status::CheckingForUpdate, |s| match s {
            State::Idle { interrupted } => Next::To(State::CheckingForUpdate { interrupted }),
            other => Next::Refused(other),
        })
    }

    /// CHECKING_FOR_UPDATE → IDLE without an answer: the agent stopped mid-check, and a
    /// check cannot be resumed; it is simply asked again.
    ///
    /// # Errors
    /// When not checking.
    pub fn abandon_check(&mut self) -> Result<(), BadTransition> {
        self.go(Status::Idle, |s| match s {
            State::CheckingForUpdate { interrupted } => Next::To(State::Idle { interrupted }),
            other => Next::Refused(other),
        })
    }

    /// CHECKING_FOR_UPDATE → IDLE (no update, or only a ping was due).
    ///
    /// # Errors
    /// When not checking.
    pub fn no_update(&mut self, now: i64) -> Result<(), BadTransition> {
        self.abandon_check()?;
        self.last_checked_time = now;
        self.memory.failures = 0;
        Ok(())
    }

    /// CHECKING_FOR_UPDATE → UPDATE_AVAILABLE. The same release offered again: an
    /// interrupted download of it resumes.
    ///
    /// # Errors
    /// When not checking.
    pub fn offered(&mut self, offer: Offer, now: i64) -> Result<(), BadTransition> {
        self.go(Status::UpdateAvailable, |s| match s {
            State::CheckingForUpdate { interrupted } => {
                let download = interrupted
                    .filter(|u| u.offer == offer)
                    .and_then(|u| u.download);
                Next::To(State::UpdateAvailable {
                    update: Update { offer, download },
                })
            }
            other => Next::Refused(other),
        })?;
        self.last_checked_time = now;
        Ok(())
    }

    /// UPDATE_AVAILABLE → DOWNLOADING, once the passive slot was made unbootable. An
    /// interrupted download into the same slot keeps its count (the payload module re-hashes
    /// that prefix from the slot; it is never trusted).
    ///
    /// # Errors
    /// When no update is available.
    pub fn start_download(&mut self, slot: String) -> Result<(), BadTransition> {
        self.go(Status::Downloading, |s| match s {
            State::UpdateAvailable { update } => {
                let (written, crau) = match update.download {
                    Some(d) if d.slot == slot => (d.written, d.crau),
                    _ => (0, None),
                };
                Next::To(State::Downloading {
                    offer: update.offer,
                    download: Download {
                        slot,
                        written,
                        crau,
                    },
                })
            }
            other => Next::Refused(other),
        })
    }

    /// DOWNLOADING, VERIFYING or FINALIZING found on start (the agent was stopped there) →
    /// UPDATE_AVAILABLE, so the cycle takes it up again from the download (resumed) on.
    ///
    /// # Errors
    /// From any other state.
    pub fn interrupted(&mut self) -> Result<(), BadTransition> {
        self.go(Status::UpdateAvailable, |s| match s {
            State::Downloading { offer, download }
            | State::Verifying { offer, download }
            | State::Finalizing { offer, download } => Next::To(State::UpdateAvailable {
                update: Update {
                    offer,
                    download: Some(download),
                },
            }),
            other => Next::Refused(other),
        })
    }

    /// Record download progress (DOWNLOADING only).
    ///
    /// # Errors
    /// When not downloading.
    pub fn progress(&mut self, written: u64) -> Result<(), BadTransition> {
        match &mut self.state {
            State::Downloading { download, .. } => {
                download.written = written;
                Ok(())
            }
            other => Err(BadTransition {
                from: other.status(),
                to: Status::Downloading,
            }),
        }
    }

    /// Record how far a CrAU payload's application got (DOWNLOADING only): the bytes of the
    /// payload consumed and the point it resumes from.
    ///
    /// # Errors
    /// When not downloading.
    pub fn crau_progress(
        &mut self,
        written: u64,
        resume: crate::payload::CrauResume,
    ) -> Result<(), BadTransition> {
        match &mut self.state {
            State::Downloading { download, .. } => {
                download.written = written;
                download.crau = Some(resume);
                Ok(())
            }
            other => Err(BadTransition {
                from: other.status(),
                to: Status::Downloading,
            }),
        }
    }

    /// DOWNLOADING → VERIFYING.
    ///
    /// # Errors
    /// When not downloading.
    pub fn downloaded(&mut self) -> Result<(), BadTransition> {
        self.go(Status::Verifying, |s| match s {
            State::Downloading { offer, download } => {
                Next::To(State::Verifying { offer, download })
            }
            other => Next::Refused(other),
        })
    }

    /// VERIFYING → FINALIZING: every check passed.
    ///
    /// # Errors
    /// When not verifying.
    pub fn verified(&mut self) -> Result<(), BadTransition> {
        self.go(Status::Finalizing, |s| match s {
            State::Verifying { offer, download } => Next::To(State::Finalizing { offer, download }),
            other => Next::Refused(other),
        })
    }

    /// FINALIZING → UPDATED_NEED_REBOOT: the slot is the one to try on the next boot.
    ///
    /// # Errors
    /// When not finalizing.
    pub fn staged(&mut self, staged: Staged) -> Result<(), BadTransition> {
        self.go(Status::UpdatedNeedReboot, |s| match s {
            State::Finalizing { offer, .. } => Next::To(State::UpdatedNeedReboot {
                offer: Some(offer),
                staged,
            }),
            other => Next::Refused(other),
        })?;
        self.memory.failures = 0;
        self.memory.last_error = None;
        Ok(())
    }

    /// Any working state → REPORTING_ERROR_EVENT. What was offered and downloaded is kept
    /// for the next check to resume, unless `keep_download` is false (what is in the slot
    /// is not the payload: the download starts over).
    ///
    /// # Errors
    /// From IDLE, UPDATED_NEED_REBOOT or REPORTING_ERROR_EVENT itself.
    pub fn failed(&mut self, error: LastError, keep_download: bool) -> Result<(), BadTransition> {
        self.go(Status::ReportingErrorEvent, |s| {
            let mut interrupted = match s {
                State::CheckingForUpdate { interrupted } => interrupted,
                State::UpdateAvailable { update } => Some(update),
                State::Downloading { offer, download }
                | State::Verifying { offer, download }
                | State::Finalizing { offer, download } => Some(Update {
                    offer,
                    download: Some(download),
                }),
                other => return Next::Refused(other),
            };
            if !keep_download && let Some(update) = &mut interrupted {
                update.download = None;
            }
            Next::To(State::ReportingErrorEvent { error, interrupted })
        })?;
        // The state holds it now (the record on disk has one last error).
        self.memory.last_error = None;
        self.memory.failures = self.memory.failures.saturating_add(1);
        Ok(())
    }

    /// REPORTING_ERROR_EVENT → IDLE; the error stays the last one. An interrupted download
    /// keeps its record; the next check decides whether it resumes (the same offer) or
    /// starts over.
    ///
    /// # Errors
    /// When not reporting an error.
    pub fn reported(&mut self) -> Result<(), BadTransition> {
        let mut last = None;
        self.go(Status::Idle, |s| match s {
            State::ReportingErrorEvent { error, interrupted } => {
                last = Some(error);
                Next::To(State::Idle { interrupted })
            }
            other => Next::Refused(other),
        })?;
        self.memory.last_error = last;
        Ok(())
    }

    /// UPDATED_NEED_REBOOT → IDLE after the reboot (or `-reset_status`), forgetting the
    /// offer. IDLE stays IDLE (update_engine's ResetStatus is a no-op there), forgetting an
    /// interrupted update too.
    ///
    /// # Errors
    /// From a working state.
    pub fn reset(&mut self) -> Result<(), BadTransition> {
        self.go(Status::Idle, |s| match s {
            State::Idle { .. } | State::UpdatedNeedReboot { .. } => Next::To(State::default()),
            other => Next::Refused(other),
        })
    }

    /// The download fraction for `PROGRESS` (0..1).
    #[must_use]
    pub fn progress_fraction(&self) -> f64 {
        let status = self.status();
        match (self.state.offer(), self.state.download(), status) {
            (Some(_), _, Status::Verifying | Status::Finalizing | Status::UpdatedNeedReboot) => 1.0,
            (Some(o), Some(d), _) if o.size > 0 => {
                #[allow(clippy::cast_precision_loss)]
                let f = d.written as f64 / o.size as f64;
                f.clamp(0.0, 1.0)
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Offer {
        Offer {
            version: "1.0.1".into(),
            url: "http://127.0.0.1/p".into(),
            size: 10,
            sha256: "x".into(),
        }
    }

    #[test]
    fn the_happy_path_is_the_only_way_to_staged() {
        let mut r = Record::default();
        r.start_check().unwrap();
        r.offered(offer(), 5).unwrap();
        r.start_download("b".into()).unwrap();
        r.progress(5).unwrap();
        assert!((r.progress_fraction() - 0.5).abs() < 1e-9);
        r.downloaded().unwrap();
        r.verified().unwrap();
        r.staged(Staged {
            version: "1.0.1".into(),
            previous_version: "1.0.0".into(),
            slot: "b".into(),
            boot_id: "boot".into(),
        })
        .unwrap();
        assert_eq!(r.status(), Status::UpdatedNeedReboot);
        assert!((r.progress_fraction() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn transitions_from_the_wrong_state_are_refused() {
        let mut r = Record::default();
        // Straight from IDLE to staged, or verified without a download: refused.
        assert!(r.verified().is_err());
        assert!(r.start_download("b".into()).is_err());
        assert!(
            r.staged(Staged {
                version: "1".into(),
                previous_version: "0".into(),
                slot: "b".into(),
                boot_id: "x".into()
            })
            .is_err()
        );
        assert_eq!(r.status(), Status::Idle);
        r.start_check().unwrap();
        // Verifying needs a completed download first.
        let err = r.verified().unwrap_err();
        assert_eq!(err.from, Status::CheckingForUpdate);
        assert!(r.reset().is_err());
    }

    #[test]
    fn errors_go_through_reporting_back_to_idle() {
        let mut r = Record::default();
        r.start_check().unwrap();
        r.failed(
            LastError {
                code: 2,
                message: "down".into(),
                at: 1,
            },
            true,
        )
        .unwrap();
        assert_eq!(r.memory.failures, 1);
        assert!(
            r.failed(
                LastError {
                    code: 2,
                    message: "again".into(),
                    at: 2
                },
                true
            )
            .is_err()
        );
        r.reported().unwrap();
        assert_eq!(r.status(), Status::Idle);
    }

    #[test]
    fn a_record_whose_parts_do_not_fit_keeps_its_memory_and_starts_idle() {
        let wire: RecordWire = serde_json::from_str(
            r#"{"status":"UPDATED_NEED_REBOOT","last_checked_time":7,"denylist":["1.0.1"],"failures":2}"#,
        )
        .unwrap();
        let (record, mismatch) = Record::from_wire_keeping_memory(wire);
        assert_eq!(
            mismatch.unwrap().to_string(),
            "a record in UpdatedNeedReboot needs a staged update"
        );
        assert_eq!(record.status(), Status::Idle);
        assert_eq!(record.last_checked_time, 7);
        assert!(record.memory.denylist.contains("1.0.1"));
        assert_eq!(record.memory.failures, 2);
    }

    #[test]
    fn the_record_round_trips_through_json_and_accepts_missing_fields() {
        let mut r = Record::default();
        r.memory.denylist.insert("1.0.1".into());
        let text = serde_json::to_string(&r).unwrap();
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let old: RecordWire = serde_json::from_str(r#"{"status":"UPDATED_NEED_REBOOT"}"#).unwrap();
        assert_eq!(old.status, Status::UpdatedNeedReboot);
    }

    /// A record as the previous release wrote it mid-download after an earlier failure.
    const OLD_DOWNLOADING: &str = r#"{
  "status": "DOWNLOADING",
  "last_checked_time": 1700000000,
  "offer": {
    "version": "1.0.1",
    "url": "http://127.0.0.1/p",
    "size": 10,
    "sha256": "x"
  },
  "download": {
    "slot": "b",
    "written": 4
  },
  "staged": null,
  "denylist": [
    "0.9.9"
  ],
  "failures": 1,
  "last_error": {
    "code": 9,
    "message": "cut",
    "at": 1699999999
  },
  "poll_interval": 120,
  "marked_good_boot": "boot",
  "lock_held": null,
  "config_reboot": null
}"#;

    #[test]
    fn a_record_in_the_old_shape_round_trips_byte_for_byte() {
        let record: Record = serde_json::from_str(OLD_DOWNLOADING).unwrap();
        assert_eq!(
            record.state,
            State::Downloading {
                offer: offer(),
                download: Download {
                    slot: "b".into(),
                    written: 4,
                    crau: None,
                }
            }
        );
        assert_eq!(record.last_error().map(|e| e.code), Some(9));
        assert_eq!(
            serde_json::to_string_pretty(&record).unwrap(),
            OLD_DOWNLOADING
        );
        // Every state written by the new shape reads back the same, and as the old shape.
        let mut r = record;
        r.failed(
            LastError {
                code: 10,
                message: "hash".into(),
                at: 1,
            },
            false,
        )
        .unwrap();
        let text = serde_json::to_string_pretty(&r).unwrap();
        let wire: RecordWire = serde_json::from_str(&text).unwrap();
        assert_eq!(wire.status, Status::ReportingErrorEvent);
        assert_eq!(wire.offer, Some(offer()));
        assert_eq!(wire.download, None);
        assert_eq!(wire.memory.last_error.map(|e| e.code), Some(10));
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }

    #[test]
    fn a_status_without_its_data_is_refused_on_read() {
        let staged = r#""staged":{"version":"1","previous_version":"0","slot":"b","boot_id":"x"}"#;
        let offer = r#""offer":{"version":"1","url":"u","size":1,"sha256":"x"}"#;
        for bad in [
            r#"{"status":"UPDATE_AVAILABLE"}"#.to_string(),
            format!(r#"{{"status":"DOWNLOADING",{offer}}}"#),
            r#"{"status":"VERIFYING","download":{"slot":"b","written":1}}"#.to_string(),
            r#"{"status":"UPDATED_NEED_REBOOT"}"#.to_string(),
            r#"{"status":"REPORTING_ERROR_EVENT"}"#.to_string(),
            format!(r#"{{"status":"IDLE",{staged}}}"#),
            r#"{"status":"IDLE","download":{"slot":"b","written":1}}"#.to_string(),
        ] {
            assert!(serde_json::from_str::<Record>(&bad).is_err(), "{bad}");
        }
        let fine = format!(r#"{{"status":"UPDATED_NEED_REBOOT",{staged}}}"#);
        let record: Record = serde_json::from_str(&fine).unwrap();
        assert_eq!(record.state.staged().map(|s| s.slot.as_str()), Some("b"));
    }
}
