//! The reboot manager (`kindling agent reboot-manager`): locksmithd's job, done with the
//! agent's reboot machinery, for a node that keeps Flatcar's update_engine.
//!
//! It listens to update_engine on D-Bus as locksmithd does (`StatusUpdate` signals, and
//! `GetStatus` once at start) and, when update_engine says `UPDATE_STATUS_UPDATED_NEED_REBOOT`,
//! applies the node's strategy with the agent's own steps (`reboot::ready_to_reboot`: the
//! fleet's release gate, the window AND the lock, re-checked once the lock is won, on etcd
//! v2, v3 or FleetLock), then asks logind to reboot (`Reboot(false)`, as locksmithd). Every
//! other status, and every signal that is not a status, is logged and changes nothing.
//!
//! It keeps the agent's record (`/var/lib/kindling/agent.json`, under the same root lock, so
//! the agent and the reboot manager never work on one root together): the release
//! update_engine staged is recorded as `UPDATED_NEED_REBOOT` with this boot's id, and the slot
//! won as `lock_held`. On the next boot ([`Agent::after_reboot`], before the bus is touched)
//! the slot is re-attached at once, the health check judges the boot, and a healthy boot
//! gives the slot back; an unhealthy one keeps it, so no other node follows into the same
//! release. It never touches the slots: update_engine marks its own boot good. The reboot
//! hooks run as in the agent (`hooks`): the pre-reboot hook right before logind is asked,
//! the post-boot hook after the next boot's health check, before the slot is given back.
//!
//! Deliberate differences from locksmithd: update_engine missing at start is waited for
//! (bounded, [`ManagerOptions::update_engine_wait`]) before the clear error; a `GetStatus`
//! reply of another shape is an error, not a panic; a bad `REBOOT_STRATEGY` is refused at
//! start, not when the reboot is due.

use std::time::Duration;

use super::driver::{Agent, Options};
use super::error::{Error, ManagerError};
use super::state::{Staged, State};
use crate::bus::{Choice, Heard, StatusUpdates};
use crate::machine::health::Verdict;
use crate::machine::settings::Strategy;
use crate::root::Root;

/// What the reboot manager's own flags say.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// The bus (`--bus`, `DBUS_SYSTEM_BUS_ADDRESS`, the system bus on a real node).
    pub bus: Choice,
    /// How long to wait at start for update_engine to own its name.
    pub update_engine_wait: Duration,
    /// The pause before trying again when the lock cannot be reached or logind refused.
    pub retry: Duration,
}

/// The daemon: the after-reboot step, then update_engine's status, then the reboot by
/// strategy when it says a reboot is needed. Returns only on a failure, or at once when
/// the strategy is `off` (as locksmithd).
///
/// # Errors
/// Another agent holds the root; unreadable settings; no bus; no update_engine.
pub async fn run(root: Root, options: Options, manager: ManagerOptions) -> Result<(), Error> {
    let path = root.path().to_path_buf();
    let Some(mut agent) = Agent::open(root, options)? else {
        return Err(Error::Busy { root: path });
    };
    agent.log = Box::new(|line| eprintln!("kindling reboot-manager: {line}"));
    agent.settings = super::locksmithd_env::overlay(&agent.settings, |k| std::env::var(k).ok())?;
    // A setting that cannot work is said now, not when a reboot is due (one window key
    // without the other is fatal at start, as in locksmithd).
    let keys = agent.reboot_keys();
    agent.window(&keys)?;
    agent.lock_config(&keys)?;
    agent.after_reboot().await?;
    // A post-boot hook that failed keeps the node out of service: tried again after its
    // backoff until it succeeds (the slot stays held meanwhile).
    while let Some(at) = agent.post_boot_retry() {
        tokio::time::sleep_until(at).await;
        agent.after_reboot().await?;
        agent.defer_post_boot_retry()?;
    }
    if agent.settings.strategy == Strategy::Off {
        agent.say_line("REBOOT_STRATEGY=off: the reboot manager has nothing to do; exiting");
        return Ok(());
    }
    let bus = manager.bus.describe();
    let conn = crate::bus::connect(&manager.bus)
        .await
        .map_err(ManagerError::from)?;
    let mut updates = StatusUpdates::subscribe(&conn)
        .await
        .map_err(ManagerError::from)?;
    let mut status = Some(first_status(&mut agent, &conn, &manager).await?);
    if let Some(s) = &status {
        let line = format!(
            "starting: update_engine says {}; strategy {}",
            s.current_operation,
            agent.settings.strategy.name()
        );
        agent.say_line(&line);
    }
    loop {
        if let Some(s) = status.take()
            && s.current_operation == crate::bus::status::UPDATED_NEED_REBOOT
        {
            agent.reboot_for(&s, &conn, manager.retry).await?;
        }
        match updates.next().await {
            None => return Err(ManagerError::Closed(bus).into()),
            Some(Heard::Skipped(why)) => {
                agent.say_line(&format!("ignored a StatusUpdate signal: {why}"));
            }
            Some(Heard::Status(s)) => {
                agent.say_line(&describe(&s));
                if s.current_operation != crate::bus::status::UPDATED_NEED_REBOOT {
                    agent.say_line(&format!(
                        "nothing to do: {} is not {}",
                        s.current_operation,
                        crate::bus::status::UPDATED_NEED_REBOOT
                    ));
                }
                status = Some(s);
            }
        }
    }
}

/// A status as locksmithd logs every signal it accepts.
fn describe(s: &crate::bus::Status) -> String {
    format!(
        "LastCheckedTime={} Progress={} CurrentOperation={:?} NewVersion={} NewSize={}",
        s.last_checked_time, s.progress, s.current_operation, s.new_version, s.new_size
    )
}

/// `GetStatus`, waiting (a second between tries) up to the bound while nobody owns
/// update_engine's name.
async fn first_status(
    agent: &mut Agent,
    conn: &zbus::Connection,
    manager: &ManagerOptions,
) -> Result<crate::bus::Status, Error> {
    let started = tokio::time::Instant::now();
    let mut said = false;
    loop {
        match crate::bus::get_status(conn).await {
            Ok(status) => return Ok(status),
            Err(e) if crate::bus::is_missing_service(&e) => {
                let waited = started.elapsed();
                if waited >= manager.update_engine_wait {
                    return Err(ManagerError::NoUpdateEngine {
                        bus: manager.bus.describe(),
                        waited: waited.as_secs(),
                        source: e,
                    }
                    .into());
                }
                if !said {
                    agent.say_line(&format!(
                        "update_engine is not on the bus yet ({e}); waiting up to {}s",
                        manager.update_engine_wait.as_secs()
                    ));
                    said = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(ManagerError::from(e).into()),
        }
    }
}

impl Agent {
    /// The step every start of the reboot manager takes first: when the node rebooted since
    /// the reboot manager recorded a staged release (or holds a slot with nothing staged),
    /// re-attach the slot, judge the boot, and give the slot back when it is healthy.
    ///
    /// # Errors
    /// The record cannot be saved, or the lock settings cannot be used.
    pub async fn after_reboot(&mut self) -> Result<(), Error> {
        self.reattach_lock();
        let staged = self.record.state.staged().cloned();
        let rebooted = staged
            .as_ref()
            .is_some_and(|s| s.boot_id != self.identity.boot_id);
        // Nothing staged, yet a slot is held: the agent's own, or one recorded on the node
        // (by `kindling lock reboot` or an earlier run) before a reboot that has happened.
        let recorded = crate::lock::HeldSlot::read(self.root.path())
            .is_ok_and(|h| h.is_some_and(|h| h.rebooted_since(&self.identity.boot_id)));
        let orphan = staged.is_none() && (self.record.memory.lock_held.is_some() || recorded);
        // A post-boot hook owed by an earlier boot (it failed, or the node rebooted without
        // a lock) is run after the health check too.
        let hook_owed = self
            .record
            .memory
            .hooks
            .post_boot_owed
            .as_ref()
            .is_some_and(|b| *b != self.identity.boot_id);
        if !rebooted && !orphan && !hook_owed {
            self.settle_reattach().await;
            return Ok(());
        }
        match self.health().await {
            Verdict::Healthy(_) => {
                if let Some(s) = staged {
                    let line = format!(
                        "rebooted for {} (update_engine staged it over {}); running {}",
                        s.version, s.previous_version, self.settings.version
                    );
                    self.say_line(&line);
                    self.record.reset()?;
                    self.save_record()?;
                }
                if !self.post_boot_hook().await? {
                    return Ok(());
                }
                self.give_back_held_slot().await
            }
            Verdict::Unhealthy(why) => {
                self.settle_reattach().await;
                self.say_line(&format!(
                    "this boot is not healthy ({why}); the reboot slot stays held so no other node follows (the next healthy start gives it back, or `kindling lock unlock`)"
                ));
                Ok(())
            }
        }
    }

    /// update_engine staged a release: record it, wait for the strategy (gate, window,
    /// lock), and reboot through logind. Returns only if the strategy says not now for good
    /// (`off`); once logind took the reboot it waits for the end.
    async fn reboot_for(
        &mut self,
        status: &crate::bus::Status,
        conn: &zbus::Connection,
        retry: Duration,
    ) -> Result<(), Error> {
        self.record_staged(status)?;
        loop {
            match self.ready_to_reboot(None).await? {
                Some(super::reboot::Step::Waiting(why)) => {
                    self.say_line(&format!("{why}; trying again in {}s", retry.as_secs()));
                    tokio::time::sleep(retry).await;
                    continue;
                }
                Some(step) => {
                    self.say_line(step.describe());
                    return Ok(());
                }
                None => {}
            }
            match self.pre_reboot_hook(None).await? {
                super::hooks::PreReboot::Go => {}
                super::hooks::PreReboot::Again => continue,
                // No wait limit here, so only the slot re-check after the hook stops it (the
                // slot was taken or cannot be confirmed): as a wait, tried again.
                super::hooks::PreReboot::Stop(why) => {
                    self.say_line(&format!("{why}; trying again in {}s", retry.as_secs()));
                    tokio::time::sleep(retry).await;
                    continue;
                }
            }
            self.owe_post_boot()?;
            self.say_line("rebooting through logind (org.freedesktop.login1.Manager.Reboot)");
            match crate::bus::reboot(conn).await {
                Ok(()) => {
                    self.say_line("reboot sent; waiting for the reboot");
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    self.say_line(&format!(
                        "logind did not take the reboot ({e}); the slot stays held; trying again in {}s",
                        retry.as_secs()
                    ));
                    tokio::time::sleep(retry).await;
                }
            }
        }
    }

    /// Record update_engine's staged release with this boot's id (kept when this boot
    /// already recorded it, e.g. after a restart of the reboot manager).
    fn record_staged(&mut self, status: &crate::bus::Status) -> Result<(), Error> {
        if self
            .record
            .state
            .staged()
            .is_some_and(|s| s.boot_id == self.identity.boot_id)
        {
            return Ok(());
        }
        let version = if status.new_version.is_empty() {
            "(unnamed by update_engine)".to_string()
        } else {
            status.new_version.clone()
        };
        self.record.state = State::UpdatedNeedReboot {
            offer: None,
            staged: Staged {
                version,
                previous_version: self.settings.version.clone(),
                // update_engine's slot: not the reboot manager's to know or touch.
                slot: String::new(),
                boot_id: self.identity.boot_id.clone(),
            },
        };
        self.save_record()
    }
}
