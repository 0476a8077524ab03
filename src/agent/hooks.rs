//! The reboot hooks' policy: when the agent (and the reboot manager) runs the hooks of
//! `crate::machine::hooks`, and what a failure means.
//!
//! - The **pre-reboot hook** runs once the window and the lock are held and the window was
//!   re-checked, immediately before the reboot (`pre_reboot_hook`). It failing or timing out
//!   means no reboot now: the slot is given back, the failure is recorded (the record's
//!   `hooks.failure`, which `agent status --json` and the fleet record show), and the reboot
//!   is tried again at the next window opening, no sooner than a backoff of
//!   [`FIRST_BACKOFF`] doubled with each consecutive failure (at most `KINDLING_MAX_BACKOFF`),
//!   the whole way (window, lock, hook) again. The reboot stays owed: the staged release or
//!   the fleet config's reboot stays in the record. While the hook runs, the lock the slot
//!   was taken through is kept (with an etcd v3 lease's keep-alive), so a drain longer than
//!   the lease does not lose the slot.
//! - Every reboot kindling makes leaves the **post-boot hook** owed, when one is set
//!   (`owe_post_boot`); the
//!   next boot runs it after its health check passed and before the slot is given back
//!   (`post_boot_hook`). It failing keeps the slot (the node is not back in service, and no
//!   other node follows), is recorded and shown the same way, and is tried again (the
//!   daemon after the backoff, each `--once` run at once) until it succeeds.
//!
//! Each hook gets the reason of the reboot (`update to VERSION`, `config change: ...`), the
//! lock group and the machine id in its environment (the names are in
//! `crate::machine::hooks`).

use std::time::Duration;

use super::driver::{Agent, now};
use super::error::Error;
use super::state::HookFailure;
use crate::machine::hooks::{self, Hook, HookFailed, Which};
use crate::wait::sleep_within;

/// The pause after a hook's first failure; it doubles with each consecutive failure, up to
/// `KINDLING_MAX_BACKOFF`.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(15);

/// What the pre-reboot hook decided.
pub(super) enum PreReboot {
    /// No hook, or it succeeded: reboot now.
    Go,
    /// It failed and the retry time came: go round again (window, lock, hook).
    Again,
    /// It failed and the retry is past the wait limit, or it succeeded but the slot could
    /// not be confirmed after it: why the node still waits.
    Stop(String),
}

impl Agent {
    /// Why the node reboots, as the hooks are told: `update to VERSION` for a staged
    /// release, `config change: ...` for a fleet config's reboot-required part.
    #[must_use]
    pub fn reboot_reason(&self) -> String {
        if let Some(s) = self.record.state.staged() {
            return format!("update to {}", s.version);
        }
        match &self.record.memory.config_reboot {
            Some(c) => format!("config change: {}", c.reason),
            None => "reboot".to_string(),
        }
    }

    /// The hooks' environment (beside the agent's own).
    fn hook_env(&self) -> Vec<(&'static str, String)> {
        let keys = self.reboot_keys();
        let group = keys
            .get("LOCKSMITHD_GROUP")
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| "default".to_string());
        vec![
            (hooks::ENV_REASON, self.reboot_reason()),
            (hooks::ENV_LOCK_GROUP, group),
            (hooks::ENV_MACHINE_ID, self.identity.machine_id.clone()),
            ("KINDLING_ROOT", self.root.path().display().to_string()),
        ]
    }

    /// Run one hook, its output logged line by line.
    async fn run_hook(&mut self, hook: &Hook) -> Result<(), HookFailed> {
        let env = self.hook_env();
        self.say_line(&format!(
            "running the {} hook: {}",
            hook.which.name(),
            hook.command
        ));
        let result = hooks::run(hook, &env, &mut *self.log).await;
        if result.is_ok() {
            self.say_line(&format!("the {} hook succeeded", hook.which.name()));
        }
        result
    }

    /// The backoff after `failures` consecutive failures.
    fn hook_backoff(&self, failures: u32) -> Duration {
        let doubled = FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(20));
        doubled
            .min(self.settings.timing.max_backoff)
            .max(Duration::from_secs(1))
    }

    /// When to try the reboot again after the pre-reboot hook's `failures`-th failure: no
    /// sooner than the backoff, at the next window opening (never the one open now).
    fn pre_reboot_retry_at(&self, failures: u32) -> jiff::Timestamp {
        let now = jiff::Timestamp::now();
        let earliest = now.checked_add(self.hook_backoff(failures)).unwrap_or(now);
        let keys = self.reboot_keys();
        let Ok(Some(window)) = self.window(&keys) else {
            return earliest;
        };
        let mut from = earliest;
        for _ in 0..4 {
            match window.next_open(from) {
                Some((start, end)) if start.timestamp() <= now => {
                    from = end
                        .timestamp()
                        .checked_add(jiff::SignedDuration::from_micros(1))
                        .unwrap_or(end.timestamp());
                }
                Some((start, _)) => return start.timestamp().max(from),
                None => return earliest,
            }
        }
        from
    }

    /// The pre-reboot hook, once the window and the lock are held: `Go` to reboot; on a
    /// failure the slot is given back, the failure recorded, and the retry waited for
    /// (within `give_up`).
    ///
    /// # Errors
    /// The record cannot be saved, or the lock settings cannot be used.
    pub(super) async fn pre_reboot_hook(
        &mut self,
        give_up: Option<tokio::time::Instant>,
    ) -> Result<PreReboot, Error> {
        let Some(hook) = self.settings.hooks.pre_reboot.clone() else {
            return Ok(PreReboot::Go);
        };
        let failed = match self.run_hook(&hook).await {
            Ok(()) => {
                // The slot, confirmed immediately before the reboot; the lease (etcd v3) then
                // lives its TTL across the reboot, as without a hook.
                let lock = self.held_lock.take();
                let h = &mut self.record.memory.hooks;
                h.pre_reboot_failures = 0;
                if h.failure
                    .as_ref()
                    .is_some_and(|f| f.hook == Which::PreReboot)
                {
                    h.failure = None;
                }
                self.save_record()?;
                self.publish_view();
                if let Some(lock) = lock.as_deref()
                    && let Some(why) = self.confirm_slot(lock).await?
                {
                    return Ok(PreReboot::Stop(why));
                }
                return Ok(PreReboot::Go);
            }
            Err(failed) => failed,
        };
        let held = self.record.memory.lock_held.is_some();
        if held {
            self.release_lock().await?;
        }
        let failures = self
            .record
            .memory
            .hooks
            .pre_reboot_failures
            .saturating_add(1);
        let retry = self.pre_reboot_retry_at(failures);
        let slot = match (held, self.record.memory.lock_held.is_some()) {
            (false, _) => "",
            (true, false) => "; the reboot slot was given back",
            (true, true) => "; the reboot slot could not be given back yet",
        };
        let message = format!(
            "no reboot: the pre-reboot hook failed: {failed}{slot}; trying again at {} (failure {failures})",
            retry.round(jiff::Unit::Second).unwrap_or(retry)
        );
        let h = &mut self.record.memory.hooks;
        h.pre_reboot_failures = failures;
        h.failure = Some(HookFailure {
            hook: Which::PreReboot,
            message: message.clone(),
            at: now(),
            retry_at: Some(retry.as_second()),
        });
        self.save_record()?;
        self.publish_view();
        self.say_line(&message);
        let wait = Duration::try_from(retry.duration_since(jiff::Timestamp::now()))
            .unwrap_or(Duration::ZERO);
        if sleep_within(wait, give_up).await {
            Ok(PreReboot::Again)
        } else {
            Ok(PreReboot::Stop(message))
        }
    }

    /// Note, right before a reboot, that the next boot owes the post-boot hook.
    ///
    /// # Errors
    /// The record cannot be saved.
    pub(super) fn owe_post_boot(&mut self) -> Result<(), Error> {
        if self.settings.hooks.post_boot.is_none() {
            // Nothing to run after the boot: the record stays as it was.
            return Ok(());
        }
        self.record.memory.hooks.post_boot_owed = Some(self.identity.boot_id.clone());
        self.save_record()
    }

    /// The post-boot hook, after this boot's health check passed: true when the node is
    /// back in service (the hook succeeded, none is set, or none is owed) and the slot may
    /// be given back; false when it failed (recorded; the slot stays held).
    ///
    /// # Errors
    /// The record cannot be saved.
    pub async fn post_boot_hook(&mut self) -> Result<bool, Error> {
        let Some(owed) = self.record.memory.hooks.post_boot_owed.clone() else {
            return Ok(true);
        };
        if owed == self.identity.boot_id {
            // The reboot it is owed for has not happened yet.
            return Ok(true);
        }
        let Some(hook) = self.settings.hooks.post_boot.clone() else {
            self.record.memory.hooks.post_boot_owed = None;
            self.save_record()?;
            return Ok(true);
        };
        match self.run_hook(&hook).await {
            Ok(()) => {
                let h = &mut self.record.memory.hooks;
                h.post_boot_owed = None;
                h.post_boot_failures = 0;
                if h.failure
                    .as_ref()
                    .is_some_and(|f| f.hook == Which::PostBoot)
                {
                    h.failure = None;
                }
                self.save_record()?;
                self.publish_view();
                Ok(true)
            }
            Err(failed) => {
                let failures = self
                    .record
                    .memory
                    .hooks
                    .post_boot_failures
                    .saturating_add(1);
                let backoff = self.hook_backoff(failures);
                let message = format!(
                    "not back in service: the post-boot hook failed: {failed}; the reboot slot stays held; trying again in {}s (failure {failures})",
                    backoff.as_secs()
                );
                let h = &mut self.record.memory.hooks;
                h.post_boot_failures = failures;
                h.failure = Some(HookFailure {
                    hook: Which::PostBoot,
                    message: message.clone(),
                    at: now(),
                    retry_at: Some(
                        now().saturating_add(i64::try_from(backoff.as_secs()).unwrap_or(0)),
                    ),
                });
                self.save_record()?;
                self.publish_view();
                self.say_line(&message);
                Ok(false)
            }
        }
    }

    /// When the daemon tries the failed post-boot hook again (`None`: nothing to retry).
    #[must_use]
    pub fn post_boot_retry(&self) -> Option<tokio::time::Instant> {
        let h = &self.record.memory.hooks;
        let failure = h.failure.as_ref().filter(|f| f.hook == Which::PostBoot)?;
        h.post_boot_owed.as_ref()?;
        let wait = failure
            .retry_at
            .map_or(0, |at| at.saturating_sub(now()).max(0));
        Some(tokio::time::Instant::now() + Duration::from_secs(wait.unsigned_abs()))
    }

    /// After a try at the failed post-boot hook: when it did not run (the boot is not
    /// judged healthy, an update is staged), the next try is put off by the backoff, so a
    /// loop that waits for [`Agent::post_boot_retry`] never spins.
    ///
    /// # Errors
    /// The record cannot be saved.
    pub fn defer_post_boot_retry(&mut self) -> Result<(), Error> {
        let failures = self.record.memory.hooks.post_boot_failures;
        let backoff = i64::try_from(self.hook_backoff(failures).as_secs()).unwrap_or(i64::MAX);
        let Some(failure) = self
            .record
            .memory
            .hooks
            .failure
            .as_mut()
            .filter(|f| f.hook == Which::PostBoot && f.retry_at.is_none_or(|at| at <= now()))
        else {
            return Ok(());
        };
        failure.retry_at = Some(now().saturating_add(backoff));
        self.save_record()
    }

    /// Show the agent's state in the fleet record, when a fleet member runs beside it.
    pub(crate) fn publish_view(&self) {
        if let Some(f) = &self.fleet {
            f.agent(self.view());
        }
    }
}
