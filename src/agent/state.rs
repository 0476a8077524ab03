//! The agent's state machine and its persisted record.
//!
//! The states are update_engine's (`UPDATE_STATUS_*`), and every transition names the states
//! it may come from: a transition from anywhere else is a bug and is refused, never silently
//! taken (as Zincati's `UpdateAgentState` does). The whole record is written atomically to
//! `/var/lib/kindling/agent.json` in the root after every transition, so a restart or a
//! SIGKILL resumes from the last transition: a download resumes from the bytes recorded as
//! written (the payload module re-hashes that prefix, never trusting it), and a slot is made
//! bootable only after a transition that follows a complete verification.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// update_engine's states, in its order.
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

/// Everything the agent remembers between runs (and reboots).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Record {
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
    /// Versions that failed after a reboot (rolled back): never installed again.
    pub denylist: BTreeSet<String>,
    /// Consecutive failed cycles, for the backoff.
    pub failures: u32,
    /// The last error.
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
}

/// A reboot a fleet config asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReboot {
    /// Which planned changes need it.
    pub reason: String,
    /// The boot that applied them.
    pub boot_id: String,
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

impl Record {
    /// Move to `to`, checking that the current state is one of `from`.
    ///
    /// # Errors
    /// `BadTransition` when the current state is not in `from`.
    pub fn go(&mut self, from: &[Status], to: Status) -> Result<(), BadTransition> {
        if !from.contains(&self.status) {
            return Err(BadTransition {
                from: self.status,
                to,
            });
        }
        self.status = to;
        Ok(())
    }

    /// IDLE → CHECKING_FOR_UPDATE.
    ///
    /// # Errors
    /// When not idle.
    pub fn start_check(&mut self) -> Result<(), BadTransition> {
        self.go(&[Status::Idle], Status::CheckingForUpdate)
    }

    /// CHECKING_FOR_UPDATE → IDLE (no update, or only a ping was due).
    ///
    /// # Errors
    /// When not checking.
    pub fn no_update(&mut self, now: i64) -> Result<(), BadTransition> {
        self.go(&[Status::CheckingForUpdate], Status::Idle)?;
        self.last_checked_time = now;
        self.failures = 0;
        Ok(())
    }

    /// CHECKING_FOR_UPDATE → UPDATE_AVAILABLE.
    ///
    /// # Errors
    /// When not checking.
    pub fn offered(&mut self, offer: Offer, now: i64) -> Result<(), BadTransition> {
        self.go(&[Status::CheckingForUpdate], Status::UpdateAvailable)?;
        self.last_checked_time = now;
        // The same release offered again: an interrupted download of it resumes.
        if self.offer.as_ref() != Some(&offer) {
            self.download = None;
        }
        self.offer = Some(offer);
        Ok(())
    }

    /// UPDATE_AVAILABLE → DOWNLOADING, once the passive slot was made unbootable. An
    /// interrupted download into the same slot keeps its count (the payload module re-hashes
    /// that prefix from the slot; it is never trusted).
    ///
    /// # Errors
    /// When no update is available.
    pub fn start_download(&mut self, slot: String) -> Result<(), BadTransition> {
        self.go(&[Status::UpdateAvailable], Status::Downloading)?;
        let written = match &self.download {
            Some(d) if d.slot == slot => d.written,
            _ => 0,
        };
        self.download = Some(Download { slot, written });
        Ok(())
    }

    /// DOWNLOADING, VERIFYING or FINALIZING found on start (the agent was stopped there) →
    /// UPDATE_AVAILABLE, so the cycle takes it up again from the download (resumed) on.
    ///
    /// # Errors
    /// From any other state.
    pub fn interrupted(&mut self) -> Result<(), BadTransition> {
        self.go(
            &[Status::Downloading, Status::Verifying, Status::Finalizing],
            Status::UpdateAvailable,
        )
    }

    /// Record download progress (DOWNLOADING only).
    ///
    /// # Errors
    /// When not downloading.
    pub fn progress(&mut self, written: u64) -> Result<(), BadTransition> {
        self.go(&[Status::Downloading], Status::Downloading)?;
        if let Some(d) = &mut self.download {
            d.written = written;
        }
        Ok(())
    }

    /// DOWNLOADING → VERIFYING.
    ///
    /// # Errors
    /// When not downloading.
    pub fn downloaded(&mut self) -> Result<(), BadTransition> {
        self.go(&[Status::Downloading], Status::Verifying)
    }

    /// VERIFYING → FINALIZING: every check passed.
    ///
    /// # Errors
    /// When not verifying.
    pub fn verified(&mut self) -> Result<(), BadTransition> {
        self.go(&[Status::Verifying], Status::Finalizing)
    }

    /// FINALIZING → UPDATED_NEED_REBOOT: the slot is the one to try on the next boot.
    ///
    /// # Errors
    /// When not finalizing.
    pub fn staged(&mut self, staged: Staged) -> Result<(), BadTransition> {
        self.go(&[Status::Finalizing], Status::UpdatedNeedReboot)?;
        self.staged = Some(staged);
        self.download = None;
        self.failures = 0;
        self.last_error = None;
        Ok(())
    }

    /// Any working state → REPORTING_ERROR_EVENT.
    ///
    /// # Errors
    /// From IDLE, UPDATED_NEED_REBOOT or REPORTING_ERROR_EVENT itself.
    pub fn failed(&mut self, error: LastError) -> Result<(), BadTransition> {
        self.go(
            &[
                Status::CheckingForUpdate,
                Status::UpdateAvailable,
                Status::Downloading,
                Status::Verifying,
                Status::Finalizing,
            ],
            Status::ReportingErrorEvent,
        )?;
        self.last_error = Some(error);
        self.failures = self.failures.saturating_add(1);
        Ok(())
    }

    /// REPORTING_ERROR_EVENT → IDLE. An interrupted download keeps its record; the next
    /// check decides whether it resumes (the same offer) or starts over.
    ///
    /// # Errors
    /// When not reporting an error.
    pub fn reported(&mut self) -> Result<(), BadTransition> {
        self.go(&[Status::ReportingErrorEvent], Status::Idle)
    }

    /// UPDATED_NEED_REBOOT → IDLE after the reboot (or `-reset_status`), forgetting the
    /// offer. IDLE stays IDLE (update_engine's ResetStatus is a no-op there).
    ///
    /// # Errors
    /// From a working state.
    pub fn reset(&mut self) -> Result<(), BadTransition> {
        self.go(&[Status::Idle, Status::UpdatedNeedReboot], Status::Idle)?;
        self.offer = None;
        self.download = None;
        Ok(())
    }

    /// The download fraction for `PROGRESS` (0..1).
    #[must_use]
    pub fn progress_fraction(&self) -> f64 {
        match (&self.offer, &self.download, self.status) {
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
        assert_eq!(r.status, Status::UpdatedNeedReboot);
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
        assert_eq!(r.status, Status::Idle);
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
        r.failed(LastError {
            code: 2,
            message: "down".into(),
            at: 1,
        })
        .unwrap();
        assert_eq!(r.failures, 1);
        assert!(
            r.failed(LastError {
                code: 2,
                message: "again".into(),
                at: 2
            })
            .is_err()
        );
        r.reported().unwrap();
        assert_eq!(r.status, Status::Idle);
    }

    #[test]
    fn the_record_round_trips_through_json_and_accepts_missing_fields() {
        let mut r = Record::default();
        r.denylist.insert("1.0.1".into());
        let text = serde_json::to_string(&r).unwrap();
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let old: Record = serde_json::from_str(r#"{"status":"UPDATED_NEED_REBOOT"}"#).unwrap();
        assert_eq!(old.status, Status::UpdatedNeedReboot);
    }
}
