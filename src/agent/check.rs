//! The update cycle's first phase: ask the update server (Omaha) whether a release is
//! offered, and record the answer (CHECKING_FOR_UPDATE → IDLE or UPDATE_AVAILABLE); then
//! hand an available update to the install phase. While an update waits for its reboot the
//! server is only pinged, as update_engine does.
//!
//! A failed update (check, download, verification, staging) is recorded here too: the
//! record goes through REPORTING_ERROR_EVENT (the error event sent, except for a failed
//! check, which had no server to report to) back to IDLE, and the cycle ends in
//! `Outcome::Failed`, retried with backoff.

use super::driver::{Agent, Outcome, code, now};
use super::error::Error;
use super::state::{LastError, Offer, Status};

/// An update that failed: update_engine's error code, the message, and whether a download
/// in the slot may resume (false: what is in the slot is not the payload).
#[derive(Debug)]
pub(super) struct Failure {
    /// update_engine's error code.
    pub code: i32,
    /// What went wrong, for people.
    pub message: String,
    /// Whether the next cycle may resume the download.
    pub keep_download: bool,
}

/// Why an update phase stopped: an update failure to record, or a failure of the agent.
#[derive(Debug)]
pub(super) enum Stop {
    /// The update failed; recorded, reported and retried.
    Update(Failure),
    /// The agent itself failed.
    Agent(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Agent(e)
    }
}

impl Stop {
    /// An update failure with update_engine's `code`, its download kept for a resume.
    pub(super) fn update(code: i32, message: impl ToString) -> Stop {
        Stop::Update(Failure {
            code,
            message: message.to_string(),
            keep_download: true,
        })
    }
}

impl Agent {
    /// One update cycle: check, and when a release is offered, download, verify and stage it.
    ///
    /// # Errors
    /// Only for failures of the agent's own record; everything else is an `Outcome::Failed`
    /// recorded for `status` and retried with backoff.
    pub async fn cycle(&mut self) -> Result<Outcome, Error> {
        if self.record.status() == Status::UpdatedNeedReboot {
            return Ok(self.ping_while_staged().await);
        }
        if self.record.status() == Status::Idle {
            match self.check().await {
                Ok(None) => {}
                Ok(Some(outcome)) => return Ok(outcome),
                Err(stop) => return self.stopped(stop).await,
            }
        }
        if self.record.status() != Status::UpdateAvailable {
            return Err(Error::CycleCannotStart(self.record.status()));
        }
        match self.install().await {
            Ok(version) => Ok(Outcome::Staged(version)),
            Err(stop) => self.stopped(stop).await,
        }
    }

    /// update_engine only pings while an update waits for its reboot.
    async fn ping_while_staged(&mut self) -> Outcome {
        if let Err(e) = self
            .ask_server(|c, app| async move { c.ping(&app).await })
            .await
        {
            self.say_line(&format!("could not ping {}: {e}", self.settings.server));
        }
        let version = self
            .record
            .state
            .staged()
            .map_or_else(String::new, |s| s.version.clone());
        Outcome::Staged(version)
    }

    /// IDLE → CHECKING_FOR_UPDATE → IDLE (`Some`: no update to install) or UPDATE_AVAILABLE
    /// (`None`: go on to install it).
    async fn check(&mut self) -> Result<Option<Outcome>, Stop> {
        self.record.start_check().map_err(Error::from)?;
        self.save_record()?;
        let response = self
            .ask_server(|c, app| async move { c.check(&app).await })
            .await
            .map_err(|e| {
                Stop::update(
                    code::OMAHA_REQUEST_ERROR,
                    format!("update check at {} failed: {e}", self.settings.server),
                )
            })?;
        self.record.memory.poll_interval = response.poll_interval.map(u64::from);
        let crate::omaha::UpdateCheck::Update(update) = response.update else {
            let newest = format!(
                "{} is the newest release of {}",
                self.settings.version, self.settings.group
            );
            return self.no_update(newest).map(Some);
        };
        if self.record.memory.denylist.contains(&update.version) {
            let m = format!(
                "{} is offered but failed on this node before; not installing it again",
                update.version
            );
            let outcome = self.no_update(m.clone())?;
            self.say_line(&m);
            return Ok(Some(outcome));
        }
        let Some(url) = update.payload_urls.first().cloned() else {
            return Err(Stop::update(
                code::OMAHA_RESPONSE_HANDLER_ERROR,
                "the update server offered a release without a payload URL",
            ));
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
        self.record.offered(offer, now()).map_err(Error::from)?;
        self.save_record()?;
        Ok(None)
    }

    /// CHECKING_FOR_UPDATE → IDLE: nothing to install.
    fn no_update(&mut self, message: String) -> Result<Outcome, Stop> {
        self.record.no_update(now()).map_err(Error::from)?;
        self.save_record()?;
        Ok(Outcome::NoUpdate(message))
    }

    /// Finish a phase that stopped: a failure of the agent is returned; an update failure is
    /// recorded, reported (except for a failed check, which had no server to report to) and
    /// the record goes back to IDLE.
    async fn stopped(&mut self, stop: Stop) -> Result<Outcome, Error> {
        let failure = match stop {
            Stop::Agent(e) => return Err(e),
            Stop::Update(failure) => failure,
        };
        let error = LastError {
            code: failure.code.unsigned_abs(),
            message: failure.message.clone(),
            at: now(),
        };
        self.record.failed(error, failure.keep_download)?;
        self.save_record()?;
        if failure.code != code::OMAHA_REQUEST_ERROR {
            self.event(crate::omaha::Event::error(failure.code)).await;
        }
        self.record.reported()?;
        self.save_record()?;
        self.say_line(&format!("update failed: {}", failure.message));
        Ok(Outcome::Failed(failure.message))
    }
}
