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
//! across the reboot, recorded in the agent's record, re-attached as soon as the agent starts
//! on the next boot (`reattach_lock`: on etcd v3 a new lease, before the health check), and
//! given back by the after-boot step once the new release was judged, so a node that never
//! comes back keeps its slot visible instead of letting the next node go.

use std::time::Duration;

use super::pipeline::Agent;
use crate::lock::LockConfig;
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

/// The units whose activity makes `best-effort` take the etcd lock.
pub const ETCD_UNITS: [&str; 3] = ["etcd.service", "etcd2.service", "etcd-member.service"];

impl Agent {
    /// Every key the reboot step reads: update.conf's, then locksmithd's own environment
    /// (its drop-ins' `Environment=` lines, where the compiler writes `coreos.locksmith`).
    pub(crate) fn reboot_keys(&self) -> std::collections::BTreeMap<String, String> {
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

    /// The node's reboot window, when one is set.
    fn window(
        &self,
        keys: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<Window>, String> {
        let zone = crate::reboot::node_zone(if self.root.is_host() {
            None
        } else {
            Some(self.root.path())
        })
        .map_err(|e| e.to_string())?;
        Window::from_env(|k| keys.get(k).cloned(), zone).map_err(|e| e.to_string())
    }

    /// The lock the strategy asks for (`None`: no lock).
    fn lock_config(
        &self,
        keys: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<LockConfig>, String> {
        let wants_lock = match self.settings.strategy {
            Strategy::Off | Strategy::Reboot => false,
            Strategy::EtcdLock | Strategy::FleetLock => true,
            Strategy::BestEffort => self.etcd_active(),
        };
        if !wants_lock {
            return Ok(None);
        }
        let mut config =
            LockConfig::from_env(|k| keys.get(k).cloned()).map_err(|e| e.to_string())?;
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
    /// window and the lock (`None`: wait as long as it takes, the daemon's way).
    ///
    /// # Errors
    /// When the configuration cannot work (a bad window, a bad lock setting) or the reboot
    /// command cannot run.
    pub async fn reboot_by_strategy(
        &mut self,
        wait_limit: Option<Duration>,
    ) -> Result<Step, String> {
        if self.record.status() != super::state::Status::UpdatedNeedReboot
            && self.record.config_reboot.is_none()
        {
            return Ok(Step::Stay("nothing staged".into()));
        }
        if self.settings.strategy == Strategy::Off {
            return Ok(Step::Stay(
                "REBOOT_STRATEGY=off: staying on the running release until someone reboots".into(),
            ));
        }
        let keys = self.reboot_keys();
        let window = self.window(&keys)?;
        let lock = self.lock_config(&keys)?;
        let started = tokio::time::Instant::now();
        let give_up = wait_limit.map(|l| started + l);
        // 0. A fleet's release rollout admits this node before its window and lock.
        if let Some(waiting) = self.release_gate(&keys, give_up).await? {
            return Ok(Step::Waiting(waiting));
        }
        let id = self.identity.machine_id.clone();
        let backend = match &lock {
            Some(config) => Some(crate::lock::connect(config).await.map_err(|e| {
                format!(
                    "cannot reach the reboot lock ({}): {e}",
                    config.endpoints.join(",")
                )
            })),
            None => None,
        };
        // A lock that cannot be set up is not a reason to reboot without it.
        let backend = match backend {
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => return Ok(Step::Waiting(e)),
            None => None,
        };
        let mut backoff = Duration::from_secs(1);
        loop {
            // 1. The window.
            if let Some(w) = &window {
                let now = jiff::Timestamp::now();
                if !w.contains(now) {
                    let wait = w
                        .duration_to_start(now)
                        .and_then(|d| Duration::try_from(d).ok())
                        .unwrap_or(Duration::from_secs(60));
                    self.say_line(&format!(
                        "reboot window is {:?}; waiting {}s for it to open",
                        w.text(),
                        wait.as_secs()
                    ));
                    if !sleep_within(wait, give_up).await {
                        return Ok(Step::Waiting(format!(
                            "the reboot window {:?} is closed; still waiting",
                            w.text()
                        )));
                    }
                    continue;
                }
            }
            // 2. The lock, waited for by watch until the window closes (or the limit).
            if let Some(lock) = &backend {
                let window_end = window.as_ref().and_then(|w| {
                    w.next_open(jiff::Timestamp::now())
                        .filter(|(start, _)| start.timestamp() <= jiff::Timestamp::now())
                        .map(|(_, end)| end)
                });
                let mut deadline = started + Duration::from_secs(365 * 86_400);
                if let Some(end) = window_end {
                    let left = end.timestamp().duration_since(jiff::Timestamp::now());
                    if let Ok(left) = Duration::try_from(left) {
                        deadline = tokio::time::Instant::now() + left;
                    }
                }
                if let Some(limit) = give_up {
                    deadline = deadline.min(limit);
                }
                self.say_line(&format!("taking the reboot lock: {}", lock.describe()));
                match lock.wait_lock(&id, deadline).await {
                    Ok(_) => {}
                    Err(crate::lock::LockError::Timeout) => {
                        if give_up.is_some_and(|g| tokio::time::Instant::now() >= g) {
                            return Ok(Step::Waiting(format!(
                                "no reboot slot was free in time ({})",
                                lock.describe()
                            )));
                        }
                        // The window closed while waiting: wait for the next one.
                        continue;
                    }
                    Err(e) if e.is_transient() => {
                        self.say_line(&format!(
                            "failed to acquire the reboot lock: {e}; retrying in {}s",
                            backoff.as_secs()
                        ));
                        if !sleep_within(backoff, give_up).await {
                            return Ok(Step::Waiting(format!(
                                "the reboot lock is unavailable: {e}"
                            )));
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(300));
                        continue;
                    }
                    Err(e) => return Err(format!("the reboot lock cannot work: {e}")),
                }
                // 3. Re-check the window now that the slot is won (coreos/bugs#1886).
                if let Some(w) = &window
                    && !w.contains(jiff::Timestamp::now())
                {
                    self.say_line(
                        "the reboot window closed while waiting for the lock; giving the slot back",
                    );
                    if let Err(e) = lock.unlock(&id).await {
                        self.say_line(&format!("could not give the slot back: {e}"));
                    }
                    continue;
                }
                // Held across the reboot; the after-boot step gives it back.
                self.record.lock_held = Some(lock.describe());
                self.save_record()?;
                let _ = lock.set_state(&id, "rebooting").await;
            }
            break;
        }
        self.warn_users().await;
        self.reboot_now().map(Step::Rebooted)
    }

    /// The release gate (`crate::fleet::gate`): when the node is a fleet member and a
    /// release is staged, wait until no release rollout governs it or the rollout admitted
    /// this node. `Some(why)` when still waiting at `give_up`. A config's reboot with no
    /// staged release is not gated (config rollouts admit before applying).
    async fn release_gate(
        &mut self,
        keys: &std::collections::BTreeMap<String, String>,
        give_up: Option<tokio::time::Instant>,
    ) -> Result<Option<String>, String> {
        let Some(staged) = self.record.state.staged().map(|s| s.version.clone()) else {
            return Ok(None);
        };
        let Some(join) = crate::fleet::Join::from_keys(keys)? else {
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

    /// Re-attach a slot held across the reboot, as soon as the agent starts: before the
    /// health check, which with a slow boot could otherwise outlast the lease the previous
    /// boot's agent kept alive and let another node take the slot while this one is still
    /// mid-update (etcd v3; other backends' holds do not expire). It runs as its own task,
    /// beside the after-boot step (whose health check runs off the runtime thread), so it
    /// adds no wait to a quick boot; [`Agent::settle_reattach`] joins it. The lock object is
    /// then kept in the agent (its keep-alive runs until the slot is given back). A hold that
    /// is gone or a lock that cannot be reached (or set up) is said and left to
    /// [`Agent::release_lock`]; it never stops the after-boot step.
    pub fn reattach_lock(&mut self) {
        if self.record.lock_held.is_none() || self.held_lock.is_some() || self.renewing.is_some() {
            return;
        }
        let keys = self.reboot_keys();
        let config = match self.lock_config(&keys) {
            Ok(Some(config)) => config,
            Ok(None) => return,
            Err(e) => {
                self.say_line(&format!(
                    "cannot renew the reboot slot held across the reboot: {e}"
                ));
                return;
            }
        };
        let id = self.identity.machine_id.clone();
        self.renewing = Some(tokio::spawn(async move {
            let lock = match crate::lock::connect(&config).await {
                Ok(lock) => lock,
                Err(e) => {
                    return (
                        None,
                        format!(
                            "cannot reach the reboot lock to renew the slot held across the reboot ({e}); it is given back later"
                        ),
                    );
                }
            };
            match lock.reattach(&id).await {
                Ok(crate::lock::Reattached::Renewed) => {
                    let line = format!(
                        "renewed the reboot slot held across the reboot: {}",
                        lock.describe()
                    );
                    (Some(lock), line)
                }
                Ok(crate::lock::Reattached::Unneeded) => (Some(lock), String::new()),
                Ok(crate::lock::Reattached::NotHeld) => (
                    None,
                    format!(
                        "the reboot slot held across the reboot is no longer held ({}): it was taken back meanwhile",
                        lock.describe()
                    ),
                ),
                Err(e) => (
                    None,
                    format!(
                        "could not renew the reboot slot held across the reboot ({e}); it is given back later"
                    ),
                ),
            }
        }));
    }

    /// Wait for the re-attachment [`Agent::reattach_lock`] started (a few etcd round trips),
    /// log what it did and keep its lock.
    pub async fn settle_reattach(&mut self) {
        let Some(task) = self.renewing.take() else {
            return;
        };
        match task.await {
            Ok((lock, line)) => {
                if !line.is_empty() {
                    self.say_line(&line);
                }
                if lock.is_some() {
                    self.held_lock = lock;
                }
            }
            Err(e) => self.say_line(&format!(
                "the renewal of the reboot slot held across the reboot failed ({e}); it is given back later"
            )),
        }
    }

    /// Give back a slot held across the reboot (after the new release was judged). A failure
    /// leaves it recorded, and the next run tries again.
    pub async fn release_lock(&mut self) -> Result<(), String> {
        self.settle_reattach().await;
        if self.record.lock_held.is_none() {
            return Ok(());
        }
        let keys = self.reboot_keys();
        let Some(config) = self.lock_config(&keys)? else {
            // The strategy no longer takes a lock; nothing to ask.
            self.record.lock_held = None;
            self.held_lock = None;
            return self.save_record();
        };
        let id = self.identity.machine_id.clone();
        let result = match self.held_lock.take() {
            // The lock re-attached at start: its unlock also removes the live key.
            Some(lock) => lock.unlock(&id).await.map(|_| lock.describe()),
            None => match crate::lock::connect(&config).await {
                Ok(lock) => lock.unlock(&id).await.map(|_| lock.describe()),
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(described) => {
                self.say_line(&format!("gave the reboot slot back: {described}"));
                self.record.lock_held = None;
                self.save_record()
            }
            Err(e) => {
                self.say_line(&format!(
                    "could not give the reboot slot back yet ({e}); trying again later"
                ));
                Ok(())
            }
        }
    }
}

/// The etcd v3 lease a hold lives on: `KINDLING_LOCK_LEASE_TTL` (a systemd time span, at
/// least a second), [`crate::lock::DEFAULT_LEASE_TTL`] when unset. It must be longer than a
/// reboot plus the next boot's health check, or a node still rebooting loses its slot to a
/// waiting one (kured's TTL herd).
fn lease_ttl(keys: &std::collections::BTreeMap<String, String>) -> Result<Duration, String> {
    let Some(text) = keys
        .get("KINDLING_LOCK_LEASE_TTL")
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(crate::lock::DEFAULT_LEASE_TTL);
    };
    match crate::units::values::timespan_usec(text) {
        Ok(Some(usec)) if usec >= 1_000_000 => Ok(Duration::from_micros(usec)),
        Ok(None) => Err(format!(
            "KINDLING_LOCK_LEASE_TTL={text:?}: a lease never expires only by not having one; give a finite time span such as 15min"
        )),
        Ok(Some(_)) => Err(format!(
            "KINDLING_LOCK_LEASE_TTL={text:?} is shorter than a second: give a time span such as 15min (it must outlast a reboot and the health check)"
        )),
        Err(e) => Err(format!(
            "KINDLING_LOCK_LEASE_TTL={text:?} is not a time span ({e}): give e.g. 900 or 15min"
        )),
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
        let keys = |v: &str| {
            std::collections::BTreeMap::from([(
                "KINDLING_LOCK_LEASE_TTL".to_string(),
                v.to_string(),
            )])
        };
        assert_eq!(
            lease_ttl(&std::collections::BTreeMap::new()),
            Ok(crate::lock::DEFAULT_LEASE_TTL)
        );
        assert_eq!(lease_ttl(&keys("")), Ok(crate::lock::DEFAULT_LEASE_TTL));
        assert_eq!(lease_ttl(&keys("8")), Ok(Duration::from_secs(8)));
        assert_eq!(lease_ttl(&keys("2min")), Ok(Duration::from_secs(120)));
        for bad in ["500ms", "infinity", "soon", "-5"] {
            let e = lease_ttl(&keys(bad)).unwrap_err();
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
