//! The operator side of the fleet waits by watch, not by polling etcd (issue 10). Proved
//! from etcd's own request counters (its `/metrics`), never from the controller's word:
//! while a rollout wave waits on a slow node (real agents on a real etcd), etcd serves no
//! range requests at all, where a controller that re-read the group every 200 ms would have
//! made dozens; and a node that dies mid-wave is seen as unreachable as soon as its lease
//! expires (its liveness key's deletion is an event), long before any fallback tick or the
//! wave's node timeout. `scripts/bench` runs the same measure over 10,000 records.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::agent_support::{Guard, bin};
use crate::fleet::{all_nodes, app_config, fleet, nodes, wait_status, write};
use crate::lock_support::{Etcd, rt};

/// etcd's counters, summed over their labels but `grpc_method` (`name` or
/// `name{grpc_method}`).
pub fn etcd_counters(url: &str) -> BTreeMap<String, f64> {
    let text = rt().block_on(async {
        reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (base, labels) = name.split_once('{').unwrap_or((name, ""));
        let method = labels
            .split(',')
            .find_map(|l| l.strip_prefix("grpc_method=\""))
            .map(|m| m.trim_end_matches(['"', '}']));
        let key = match method {
            Some(m) => format!("{base}{{{m}}}"),
            None => base.to_string(),
        };
        *out.entry(key).or_default() += value;
    }
    out
}

/// `after - before` of one counter.
pub fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, key: &str) -> f64 {
    after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
}

/// `kindling fleet rollout apply` running in the background, revoked by its PID on drop.
fn controller(etcd: &Etcd, group: &str, dir: &Path, node_timeout: u64) -> Guard {
    Guard(
        Command::new(bin())
            .args(["fleet", "--endpoint", &etcd.url, "--group", group])
            .args(["--format", "json", "rollout", "apply", "--node-timeout"])
            .arg(node_timeout.to_string())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("controller.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("controller.err")).unwrap())
            .spawn()
            .unwrap(),
    )
}

fn rollout_json(etcd: &Etcd, group: &str) -> serde_json::Value {
    let out = fleet(etcd, group, &["--format", "json", "rollout", "show"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn a_wave_waiting_on_a_slow_node_costs_etcd_no_reads_and_a_dead_node_is_seen_at_once() {
    const GROUP: &str = "watched";
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut fleet_nodes = nodes(dir.path(), &etcd, GROUP, 4, &|_| String::new(), &|_| None);
    // node-03's lease outlives its slow health check: the agent sends no keep-alive while
    // it converges (its check included), and the wave is to wait on a live node.
    let node3 = &mut fleet_nodes[3];
    node3.kill();
    let conf = node3.node.root.join("etc/coreos/update.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("KINDLING_FLEET_TTL=3\n"), "{text}");
    std::fs::write(
        &conf,
        text.replace("KINDLING_FLEET_TTL=3\n", "KINDLING_FLEET_TTL=120\n"),
    )
    .unwrap();
    node3.start();
    wait_status(
        &etcd,
        GROUP,
        "4 nodes to join",
        Duration::from_secs(60),
        |s| all_nodes(s, 4, |r| r["state"] == "pending"),
    );
    // node-03's health check after the apply takes far longer than the others'.
    fleet_nodes[3].set_health("sleep 60\nexit 0\n");
    let c1 = write(dir.path(), "c1.yaml", &app_config("1"));
    let out = fleet(&etcd, GROUP, &["publish", "--hold", &c1]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = fleet(
        &etcd,
        GROUP,
        &[
            "rollout",
            "create",
            "--type",
            "parallel",
            "--max-parallel",
            "4",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut apply = controller(&etcd, GROUP, dir.path(), 120);
    wait_status(
        &etcd,
        GROUP,
        "nodes 0-2 to apply generation 1",
        Duration::from_secs(30),
        |s| {
            (0..3).all(|i| {
                let r = &s["nodes"][i];
                r["generation"] == 1 && r["state"] == "applied"
            })
        },
    );
    // The quiet window: the wave (all 4 admitted at once) waits on node-03 only. Nothing in
    // this test reads etcd meanwhile; the idle agents send lease keep-alives only.
    let window = Duration::from_secs(5);
    let before = etcd_counters(&etcd.url);
    let t = Instant::now();
    std::thread::sleep(window);
    let after = etcd_counters(&etcd.url);
    let secs = t.elapsed().as_secs_f64();
    // Still the same wave after the window: the controller waited through all of it.
    let r = rollout_json(&etcd, GROUP);
    assert_eq!(r["phase"], "running", "{r}");
    assert_eq!(r["admitted"].as_array().unwrap().len(), 4, "{r}");
    let range_rpcs = delta(&before, &after, "grpc_server_handled_total{Range}");
    let mvcc_ranges = delta(&before, &after, "etcd_mvcc_range_total");
    let sent = delta(&before, &after, "etcd_network_client_grpc_sent_bytes_total");
    eprintln!(
        "fleet_watch: {secs:.1} s of a wave waiting on one node: {range_rpcs} Range RPCs, {mvcc_ranges} mvcc ranges, {sent} bytes sent by etcd"
    );
    // Polling every 200 ms (node and live prefixes) would be about 50 Range RPCs here.
    assert!(
        range_rpcs <= 2.0 && mvcc_ranges <= 2.0,
        "etcd served {range_rpcs} Range RPCs ({mvcc_ranges} mvcc ranges) in {secs:.1} s while the controller only waited: it polls"
    );
    assert!(
        apply.0.try_wait().unwrap().is_none(),
        "the controller exited early: {}",
        std::fs::read_to_string(dir.path().join("controller.err")).unwrap_or_default()
    );

    // node-03's lease ends mid-wave (revoked: what etcd does when a lease expires, without
    // waiting its 120 s): the deletion of its liveness key is a watch event, and the strict
    // gate stops the rollout at once (the node timeout is 120 s, the controller's fallback
    // re-read once a minute).
    let live = format!("kindling/fleet/{GROUP}/live/{}", fleet_nodes[3].id());
    let got = etcd.etcdctl(&["get", &live, "-w", "json"]);
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    let lease = got["kvs"][0]["lease"].as_i64().unwrap();
    let revoked = Instant::now();
    let out = etcd.etcdctl(&["lease", "revoke", &format!("{lease:x}")]);
    assert!(out.status.success(), "{out:?}");
    let status = loop {
        if let Some(status) = apply.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(10),
            "the controller did not notice node-03's lease ending within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = revoked.elapsed().as_secs_f64();
    eprintln!(
        "fleet_watch: node-03's lease ended; the controller stopped the rollout {took:.1} s later"
    );
    assert!(took < 5.0, "{took:.1} s to notice an expired lease");
    let err = std::fs::read_to_string(dir.path().join("controller.err")).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    let r = rollout_json(&etcd, GROUP);
    assert_eq!(r["succeeded"].as_array().unwrap().len(), 3, "{r}");
    let why = r["failed"][fleet_nodes[3].id()]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("unreachable"), "{r}");
    assert!(
        r["phase"]["stopped"]
            .as_str()
            .is_some_and(|s| s.contains("strict health gate")),
        "{r}"
    );
    // The controller's lines and `rollout show` name nodes by hostname.
    assert!(err.contains("node-03 failed: unreachable"), "{err}");
    let show = fleet(&etcd, GROUP, &["rollout", "show"]);
    assert!(
        show.stdout.contains("  node-03: failed: unreachable"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("  node-00: applied"),
        "{}",
        show.stdout
    );
}
