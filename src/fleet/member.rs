//! The node side of the fleet, run by the agent daemon when the node joins
//! ([`super::Join`]): keep the node's record in etcd on a lease kept alive, watch the
//! published config (and, for held configs, this node's admission), and converge the node
//! to it.
//!
//! The record is written when something in it changes (the agent's state, the apply's
//! progress), never on a timer; between changes the only traffic is the lease keep-alive
//! and the idle watch. Converging is: validate and compile the text again (etcd is never
//! trusted), apply it through [`crate::apply::apply`] (atomic, convergent, only the actions
//! whose inputs changed, with a generation saved first), run the agent's health check, roll
//! back through [`crate::apply::rollback`] when it fails, and hand a reboot-required change
//! to the agent's reboot pipeline (window and lock) by a request on a channel. What the node
//! did is kept in `/var/lib/kindling/fleet.json`, so a restart resumes; a reboot owed is part
//! of it until a boot with another id happened: later applies keep it (and the record shows
//! it), and every start asks the agent for it again. The same watch
//! carries an operator's rollback request for this node, which `super::recover` checks and
//! carries out before anything else is converged.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::error::Error;
use super::etcd::FleetEtcd;
use super::join::Join;
use super::keys;
use super::local::Local;
use super::record::{
    AgentView, Digest, NodeRecord, NodeState, Published, file_entry, link_entry, now_ms, now_secs,
};
use crate::diagnostic::Severity;
use crate::plan::Effect;
use crate::root::{Observed, Root};

/// The digest of `paths` as they are in `root`.
#[must_use]
pub fn digest(root: &Root, paths: &BTreeSet<String>) -> Digest {
    paths
        .iter()
        .take(keys::MAX_DIGEST_ENTRIES)
        .map(|p| {
            let entry = match root.observe(p) {
                Ok(Observed::File {
                    bytes,
                    mode,
                    uid,
                    gid,
                }) => file_entry(&bytes, mode, uid, gid),
                Ok(Observed::Symlink { target }) => link_entry(&target),
                Ok(Observed::Directory) => "directory".to_string(),
                Ok(Observed::Missing) => "missing".to_string(),
                Ok(Observed::Other) | Err(_) => "other".to_string(),
            };
            (p.clone(), entry)
        })
        .collect()
}

/// The agent's handle on its fleet member: tell it the agent's state after each transition.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: watch::Sender<AgentView>,
}

impl Publisher {
    /// Tell the member where the reboot into a staged release stands with the group's
    /// release rollout (the gate's note), without waiting for the agent's next transition.
    pub fn admission(&self, note: Option<String>) {
        self.tx.send_if_modified(|old| {
            if old.admission == note {
                false
            } else {
                old.admission = note;
                true
            }
        });
    }

    /// Tell the member the agent's state; the record is rewritten only when it changed.
    pub fn agent(&self, view: AgentView) {
        self.tx.send_if_modified(|old| {
            if *old == view {
                false
            } else {
                *old = view;
                true
            }
        });
    }
}

/// Everything the member needs, fixed at start.
struct Member {
    join: Join,
    root: Root,
    machine_id: String,
    boot_id: String,
    hostname: String,
    health_timeout: Duration,
    reboot: mpsc::Sender<String>,
    log: std::sync::Arc<dyn Fn(&str) + Send + Sync>,
}

/// Start the member for `root` (inside a tokio runtime). Returns the handle the agent
/// reports its state through, and the channel on which the member asks the agent for a
/// reboot (with the reason) when a config needs one.
#[must_use]
pub fn start(
    join: Join,
    root: Root,
    identity: &crate::machine::node::Identity,
    view: AgentView,
    health_timeout: Duration,
    log: std::sync::Arc<dyn Fn(&str) + Send + Sync>,
) -> (Publisher, mpsc::Receiver<String>) {
    let (tx, rx) = watch::channel(view);
    let (reboot_tx, reboot_rx) = mpsc::channel(4);
    let hostname = match root.observe("/etc/hostname") {
        Ok(Observed::File { bytes, .. }) => String::from_utf8_lossy(&bytes).trim().to_string(),
        _ => String::new(),
    };
    let member = Member {
        hostname: if hostname.is_empty() {
            identity.machine_id.clone()
        } else {
            hostname
        },
        join,
        root,
        machine_id: identity.machine_id.clone(),
        boot_id: identity.boot_id.clone(),
        health_timeout,
        reboot: reboot_tx,
        log,
    };
    tokio::spawn(member.run(rx));
    (Publisher { tx }, reboot_rx)
}

/// The local address this node reaches `endpoint` from (no packet is sent: a UDP
/// `connect` only picks the route).
fn local_address(endpoint: &str) -> String {
    let Ok(url) = reqwest::Url::parse(endpoint) else {
        return String::new();
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return String::new();
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let bind = if host.contains(':') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    std::net::UdpSocket::bind(bind)
        .and_then(|s| {
            s.connect((host, port))?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

impl Member {
    async fn run(self, mut view: watch::Receiver<AgentView>) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.session(&mut view).await {
                Ok(()) => return,
                Err(e) => {
                    (self.log)(&format!(
                        "fleet: {e}; trying again in {}s",
                        backoff.as_secs()
                    ));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn record(&self, local: &Local, view: &AgentView, address: &str) -> NodeRecord {
        let state = match &local.state {
            NodeState::Failed(r) if r.len() > 2048 => NodeState::Failed(r[..2048].to_string()),
            s => s.clone(),
        };
        NodeRecord {
            group: self.join.group.clone(),
            machine_id: self.machine_id.clone(),
            hostname: self.hostname.clone(),
            address: address.to_string(),
            agent: view.clone(),
            generation: local.generation,
            target_generation: local.target,
            state,
            reboot_required: local.reboot_required.clone(),
            healthy: local.healthy,
            apply_started_ms: local.apply_started_ms,
            apply_finished_ms: local.apply_finished_ms,
            last_seen: 0,
            rollback_to: local.rollback_to.as_ref().map(|(g, _)| *g),
            rollback: local.rollback.clone(),
            digest: digest(&self.root, &local.managed),
            vars: super::vars::of_root(&self.root).0,
        }
    }

    /// One connection's life: lease, record, watch, converge; `Err` restarts it.
    async fn session(&self, view: &mut watch::Receiver<AgentView>) -> Result<(), Error> {
        let store = FleetEtcd::connect(&self.join.etcd, &self.join.group).await?;
        let mut client = store.client();
        let ttl = i64::try_from(self.join.ttl.as_secs()).unwrap_or(60);
        let lease = client
            .lease_grant(ttl, None)
            .await
            .map_err(Error::Lease)?
            .id();
        let (keeper, answers) = client.lease_keep_alive(lease).await.map_err(Error::Lease)?;
        // The lease is kept alive by a task of its own, so an apply and its health check
        // (which may take minutes) never starve the keep-alives: a node that is converging
        // is alive. The task ends with the session (dropped guard) or reports the loss.
        let every = (self.join.ttl / 3).max(Duration::from_millis(500));
        let (lost_tx, mut lost) = tokio::sync::oneshot::channel::<Error>();
        let _keeper = KeepAlive(tokio::spawn(keep_alive(
            client.clone(),
            lease,
            (keeper, answers),
            every,
            lost_tx,
        )));
        let address = self.join.address.clone().unwrap_or_else(|| {
            self.join
                .etcd
                .endpoints
                .first()
                .map(|e| local_address(e))
                .unwrap_or_default()
        });
        let mut local = Local::load(&self.root);
        if local.settle_boot(&self.boot_id) {
            // A reboot owed by an earlier boot happened: its changes are now in effect.
            local.save(&self.root)?;
        }
        let mut out = Session {
            store,
            lease,
            address,
            last: None,
            view: view.clone(),
        };
        let current = view.borrow_and_update().clone();
        self.publish(&mut out, &local, &current).await?;
        (self.log)(&format!(
            "fleet: joined group {:?} on {}",
            self.join.group,
            self.join.etcd.endpoints.join(",")
        ));
        let mut watch = client
            .watch(keys::config(&self.join.group), None)
            .await
            .map_err(Error::Watch)?;
        watch
            .watch(keys::admit(&self.join.group, &self.machine_id), None)
            .await
            .map_err(Error::Watch)?;
        watch
            .watch(keys::rollback(&self.join.group, &self.machine_id), None)
            .await
            .map_err(Error::Watch)?;
        // A reboot still owed on this boot is asked for again on every start: the request
        // sent at apply time died with the agent that got it.
        if local.owes_reboot(&self.boot_id) {
            self.ask_reboot(format!(
                "config generation {} still needs a reboot: {}",
                local.generation,
                local.reboot_required.join("; ")
            ));
        }
        self.recover(&mut out, &mut local).await?;
        self.converge(&mut out, &mut local).await?;
        loop {
            tokio::select! {
                why = &mut lost => {
                    return Err(why.unwrap_or(Error::KeeperStopped));
                }
                msg = watch.message() => {
                    match msg {
                        Ok(Some(m)) if !m.canceled() => {
                            if !m.events().is_empty() {
                                self.recover(&mut out, &mut local).await?;
                                self.converge(&mut out, &mut local).await?;
                            }
                        }
                        Ok(_) => return Err(Error::WatchEnded),
                        Err(e) => return Err(Error::Watch(e)),
                    }
                }
                changed = view.changed() => {
                    if changed.is_err() {
                        // The agent is gone.
                        return Ok(());
                    }
                    let current = view.borrow_and_update().clone();
                    self.publish(&mut out, &local, &current).await?;
                }
            }
        }
    }

    /// The config this node should have: the published one, or (held) the one a rollout
    /// admitted it to.
    async fn target(&self, store: &FleetEtcd) -> Result<Option<Published>, Error> {
        let Some((published, _)) = store.published().await? else {
            return Ok(None);
        };
        if !published.hold {
            return Ok(Some(published));
        }
        match store.admitted(&self.machine_id).await? {
            Some(g) if g == published.generation => Ok(Some(published)),
            Some(g) => store.generation(g).await,
            None => Ok(None),
        }
    }

    /// Keep the node's memory, then write the record with the agent's state as it is now.
    async fn save_and_publish(&self, out: &mut Session, local: &Local) -> Result<(), Error> {
        local.save(&self.root)?;
        let v = out.view.borrow().clone();
        self.publish(out, local, &v).await
    }

    /// Write the record when it changed since the last write.
    async fn publish(
        &self,
        out: &mut Session,
        local: &Local,
        view: &AgentView,
    ) -> Result<(), Error> {
        let mut record = self.record(local, view, &out.address);
        if out.last.as_ref() == Some(&record) {
            return Ok(());
        }
        out.last = Some(record.clone());
        record.last_seen = now_secs();
        out.store.put_record(&record, out.lease).await
    }

    async fn converge(&self, out: &mut Session, local: &mut Local) -> Result<(), Error> {
        let target = match self.target(&out.store).await {
            Ok(t) => t,
            Err(e) => {
                // A value in etcd that cannot be used: refused, nothing applied.
                local.state = NodeState::Failed(format!("refused the published config: {e}"));
                return self.save_and_publish(out, local).await;
            }
        };
        let Some(published) = target else {
            return Ok(());
        };
        let g = published.generation;
        let finished = local.target == g && (local.generation == g || local.state.is_failure());
        if finished {
            return Ok(());
        }
        local.target = g;
        local.state = NodeState::Applying;
        local.apply_started_ms = now_ms();
        self.save_and_publish(out, local).await?;
        (self.log)(&format!("fleet: applying config generation {g}"));
        let root = self.root.clone();
        let health_timeout = self.health_timeout;
        let saved_before = super::recover::latest_saved(&self.root);
        let outcome =
            tokio::task::spawn_blocking(move || apply_published(&root, &published, health_timeout))
                .await
                .map_err(|e| Error::Internal(e.to_string()))?;
        if !matches!(outcome, Outcome::Refused(_)) {
            local.rollback_to = super::recover::after_apply(
                saved_before.as_deref(),
                super::recover::latest_saved(&self.root),
                local.generation,
            );
        }
        local.apply_finished_ms = now_ms();
        match outcome {
            Outcome::Refused(why) | Outcome::Failed(why) => {
                (self.log)(&format!("fleet: generation {g} failed: {why}"));
                local.state = NodeState::Failed(why);
                local.healthy = false;
            }
            Outcome::RolledBack(why) => {
                (self.log)(&format!("fleet: generation {g} rolled back: {why}"));
                local.state = NodeState::RolledBack(why);
                local.healthy = false;
            }
            Outcome::Applied { paths, reboot } => {
                local.managed.extend(paths);
                local.generation = g;
                local.healthy = true;
                if !reboot.is_empty() {
                    let why = reboot.join("; ");
                    local.owe_reboot(reboot, &self.boot_id);
                    // The agent's pipeline takes it from here: window, then lock.
                    self.ask_reboot(format!("config generation {g} needs a reboot: {why}"));
                }
                // A reboot owed from an earlier generation stays owed (and shown) through an
                // in-service one.
                local.applied(&self.boot_id);
            }
        }
        self.save_and_publish(out, local).await
    }
}

impl Member {
    /// Ask the agent's reboot pipeline for the reboot (window, then lock). Never waits: when
    /// requests are already queued (the agent is busy waiting for its window), the reboot is
    /// asked for already, and the member goes on keeping its record.
    fn ask_reboot(&self, why: String) {
        match self.reboot.try_send(why) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => {
                (self.log)("fleet: the agent is gone; the reboot stays owed");
            }
        }
    }

    /// Answer a pending rollback request (see `recover`), once per request.
    async fn recover(&self, out: &mut Session, local: &mut Local) -> Result<(), Error> {
        let Some(super::recover::Pending { request, revision }) =
            super::recover::pending(&out.store, &self.machine_id).await?
        else {
            return Ok(());
        };
        if local
            .rollback
            .as_ref()
            .is_some_and(|a| a.revision == revision)
        {
            // Answered already (the delete did not reach etcd).
            return super::recover::clear(&out.store, &self.machine_id, revision).await;
        }
        let answer = match request {
            Err(why) => super::recover::Refused::from(why).answer(revision),
            Ok(request) => {
                let root = self.root.clone();
                let mut l = local.clone();
                let (answer, l) = tokio::task::spawn_blocking(move || {
                    let a = super::recover::restore(&root, &mut l, &request, revision);
                    (a, l)
                })
                .await
                .map_err(|e| Error::Internal(e.to_string()))?;
                *local = l;
                answer
            }
        };
        (self.log)(&format!("fleet: rollback request: {}", answer.message));
        local.rollback = Some(answer);
        self.save_and_publish(out, local).await?;
        super::recover::clear(&out.store, &self.machine_id, revision).await
    }
}

/// Aborts the keep-alive task when the session ends, however it ends.
struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keep `lease` alive every `every` until it comes back with TTL 0 (the lease is gone);
/// then say why. A keep-alive that fails or is not answered within `every` (its member
/// died, lost its leader or froze) re-opens the renewal stream through `client`, whose
/// balancer sends it to a member that answers, so the same lease (and the record's live
/// key on it) outlives a failover; a stream that cannot be re-opened before the lease's
/// TTL runs out ends with the reason.
async fn keep_alive(
    client: etcd_client::Client,
    lease: i64,
    stream: (etcd_client::LeaseKeeper, etcd_client::LeaseKeepAliveStream),
    every: Duration,
    lost: tokio::sync::oneshot::Sender<Error>,
) {
    let (mut keeper, mut answers) = stream;
    let mut tick = tokio::time::interval(every);
    // The TTL is three periods: the lease outlives at most that long without an answer.
    let mut answered = tokio::time::Instant::now();
    let why = loop {
        tick.tick().await;
        let answer = async {
            keeper.keep_alive().await?;
            answers.message().await
        };
        let failure = match tokio::time::timeout(every, answer).await {
            Ok(Ok(Some(a))) if a.ttl() > 0 => {
                answered = tokio::time::Instant::now();
                continue;
            }
            Ok(Ok(_)) => break Error::LeaseExpired,
            Ok(Err(e)) => Error::Lease(e),
            Err(_) => Error::LeaseUnanswered,
        };
        if answered.elapsed() >= every * 3 {
            break failure;
        }
        match client.clone().lease_keep_alive(lease).await {
            Ok((k, a)) => (keeper, answers) = (k, a),
            Err(etcd_client::Error::LeaseKeepAliveError(t)) if t.contains("lease not found") => {
                break Error::LeaseExpired;
            }
            Err(_) => {}
        }
    };
    let _ = lost.send(why);
}

/// One connection's writing end: where and under which lease the record goes, and what
/// was written last (so an unchanged record is not written again).
struct Session {
    store: FleetEtcd,
    lease: i64,
    address: String,
    last: Option<NodeRecord>,
    /// The agent's state, read when the record is written.
    view: watch::Receiver<AgentView>,
}

/// What applying a published config ended in.
#[derive(Debug)]
enum Outcome {
    /// Not applied: the text has errors (or is not a config).
    Refused(String),
    /// The applier failed (each file it wrote is whole; see the generation).
    Failed(String),
    /// Applied, failed its health check, and restored.
    RolledBack(String),
    /// Applied and healthy; the planned paths and why a reboot is required.
    Applied {
        paths: Vec<String>,
        reboot: Vec<String>,
    },
}

fn update_conf_base(root: &Root) -> Option<String> {
    ["/etc/coreos/update.conf", "/usr/share/coreos/update.conf"]
        .iter()
        .find_map(|p| match root.observe(p) {
            Ok(Observed::File { bytes, .. }) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => None,
        })
}

fn apply_published(root: &Root, published: &Published, health_timeout: Duration) -> Outcome {
    // This node's values, read now (the boot-time apply may have rewritten them); a variable
    // the config uses and the node lacks refuses the config here (see `vars`).
    let (vars, problems) = super::vars::of_root(root);
    let missing = super::vars::missing(&published.text, &vars);
    if !missing.is_empty() {
        let mut why = format!(
            "generation {}: {}",
            published.generation,
            super::vars::refusal(&missing)
        );
        if !problems.is_empty() {
            why.push_str(&format!(" ({})", problems.join("; ")));
        }
        return Outcome::Refused(why);
    }
    let options = crate::compile::Options {
        target: crate::compile::Target::Tree,
        vars,
        plan: crate::plan::PlanOptions {
            update_conf_base: update_conf_base(root),
        },
    };
    let name = format!("fleet generation {}", published.generation);
    let compiled = crate::compile::compile(&name, published.text.clone().into_bytes(), &options);
    let Some(plan) = compiled.plan else {
        let first = compiled
            .findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .map_or_else(
                || "it cannot be compiled".to_string(),
                |f| f.message.clone(),
            );
        return Outcome::Refused(format!(
            "generation {} has errors, nothing applied: {first}",
            published.generation
        ));
    };
    let report = match crate::apply::apply(root, &plan, false) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("apply: {e}")),
    };
    let settings = match crate::machine::settings::Settings::read(root) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("after the apply: {e}")),
    };
    let verdict = crate::machine::health::check(
        &settings.health,
        root.path(),
        root.is_host(),
        health_timeout,
    );
    if let crate::machine::health::Verdict::Unhealthy(why) = verdict {
        if report.generation.is_some() {
            return match crate::apply::rollback(root) {
                Ok(_) => Outcome::RolledBack(format!("health check failed after the apply: {why}")),
                Err(e) => Outcome::Failed(format!(
                    "health check failed after the apply ({why}) and the rollback failed: {e}"
                )),
            };
        }
        return Outcome::Failed(format!("health check failed: {why}"));
    }
    let mut reboot: Vec<String> = report
        .diff
        .files
        .iter()
        .filter(|f| f.effect == Effect::RebootRequired)
        .map(|f| format!("{} ({})", f.path, f.origin))
        .collect();
    reboot.extend(
        report
            .diff
            .actions
            .iter()
            .filter(|a| a.effect == Effect::RebootRequired)
            .map(|a| format!("{:?}", a.kind)),
    );
    Outcome::Applied {
        paths: plan.files.iter().map(|f| f.path.clone()).collect(),
        reboot,
    }
}
