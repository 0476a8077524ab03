//! The reboot step: when a staged update may run, by strategy, inside the window, under the
//! cluster-wide lock.
//!
//! `reboot` reboots at once (inside the window, when one is set), `off` never, `etcd-lock`
//! and `fleet-lock` take the lock first, and `best-effort` behaves as `etcd-lock` when an etcd
//! unit (etcd, etcd2, etcd-member) is active on the node and as `reboot` otherwise. The
//! decision is made from the units, never from whether the lock server answers, so an etcd
//! that is merely unreachable never turns into a lockless reboot.
//!
//! With a lock, the order is locksmith's with its bug fixed (coreos/bugs#1886): wait for the
//! window, wait (by watch) for a slot until the window closes, re-check the window once the
//! slot is won, and give the slot back when the window closed meanwhile. The slot is held
//! across the reboot, recorded in the agent's record and in the node's held-slot record
//! ([`crate::lock::HeldSlot`], the one `kindling lock reboot` writes too), re-attached as soon as the agent starts
//! on the next boot (`reattach_lock`: on etcd v3 a new lease, before the health check), and
//! given back by the after-boot step once the new release was judged, so a node that never
//! comes back keeps its slot visible instead of letting the next node go.

use std::collections::BTreeMap;
use std::time::Duration;

use super::driver::Agent;
use super::error::{Error, LeaseTtlError};
use super::hooks::PreReboot;
use super::state::Status;
use crate::lock::{HeldSlot, LockConfig, RebootLock};
use crate::machine::settings::Strategy;
use crate::reboot::Window;
use crate::wait::sleep_within;

/// locksmithd's broadcast before a reboot.
pub const WALL_MESSAGE: &str = "System reboot in 5 minutes!";

/// What the reboot step ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do (nothing staged, or `off`).
    Stay(String),
    /// The reboot command ran.
    Rebooted(String),
    /// Still waiting (for the window or the lock) when the wait limit passed.
    Waiting(String),
}

impl Step {
    /// What the step says, for the log.
    #[must_use]
    pub fn describe(&self) -> &str {
        match self {
            Step::Stay(m) | Step::Rebooted(m) | Step::Waiting(m) => m,
        }
    }
}

/// The units whose activity makes `best-effort` take the etcd lock.
pub const ETCD_UNITS: [&str; 3] = ["etcd.service", "etcd2.service", "etcd-member.service"];

/// The waits of one reboot: when it started and when it gives up (`None`: never).
#[derive(Debug, Clone, Copy)]
struct Waits {
    started: tokio::time::Instant,
    give_up: Option<tokio::time::Instant>,
}

/// What one attempt at the reboot lock ended in.
enum Attempt {
    /// The slot is held (recorded): reboot.
    Held,
    /// Not now (the window closed, a passing error): go round again.
    Again,
    /// Still waiting when the limit passed.
    Waiting(String),
}

impl Agent {
    /// Every key the reboot step reads: update.conf's, then locksmithd's own environment
    /// (its drop-ins' `Environment=` lines, where the compiler writes `coreos.locksmith`).
    pub(crate) fn reboot_keys(&self) -> BTreeMap<String, String> {
        let mut keys = self.settings.keys.clone();
        for dir in [
            "/etc/systemd/system/locksmithd.service.d",
            "/run/systemd/system/locksmithd.service.d",
        ] {
            let Ok(path) = self.root.resolve(dir) else {
                continue;
            };
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            let mut files: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            files.sort();
            for file in files {
                let Ok(text) = std::fs::read_to_string(&file) else {
                    continue;
                };
                for (k, v) in environment_lines(&text) {
                    keys.entry(k).or_insert(v);
                }
            }
        }
        keys
    }

    /// The node's reboot window, when one is set: the maintenance window's calendar, else
    /// locksmith's ([`Window::from_settings`]), in the node's zone. The agent's and the reboot
    /// manager's one window check.
    ///
    /// # Errors
    /// When a window setting is bad or the node's zone cannot be read.
    pub fn window(&self, keys: &BTreeMap<String, String>) -> Result<Option<Window>, Error> {
        let zone = crate::reboot::node_zone(if self.root.is_host() {
            None
        } else {
            Some(self.root.path())
        })?;
        Ok(Window::from_settings(|k| keys.get(k).cloned(), zone)?)
    }

    /// The lock the strategy asks for (`None`: no lock).
    pub(super) fn lock_config(
        &self,
        keys: &BTreeMap<String, String>,
    ) -> Result<Option<LockConfig>, Error> {
        let wants_lock = match self.settings.strategy {
            Strategy::Off | Strategy::Reboot => false,
            Strategy::EtcdLock | Strategy::FleetLock => true,
            Strategy::BestEffort => self.etcd_active(),
        };
        if !wants_lock {
            return Ok(None);
        }
        let mut config =
            LockConfig::from_env(|k| keys.get(k).cloned()).map_err(Error::LockSettings)?;
        if self.settings.strategy == Strategy::FleetLock {
            config.backend = crate::lock::Backend::FleetLock;
        }
        if config.backend == crate::lock::Backend::Etcd3 && config.lease_ttl.is_none() {
            // A holder that dies and never comes back is recovered through its lease, once
            // the lease outlived what a reboot and the next boot's health check take.
            config.lease_ttl = Some(lease_ttl(keys)?);
        }
        Ok(Some(config))
    }

    /// Whether an etcd unit is active: asked of systemd on the running system; on another
    /// root, whether the root has a unit file for one (the config asked for it), since no
    /// systemd runs there to ask.
    fn etcd_active(&self) -> bool {
        if self.root.is_host() {
            return ETCD_UNITS.iter().any(|unit| {
                std::process::Command::new("systemctl")
                    .args(["is-active", "--quiet", unit])
                    .status()
                    .is_ok_and(|s| s.success())
            });
        }
        ETCD_UNITS.iter().any(|unit| {
            ["/etc/systemd/system", "/run/systemd/system"]
                .iter()
                .any(|dir| {
                    self.root
                        .resolve(&format!("{dir}/{unit}"))
                        .is_ok_and(|p| p.exists())
                        || self
                            .root
                            .resolve(&format!("{dir}/{unit}.d"))
                            .is_ok_and(|p| p.is_dir())
                })
        })
    }

    /// Reboot by strategy when an update is staged. `wait_limit` bounds the waiting for the
    /// window and the lock (`None`: wait as long as it takes, the daemon's way). Once both are
    /// held the pre-reboot hook runs (`hooks`); when it fails, the whole way is taken again
    /// at its retry time.
    ///
    /// # Errors
    /// When the configuration cannot work (a bad window, a bad lock setting) or the reboot
    /// command cannot run.
    pub async fn reboot_by_strategy(
        &mut self,
        wait_limit: Option<Duration>,
    ) -> Result<Step, Error> {
        let give_up = wait_limit.map(|l| tokio::time::Instant::now() + l);
        loop {
            let left = give_up.map(|g| g.saturating_duration_since(tokio::time::Instant::now()));
            if let Some(step) = self.ready_to_reboot(left).await? {
                return Ok(step);
            }
            // The pre-reboot hook (`hooks`): a failure gives the slot back and comes round
            // again at the next window opening.
            match self.pre_reboot_hook(give_up).await? {
                PreReboot::Go => {}
                PreReboot::Again => continue,
                PreReboot::Stop(why) => return Ok(Step::Waiting(why)),
            }
            self.owe_post_boot()?;
            let why = self.reboot_log_reason();
            return self.reboot_now(&why).map(Step::Rebooted);
        }
    }

    /// Everything before the reboot itself: the strategy, the fleet's release gate, the
    /// window and the lock (held, recorded), logged-in users warned. `None`: reboot now;
    /// `Some(step)`: not now, and why. The reboot manager reboots through logind after it.
    ///
    /// # Errors
    /// As [`Agent::reboot_by_strategy`].
    pub(super) async fn ready_to_reboot(
        &mut self,
        wait_limit: Option<Duration>,
    ) -> Result<Option<Step>, Error> {
        if self.record.status() != Status::UpdatedNeedReboot
            && self.record.memory.config_reboot.is_none()
        {
            return Ok(Some(Step::Stay("nothing staged".into())));
        }
        if self.settings.strategy == Strategy::Off {
            return Ok(Some(Step::Stay(
                "REBOOT_STRATEGY=off: staying on the running release until someone reboots".into(),
            )));
        }
        let keys = self.reboot_keys();
        let window = self.window(&keys)?;
        let lock = self.lock_config(&keys)?;
        let started = tokio::time::Instant::now();
        let waits = Waits {
            started,
            give_up: wait_limit.map(|l| started + l),
        };
        // 0. A fleet's release rollout admits this node before its window and lock.
        if let Some(waiting) = self.release_gate(&keys, waits.give_up).await? {
            return Ok(Some(Step::Waiting(waiting)));
        }
        // A lock that cannot be set up is not a reason to reboot without it.
        let backend = match &lock {
            Some(config) => match crate::lock::connect(config).await {
                Ok(b) => Some(b),
                Err(e) => {
                    return Ok(Some(Step::Waiting(format!(
                        "cannot reach the reboot lock ({}): {e}",
                        config.endpoints.join(",")
                    ))));
                }
            },
            None => None,
        };
        // The slot is recorded on the node before the reboot, for whichever after-boot path
        // gives it back.
        let held = lock.as_ref().map(|config| {
            HeldSlot::new(
                config,
                &self.identity.machine_id,
                &self.identity.boot_id,
                "kindling agent",
            )
        });
        let taking = backend.as_deref().zip(held.as_ref());
        if let Some(waiting) = self.window_and_lock(window.as_ref(), taking, waits).await? {
            return Ok(Some(Step::Waiting(waiting)));
        }
        if backend.is_none() && window.is_some() && !self.random_delay(&keys, waits.give_up).await {
            return Ok(Some(Step::Waiting(
                "still in the random delay before a reboot without a lock".into(),
            )));
        }
        self.warn_users().await;
        // A pre-reboot hook (a drain) may run longer than an etcd v3 lease: the lock, and
        // with it the lease's keep-alive, is kept until the hook is done (`hooks`), and the
        // slot is confirmed after the hook, immediately before the reboot.
        if self.settings.hooks.pre_reboot.is_some() && backend.is_some() {
            self.held_lock = backend;
            return Ok(None);
        }
        if let Some(lock) = backend.as_deref()
            && let Some(why) = self.confirm_slot(lock).await?
        {
            return Ok(Some(Step::Waiting(why)));
        }
        Ok(None)
    }

    /// Immediately before the reboot: ask the lock whether this node still holds its slot,
    /// alive (an operator's unlock, a lease that expired while etcd was out of reach and a
    /// contender that took the slot, an answer lost in a failover). `Some(why)` when it does
    /// not, or when the lock cannot answer: the node does not reboot now; a slot it no
    /// longer holds is forgotten on the node, so the next run takes one again. A FleetLock
    /// server without kindling's `/v1/holders` (Airlock) cannot be asked: said, and rebooted.
    pub(super) async fn confirm_slot(
        &mut self,
        lock: &dyn RebootLock,
    ) -> Result<Option<String>, Error> {
        let id = self.identity.machine_id.clone();
        let (why, lost) = match lock.status().await {
            Ok(status) => match status.holders.iter().find(|h| h.id == id) {
                Some(h) if h.alive != Some(false) => {
                    self.say_line("still holding the reboot slot: rebooting");
                    return Ok(None);
                }
                Some(_) => ("its lease expired (a contender may take the slot)", false),
                None => ("the slot was taken from it", true),
            },
            Err(crate::lock::LockError::Unsupported(_) | crate::lock::LockError::Remote { .. }) => {
                self.say_line(
                    "the lock cannot say who holds its slots: rebooting on the slot taken",
                );
                return Ok(None);
            }
            Err(e) => {
                let why = format!(
                    "cannot confirm the reboot slot before rebooting ({e}): not rebooting now"
                );
                self.say_line(&why);
                return Ok(Some(why));
            }
        };
        let why = format!(
            "no longer holds its reboot slot: {why} ({}); not rebooting, taking a slot again",
            lock.describe()
        );
        self.say_line(&why);
        if lost {
            self.record.memory.lock_held = None;
            self.save_record()?;
            HeldSlot::remove(self.root.path()).map_err(Error::HeldSlot)?;
        }
        Ok(Some(why))
    }

    /// Before a reboot without the lock inside a window: a random delay of up to
    /// `KINDLING_REBOOT_RANDOM_DELAY` seconds (the maintenance window's `random-delay`), so
    /// that nodes whose window opens together do not all reboot at once. False when the
    /// limit came first.
    async fn random_delay(
        &mut self,
        keys: &BTreeMap<String, String>,
        give_up: Option<tokio::time::Instant>,
    ) -> bool {
        let Some(max) = keys
            .get(crate::plan::agent::REBOOT_RANDOM_DELAY_KEY)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|m| *m > 0)
        else {
            return true;
        };
        let delay = Duration::from_secs(fastrand::u64(0..=max));
        self.say_line(&format!(
            "rebooting without a lock: waiting a random {}s first (at most {max}s)",
            delay.as_secs()
        ));
        sleep_within(delay, give_up).await
    }

    /// Wait for the window, then for the lock (held across the reboot, recorded), until
    /// both are there together; `Some(why)` when still waiting at the limit.
    async fn window_and_lock(
        &mut self,
        window: Option<&Window>,
        lock: Option<(&dyn RebootLock, &HeldSlot)>,
        waits: Waits,
    ) -> Result<Option<String>, Error> {
        let mut backoff = Duration::from_secs(1);
        loop {
            // 1. The window.
            if let Some(w) = window
                && !w.contains(jiff::Timestamp::now())
            {
                if !self.wait_for_window(w, waits.give_up).await {
                    return Ok(Some(format!(
                        "the reboot window {:?} is closed; still waiting",
                        w.text()
                    )));
                }
                continue;
            }
            // 2. The lock, waited for by watch until the window closes (or the limit).
            let Some((lock, held)) = lock else {
                return Ok(None);
            };
            match self
                .take_lock(lock, held, window, waits, &mut backoff)
                .await?
            {
                Attempt::Held => return Ok(None),
                Attempt::Again => {}
                Attempt::Waiting(why) => return Ok(Some(why)),
            }
        }
    }

    /// Sleep until the closed window `w` opens; false when the limit came first.
    async fn wait_for_window(&mut self, w: &Window, give_up: Option<tokio::time::Instant>) -> bool {
        let now = jiff::Timestamp::now();
        let wait = w
            .duration_to_start(now)
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::from_secs(60));
        self.say_line(&format!(
            "reboot window is {:?}; waiting {}s for it to open",
            w.text(),
            wait.as_secs()
        ));
        sleep_within(wait, give_up).await
    }

    /// One attempt at the reboot lock, waited for by watch until the window closes (or the
    /// limit); once won, the window is checked again (coreos/bugs#1886) and the slot given
    /// back if it closed meanwhile.
    async fn take_lock(
        &mut self,
        lock: &dyn RebootLock,
        held: &HeldSlot,
        window: Option<&Window>,
        waits: Waits,
        backoff: &mut Duration,
    ) -> Result<Attempt, Error> {
        let id = self.identity.machine_id.clone();
        let deadline = lock_deadline(window, waits);
        self.say_line(&format!("taking the reboot lock: {}", lock.describe()));
        match lock.wait_lock(&id, deadline).await {
            Ok(_) => {}
            Err(crate::lock::LockError::Timeout) => {
                if waits
                    .give_up
                    .is_some_and(|g| tokio::time::Instant::now() >= g)
                {
                    return Ok(Attempt::Waiting(format!(
                        "no reboot slot was free in time ({})",
                        lock.describe()
                    )));
                }
                // The window closed while waiting: wait for the next one.
                return Ok(Attempt::Again);
            }
            Err(e) if e.is_transient() => {
                self.say_line(&format!(
                    "failed to acquire the reboot lock: {e}; retrying in {}s",
                    backoff.as_secs()
                ));
                if !sleep_within(*backoff, waits.give_up).await {
                    return Ok(Attempt::Waiting(format!(
                        "the reboot lock is unavailable: {e}"
                    )));
                }
                *backoff = (*backoff * 2).min(Duration::from_secs(300));
                return Ok(Attempt::Again);
            }
            Err(e) => return Err(Error::LockCannotWork(e)),
        }
        // 3. Re-check the window now that the slot is won (coreos/bugs#1886).
        if let Some(w) = window
            && !w.contains(jiff::Timestamp::now())
        {
            self.say_line(
                "the reboot window closed while waiting for the lock; giving the slot back",
            );
            if let Err(e) = lock.unlock(&id).await {
                self.say_line(&format!("could not give the slot back: {e}"));
            }
            return Ok(Attempt::Again);
        }
        // Held across the reboot; the after-boot step gives it back. Recorded on the node
        // too (the record every reboot path writes), before the reboot.
        self.record.memory.lock_held = Some(lock.describe());
        self.save_record()?;
        if let Err(e) = held.write(self.root.path()) {
            self.say_line(&format!(
                "cannot record the reboot slot on the node ({e}); giving it back"
            ));
            self.record.memory.lock_held = None;
            self.save_record()?;
            let _ = lock.unlock(&id).await;
            return Err(Error::HeldSlot(e));
        }
        let _ = lock.set_state(&id, "rebooting").await;
        Ok(Attempt::Held)
    }

    /// The release gate (`crate::fleet::gate`): when the node is a fleet member and a
    /// release is staged, wait until no release rollout governs it or the rollout admitted
    /// this node. `Some(why)` when still waiting at `give_up`. A config's reboot with no
    /// staged release is not gated (config rollouts admit before applying).
    async fn release_gate(
        &mut self,
        keys: &BTreeMap<String, String>,
        give_up: Option<tokio::time::Instant>,
    ) -> Result<Option<String>, Error> {
        let Some(staged) = self.record.state.staged().map(|s| s.version.clone()) else {
            return Ok(None);
        };
        let Some(join) = crate::fleet::Join::from_keys(keys).map_err(Error::FleetSettings)? else {
            return Ok(None);
        };
        let id = self.identity.machine_id.clone();
        let publisher = self.fleet.clone();
        if let Some(p) = &publisher {
            // What is staged, before the wait (the member shows it in `fleet status`).
            p.agent(self.view());
        }
        let mut last: Option<String> = None;
        let log = &mut self.log;
        let mut note = |n: Option<String>| {
            if let Some(p) = &publisher {
                p.admission(n.clone());
            }
            if let Some(line) = n.as_ref().filter(|_| n != last) {
                log(&format!("release rollout: {line}"));
            }
            last = n;
        };
        let gate = crate::fleet::gate::admission(&join, &id, &staged, give_up, &mut note).await;
        self.admission = last;
        Ok(match gate {
            crate::fleet::gate::Gate::Free => None,
            crate::fleet::gate::Gate::Admitted(m) => {
                self.say_line(&m);
                None
            }
            crate::fleet::gate::Gate::Waiting(m) => Some(m),
        })
    }

    /// Broadcast locksmithd's message to logged-in users and give them the warning time
    /// (`KINDLING_REBOOT_WARNING`, 5 minutes by default, as locksmithd) — only on the running
    /// system, and only when someone is logged in.
    async fn warn_users(&mut self) {
        if !self.root.is_host() {
            return;
        }
        let users = std::process::Command::new("who")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or(0);
        if users == 0 {
            return;
        }
        let _ = std::process::Command::new("wall")
            .arg(WALL_MESSAGE)
            .status();
        let warning = self
            .settings
            .keys
            .get("KINDLING_REBOOT_WARNING")
            .and_then(|v| crate::units::values::timespan_usec(v).ok().flatten())
            .map_or(Duration::from_secs(300), Duration::from_micros);
        self.say_line(&format!(
            "told {users} logged-in user(s) \"{WALL_MESSAGE}\"; rebooting in {}s",
            warning.as_secs()
        ));
        tokio::time::sleep(warning).await;
    }

    /// Reboot to leave a release that failed its health check: the firmware then returns to
    /// the old slot, since the failed one spent its only try and was never marked good.
    ///
    /// # Errors
    /// When the reboot command could not be run.
    pub fn fallback_reboot(&mut self) -> Result<String, Error> {
        self.reboot_now(
            "rebooting to return to the previous release (the running one failed its health check)",
        )
    }

    /// What a reboot by strategy is for, as the log says it: the staged release, else the
    /// fleet config change that needs a reboot (with its reason).
    fn reboot_log_reason(&self) -> String {
        if self.record.status() == Status::UpdatedNeedReboot {
            return "rebooting into the staged release".to_string();
        }
        match &self.record.memory.config_reboot {
            Some(c) if !c.reason.is_empty() => {
                format!("rebooting to apply the config change ({})", c.reason)
            }
            _ => "rebooting to apply the config change".to_string(),
        }
    }

    /// Run the reboot command, logging `why` with it.
    fn reboot_now(&mut self, why: &str) -> Result<String, Error> {
        let command = match (&self.options.reboot_command, self.root.is_host()) {
            (Some(c), _) => c.clone(),
            (None, true) => "systemctl reboot".to_string(),
            (None, false) => {
                return Err(Error::NoRebootCommand {
                    root: self.root.path().to_path_buf(),
                });
            }
        };
        self.say_line(&format!("{why}: {command}"));
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .env("KINDLING_ROOT", self.root.path())
            .status()
            .map_err(|source| Error::RebootCommandCannotRun {
                command: command.clone(),
                source,
            })?;
        if status.success() {
            Ok(format!("rebooted with `{command}`"))
        } else {
            Err(Error::RebootCommandFailed { command, status })
        }
    }
}

/// How long one wait for the lock may last: until the open window closes, at most until
/// the limit (a year when neither is set).
fn lock_deadline(window: Option<&Window>, waits: Waits) -> tokio::time::Instant {
    let window_end = window.and_then(|w| {
        w.next_open(jiff::Timestamp::now())
            .filter(|(start, _)| start.timestamp() <= jiff::Timestamp::now())
            .map(|(_, end)| end)
    });
    let mut deadline = waits.started + Duration::from_secs(365 * 86_400);
    if let Some(end) = window_end {
        let left = end.timestamp().duration_since(jiff::Timestamp::now());
        if let Ok(left) = Duration::try_from(left) {
            deadline = tokio::time::Instant::now() + left;
        }
    }
    if let Some(limit) = waits.give_up {
        deadline = deadline.min(limit);
    }
    deadline
}

/// The etcd v3 lease a hold lives on: `KINDLING_LOCK_LEASE_TTL` (a systemd time span, at
/// least a second), [`crate::lock::DEFAULT_LEASE_TTL`] when unset. It must be longer than a
/// reboot plus the next boot's health check, or a node still rebooting loses its slot to a
/// waiting one (kured's TTL herd).
fn lease_ttl(keys: &BTreeMap<String, String>) -> Result<Duration, LeaseTtlError> {
    let Some(text) = keys
        .get("KINDLING_LOCK_LEASE_TTL")
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(crate::lock::DEFAULT_LEASE_TTL);
    };
    match crate::units::values::timespan_usec(text) {
        Ok(Some(usec)) if usec >= 1_000_000 => Ok(Duration::from_micros(usec)),
        Ok(None) => Err(LeaseTtlError::Infinite(text.clone())),
        Ok(Some(_)) => Err(LeaseTtlError::TooShort(text.clone())),
        Err(reason) => Err(LeaseTtlError::NotASpan {
            text: text.clone(),
            reason,
        }),
    }
}

/// `Environment=` assignments of a unit drop-in, as systemd splits them: several
/// `KEY=value` words per line, double or single quotes grouping a word.
#[must_use]
pub fn environment_lines(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("Environment=") else {
            continue;
        };
        let mut word = String::new();
        let mut words = Vec::new();
        let mut quote = None;
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                (None, c) if c.is_whitespace() => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                (_, c) => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        for w in words {
            if let Some((k, v)) = w.split_once('=') {
                out.push((k.to_string(), v.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ttl_from_update_conf() {
        let keys =
            |v: &str| BTreeMap::from([("KINDLING_LOCK_LEASE_TTL".to_string(), v.to_string())]);
        assert_eq!(
            lease_ttl(&BTreeMap::new()),
            Ok(crate::lock::DEFAULT_LEASE_TTL)
        );
        assert_eq!(lease_ttl(&keys("")), Ok(crate::lock::DEFAULT_LEASE_TTL));
        assert_eq!(lease_ttl(&keys("8")), Ok(Duration::from_secs(8)));
        assert_eq!(lease_ttl(&keys("2min")), Ok(Duration::from_secs(120)));
        for bad in ["500ms", "infinity", "soon", "-5"] {
            let e = lease_ttl(&keys(bad)).unwrap_err().to_string();
            assert!(e.contains("KINDLING_LOCK_LEASE_TTL"), "{e}");
        }
    }

    #[test]
    fn environment_lines_as_systemd_splits_them() {
        let text = "[Service]\nEnvironment=\"LOCKSMITHD_ENDPOINT=http://127.0.0.1:2379\"\nEnvironment=A=1 'B=two words' C=\"x\\\"y\"\n";
        assert_eq!(
            environment_lines(text),
            [
                ("LOCKSMITHD_ENDPOINT".into(), "http://127.0.0.1:2379".into()),
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x\"y".into()),
            ]
        );
    }
}
