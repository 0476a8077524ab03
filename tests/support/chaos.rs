//! A fleet on the three-member TLS cluster under faults, shared by the CI tests
//! (tests/fleet_cluster.rs) and the full-size bench (benches/fleet_cluster.rs): the fleet
//! harness (support::fleet) with every etcd endpoint and the client certificate in each
//! node's update.conf, `kindling lock serve` in front for FleetLock, a fault thread that
//! kills the leader every `kill_every` (and restarts it a second later, so the cluster
//! keeps three members) and freezes a member (SIGSTOP) for `freeze_for`, and the history
//! checker (support::history) over the run.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::cluster::Cluster;
use crate::support::fleet::{Backend, EtcdTls, Fleet, Report, Spec, V2Watch, now};
use crate::support::history::{History, Summary, v3_history};
use crate::support::process::Guard;

/// The faults of a run.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Kill the leader this often (`None`: never).
    pub kill_every: Option<Duration>,
    /// Freeze one member (not the leader) this long, once, starting `freeze_at` in.
    pub freeze_for: Option<Duration>,
    pub freeze_at: Duration,
}

impl Faults {
    /// The bench's run without faults (the tests always inject some).
    #[allow(dead_code)]
    pub const NONE: Faults = Faults {
        kill_every: None,
        freeze_for: None,
        freeze_at: Duration::ZERO,
    };
}

/// What a run did.
pub struct Outcome {
    pub report: Report,
    pub summary: Summary,
    pub leaders_killed: usize,
    pub frozen: usize,
    /// Each fault as it happened: wall-clock seconds (as the report's) and what.
    pub events: Vec<(f64, String)>,
}

/// `kindling lock serve` on the cluster (all endpoints, the client certificate), 3 slots.
pub fn lock_serve(cluster: &Cluster, slots: u32) -> (Guard, String) {
    let port = crate::support::lock::free_port();
    let tls = EtcdTls::of(&cluster.pki);
    let child = cluster
        .command(env!("CARGO_BIN_EXE_kindling"))
        .args(["lock", "--endpoint", &cluster.endpoints()])
        .args(tls.flags())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--slots", &slots.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    crate::support::lock::wait_until("lock serve", Duration::from_secs(20), || {
        crate::support::lock::listening(port)
    });
    (guard, format!("http://127.0.0.1:{port}"))
}

/// Run `nodes` agents with `slots` slots and a `reboot` on `cluster` through `backend`,
/// under `faults`; the history is checked (a violation fails the run).
pub fn run(
    cluster: &mut Cluster,
    backend: Backend,
    nodes: usize,
    slots: u32,
    reboot: Duration,
    faults: Faults,
    limit: Duration,
) -> Outcome {
    let mut killed = 0;
    let mut frozen = 0;
    let mut events = Vec::new();
    let mut out = run_with(
        cluster,
        backend,
        nodes,
        slots,
        reboot,
        limit,
        |cluster, done| {
            let start = Instant::now();
            // The first kill comes early (at most 1 s in), so a short run sees one before
            // it ends; the rest follow every `kill_every`.
            let mut next_kill = faults
                .kill_every
                .map(|k| start + k.min(Duration::from_secs(1)));
            let mut freeze = faults.freeze_for.map(|f| (start + faults.freeze_at, f));
            // The frozen member and when it thaws; the leader kills go on meanwhile.
            let mut thaw: Option<(usize, Instant)> = None;
            while !done() && start.elapsed() < limit {
                std::thread::sleep(Duration::from_millis(100));
                if let Some((v, at)) = thaw
                    && Instant::now() >= at
                {
                    cluster.freeze(v, false);
                    events.push((now(), format!("member {v} thawed")));
                    thaw = None;
                }
                if let Some(at) = next_kill
                    && Instant::now() >= at
                {
                    if let Some(leader) = cluster.kill_leader() {
                        events.push((now(), format!("leader {leader} killed")));
                        killed += 1;
                        std::thread::sleep(Duration::from_secs(1));
                        cluster.restart(leader);
                        events.push((now(), format!("member {leader} restarted")));
                    }
                    next_kill = faults.kill_every.map(|k| at + k);
                }
                if let Some((at, long)) = freeze
                    && Instant::now() >= at
                {
                    // A follower: the leader's freeze would be an election too.
                    let leader = cluster.leader(Duration::from_secs(5));
                    let victim = (0..3).find(|&i| Some(i) != leader && cluster.is_running(i));
                    if let Some(v) = victim {
                        cluster.freeze(v, true);
                        events.push((now(), format!("member {v} frozen")));
                        frozen += 1;
                        thaw = Some((v, Instant::now() + long));
                    }
                    freeze = None;
                }
            }
            if let Some((v, _)) = thaw {
                cluster.freeze(v, false);
            }
        },
    );
    out.leaders_killed = killed;
    out.frozen = frozen;
    out.events = events;
    out
}

/// [`run`] with the faults of `control` (on its own thread beside the fleet, given the
/// cluster and whether every node is done).
pub fn run_with(
    cluster: &mut Cluster,
    backend: Backend,
    nodes: usize,
    slots: u32,
    reboot: Duration,
    limit: Duration,
    control: impl FnOnce(&mut Cluster, &dyn Fn() -> bool),
) -> Outcome {
    let tls = EtcdTls::of(&cluster.pki);
    let mut spec = Spec::new(nodes, slots, reboot, backend);
    spec.tls = Some(tls.clone());
    spec.limit = limit;
    spec.reboot_wait = limit.as_secs();
    let _server = if backend == Backend::FleetLock {
        let (guard, url) = lock_serve(cluster, slots);
        spec.lock_endpoint = Some(url);
        Some(guard)
    } else {
        None
    };
    let endpoints = cluster.endpoints();
    let fleet = Fleet::new(spec, &endpoints);
    let watch = (backend == Backend::Etcd2)
        .then(|| V2Watch::start_tls(&endpoints, Backend::Etcd2.key(), Some(&tls)));
    let report = fleet.run(|live| {
        let done = || (0..nodes).all(|i| live.released(i).is_some());
        control(cluster, &done);
    });
    let nodes_run = report.nodes.clone();
    let history = match watch {
        Some(w) => History::from_values(slots as usize, &w.finish(), nodes_run),
        None => v3_history(&endpoints, &tls, slots as usize, nodes_run),
    };
    let summary = match history.check() {
        Ok(s) => s,
        Err(violations) => {
            let logs: Vec<String> = report
                .nodes
                .iter()
                .filter(|n| n.failure.is_some())
                .map(|n| format!("{}: {:?}\n{}", n.id, n.failure, n.log))
                .collect();
            panic!(
                "{backend:?}: the history checker found {} violations:\n{}\n{}",
                violations.len(),
                violations.join("\n"),
                logs.join("\n")
            )
        }
    };
    Outcome {
        report,
        summary,
        leaders_killed: 0,
        frozen: 0,
        events: Vec::new(),
    }
}
