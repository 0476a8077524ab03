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

use crate::fleet::{all_nodes, app_config, fleet, nodes, wait_status, write};
use crate::support::agent::{Guard, bin};
use crate::support::lock::{Etcd, rt};

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
    let fleet_nodes = nodes(dir.path(), &etcd, GROUP, 4, &|_| String::new(), &|_| None);
    // Every node's lease is 3 s (the harness's KINDLING_FLEET_TTL=3); node-03's health check
    // below takes 60 s. The member keeps its lease alive from a task of its own, so a node
    // in a long health check stays live and the wave waits on it (before, the keep-alives
    // stopped while the node converged, and the node was failed as unreachable).
    let conf = fleet_nodes[3].node.root.join("etc/coreos/update.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("KINDLING_FLEET_TTL=3\n"), "{text}");
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

/// The benchmark (`scripts/bench fleet-rollout`): what a rollout controller costs etcd while a
/// wave is in flight over a 10,000-node group. 10,000 node records with digests (as in
/// `fleet::scale_ten_thousand_nodes`) and their liveness keys are written, a held config
/// published and a parallel rollout (5 at a time) started; the admitted nodes never report
/// (no agents), so the controller waits out its node timeout, and etcd's counters are read
/// across 10 s of that wait. `FLEET_BENCH_BIN` runs another build's controller (main's, for
/// the before figure); `FLEET_BENCH_NODES` changes the size.
#[test]
#[ignore = "a benchmark: scripts/bench runs it"]
fn bench_controller_reads_while_a_wave_waits() {
    const GROUP: &str = "big";
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let n: usize = std::env::var("FLEET_BENCH_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let controller_bin = std::env::var("FLEET_BENCH_BIN").unwrap_or_else(|_| bin().to_string());
    rt().block_on(async {
        let mut client = etcd_client::Client::connect([etcd.url.as_str()], None)
            .await
            .unwrap();
        let mut ops = Vec::new();
        for i in 0..n {
            let mut digest = serde_json::Map::new();
            for p in 0..10 {
                digest.insert(
                    format!("/etc/app/file-{p}.conf"),
                    format!("sha256:{:016x}:0644:0:0", (i % 7) * 100 + p).into(),
                );
            }
            let record = serde_json::json!({
                "group": GROUP, "machine_id": format!("m{i:05}"), "hostname": format!("host-{i:05}"),
                "address": format!("10.0.{}.{}", i / 250, i % 250), "status": "UPDATE_STATUS_IDLE",
                "running_version": "3510.2.0", "generation": 0, "target_generation": 0,
                "state": "pending", "digest": digest,
            });
            ops.push(etcd_client::TxnOp::put(
                format!("kindling/fleet/{GROUP}/node/m{i:05}"),
                record.to_string(),
                None,
            ));
            ops.push(etcd_client::TxnOp::put(
                format!("kindling/fleet/{GROUP}/live/m{i:05}"),
                "",
                None,
            ));
            if ops.len() == 100 || i + 1 == n {
                client
                    .txn(etcd_client::Txn::new().and_then(std::mem::take(&mut ops)))
                    .await
                    .unwrap();
            }
        }
    });
    let c = write(dir.path(), "c.yaml", &app_config("1"));
    let out = fleet(&etcd, GROUP, &["publish", "--hold", &c]);
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
            "5",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let node_timeout = 40;
    let started = Instant::now();
    let mut apply = Guard(
        Command::new(&controller_bin)
            .args(["fleet", "--endpoint", &etcd.url, "--group", GROUP])
            .args(["--format", "json", "rollout", "apply", "--node-timeout"])
            .arg(node_timeout.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("controller.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    loop {
        let r = rollout_json(&etcd, GROUP);
        if r["admitted"].as_array().unwrap().len() == 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no wave admitted: {r}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let admitted = started.elapsed().as_secs_f64();
    // Let the admission's own writes and reads settle, then measure 10 s of waiting.
    std::thread::sleep(Duration::from_secs(2));
    let window = Duration::from_secs(10);
    let before = etcd_counters(&etcd.url);
    let t = Instant::now();
    std::thread::sleep(window);
    let after = etcd_counters(&etcd.url);
    let secs = t.elapsed().as_secs_f64();
    let r = rollout_json(&etcd, GROUP);
    assert_eq!(
        r["phase"], "running",
        "the wave ended inside the window: {r}"
    );
    assert!(
        apply.0.try_wait().unwrap().is_none(),
        "the controller exited"
    );
    let ranges = delta(&before, &after, "grpc_server_handled_total{Range}");
    let mvcc = delta(&before, &after, "etcd_mvcc_range_total");
    let sent = delta(&before, &after, "etcd_network_client_grpc_sent_bytes_total");
    let unary: f64 = after
        .keys()
        .filter(|k| {
            k.starts_with("grpc_server_handled_total{")
                && !k.contains("Watch")
                && !k.contains("LeaseKeepAlive")
        })
        .map(|k| delta(&before, &after, k))
        .sum();
    println!(
        "fleet-rollout: {controller_bin} over {n} records: first wave admitted {admitted:.1} s after start; \
         while the wave waits ({secs:.1} s): {:.2} Range RPCs/s ({:.2} mvcc ranges/s), {:.2} unary requests/s, \
         {:.0} bytes/s sent by etcd ({:.2} MB in all)",
        ranges / secs,
        mvcc / secs,
        unary / secs,
        sent / secs,
        sent / 1e6
    );
    drop(apply);
}

fn record(group: &str, id: &str, host: &str, generation: u64) -> String {
    serde_json::json!({
        "group": group, "machine_id": id, "hostname": host, "address": "10.0.0.1",
        "status": "UPDATE_STATUS_IDLE", "running_version": "3510.2.0",
        "generation": generation, "target_generation": generation, "state": "applied",
    })
    .to_string()
}

/// `fleet status --watch` redraws from the watch's events alone: a new node, a node's new
/// generation and an expired lease each show, and etcd serves no range after the first read.
#[test]
fn status_watch_redraws_from_events_without_reading_the_group_again() {
    const GROUP: &str = "drawn";
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let put = |key: &str, value: &str| {
        let out = etcd.etcdctl(&["put", &format!("kindling/fleet/{GROUP}/{key}"), value]);
        assert!(out.status.success(), "{out:?}");
    };
    put("node/a1", &record(GROUP, "a1", "host-a", 1));
    put("live/a1", "");
    let before = etcd_counters(&etcd.url);
    let out_path = dir.path().join("watch.out");
    let mut watch = Guard(
        Command::new(bin())
            .args(["fleet", "--endpoint", &etcd.url, "--group", GROUP])
            .args(["status", "--watch", "--watch-for", "4"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let drawn = |what: &str| {
        let start = Instant::now();
        while !std::fs::read_to_string(&out_path)
            .unwrap_or_default()
            .contains(what)
        {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "never drawn: {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    drawn("host-a");
    put("node/b2", &record(GROUP, "b2", "host-b", 2));
    put("live/b2", "");
    drawn("host-b");
    let out = etcd.etcdctl(&["del", &format!("kindling/fleet/{GROUP}/live/a1")]);
    assert!(out.status.success(), "{out:?}");
    drawn("unreachable");
    let status = watch.0.wait().unwrap();
    assert!(status.success());
    let after = etcd_counters(&etcd.url);
    let text = std::fs::read_to_string(&out_path).unwrap();
    // The last table: host-a unreachable (its liveness key went), host-b on generation 2.
    let last = text
        .rsplit("\n\n")
        .find(|t| t.contains("host-b"))
        .unwrap_or(&text);
    let row = |host: &str| {
        last.lines()
            .find(|l| l.starts_with(host))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("host-a").contains("unreachable"), "{text}");
    assert!(row("host-b").contains("applied"), "{text}");
    // The first read only: the node records, the liveness keys, the published config.
    let ranges = delta(&before, &after, "grpc_server_handled_total{Range}");
    assert!(
        ranges <= 3.0,
        "{ranges} Range RPCs for one status --watch:\n{text}"
    );
}
