//! OS releases through `fleet rollout`, and recovering a node: simulated nodes (root + GPT
//! image) with the real agent daemon in the fleet (`KINDLING_FLEET=on`), a real etcd (the
//! fleet's state and the reboot lock), kindling's update server offering 1.0.1. Every node
//! starts with 1.0.1 staged (one template node staged through the agent, then copied); its
//! reboot command only records the request, and the test plays the firmware: it stops the
//! agent, boots the node with `kindling slots next` (the harness's `Node::boot`) and starts
//! the agent again, as tests/support/fleet.rs does for `agent run --once`.
//!
//! Checked: a release rollout admits in waves of `--max-parallel` (read back from every
//! revision of the rollout key) and the lock still bounds the reboots (every revision of
//! the semaphore); a node whose new release fails its health check stops a strict rollout
//! and the others stay staged, not rebooted; abort mid-rollout leaves every node reported;
//! with etcd down a staged node of a release-rollout group does not reboot (and a group
//! without a release rollout reboots as before); `rollout rollback` restores a failed
//! node's files exactly, and refuses a generation the node has not saved.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::agent::{
    Guard, Node, Out, Release, Server, bin, kindling, update_conf, usr_image,
};
use crate::support::fleet::{EtcdServer, holders, machine_id};
use crate::support::lock::{v3_history_at, wait_until};

const LOCK_KEY: &str = "com.coreos.airlock/groups/default/v1/semaphore";

/// A node with its agent daemon.
struct Member {
    node: Node,
    agent: Option<Guard>,
    /// Times the firmware booted it (after its agent asked for a reboot).
    reboots: usize,
}

impl Member {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.node.dir.join("agent.log"))
            .unwrap();
        let child = crate::fleet::agent_daemon(&self.node)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.agent = Some(Guard(child));
    }

    /// SIGKILL the agent.
    fn stop(&mut self) {
        self.agent = None;
    }

    fn asked_reboot(&self) -> bool {
        self.node.dir.join("rebooted").exists()
    }

    /// The firmware: when the agent ran its reboot command, stop it, boot the node and
    /// start the agent again. True when it rebooted.
    fn play_firmware(&mut self) -> bool {
        if !self.asked_reboot() {
            return false;
        }
        self.stop();
        std::fs::remove_file(self.node.dir.join("rebooted")).unwrap();
        self.node.boot();
        self.reboots += 1;
        self.start();
        true
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.node.dir.join("agent.log")).unwrap_or_default()
    }
}

struct Fleet {
    members: Vec<Member>,
    url: String,
    group: String,
    dir: PathBuf,
    _server: Server,
    _tmp: tempfile::TempDir,
}

/// `n` nodes of `group` on 1.0.0 with 1.0.1 staged, agents running. `conf(i)` adds lines to
/// node i's update.conf (the strategy is etcd-lock on the etcd3 backend unless it says).
fn staged_fleet(url: &str, group: &str, n: usize, conf: &dyn Fn(usize) -> String) -> Fleet {
    fleet_of(url, group, n, conf, true)
}

/// [`staged_fleet`], or (`prestaged` false) nodes whose own agents download and stage 1.0.1
/// once they start.
fn fleet_of(
    url: &str,
    group: &str,
    n: usize,
    conf: &dyn Fn(usize) -> String,
    prestaged: bool,
) -> Fleet {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = tmp.path().to_path_buf();
    let release = Release::publish(&d, 4);
    let template = release.node_at(
        &d.join("template"),
        &update_conf(&release.server.url, "off", ""),
    );
    let server = release.server;
    if prestaged {
        let out = template.agent_once();
        assert_eq!(out.code, 0, "staging the template node: {}", out.stderr);
        assert!(
            template
                .status()
                .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT"),
            "{}",
            out.stderr
        );
    }
    let members = (0..n)
        .map(|i| {
            let node = template.copy_to(&d.join(format!("node-{i:02}")), &machine_id(i));
            std::fs::write(node.root.join("etc/hostname"), format!("node-{i:02}\n")).unwrap();
            let extra = conf(i);
            let strategy = if extra.contains("REBOOT_STRATEGY=") {
                String::new()
            } else {
                "REBOOT_STRATEGY=etcd-lock\n".to_string()
            };
            std::fs::write(
                node.root.join("etc/coreos/update.conf"),
                format!(
                    "GROUP=stable\nSERVER={}\n{strategy}KINDLING_LOCK_BACKEND=etcd3\nLOCKSMITHD_ENDPOINT={url}\nKINDLING_FLEET=on\nKINDLING_FLEET_GROUP={group}\nKINDLING_FLEET_TTL=3\nKINDLING_FIRST_CHECK_DELAY=0\nKINDLING_CHECK_JITTER=0\n{extra}",
                    server.url
                ),
            )
            .unwrap();
            let mut m = Member {
                node,
                agent: None,
                reboots: 0,
            };
            m.start();
            m
        })
        .collect();
    Fleet {
        members,
        url: url.to_string(),
        group: group.to_string(),
        dir: d,
        _server: server,
        _tmp: tmp,
    }
}

impl Fleet {
    fn fleet(&self, args: &[&str]) -> Out {
        let mut all = vec![
            "fleet",
            "--endpoint",
            self.url.as_str(),
            "--group",
            self.group.as_str(),
        ];
        all.extend_from_slice(args);
        kindling(&all)
    }

    fn status(&self) -> serde_json::Value {
        let out = self.fleet(&["--format", "json", "status"]);
        assert_eq!(out.code, 0, "fleet status: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    fn row(&self, status: &serde_json::Value, i: usize) -> serde_json::Value {
        let host = format!("node-{i:02}");
        status["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["host"] == host.as_str())
            .unwrap_or_else(|| panic!("{host} is not listed: {status}"))
            .clone()
    }

    /// Wait (playing the firmware meanwhile) until the status satisfies `pred`.
    fn wait_status(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        loop {
            for m in &mut self.members {
                m.play_firmware();
            }
            let s = self.status();
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}:\n{}\nlogs:\n{}",
                serde_json::to_string_pretty(&s).unwrap(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn logs(&self) -> String {
        self.members
            .iter()
            .enumerate()
            .map(|(i, m)| format!("--- node-{i:02}\n{}", m.log()))
            .collect()
    }

    /// Every node is staged with 1.0.1 and waits for admission.
    fn wait_all_waiting(&mut self) {
        let n = self.members.len();
        self.wait_status(
            "every node to wait for admission",
            Duration::from_secs(30),
            |s| {
                let nodes = s["nodes"].as_array().unwrap();
                nodes.len() == n
                    && nodes.iter().all(|r| {
                        r["staged_version"] == "1.0.1"
                            && r["admission"] == "waiting for admission to 1.0.1"
                    })
            },
        );
    }

    /// Start `rollout apply` in the background; play the firmware until it exits (bounded).
    /// `during` runs beside it; when it answers true the controller is SIGKILLed (exit -1).
    fn apply(
        &mut self,
        limit: Duration,
        mut during: impl FnMut(&mut Fleet) -> bool,
    ) -> (i32, String) {
        let out_path = self.dir.join("apply.out");
        let file = std::fs::File::create(&out_path).unwrap();
        let mut child = Guard(
            Command::new(bin())
                .args([
                    "fleet",
                    "--endpoint",
                    &self.url,
                    "--group",
                    &self.group,
                    "rollout",
                    "apply",
                    "--node-timeout",
                    "30",
                ])
                .stdout(file.try_clone().unwrap())
                .stderr(file)
                .spawn()
                .unwrap(),
        );
        let start = Instant::now();
        let code = loop {
            for m in &mut self.members {
                m.play_firmware();
            }
            if during(self) {
                drop(child);
                return (-1, std::fs::read_to_string(&out_path).unwrap_or_default());
            }
            if let Some(status) = child.0.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < limit,
                "rollout apply did not finish in {limit:?}:\n{}\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        (code, std::fs::read_to_string(&out_path).unwrap_or_default())
    }

    fn rollout_history(&self) -> Vec<serde_json::Value> {
        v3_history_at(&self.url, &format!("kindling/fleet/{}/rollout", self.group))
            .iter()
            .map(|v| serde_json::from_str(v).unwrap())
            .collect()
    }
}

fn set_slots(url: &str, n: u32) {
    let out = kindling(&[
        "lock",
        "--endpoint",
        url,
        "--backend",
        "etcd3",
        "set-max",
        &n.to_string(),
    ]);
    assert_eq!(out.code, 0, "set-max: {}", out.stderr);
}

/// Admitted nodes without an outcome in one revision of the rollout.
fn in_flight(r: &serde_json::Value) -> usize {
    let succeeded = r["succeeded"].as_array().unwrap();
    let failed = r["failed"].as_object().unwrap();
    r["admitted"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|id| !succeeded.contains(id) && !failed.contains_key(id.as_str().unwrap()))
        .count()
}

fn fleet_cmd(url: &str, group: &str, args: &[&str]) -> Out {
    let mut all = vec!["fleet", "--endpoint", url, "--group", group];
    all.extend_from_slice(args);
    kindling(&all)
}

#[test]
fn a_release_rollout_admits_in_waves_and_the_lock_still_bounds_the_reboots() {
    let etcd = EtcdServer::start();
    set_slots(&etcd.url, 1);
    // The rollout exists before the agents start (they check for updates at once).
    let out = fleet_cmd(
        &etcd.url,
        "web",
        &[
            "rollout",
            "create",
            "--release",
            "1.0.1",
            "--type",
            "parallel",
            "--max-parallel",
            "2",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // These agents download and stage 1.0.1 themselves, and say so while they wait.
    let mut f = fleet_of(&etcd.url, "web", 6, &|_| String::new(), false);
    f.wait_all_waiting();
    // Staged and not admitted: nobody reboots.
    std::thread::sleep(Duration::from_secs(1));
    assert!(f.members.iter().all(|m| !m.asked_reboot()), "{}", f.logs());
    let text = f.fleet(&["status"]).stdout;
    assert!(
        text.contains("1.0.0 (staged 1.0.1, waiting for admission)")
            && text.contains("6 waiting for admission to reboot"),
        "{text}"
    );
    // The controller is killed once the second wave was admitted, and started again: it
    // resumes (waits for the wave in flight, then goes on).
    let url = f.url.clone();
    let (code, _) = f.apply(Duration::from_secs(60), |_| {
        let show = fleet_cmd(&url, "web", &["--format", "json", "rollout", "show"]);
        let r: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
        r["admitted"].as_array().unwrap().len() >= 4
    });
    assert_eq!(code, -1);
    let (code, out) = f.apply(Duration::from_secs(60), |_| false);
    assert_eq!(code, 0, "{out}\n{}", f.logs());
    assert!(out.contains("(admitted before)"), "{out}");
    assert!(
        out.contains("completed") && out.contains("6 admitted, 6 updated, 0 failed"),
        "{out}"
    );
    let s = f.wait_status("every node on 1.0.1", Duration::from_secs(20), |s| {
        s["nodes"].as_array().unwrap().iter().all(|r| {
            r["version"] == "1.0.1" && r["staged_version"].is_null() && r["lock_held"].is_null()
        })
    });
    assert!(
        s["summary"]
            .as_str()
            .unwrap()
            .contains("releases: 6 on 1.0.1"),
        "{s}"
    );
    for (i, m) in f.members.iter().enumerate() {
        assert_eq!(m.reboots, 1, "node {i}");
        assert_eq!(m.node.running(), "1.0.1");
        assert_eq!(
            m.node.attrs("USR-B").2,
            1,
            "node {i}: USR-B is not marked good"
        );
    }
    // Waves: never more than 2 admitted without an outcome, in any revision of the rollout;
    // admissions came 2 at a time.
    let history = f.rollout_history();
    let most = history.iter().map(in_flight).max().unwrap();
    assert_eq!(most, 2, "{history:#?}");
    let sizes: Vec<usize> = history
        .iter()
        .map(|r| r["admitted"].as_array().unwrap().len())
        .collect();
    for w in sizes.windows(2) {
        assert!(w[1] == w[0] || w[1] == w[0] + 2, "{sizes:?}");
    }
    // The lock: one slot, never two holders.
    let locks = v3_history_at(&etcd.url, LOCK_KEY);
    assert!(locks.len() >= 12, "{locks:#?}");
    assert!(locks.iter().all(|v| holders(v).len() <= 1), "{locks:#?}");
}

#[test]
fn a_node_failing_the_new_release_stops_a_strict_rollout_and_the_others_stay_staged() {
    let etcd = EtcdServer::start();
    set_slots(&etcd.url, 2);
    let out = fleet_cmd(
        &etcd.url,
        "db",
        &["rollout", "create", "--release", "1.0.1"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // node-00 (admitted first, serial) is healthy only on 1.0.0.
    let mut f = staged_fleet(&etcd.url, "db", 4, &|i| {
        if i == 0 {
            "KINDLING_HEALTH_COMMAND=grep -q 1.0.0 \"$KINDLING_ROOT/usr/share/coreos/release\"\n"
                .into()
        } else {
            String::new()
        }
    });
    f.wait_all_waiting();
    let (code, out) = f.apply(Duration::from_secs(60), |_| false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stopped (strict health gate") && out.contains("1 admitted"),
        "{out}"
    );
    // node-00 went to 1.0.1, failed its check, and the firmware took it back to 1.0.0.
    let s = f.wait_status("node-00 back on 1.0.0", Duration::from_secs(20), |s| {
        let r = &s["nodes"][0];
        r["version"] == "1.0.0" && r["lock_held"].is_null()
    });
    assert_eq!(f.members[0].reboots, 2, "{}", f.logs());
    assert_eq!(f.members[0].node.running(), "1.0.0");
    let show = f.fleet(&["rollout", "show"]).stdout;
    assert!(show.contains("failed: rolled back: 1.0.1 failed"), "{show}");
    for i in 1..4 {
        let r = f.row(&s, i);
        assert_eq!(r["version"], "1.0.0", "{s}");
        assert_eq!(r["staged_version"], "1.0.1", "{s}");
        assert_eq!(r["admission"], "waiting for admission to 1.0.1", "{s}");
        assert_eq!(f.members[i].reboots, 0, "node {i} rebooted");
        assert!(!f.members[i].asked_reboot());
    }
}

#[test]
fn abort_mid_release_rollout_leaves_every_node_reported_and_consistent() {
    let etcd = EtcdServer::start();
    set_slots(&etcd.url, 1);
    let out = fleet_cmd(
        &etcd.url,
        "app",
        &[
            "rollout",
            "create",
            "--release",
            "1.0.1",
            "--type",
            "serial",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let mut f = staged_fleet(&etcd.url, "app", 4, &|_| String::new());
    f.wait_all_waiting();
    let mut aborted = false;
    let (code, out) = f.apply(Duration::from_secs(60), |f| {
        if !aborted && f.members[0].reboots == 1 {
            let a = f.fleet(&["rollout", "abort"]);
            assert_eq!(a.code, 0, "{}", a.stderr);
            aborted = true;
        }
        false
    });
    assert!(aborted);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("aborted") && out.contains("1 updated"),
        "{out}"
    );
    let s = f.wait_status("node-00 settled", Duration::from_secs(20), |s| {
        s["nodes"][0]["lock_held"].is_null() && s["nodes"][0]["version"] == "1.0.1"
    });
    assert_eq!(s["nodes"].as_array().unwrap().len(), 4);
    for i in 1..4 {
        let r = f.row(&s, i);
        assert_eq!(
            r["state"], "pending",
            "every node is alive and reported: {s}"
        );
        assert_eq!(r["version"], "1.0.0");
        assert_eq!(r["staged_version"], "1.0.1");
        assert_eq!(r["admission"], "waiting for admission to 1.0.1");
        assert_eq!(f.members[i].reboots, 0);
    }
    assert!(
        s["summary"]
            .as_str()
            .unwrap()
            .contains("releases: 3 on 1.0.0, 1 on 1.0.1"),
        "{s}"
    );
    // An aborted rollout still gates: nobody else reboots.
    std::thread::sleep(Duration::from_secs(1));
    assert!(f.members[1..].iter().all(|m| !m.asked_reboot()));
}

#[test]
fn with_etcd_down_a_staged_node_of_a_release_rollout_group_does_not_reboot() {
    let mut etcd = EtcdServer::start();
    // The rollout exists before the agents start. Strategy `reboot` takes no lock, so only
    // the release gate can hold these nodes back.
    let out = fleet_cmd(
        &etcd.url,
        "edge",
        &["rollout", "create", "--release", "1.0.1"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let mut f = staged_fleet(&etcd.url, "edge", 2, &|_| "REBOOT_STRATEGY=reboot\n".into());
    // A group without a release rollout behaves as before: it reboots at once.
    let other = staged_fleet(&etcd.url, "plain", 1, &|_| {
        "REBOOT_STRATEGY=reboot\n".into()
    });
    wait_until(
        "the node of a group without a release rollout to reboot",
        Duration::from_secs(30),
        || other.members[0].asked_reboot(),
    );
    drop(other);
    f.wait_all_waiting();
    // etcd dies; node-01's agent starts again while it is down (it cannot read the rollout).
    etcd.stop();
    f.members[1].stop();
    f.members[1].start();
    wait_until(
        "node-01 to find etcd unreachable",
        Duration::from_secs(20),
        || {
            f.members[1]
                .log()
                .contains("waiting for admission to 1.0.1 (etcd unreachable)")
        },
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        f.members.iter().all(|m| !m.asked_reboot()),
        "a node rebooted without admission while etcd was down:\n{}",
        f.logs()
    );
    // etcd back: still not admitted, still no reboot; then the rollout admits them.
    etcd.restart();
    f.wait_all_waiting();
    assert!(f.members.iter().all(|m| !m.asked_reboot()), "{}", f.logs());
    let (code, out) = f.apply(Duration::from_secs(60), |_| false);
    assert_eq!(code, 0, "{out}\n{}", f.logs());
    assert!(out.contains("2 updated"), "{out}");
    for m in &f.members {
        assert_eq!(m.reboots, 1);
        assert_eq!(m.node.running(), "1.0.1");
    }
}

/// Every regular file under `dir`: path -> (bytes, mode).
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    crate::support::common::tree(dir)
        .into_iter()
        .filter(|(_, meta)| meta.is_file())
        .map(|(p, meta)| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            (rel, (std::fs::read(&p).unwrap(), meta.permissions().mode()))
        })
        .collect()
}

#[test]
fn rollout_rollback_restores_a_failed_nodes_files_exactly() {
    let etcd = EtcdServer::start();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let image = usr_image(tmp.path(), "1.0.0", 4);
    let mut members: Vec<Member> = (0..2)
        .map(|i| {
            let dir = tmp.path().join(format!("node-{i:02}"));
            let node = Node::new(
                &dir,
                &image,
                &format!(
                    "GROUP=stable\nSERVER=http://127.0.0.1:9/v1/update/\nREBOOT_STRATEGY=off\nLOCKSMITHD_ENDPOINT={}\nKINDLING_FIRST_CHECK_DELAY=3600\nKINDLING_FLEET=on\nKINDLING_FLEET_GROUP=cfg\nKINDLING_FLEET_TTL=3\n",
                    etcd.url
                ),
                &[],
            );
            std::fs::write(node.root.join("etc/hostname"), format!("node-{i:02}\n")).unwrap();
            let mut m = Member {
                node,
                agent: None,
                reboots: 0,
            };
            m.start();
            m
        })
        .collect();
    let cmd = |args: &[&str]| fleet_cmd(&etcd.url, "cfg", args);
    let status = || -> serde_json::Value {
        serde_json::from_str(&cmd(&["--format", "json", "status"]).stdout).unwrap()
    };
    let c1 = tmp.path().join("c1.yaml");
    std::fs::write(
        &c1,
        "#cloud-config\nwrite_files:\n  - path: /etc/app/app.conf\n    permissions: '0644'\n    content: |\n      version=1\n",
    )
    .unwrap();
    assert_eq!(cmd(&["publish", c1.to_str().unwrap()]).code, 0);
    wait_until("generation 1 everywhere", Duration::from_secs(30), || {
        let s = status();
        let nodes = s["nodes"].as_array().unwrap();
        nodes.len() == 2
            && nodes
                .iter()
                .all(|r| r["generation"] == 1 && r["state"] == "applied")
    });
    let etc = members[0].node.root.join("etc");
    let before = snapshot(&etc);
    // Generation 2 writes its files, then the node cannot read its own update.conf: the
    // apply failed after writing (no health check ran, nothing was restored).
    let c2 = tmp.path().join("c2.yaml");
    std::fs::write(
        &c2,
        "#cloud-config\nwrite_files:\n  - path: /etc/app/app.conf\n    permissions: '0600'\n    content: |\n      version=2\n  - path: /etc/coreos/update.conf\n    content: |\n      REBOOT_STRATEGY=sometimes\n",
    )
    .unwrap();
    assert_eq!(cmd(&["publish", "--hold", c2.to_str().unwrap()]).code, 0);
    assert_eq!(cmd(&["rollout", "create", "--type", "serial"]).code, 0);
    let out = cmd(&["rollout", "apply", "--node-timeout", "30"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    // The gate names the node by its hostname, as the book promises (not its machine id).
    assert!(
        out.stdout
            .contains("stopped (strict health gate: node-00 failed"),
        "{}",
        out.stdout
    );
    let s = status();
    assert_eq!(s["nodes"][0]["state"], "failed", "{s}");
    assert_eq!(s["nodes"][0]["generation"], 1, "{s}");
    assert_ne!(snapshot(&etc), before, "generation 2 wrote nothing");
    // A generation the node did not save is refused, by the node, and nothing changes.
    let changed = snapshot(&etc);
    let out = cmd(&["rollout", "rollback", "node-00", "--to", "7"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("node-00: refused: the request names generation 7"),
        "{}",
        out.stdout
    );
    assert_eq!(snapshot(&etc), changed);
    // The failed node of the rollout: restored exactly.
    let out = cmd(&["rollout", "rollback", "--failed"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("node-00: restored generation 1"),
        "{}",
        out.stdout
    );
    assert_eq!(
        snapshot(&etc),
        before,
        "the files are not exactly as before"
    );
    let s = status();
    assert_eq!(s["nodes"][0]["state"], "rolled-back", "{s}");
    assert_eq!(s["nodes"][0]["generation"], 1, "{s}");
    assert!(
        s["nodes"][0]["rollback"]
            .as_str()
            .unwrap()
            .contains("restored")
    );
    let show = cmd(&["rollout", "show"]).stdout;
    assert!(show.contains("rolled back to generation 1"), "{show}");
    // Nothing saved any more: asked again, refused before anything is sent.
    let out = cmd(&["rollout", "rollback", "node-00"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("no saved generation"), "{}", out.stderr);
    for m in &mut members {
        m.stop();
    }
}
