//! A fleet on one machine, for the fleet tests (tests/fleet_reboot.rs) and the 100-agent
//! benchmark (benches/fleet_reboot.rs): N simulated nodes (support::agent.s `Node`: a root
//! directory and a GPT image) with the same staged update, one real etcd (Debian's, on free
//! loopback ports, restartable on the same ports and data dir, pausable), and one thread per
//! node driving the real agent.
//!
//! A node goes like this: `kindling agent run --once --reboot-wait W` waits (by watch) for a
//! slot, takes it and runs the reboot command, which reboots nothing: it appends the time
//! and, when asked, the semaphore as etcd has it at that moment (read with etcdctl, not
//! kindling) to the node's `reboots` file. The simulated reboot lasts R from that time: the
//! harness plays the firmware and the kernel (`Node::boot`) inside it and sleeps the rest.
//! Then `agent run --once` again: the after-boot step marks the new slot good and gives the
//! slot back. A run that ends without a reboot (no slot in time, the lock unreachable, the
//! window closed) is simply started again, as systemd would restart the agent.
//!
//! Staging: ONE node is staged through the real agent (`REBOOT_STRATEGY=off`: check,
//! download, verify the signature, write the slot, UPDATED_NEED_REBOOT) and then copied
//! (root and sparse disk image) with a machine id of its own per node. Staging each node
//! would cost a download and a slot write per node (and, for 100 nodes, minutes) and tests
//! nothing the agent's own tests do not: the fleet is about the reboot step, and every copy
//! is byte for byte what the agent wrote. The update server keeps running, so the copies'
//! pings and after-boot events go to a real server.
//!
//! Everything started here is stopped by its own PID (agents by their process group, which
//! holds the reboot command too), also when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::agent::{Node, Release, Server, bin, kindling, need, update_conf};
use crate::support::lock::{Proc, free_port};

/// Fleets run one at a time: each measures a makespan, and two fleets on 2 cores would
/// measure each other.
static ONE_FLEET: Mutex<()> = Mutex::new(());

/// Hold this while a fleet runs.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_FLEET
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Wall-clock seconds (the reboot command writes `date +%s.%N`, so the harness does too).
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A real etcd that can be stopped, restarted on the same ports and data dir, and paused.
pub struct EtcdServer {
    pub url: String,
    client: u16,
    peer: u16,
    data: PathBuf,
    proc: Option<Proc>,
    _dir: tempfile::TempDir,
}

impl EtcdServer {
    pub fn start() -> EtcdServer {
        need("etcd");
        need("etcdctl");
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let data = dir.path().join("data");
        // Ports can be taken between the probe and etcd's bind: try a few.
        for _ in 0..5 {
            let (client, peer) = (free_port(), free_port());
            if let Some(proc) = spawn_etcd(client, peer, &data) {
                return EtcdServer {
                    url: format!("http://127.0.0.1:{client}"),
                    client,
                    peer,
                    data,
                    proc: Some(proc),
                    _dir: dir,
                };
            }
        }
        panic!("etcd did not become healthy on 127.0.0.1");
    }

    /// SIGKILL (no goodbye to anyone), as a crash.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// Start again on the same ports and data dir.
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..5 {
            if let Some(proc) = spawn_etcd(self.client, self.peer, &self.data) {
                self.proc = Some(proc);
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("etcd did not come back on port {}", self.client);
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = self.proc.as_ref().expect("etcd is running").child.id();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            signal,
        )
        .unwrap();
    }

    /// SIGSTOP: etcd's sockets still accept, nothing answers (a partition, not a refusal).
    pub fn pause(&self) {
        self.signal(nix::sys::signal::Signal::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        // A paused etcd dies of SIGKILL all the same.
        self.stop();
    }
}

fn spawn_etcd(client: u16, peer: u16, data: &Path) -> Option<Proc> {
    let url = format!("http://127.0.0.1:{client}");
    let mut proc = Proc::spawn(
        "etcd",
        &mut super::lock::etcd_command(Path::new("etcd"), "fleet", data, client, peer),
    );
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) && proc.is_running() {
        if super::lock::healthy(&url) {
            return Some(proc);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    proc.kill();
    None
}

/// Where the fleet's semaphore lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// locksmith's v2 key (the default of update.conf).
    Etcd2,
    /// Airlock's v3 key, holders on leases (`KINDLING_LOCK_BACKEND=etcd3`).
    Etcd3,
    /// `kindling lock serve` in front of etcd v3 (Airlock's key); the agents speak
    /// FleetLock to it (`KINDLING_LOCK_BACKEND=fleetlock`, `Spec::lock_endpoint`).
    FleetLock,
}

/// The client certificate and CA of a TLS etcd (tests/support/cluster.rs makes them).
#[derive(Debug, Clone)]
pub struct EtcdTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl EtcdTls {
    pub fn of(pki: &crate::support::cluster::Pki) -> EtcdTls {
        EtcdTls {
            ca: pki.ca.clone(),
            cert: pki.client_cert.clone(),
            key: pki.client_key.clone(),
        }
    }

    /// update.conf's lines, as locksmithd reads them.
    pub fn update_conf(&self) -> String {
        format!(
            "LOCKSMITHD_ETCD_CAFILE={}\nLOCKSMITHD_ETCD_CERTFILE={}\nLOCKSMITHD_ETCD_KEYFILE={}\n",
            self.ca.display(),
            self.cert.display(),
            self.key.display()
        )
    }

    /// `kindling lock` flags.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--etcd-cafile".into(),
            self.ca.display().to_string(),
            "--etcd-certfile".into(),
            self.cert.display().to_string(),
            "--etcd-keyfile".into(),
            self.key.display().to_string(),
        ]
    }

    /// etcdctl's flags for API `api`.
    pub fn etcdctl(&self, api: u8) -> String {
        let (ca, cert, key) = if api == 2 {
            ("--ca-file", "--cert-file", "--key-file")
        } else {
            ("--cacert", "--cert", "--key")
        };
        format!(
            "{ca}={} {cert}={} {key}={}",
            self.ca.display(),
            self.cert.display(),
            self.key.display()
        )
    }
}

impl Backend {
    /// The semaphore's key (v2: without the leading slash of the keys API).
    pub fn key(self) -> &'static str {
        match self {
            Backend::Etcd2 => "coreos.com/updateengine/rebootlock/semaphore",
            Backend::Etcd3 | Backend::FleetLock => "com.coreos.airlock/groups/default/v1/semaphore",
        }
    }

    fn conf(self) -> &'static str {
        match self {
            Backend::Etcd2 => "",
            Backend::Etcd3 => "KINDLING_LOCK_BACKEND=etcd3\n",
            Backend::FleetLock => "KINDLING_LOCK_BACKEND=fleetlock\n",
        }
    }

    /// A shell command printing the semaphore with etcdctl, failing when etcd does not
    /// answer; on v3 as etcdctl's JSON (with the revision of the read). Both reads are
    /// linearizable (v2: `--quorum`), so a member cut off from its peers cannot answer a
    /// stale semaphore. Short timeouts: a read that meets a frozen member is tried again at
    /// once (the loop around it) instead of stretching the simulated reboot.
    fn etcdctl_get(self, url: &str, tls: Option<&EtcdTls>) -> String {
        match self {
            Backend::Etcd2 => format!(
                "ETCDCTL_API=2 etcdctl --endpoints={url} {} --timeout=300ms --total-timeout=1s get --quorum /{}",
                tls.map(|t| t.etcdctl(2)).unwrap_or_default(),
                self.key()
            ),
            Backend::Etcd3 | Backend::FleetLock => format!(
                "ETCDCTL_API=3 etcdctl --endpoints={url} {} --dial-timeout=1s --command-timeout=1s get -w json {}",
                tls.map(|t| t.etcdctl(3)).unwrap_or_default(),
                self.key()
            ),
        }
    }
}

/// The holders in a semaphore value (locksmith's `holders: null` is none).
pub fn holders(value: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(value)
        .unwrap_or_else(|e| panic!("the semaphore is not JSON ({e}): {value:?}"));
    v["holders"]
        .as_array()
        .map(|a| a.iter().map(|h| h.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// What the fleet is.
#[derive(Debug, Clone)]
pub struct Spec {
    pub nodes: usize,
    pub slots: u32,
    /// The simulated reboot, from the reboot command to the node being up again.
    pub reboot: Duration,
    pub backend: Backend,
    /// More update.conf lines for every node (a lease TTL, ...).
    pub conf: String,
    /// `--reboot-wait` of a run that waits for the slot, in seconds.
    pub reboot_wait: u64,
    /// The reboot command reads the semaphore (etcdctl) and records it with the reboot.
    pub check_holder: bool,
    /// The node whose reboot command hangs (after taking the lock) until the test kills it.
    pub hang: Option<usize>,
    /// Nodes that start alone; the others start once each of these took its slot.
    pub first: Vec<usize>,
    /// locksmithd's loop takes the lock first: `locksmithctl lock` (the peer binary), on
    /// failure 5 s doubling to 5 min; then the agent runs (and finds its slot held).
    pub polling: bool,
    /// Every node must be done by then; a node that is not records why.
    pub limit: Duration,
    /// The etcd demands a client certificate: these files (update.conf, flags, etcdctl).
    pub tls: Option<EtcdTls>,
    /// `LOCKSMITHD_ENDPOINT` when it is not the etcd (a FleetLock server's URL).
    pub lock_endpoint: Option<String>,
    /// A prefix of every agent's command line (`ip netns exec NAME`).
    pub wrap: Vec<String>,
}

impl Spec {
    pub fn new(nodes: usize, slots: u32, reboot: Duration, backend: Backend) -> Spec {
        Spec {
            nodes,
            slots,
            reboot,
            backend,
            conf: String::new(),
            reboot_wait: 60,
            check_holder: true,
            hang: None,
            first: Vec::new(),
            polling: false,
            limit: Duration::from_secs(90),
            tls: None,
            lock_endpoint: None,
            wrap: Vec::new(),
        }
    }

    /// ceil(nodes / slots) x reboot.
    pub fn ideal(&self) -> f64 {
        self.nodes.div_ceil(self.slots as usize) as f64 * self.reboot.as_secs_f64()
    }
}

/// The fleet: its nodes, the update server they were staged from, the etcd they lock on.
pub struct Fleet {
    pub spec: Spec,
    pub nodes: Vec<Mutex<Node>>,
    pub ids: Vec<String>,
    pub dirs: Vec<PathBuf>,
    pub etcd_url: String,
    pub server: Server,
    /// Removed with the fleet.
    _dir: tempfile::TempDir,
}

/// The machine id of fleet node `i`.
pub fn machine_id(i: usize) -> String {
    format!("f1ee7{i:027x}")
}

impl Fleet {
    /// Stage one node through the agent, copy it `spec.nodes` times, set the semaphore's
    /// slots (v2 with the peer `locksmithctl`, v3 with `kindling lock`).
    pub fn new(spec: Spec, etcd_url: &str) -> Fleet {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let d = dir.path();
        let release = Release::publish(d, 4);
        let template = release.node_at(
            &d.join("template"),
            &update_conf(&release.server.url, "off", ""),
        );
        let server = release.server;
        let out = template.agent_once();
        assert_eq!(out.code, 0, "staging the template node: {}", out.stderr);
        assert!(
            template
                .status()
                .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT"),
            "the template node did not stage 1.0.1: {}",
            out.stderr
        );
        let mut nodes = Vec::new();
        let mut ids = Vec::new();
        let mut dirs = Vec::new();
        for i in 0..spec.nodes {
            let id = machine_id(i);
            let node = template.copy_to(&d.join(format!("node-{i:03}")), &id);
            dirs.push(node.dir.clone());
            nodes.push(Mutex::new(node));
            ids.push(id);
        }
        let fleet = Fleet {
            spec,
            nodes,
            ids,
            dirs,
            etcd_url: etcd_url.to_string(),
            server,
            _dir: dir,
        };
        for i in 0..fleet.spec.nodes {
            fleet.write_conf(i, "");
        }
        fleet.set_max(fleet.spec.slots);
        fleet
    }

    /// Node `i`'s update.conf: etcd-lock on the fleet's etcd, the spec's lines, `extra`.
    pub fn write_conf(&self, i: usize, extra: &str) {
        let conf = update_conf(
            &self.server.url,
            "etcd-lock",
            &format!(
                "LOCKSMITHD_ENDPOINT={}\n{}{}{}{extra}",
                self.spec.lock_endpoint.as_deref().unwrap_or(&self.etcd_url),
                self.spec
                    .tls
                    .as_ref()
                    .map(EtcdTls::update_conf)
                    .unwrap_or_default(),
                self.spec.backend.conf(),
                self.spec.conf
            ),
        );
        let path = self.dirs[i].join("root/etc/coreos/update.conf");
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, conf).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    fn set_max(&self, slots: u32) {
        let n = slots.to_string();
        let tls = self
            .spec
            .tls
            .as_ref()
            .map(EtcdTls::flags)
            .unwrap_or_default();
        let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
        let out = match self.spec.backend {
            Backend::Etcd2 if self.spec.tls.is_some() => kindling(
                &[
                    &["lock", "--endpoint", &self.etcd_url, "--backend", "etcd2"][..],
                    &tls,
                    &["set-max", &n],
                ]
                .concat(),
            ),
            Backend::Etcd2 => crate::support::agent::run(
                crate::support::lock::peer("locksmithctl").to_str().unwrap(),
                &["--endpoint", &self.etcd_url, "set-max", &n],
            ),
            Backend::Etcd3 | Backend::FleetLock => kindling(
                &[
                    &["lock", "--endpoint", &self.etcd_url, "--backend", "etcd3"][..],
                    &tls,
                    &["set-max", &n],
                ]
                .concat(),
            ),
        };
        assert_eq!(out.code, 0, "set-max {n}: {}{}", out.stdout, out.stderr);
    }

    /// The reboot command of node `i`.
    fn reboot_command(&self, i: usize) -> String {
        let log = "\"$KINDLING_ROOT/../reboots\"";
        if self.spec.hang == Some(i) {
            // Took the lock, then hangs in its reboot until the test kills it.
            return "date +%s.%N > \"$KINDLING_ROOT/../took\"; exec sleep 300".into();
        }
        if !self.spec.check_holder {
            return format!("t=$(date +%s.%N); echo \"$t -\" >> {log}");
        }
        // The semaphore as etcd has it at the reboot, read until etcd answers (bounded).
        format!(
            "t=$(date +%s.%N); n=0; until v=$({get} 2>/dev/null); do n=$((n+1)); if [ $n -ge 120 ]; then v=unreachable; break; fi; sleep 0.2; done; printf '%s %s\\n' \"$t\" \"$v\" >> {log}",
            get = self
                .spec
                .backend
                .etcdctl_get(&self.etcd_url, self.spec.tls.as_ref())
        )
    }

    /// The reboots node `i` recorded so far.
    pub fn reboots(&self, i: usize) -> Vec<Reboot> {
        let Ok(text) = std::fs::read_to_string(self.dirs[i].join("reboots")) else {
            return Vec::new();
        };
        text.lines()
            .map(|l| {
                let (at, semaphore) = l.split_once(' ').unwrap();
                let (semaphore, revision) = etcdctl_json(semaphore);
                Reboot {
                    at: at.parse().unwrap(),
                    semaphore,
                    revision,
                }
            })
            .collect()
    }

    /// When the hanging node took its lock (and got stuck in its reboot), if it did.
    pub fn hung(&self, i: usize) -> Option<f64> {
        std::fs::read_to_string(self.dirs[i].join("took"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    /// Run the fleet: one thread per node, `control` beside them (faults, checks while it
    /// runs). Returns when every node is done or gave up at the spec's limit.
    pub fn run(&self, control: impl FnOnce(&Live)) -> Report {
        let live = Live {
            agents: (0..self.spec.nodes).map(|_| Mutex::new(None)).collect(),
            killed: (0..self.spec.nodes)
                .map(|_| AtomicBool::new(false))
                .collect(),
            stop: AtomicBool::new(false),
            released: (0..self.spec.nodes).map(|_| Mutex::new(None)).collect(),
        };
        let started = now();
        let deadline = Instant::now() + self.spec.limit;
        let nodes = std::thread::scope(|s| {
            let handles: Vec<_> = (0..self.spec.nodes)
                .map(|i| {
                    let live = &live;
                    s.spawn(move || self.drive(i, live, deadline))
                })
                .collect();
            {
                // However `control` ends (a failed assertion too), the nodes stop soon.
                struct StopOnDrop<'a>(&'a AtomicBool);
                impl Drop for StopOnDrop<'_> {
                    fn drop(&mut self) {
                        if std::thread::panicking() {
                            self.0.store(true, Ordering::SeqCst);
                        }
                    }
                }
                let _stop = StopOnDrop(&live.stop);
                control(&live);
            }
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        Report {
            spec: self.spec.clone(),
            started,
            nodes,
        }
    }

    /// One node's life, bounded by `deadline`.
    fn drive(&self, i: usize, live: &Live, deadline: Instant) -> NodeRun {
        let mut run = NodeRun {
            id: self.ids[i].clone(),
            ..NodeRun::default()
        };
        let wait = self.spec.reboot_wait.to_string();
        let command = self.reboot_command(i);
        if !self.spec.first.is_empty() && !self.spec.first.contains(&i) {
            // The first nodes take their slots before the others start.
            while !self
                .spec
                .first
                .iter()
                .all(|&f| self.hung(f).is_some() || !self.reboots(f).is_empty())
            {
                if Instant::now() > deadline || live.stop.load(Ordering::SeqCst) {
                    run.failure = Some("the first nodes never took their slots".into());
                    return run;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if self.spec.polling && !self.locksmith_lock(i, live, deadline, &mut run) {
            return run;
        }
        // 1. Wait for a slot and reboot.
        let reboot = loop {
            if live.stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                run.failure = Some("no reboot before the limit".into());
                return run;
            }
            let before = self.reboots(i).len();
            run.runs += 1;
            let code = self.agent(i, live, &command, &wait, deadline, &mut run);
            if live.killed[i].load(Ordering::SeqCst) {
                run.killed = true;
                return run;
            }
            if code != Some(0) {
                run.errors += 1;
            }
            if let Some(r) = self.reboots(i).get(before) {
                break r.clone();
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        // 2. The simulated reboot: the firmware inside the reboot time.
        let booted = self.nodes[i].lock().unwrap().boot();
        run.booted_version = Some(booted);
        run.booted = Some(now());
        let up = reboot.at + self.spec.reboot.as_secs_f64();
        let left = up - now();
        if let Ok(left) = Duration::try_from_secs_f64(left) {
            std::thread::sleep(left);
        }
        run.up = Some(now());
        // 3. After the boot: mark good, give the slot back (again while etcd is away).
        loop {
            if live.stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                run.failure = Some("the slot was not given back before the limit".into());
                return run;
            }
            run.runs += 1;
            let code = self.agent(i, live, &command, "0", deadline, &mut run);
            let at = now();
            if code != Some(0) {
                run.errors += 1;
            }
            let status = self.nodes[i].lock().unwrap().status_json();
            if status["record"]["lock_held"].is_null()
                && status["current_op"] == "UPDATE_STATUS_IDLE"
            {
                run.released = Some(at);
                *live.released[i].lock().unwrap() = Some(at);
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        run.reboots = self.reboots(i);
        run
    }

    /// locksmithd's `reboot()` loop with the peer locksmithctl: lock, or sleep 5 s doubling
    /// to 5 min. False when the limit came first.
    fn locksmith_lock(&self, i: usize, live: &Live, deadline: Instant, run: &mut NodeRun) -> bool {
        let peer = crate::support::lock::peer("locksmithctl");
        let mut pause = Duration::from_secs(5);
        loop {
            let out = crate::support::agent::run(
                peer.to_str().unwrap(),
                &["--endpoint", &self.etcd_url, "lock", &self.ids[i]],
            );
            run.polls += 1;
            if out.code == 0 {
                return true;
            }
            if live.stop.load(Ordering::SeqCst) || Instant::now() + pause > deadline {
                run.failure = Some(format!(
                    "locksmith's loop had no slot after {} tries",
                    run.polls
                ));
                return false;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(300));
        }
    }

    /// One `agent run --once`, its process group registered in `live` while it runs;
    /// the exit code (None: killed or past the limit).
    fn agent(
        &self,
        i: usize,
        live: &Live,
        command: &str,
        wait: &str,
        deadline: Instant,
        run: &mut NodeRun,
    ) -> Option<i32> {
        use std::os::unix::process::CommandExt;
        let dir = &self.dirs[i];
        let log = dir.join("agent.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut command_line = match self.spec.wrap.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let child = command_line
            .args([
                "agent",
                "run",
                "--once",
                "--root",
                dir.join("root").to_str().unwrap(),
                "--disk",
                dir.join("disk.img").to_str().unwrap(),
                "--reboot-command",
                command,
                "--health-timeout",
                "20",
                "--reboot-wait",
                wait,
            ])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut guard = Agent(child);
        *live.agents[i].lock().unwrap() = Some(pid);
        let code = loop {
            if let Some(status) = guard.0.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() > deadline || live.stop.load(Ordering::SeqCst) {
                run.failure = Some("an agent run outlived the limit".into());
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        *live.agents[i].lock().unwrap() = None;
        drop(guard);
        run.log = std::fs::read_to_string(&log).unwrap_or_default();
        code
    }
}

/// An agent's process group, killed (by its id) when dropped: the agent and whatever its
/// reboot command started.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.0.id()).unwrap());
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

/// The fleet while it runs, for the test's control thread.
pub struct Live {
    agents: Vec<Mutex<Option<u32>>>,
    killed: Vec<AtomicBool>,
    released: Vec<Mutex<Option<f64>>>,
    stop: AtomicBool,
}

impl Live {
    /// The running agent of node `i`, if one runs.
    pub fn agent_pid(&self, i: usize) -> Option<u32> {
        *self.agents[i].lock().unwrap()
    }

    /// SIGKILL node `i`'s agent (and its reboot command): the node never comes back.
    pub fn kill(&self, i: usize) {
        self.killed[i].store(true, Ordering::SeqCst);
        let pid = self.agent_pid(i).expect("no agent runs on that node");
        nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }

    /// SIGSTOP / SIGCONT node `i`'s agent (a node that is slow for a while).
    pub fn freeze(&self, i: usize, frozen: bool) {
        let pid = self.agent_pid(i).expect("no agent runs on that node");
        let signal = if frozen {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            signal,
        )
        .unwrap();
    }

    /// When node `i` gave its slot back, if it did.
    pub fn released(&self, i: usize) -> Option<f64> {
        *self.released[i].lock().unwrap()
    }
}

/// A reboot as the reboot command recorded it.
#[derive(Debug, Clone, Default)]
pub struct Reboot {
    /// Wall-clock seconds.
    pub at: f64,
    /// The semaphore's value at that moment (`-` when not read).
    pub semaphore: String,
    /// The etcd revision of that read (etcd v3).
    pub revision: Option<i64>,
}

/// A value etcdctl printed: its JSON (`get -w json`) as (value, revision of the read), any
/// other text as it is.
fn etcdctl_json(text: &str) -> (String, Option<i64>) {
    use base64::Engine as _;
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return (text.to_string(), None);
    };
    if v.get("header").is_none() {
        // The value itself (etcd v2's etcdctl prints it bare).
        return (text.to_string(), None);
    }
    let revision = v["header"]["revision"].as_i64();
    let value = v["kvs"][0]["value"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    (value, revision)
}

/// How one node went.
#[derive(Debug, Clone, Default)]
pub struct NodeRun {
    pub id: String,
    pub reboots: Vec<Reboot>,
    pub booted_version: Option<String>,
    pub booted: Option<f64>,
    pub up: Option<f64>,
    pub released: Option<f64>,
    pub killed: bool,
    pub failure: Option<String>,
    /// Agent runs, failed ones, locksmithctl tries.
    pub runs: u32,
    pub errors: u32,
    pub polls: u32,
    /// The agent's log (every run).
    pub log: String,
}

/// How the fleet went.
#[derive(Debug)]
pub struct Report {
    pub spec: Spec,
    /// Wall-clock seconds when the node threads started.
    pub started: f64,
    pub nodes: Vec<NodeRun>,
}

impl Report {
    /// From the start to the last slot given back.
    pub fn makespan(&self) -> f64 {
        self.nodes
            .iter()
            .filter_map(|n| n.released)
            .fold(0.0, f64::max)
            - self.started
    }

    /// Nodes down at once (from the reboot command to being up again): the most over the
    /// run. A killed node is not counted (it is down from its kill on, for good).
    pub fn most_down_at_once(&self, ignoring: &[usize]) -> usize {
        self.most_down_during(ignoring, f64::NEG_INFINITY, f64::INFINITY)
    }

    /// The most nodes down at once between `from` and `to` (wall-clock seconds).
    pub fn most_down_during(&self, ignoring: &[usize], from: f64, to: f64) -> usize {
        let mut edges = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if ignoring.contains(&i) {
                continue;
            }
            if let (Some(r), Some(end)) = (n.reboots.first(), n.up) {
                edges.push((r.at, 1i32));
                edges.push((end, -1));
            }
        }
        // Ends before starts at the same instant.
        edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut down, mut most) = (0i32, 0i32);
        for (t, d) in edges {
            if t > to {
                break;
            }
            down += d;
            if t >= from {
                most = most.max(down);
            } else {
                // Down when the span starts.
                most = down;
            }
        }
        usize::try_from(most).unwrap()
    }

    /// Every node (but `except`) rebooted exactly once, holding a slot at that moment (as
    /// etcd said to the reboot command), is up and gave its slot back.
    pub fn assert_complete(&self, except: &[usize]) {
        for (i, n) in self.nodes.iter().enumerate() {
            if except.contains(&i) {
                continue;
            }
            assert!(
                n.failure.is_none() && n.released.is_some(),
                "node {i} ({}) did not finish: {:?}\n{}",
                n.id,
                n.failure,
                n.log
            );
            assert_eq!(
                n.reboots.len(),
                1,
                "node {i} rebooted {} times: {:?}",
                n.reboots.len(),
                n.reboots
            );
            if self.spec.check_holder {
                let sem = &n.reboots[0].semaphore;
                assert!(
                    sem != "unreachable" && holders(sem).contains(&n.id),
                    "node {i} ({}) rebooted without holding a slot; the semaphore then: {sem}",
                    n.id
                );
            }
            assert_eq!(n.booted_version.as_deref(), Some("1.0.1"), "node {i}");
        }
    }

    /// Start-up (start to the first reboot command); the firmware's part of the reboot
    /// (reboot command to `Node::boot` done, inside the reboot time); the hand-over: from a
    /// node being up again to the next reboot command in the slot it frees (the after-boot
    /// run up to the unlock, the watch waking the waiters, the winner's compare-and-swap,
    /// record and reboot command), which is what each wave costs beyond the reboot itself.
    pub fn figures(&self) -> Figures {
        let mut reboots: Vec<f64> = self
            .nodes
            .iter()
            .filter_map(|n| n.reboots.first().map(|r| r.at))
            .collect();
        let mut ups: Vec<f64> = self.nodes.iter().filter_map(|n| n.up).collect();
        reboots.sort_by(f64::total_cmp);
        ups.sort_by(f64::total_cmp);
        let boots: Vec<f64> = self
            .nodes
            .iter()
            .filter_map(|n| Some(n.booted? - n.reboots.first()?.at))
            .collect();
        let slots = self.spec.slots as usize;
        // The k-th node up lets the (k + slots)-th reboot happen.
        let handovers: Vec<f64> = ups
            .iter()
            .zip(reboots.iter().skip(slots))
            .map(|(up, next)| next - up)
            .collect();
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        Figures {
            makespan: self.makespan(),
            ideal: self.spec.ideal(),
            startup: reboots.first().map_or(0.0, |r| r - self.started),
            firmware: mean(&boots),
            firmware_max: boots.iter().copied().fold(0.0, f64::max),
            handover: mean(&handovers),
            handover_max: handovers.iter().copied().fold(0.0, f64::max),
            done: self.nodes.iter().filter(|n| n.released.is_some()).count(),
        }
    }
}

/// The fleet's timing, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub makespan: f64,
    pub ideal: f64,
    pub startup: f64,
    pub firmware: f64,
    pub firmware_max: f64,
    pub handover: f64,
    pub handover_max: f64,
    pub done: usize,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} nodes done; makespan {:.2} s = {:.3} x ideal {:.0} s; start-up {:.2} s; firmware {:.3} s mean ({:.3} max) inside the reboot; hand-over {:.3} s mean, {:.3} s max",
            self.done,
            self.makespan,
            self.makespan / self.ideal,
            self.ideal,
            self.startup,
            self.firmware,
            self.firmware_max,
            self.handover,
            self.handover_max
        )
    }
}

/// Every value the v3 key ever had, oldest first (see `support::lock::v3_history_at`).
pub use crate::support::lock::v3_history_at as v3_history;

/// Every value of a v2 key, seen by long polls (`wait=true&waitIndex=`) that follow each
/// modification from index 1 on: etcd v2 keeps no history beyond its last 1000 events, so
/// the watcher runs beside the fleet and fails loudly if it ever fell behind (errorCode 401).
pub struct V2Watch {
    values: Arc<Mutex<Vec<(u64, String)>>>,
    error: Arc<Mutex<Option<String>>>,
    stop_after: Arc<Mutex<Option<u64>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    url: String,
    key: String,
    tls: Option<EtcdTls>,
}

/// An HTTP client for etcd's v2 API, with the client certificate when there is one.
fn v2_http(tls: Option<&EtcdTls>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    if let Some(t) = tls {
        let ca = std::fs::read(&t.ca).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap());
        let mut pem = std::fs::read(&t.cert).unwrap();
        pem.extend(std::fs::read(&t.key).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

impl V2Watch {
    pub fn start(url: &str, key: &str) -> V2Watch {
        V2Watch::start_tls(url, key, None)
    }

    /// On every endpoint of `urls` (comma-separated; the next one after a failure or a
    /// poll that saw nothing: every member has the same v2 history), with `tls`.
    pub fn start_tls(urls: &str, key: &str, tls: Option<&EtcdTls>) -> V2Watch {
        let values = Arc::new(Mutex::new(Vec::new()));
        let error = Arc::new(Mutex::new(None));
        let stop_after = Arc::new(Mutex::new(None));
        let (v, e, s) = (values.clone(), error.clone(), stop_after.clone());
        let targets: Vec<String> = urls
            .split(',')
            .map(|url| format!("{url}/v2/keys/{key}"))
            .collect();
        let tls_files = tls.cloned();
        let thread = super::process::spawn_runtime(move || async move {
            let http = v2_http(tls_files.as_ref());
            let mut at = 0usize;
            let mut index = 1u64;
            let give_up = Instant::now() + Duration::from_secs(900);
            loop {
                if s.lock().unwrap().is_some_and(|last| index > last) {
                    return;
                }
                if Instant::now() > give_up {
                    *e.lock().unwrap() = Some("the v2 watcher ran for 900 s".into());
                    return;
                }
                let target = &targets[at % targets.len()];
                let resp = http
                    .get(target)
                    .query(&[("wait", "true"), ("waitIndex", &index.to_string())])
                    .timeout(Duration::from_secs(1))
                    .send()
                    .await;
                let body = match resp {
                    Ok(r) => match r
                        .bytes()
                        .await
                        .map(|b| serde_json::from_slice::<serde_json::Value>(&b))
                    {
                        Ok(Ok(b)) => b,
                        _ => {
                            at += 1;
                            continue;
                        }
                    },
                    Err(_) => {
                        at += 1;
                        // A poll that saw nothing in time, or etcd away: poll again
                        // from the same index (nothing is lost).
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                if let Some(code) = body["errorCode"].as_u64() {
                    *e.lock().unwrap() = Some(format!(
                        "the v2 watcher fell behind etcd's history at index {index} (errorCode {code}): {body}"
                    ));
                    return;
                }
                let node = &body["node"];
                let Some(modified) = node["modifiedIndex"].as_u64() else {
                    continue;
                };
                if let Some(value) = node["value"].as_str() {
                    v.lock().unwrap().push((modified, value.to_string()));
                }
                index = modified + 1;
            }
        });
        V2Watch {
            values,
            error,
            stop_after,
            thread: Some(thread),
            url: urls.to_string(),
            key: key.to_string(),
            tls: tls.cloned(),
        }
    }

    /// Every value seen, once the watcher caught up with the key's current modification.
    pub fn finish(mut self) -> Vec<String> {
        let http = v2_http(self.tls.as_ref());
        let targets: Vec<String> = self
            .url
            .split(',')
            .map(|url| format!("{url}/v2/keys/{}", self.key))
            .collect();
        let body: serde_json::Value = crate::support::lock::rt().block_on(async {
            for _ in 0..20 {
                for target in &targets {
                    let Ok(resp) = http
                        .get(target)
                        .query(&[("quorum", "true")])
                        .timeout(Duration::from_secs(2))
                        .send()
                        .await
                    else {
                        continue;
                    };
                    if let Ok(bytes) = resp.bytes().await
                        && let Ok(body) = serde_json::from_slice::<serde_json::Value>(&bytes)
                        && body["node"]["modifiedIndex"].is_u64()
                    {
                        return body;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            panic!("no etcd member answered for {}", self.key)
        });
        let current = body["node"]["modifiedIndex"].as_u64().unwrap();
        *self.stop_after.lock().unwrap() = Some(current);
        self.thread.take().unwrap().join().unwrap();
        if let Some(e) = self.error.lock().unwrap().take() {
            panic!("{e}");
        }
        let values = self.values.lock().unwrap();
        assert_eq!(
            values.last().map(|(i, _)| *i),
            Some(current),
            "the v2 watcher did not see the last change"
        );
        values.iter().map(|(_, v)| v.clone()).collect()
    }
}

impl Drop for V2Watch {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            *self.stop_after.lock().unwrap() = Some(0);
            let _ = t.join();
        }
    }
}

/// Every value in `history` has at most `slots` holders; returns the most seen.
pub fn assert_never_more_than(history: &[String], slots: usize) -> usize {
    assert!(!history.is_empty(), "no history of the semaphore");
    let mut most = 0;
    for (k, value) in history.iter().enumerate() {
        let n = holders(value).len();
        assert!(
            n <= slots,
            "revision {k} of the semaphore has {n} holders (> {slots}): {value}"
        );
        most = most.max(n);
    }
    most
}
