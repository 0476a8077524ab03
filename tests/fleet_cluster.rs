//! The fleet's reboot lock on a production-shaped etcd (issue 23): three members, TLS with
//! client certificates (tests/support/cluster.rs), every endpoint and the client
//! certificate in each node's update.conf, faults while the fleet reboots
//! (tests/support/chaos.rs), and the history checker over each run
//! (tests/support/history.rs): no revision with more holders than slots, every reboot with
//! its slot held (and its lease alive), re-checked by the agent right before, every slot
//! given back. The CI variant: 9 agents, 3 slots, 1 s reboots, the leader killed every 4 s
//! and a follower frozen for 3 s, on etcd v3, v2, and `lock serve` (FleetLock) in front.
//! The full size is a bench (scripts/bench-fleet-cluster). Then a real partition: the
//! member listed first to every agent is cut off from its peers (iptables in a network
//! namespace the test makes).

use std::time::Duration;

use crate::support::chaos::{Faults, run};
use crate::support::cluster::{Cluster, Netns, in_netns, netns_available};
use crate::support::fleet::{Backend, one_at_a_time};

const CI_FAULTS: Faults = Faults {
    kill_every: Some(Duration::from_secs(4)),
    freeze_for: Some(Duration::from_secs(3)),
    freeze_at: Duration::from_secs(2),
};

fn ci(backend: Backend) {
    let _one = one_at_a_time();
    let mut cluster = Cluster::start();
    let out = run(
        &mut cluster,
        backend,
        9,
        3,
        Duration::from_secs(1),
        CI_FAULTS,
        Duration::from_secs(120),
    );
    let f = out.report.figures();
    eprintln!(
        "{backend:?} on the TLS cluster: {f}; {} leaders killed, {} freezes; {:?}",
        out.leaders_killed, out.frozen, out.summary
    );
    out.report.assert_complete(&[]);
    assert!(
        out.leaders_killed >= 1,
        "no leader was killed: the run proves nothing"
    );
    assert_eq!(out.frozen, 1);
    assert_eq!(out.summary.reboots, 9);
    assert_eq!(
        out.summary.rechecks, 9,
        "the agents did not re-check their slots"
    );
    assert!(out.summary.revisions >= 18, "{:?}", out.summary);
    assert_eq!(out.summary.most_holders, 3, "the slots were never all used");
}

#[test]
fn a_fleet_on_a_tls_cluster_with_leader_kills_and_a_freeze_etcd3() {
    ci(Backend::Etcd3);
}

#[test]
fn a_fleet_on_a_tls_cluster_with_leader_kills_and_a_freeze_etcd2() {
    ci(Backend::Etcd2);
}

#[test]
fn a_fleet_through_lock_serve_on_a_tls_cluster_with_leader_kills_and_a_freeze() {
    ci(Backend::FleetLock);
}

/// The member every agent lists first is cut off from its peers for 8 s (it still accepts
/// the agents' connections: the worst case, a member that answers but cannot serve). Every
/// agent fails over or waits; none reboots without its slot; all end updated. Where no
/// network namespace can be made, the member is frozen instead (said on stderr).
#[test]
fn a_partition_of_the_member_an_agent_talks_to() {
    let _one = one_at_a_time();
    for backend in [Backend::Etcd3, Backend::Etcd2] {
        if !netns_available() {
            eprintln!("no network namespaces here: freezing the member instead of a partition");
            let mut cluster = Cluster::start();
            let out = run(
                &mut cluster,
                backend,
                4,
                1,
                Duration::from_secs(1),
                Faults {
                    kill_every: None,
                    freeze_for: Some(Duration::from_secs(8)),
                    freeze_at: Duration::ZERO,
                },
                Duration::from_secs(120),
            );
            out.report.assert_complete(&[]);
            continue;
        }
        let ns = Netns::new();
        let name = ns.name.clone();
        in_netns(&name, move || {
            let mut cluster = Cluster::start_with(3, Some(ns));
            let out = run_partitioned(&mut cluster, backend);
            out.report.assert_complete(&[]);
            eprintln!(
                "{backend:?} with member 0 partitioned: {}; {:?}",
                out.report.figures(),
                out.summary
            );
            let waited = out
                .report
                .nodes
                .iter()
                .filter(|n| n.log.contains("retrying") || n.errors > 0)
                .count();
            eprintln!("{waited} agents waited or retried and said why");
        });
    }
}

fn run_partitioned(cluster: &mut Cluster, backend: Backend) -> crate::support::chaos::Outcome {
    crate::support::chaos::run_with(
        cluster,
        backend,
        4,
        1,
        Duration::from_secs(1),
        Duration::from_secs(120),
        |cluster, done| {
            let p = cluster.partition(0, false);
            let heal = std::time::Instant::now() + Duration::from_secs(8);
            // The cut is real: member 0 still answers but, without its peers, is not healthy.
            let mut seen = false;
            while std::time::Instant::now() < heal && !seen {
                seen = !cluster.member_healthy(0);
            }
            assert!(
                seen,
                "member 0 stayed healthy while cut off: the partition did nothing"
            );
            while std::time::Instant::now() < heal && !done() {
                std::thread::sleep(Duration::from_millis(100));
            }
            drop(p);
        },
    )
}

/// `kindling fleet` on the TLS cluster (every endpoint; the client certificate from its
/// environment variables).
fn fleet_cmd(cluster: &Cluster, group: &str, args: &[&str]) -> std::process::Output {
    let p = &cluster.pki;
    std::process::Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["fleet", "--group", group])
        .args(args)
        .env("KINDLING_FLEET_ENDPOINT", cluster.endpoints())
        .env("KINDLING_FLEET_ETCD_CAFILE", &p.ca)
        .env("KINDLING_FLEET_ETCD_CERTFILE", &p.client_cert)
        .env("KINDLING_FLEET_ETCD_KEYFILE", &p.client_key)
        .output()
        .unwrap()
}

fn fleet_status(cluster: &Cluster, group: &str) -> serde_json::Value {
    let out = fleet_cmd(cluster, group, &["--format", "json", "status"]);
    assert!(
        out.status.success(),
        "fleet status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn wait_fleet(
    cluster: &Cluster,
    group: &str,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = std::time::Instant::now();
    loop {
        let s = fleet_status(cluster, group);
        if pred(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what}: {s}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Fleet members (agent daemons with `KINDLING_FLEET=on`, the client certificate in
/// update.conf) and the operator commands on the TLS cluster while leaders die and a
/// follower is frozen: every node record stays, a generation published while the leader
/// was just killed is published and applied everywhere, a rollout run while the leader is
/// killed under it completes, and one whose first node fails its health check (the leader
/// killed again) stops with that reason, the other nodes untouched.
#[test]
fn fleet_members_and_operators_on_a_tls_cluster_keep_records_generations_and_rollouts() {
    use crate::fleet::{FleetNode, app_config, conf, write};
    const N: usize = 5;
    const GROUP: &str = "tls";
    let mut cluster = Cluster::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    // The members' liveness lease: 15 s (the other fleet tests' 3 s is shorter than a
    // frozen member's connection takes to be given up: the rollout then stops, naming the
    // node's expired lease, which is the right stop but not this test's point).
    let tls = crate::support::fleet::EtcdTls::of(&cluster.pki).update_conf();
    let image = crate::support::agent::usr_image(d, "1.0.0", 4);
    let template = crate::support::agent::Node::new(
        &d.join("template"),
        &image,
        &conf(&cluster.endpoints(), GROUP, &tls)
            .replace("KINDLING_FLEET_TTL=3\n", "KINDLING_FLEET_TTL=15\n"),
        &[],
    );
    let mut nodes: Vec<FleetNode> = (0..N)
        .map(|i| {
            let node = template.copy_to(&d.join(format!("node-{i:02}")), &format!("f1ee7{i:027x}"));
            std::fs::write(node.root.join("etc/hostname"), format!("node-{i:02}\n")).unwrap();
            let f = FleetNode::new(node);
            f.set_health("exit 0\n");
            f
        })
        .collect();
    for f in &mut nodes {
        f.start();
    }
    let all = |s: &serde_json::Value, pred: &dyn Fn(&serde_json::Value) -> bool| {
        s["nodes"]
            .as_array()
            .is_some_and(|a| a.len() == N && a.iter().all(pred))
    };
    wait_fleet(&cluster, GROUP, "every node's record", |s| {
        all(s, &|_| true)
    });
    // Generation 1, published right after the leader died.
    let leader = cluster.kill_leader().unwrap();
    let c1 = write(d, "c1.yaml", &app_config("1"));
    let out = fleet_cmd(&cluster, GROUP, &["publish", &c1]);
    assert!(
        out.status.success(),
        "publish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster.restart(leader);
    wait_fleet(&cluster, GROUP, "generation 1 everywhere", |s| {
        all(s, &|r| r["generation"] == 1 && r["state"] == "applied")
    });
    // Generation 2, held, rolled out while a follower is frozen and the leader is killed.
    let c2 = write(d, "c2.yaml", &app_config("2"));
    let out = fleet_cmd(&cluster, GROUP, &["publish", "--hold", &c2]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = fleet_cmd(
        &cluster,
        GROUP,
        &[
            "rollout",
            "create",
            "--type",
            "parallel",
            "--max-parallel",
            "2",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leader = cluster.leader(Duration::from_secs(5)).unwrap();
    let follower = (0..3).find(|&i| i != leader).unwrap();
    cluster.freeze(follower, true);
    let apply = std::process::Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args([
            "fleet",
            "--group",
            GROUP,
            "rollout",
            "apply",
            "--node-timeout",
            "60",
        ])
        .env("KINDLING_FLEET_ENDPOINT", cluster.endpoints())
        .env("KINDLING_FLEET_ETCD_CAFILE", &cluster.pki.ca)
        .env("KINDLING_FLEET_ETCD_CERTFILE", &cluster.pki.client_cert)
        .env("KINDLING_FLEET_ETCD_KEYFILE", &cluster.pki.client_key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let apply = crate::support::process::Guard(apply);
    std::thread::sleep(Duration::from_secs(2));
    cluster.freeze(follower, false);
    // The follower thawed: kill the leader (a majority stays).
    let killed = cluster.kill_leader().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    cluster.restart(killed);
    let mut apply = apply;
    let start = std::time::Instant::now();
    while apply.0.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "rollout apply never ended"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(apply.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(apply.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        apply.0.wait().unwrap().success(),
        "rollout apply: {out}{err}"
    );
    assert!(out.contains("completed"), "{out}{err}");
    let s = wait_fleet(&cluster, GROUP, "generation 2 everywhere", |s| {
        all(s, &|r| r["generation"] == 2 && r["state"] == "applied")
    });
    assert_eq!(s["generation"], 2, "the published generation: {s}");
    for f in &nodes {
        assert_eq!(f.file("/etc/app/app.conf").as_deref(), Some("version=2\n"));
    }
    // Generation 3, held, rolled out serially under a strict gate while the leader is
    // killed; node-00 (admitted first) fails its health check: the rollout stops with that
    // reason, and the other nodes stay on generation 2.
    nodes[0].set_health("exit 1\n");
    let c3 = write(d, "c3.yaml", &app_config("3"));
    let out = fleet_cmd(&cluster, GROUP, &["publish", "--hold", &c3]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = fleet_cmd(
        &cluster,
        GROUP,
        &[
            "rollout",
            "create",
            "--replace",
            "--type",
            "serial",
            "--gate",
            "strict",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let apply = std::process::Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args([
            "fleet",
            "--group",
            GROUP,
            "rollout",
            "apply",
            "--node-timeout",
            "60",
        ])
        .env("KINDLING_FLEET_ENDPOINT", cluster.endpoints())
        .env("KINDLING_FLEET_ETCD_CAFILE", &cluster.pki.ca)
        .env("KINDLING_FLEET_ETCD_CERTFILE", &cluster.pki.client_cert)
        .env("KINDLING_FLEET_ETCD_KEYFILE", &cluster.pki.client_key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut apply = crate::support::process::Guard(apply);
    std::thread::sleep(Duration::from_millis(500));
    let killed = cluster.kill_leader().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    cluster.restart(killed);
    let start = std::time::Instant::now();
    while apply.0.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "rollout apply never ended"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(apply.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(apply.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(
        apply.0.wait().unwrap().code(),
        Some(1),
        "rollout apply: {out}{err}"
    );
    assert!(
        out.contains("stopped (strict health gate: node-00 failed"),
        "{out}{err}"
    );
    let show = fleet_cmd(&cluster, GROUP, &["rollout", "show"]);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains("stopped"), "{show}");
    let s = fleet_status(&cluster, GROUP);
    let others: Vec<&serde_json::Value> = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["host"] != "node-00")
        .collect();
    let first = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["host"] == "node-00")
        .unwrap();
    assert_eq!(first["state"], "rolled-back", "{s}");
    assert_eq!(first["generation"], 2, "{s}");
    assert!(
        first["reason"]
            .as_str()
            .is_some_and(|r| r.contains("health check failed")),
        "{s}"
    );
    assert_eq!(others.len(), N - 1, "{s}");
    assert!(others.iter().all(|r| r["generation"] == 2), "{s}");
    for f in nodes.iter().skip(1) {
        assert_eq!(f.file("/etc/app/app.conf").as_deref(), Some("version=2\n"));
    }
}
