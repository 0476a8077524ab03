//! The fleet scenarios at the scale: 40 simulated nodes (root + GPT image,
//! a real `kindling agent run` each) on one real etcd (Debian's, on loopback), one fleet
//! shared by the phases of one test so 40 agents start once. Each phase proves its claim
//! from what etcd recorded (the history of the node records and of the reboot semaphore)
//! or from the nodes' own files, never from the controller's word:
//!
//! 1. an in-service change reaches all 40, `fleet diff` predicting each node's own `kindling
//!    diff` and exactly the files that then change, in parallel waves of at most
//!    `--max-parallel` applying at once;
//! 2. a node whose health check fails stops a strict rollout, rolls back, and the others
//!    stay on the old generation;
//! 3. an abort mid-rollout leaves every node reported and consistent;
//! 4. a node killed mid-apply shows as unreachable and converges on restart;
//! 5. `$private_ipv4` is each node's own (from its `/etc/environment`), a node without it
//!    refuses the config, and `fleet diff` predicts both;
//! 6. a reboot-required change goes through the lock (never more holders than slots) and
//!    the reboot window (nodes whose window is closed do not reboot).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fleet::{
    FleetNode, all_nodes, app_config, fleet, nodes, status_json, wait_status, write,
};
use crate::support::agent::{Guard, bin, kindling};
use crate::support::lock::{Etcd, v3_events};

const N: usize = 40;
const GROUP: &str = "forty";
/// The nodes whose reboot window is closed for the whole test (phase 6).
const WINDOW_CLOSED: std::ops::Range<usize> = 35..40;
/// The node without `COREOS_PRIVATE_IPV4` (phase 5).
const NO_ADDRESS: usize = 13;

fn private_ipv4(i: usize) -> String {
    format!("10.0.{}.{}", i / 10, 10 + i)
}

/// Every change under `prefix` in etcd's history, oldest first: (revision, key, value; None
/// for a delete), read by a watch from revision 1 until it has seen the newest.
fn prefix_history(url: &str, prefix: &str) -> Vec<(i64, String, Option<String>)> {
    v3_events(url, prefix, true, Duration::from_secs(30))
}

/// The most node records that said `applying` generation `g` at the same revision of
/// etcd, replaying the records' whole history.
fn most_applying_at_once(etcd: &Etcd, g: u64) -> usize {
    let history = prefix_history(&etcd.url, &format!("kindling/fleet/{GROUP}/node/"));
    let mut now: BTreeMap<String, bool> = BTreeMap::new();
    let mut most = 0;
    for (_, key, value) in history {
        let applying = value.is_some_and(|v| {
            let r: serde_json::Value = serde_json::from_str(&v).unwrap();
            r["state"] == "applying" && r["target_generation"] == g
        });
        now.insert(key, applying);
        most = most.max(now.values().filter(|a| **a).count());
    }
    most
}

/// Every regular file and link in a root (relative path -> bytes or link target), but the
/// agent's own state (`var/lib/kindling`: records, saved generations; `run`: its socket)
/// and the simulated kernel's (`proc`).
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if ["var/lib/kindling", "run", "proc"].contains(&rel.as_str()) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(base, &path, out);
            } else if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&path).unwrap();
                out.insert(format!("/{rel}"), t.to_str().unwrap().as_bytes().to_vec());
            } else {
                out.insert(format!("/{rel}"), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

fn row(s: &serde_json::Value, host: &str) -> serde_json::Value {
    s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["host"] == host)
        .unwrap_or_else(|| panic!("no row for {host}: {s}"))
        .clone()
}

fn host(i: usize) -> String {
    format!("node-{i:02}")
}

/// The paths `fleet diff --format json` predicts for node `id`.
fn predicted_paths(p: &serde_json::Value, id: &str) -> Vec<String> {
    let node = p["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap_or_else(|| panic!("no prediction for {id}: {p}"));
    let mut paths: Vec<String> = node["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

/// The actions `fleet diff --format json` predicts for node `id`.
fn predicted_actions(p: &serde_json::Value, id: &str) -> Vec<String> {
    let node = p["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap_or_else(|| panic!("no prediction for {id}: {p}"));
    node["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// The paths and actions the node's own `kindling diff` lists (actions in `fleet diff`'s
/// words).
fn own_diff(f: &FleetNode, config: &str, vars: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut args = vec![
        "diff",
        config,
        "--root",
        f.node.root.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(vars);
    let own = kindling(&args);
    let own: serde_json::Value = serde_json::from_str(&own.stdout)
        .unwrap_or_else(|e| panic!("kindling diff: {e}: {}{}", own.stdout, own.stderr));
    let mut paths: Vec<String> = own["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    let actions = own["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| match a["action"].as_str().unwrap() {
            "daemon-reload" => "systemctl daemon-reload".to_string(),
            "systemctl" => format!(
                "systemctl {} {}",
                a["verb"].as_str().unwrap(),
                a["unit"].as_str().unwrap()
            ),
            // Anything else is not in these configs: shown as is, so the comparison fails.
            _ => a.to_string(),
        })
        .collect();
    (paths, actions)
}

fn timed(what: &str, since: Instant) {
    eprintln!(
        "fleet_forty: {what} in {:.1} s",
        since.elapsed().as_secs_f64()
    );
}

#[test]
fn forty_nodes_in_service_rollouts_abort_kill_variables_and_reboots() {
    let started = Instant::now();
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // A daily reboot window that opened 12 hours from now: closed for the whole test.
    let closed = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 12 * 3600;
        format!(
            "REBOOT_WINDOW_START={:02}:{:02}\nREBOOT_WINDOW_LENGTH=1h\n",
            (secs / 3600) % 24,
            (secs / 60) % 60
        )
    };
    let mut fleet_nodes = nodes(
        dir.path(),
        &etcd,
        GROUP,
        N,
        &|i| {
            if WINDOW_CLOSED.contains(&i) {
                closed.clone()
            } else {
                String::new()
            }
        },
        &|i| {
            (i != NO_ADDRESS)
                .then(|| format!("PATH=/usr/bin\nCOREOS_PRIVATE_IPV4={}\n", private_ipv4(i)))
        },
    );
    timed("40 nodes made and their agents started", started);
    // Every agent joins and shows up, without any config published yet.
    let s = wait_status(
        &etcd,
        GROUP,
        "all nodes to join",
        Duration::from_secs(60),
        |s| all_nodes(s, N, |r| r["state"] == "pending" && r["version"] == "1.0.0"),
    );
    assert!(
        s["summary"]
            .as_str()
            .unwrap()
            .contains("no config published"),
        "{s}"
    );
    timed("all 40 joined", started);

    in_service(&etcd, dir.path(), &fleet_nodes);
    timed("phase 1 (in-service, diff, waves)", started);
    strict_gate(&etcd, dir.path(), &fleet_nodes);
    timed("phase 2 (strict health gate)", started);
    abort(&etcd, dir.path(), &fleet_nodes);
    timed("phase 3 (abort)", started);
    killed_mid_apply(&etcd, dir.path(), &mut fleet_nodes);
    timed("phase 4 (killed mid-apply)", started);
    variables(&etcd, dir.path(), &fleet_nodes);
    timed("phase 5 (per-node variables)", started);
    reboots(&etcd, dir.path(), &mut fleet_nodes);
    timed("phase 6 (reboot-required, lock and window)", started);
    drop(fleet_nodes);
    timed("40 agents stopped", started);
    drop(dir);
    timed("their roots and images removed", started);
}

/// Phase 1: generation 1 everywhere at once, then generation 2 previewed and rolled out
/// held, in parallel waves of at most 4.
fn in_service(etcd: &Etcd, dir: &Path, fleet_nodes: &[FleetNode]) {
    let c1 = write(dir, "c1.yaml", &app_config("1"));
    let out = fleet(etcd, GROUP, &["publish", &c1]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("published generation 1"),
        "{}",
        out.stdout
    );
    wait_status(
        etcd,
        GROUP,
        "generation 1 everywhere",
        Duration::from_secs(60),
        |s| {
            all_nodes(s, N, |r| {
                r["generation"] == 1 && r["state"] == "applied" && r["current"] == true
            })
        },
    );
    for f in fleet_nodes {
        assert_eq!(f.file("/etc/app/app.conf").as_deref(), Some("version=1\n"));
    }
    let text = fleet(etcd, GROUP, &["status"]);
    assert!(text.stdout.starts_with("Hostname"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains(&format!("generation 1 applied on {N}/{N}")),
        "{}",
        text.stdout
    );

    // Generation 2 adds a unit and changes the file: preview it first.
    let c2 = write(
        dir,
        "c2.yaml",
        &format!(
            "{}coreos:\n  units:\n    - name: app.service\n      command: restart\n      content: |\n        [Service]\n        ExecStart=/usr/bin/true\n",
            app_config("2")
        ),
    );
    let out = fleet(etcd, GROUP, &["--format", "json", "diff", &c2]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let p: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(p["groups"].as_array().unwrap().len(), 1, "{p}");
    assert_eq!(p["groups"][0]["effect"], "in-service");
    assert_eq!(p["groups"][0]["nodes"].as_array().unwrap().len(), N);
    // The prediction is each node's own `kindling diff` (files), before the change.
    let mut before = Vec::new();
    for f in fleet_nodes {
        let predicted = predicted_paths(&p, &f.id());
        assert!(!predicted.is_empty(), "{p}");
        let (own_paths, own_actions) = own_diff(f, &c2, &[]);
        assert_eq!(predicted, own_paths, "prediction for {}", f.id());
        let actions = predicted_actions(&p, &f.id());
        assert_eq!(
            actions,
            ["systemctl daemon-reload", "systemctl restart app.service"],
            "{p}"
        );
        assert_eq!(actions, own_actions, "actions for {}", f.id());
        before.push(snapshot(&f.node.root));
    }
    let human = fleet(etcd, GROUP, &["diff", &c2]);
    assert!(
        human.stdout.contains(&format!("{N} node(s): in-service")),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("-version=1"), "{}", human.stdout);
    assert!(human.stdout.contains("+version=2"), "{}", human.stdout);

    // Held, then rolled out in parallel waves of at most 4.
    let out = fleet(etcd, GROUP, &["publish", "--hold", &c2]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        fleet_nodes
            .iter()
            .all(|f| f.file("/etc/app/app.conf").as_deref() == Some("version=1\n"))
    );
    let out = fleet(
        etcd,
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
    let out = fleet(etcd, GROUP, &["rollout", "apply", "--node-timeout", "30"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("completed"), "{}", out.stdout);
    let s = status_json(etcd, GROUP);
    assert!(
        all_nodes(&s, N, |r| r["generation"] == 2 && r["state"] == "applied"),
        "{s}"
    );
    // What changed on each node is exactly what was predicted for it.
    for (f, before) in fleet_nodes.iter().zip(&before) {
        assert_eq!(f.file("/etc/app/app.conf").as_deref(), Some("version=2\n"));
        assert_eq!(
            changed(before, &snapshot(&f.node.root)),
            predicted_paths(&p, &f.id()),
            "what changed on {}",
            f.id()
        );
    }
    // Never more than 4 applying at once: from etcd's own history of the records...
    let most = most_applying_at_once(etcd, 2);
    assert!(
        (1..=4).contains(&most),
        "{most} nodes applying generation 2 at once"
    );
    eprintln!("fleet_forty: at most {most} nodes applied generation 2 at once (limit 4)");
    // ... and from the apply intervals the nodes reported.
    let raw: Vec<(u64, u64)> = fleet_nodes
        .iter()
        .map(|f| {
            let v = etcd
                .v3_value(&format!("kindling/fleet/{GROUP}/node/{}", f.id()))
                .unwrap();
            let r: serde_json::Value = serde_json::from_str(&v).unwrap();
            (
                r["apply_started_ms"].as_u64().unwrap(),
                r["apply_finished_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    for &(start, _) in &raw {
        let overlapping = raw
            .iter()
            .filter(|(s, e)| *s <= start && start <= *e)
            .count();
        assert!(
            overlapping <= 4,
            "{overlapping} nodes applied at once: {raw:?}"
        );
    }
    // A re-diff now predicts no change anywhere.
    let again = fleet(etcd, GROUP, &["--format", "json", "diff", &c2]);
    let again: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again["groups"].as_array().unwrap().len(), 1, "{again}");
    assert_eq!(again["groups"][0]["effect"], "no change", "{again}");
}

/// Phase 2: generation 3 rolled out serially; node-05 fails its health check with it, rolls
/// back, and stops the strict rollout; node-06 on were never admitted.
fn strict_gate(etcd: &Etcd, dir: &Path, fleet_nodes: &[FleetNode]) {
    fleet_nodes[5].set_health("grep -q version=2 \"$KINDLING_ROOT/etc/app/app.conf\"\n");
    let c3 = write(dir, "c3.yaml", &app_config("3"));
    assert_eq!(fleet(etcd, GROUP, &["publish", "--hold", &c3]).code, 0);
    let out = fleet(
        etcd,
        GROUP,
        &["rollout", "create", "--type", "serial", "--replace"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = fleet(etcd, GROUP, &["rollout", "apply", "--node-timeout", "30"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("stopped (strict health gate"),
        "{}",
        out.stdout
    );
    for (i, f) in fleet_nodes.iter().enumerate() {
        let want = if i < 5 { "version=3\n" } else { "version=2\n" };
        assert_eq!(
            f.file("/etc/app/app.conf").as_deref(),
            Some(want),
            "node {i}"
        );
    }
    let s = status_json(etcd, GROUP);
    assert_eq!(row(&s, "node-05")["state"], "rolled-back", "{s}");
    assert!(
        row(&s, "node-05")["reason"]
            .as_str()
            .unwrap()
            .contains("health check"),
        "{s}"
    );
    assert_eq!(row(&s, "node-05")["generation"], 2);
    assert_eq!(row(&s, "node-04")["generation"], 3);
    for i in 6..N {
        let r = row(&s, &host(i));
        assert_eq!(r["generation"], 2, "{s}");
        assert_eq!(r["state"], "applied", "{s}");
    }
    let show = fleet(etcd, GROUP, &["rollout", "show"]);
    assert!(
        show.stdout.contains("failed: rolled-back"),
        "{}",
        show.stdout
    );
    fleet_nodes[5].set_health("exit 0\n");
}

/// Phase 3: every apply takes a second (the health check), so the abort lands mid-rollout;
/// afterwards every node is reported, admitted nodes on generation 4, the others exactly
/// as before.
fn abort(etcd: &Etcd, dir: &Path, fleet_nodes: &[FleetNode]) {
    for f in fleet_nodes {
        f.set_health("sleep 1\n");
    }
    let before = status_json(etcd, GROUP);
    let c4 = write(dir, "c4.yaml", &app_config("4"));
    assert_eq!(fleet(etcd, GROUP, &["publish", "--hold", &c4]).code, 0);
    assert_eq!(
        fleet(
            etcd,
            GROUP,
            &[
                "rollout",
                "create",
                "--type",
                "parallel",
                "--max-parallel",
                "2",
                "--replace"
            ]
        )
        .code,
        0
    );
    let controller = Command::new(bin())
        .args([
            "fleet",
            "--endpoint",
            &etcd.url,
            "--group",
            GROUP,
            "rollout",
            "apply",
            "--node-timeout",
            "30",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut controller = Guard(controller);
    wait_status(
        etcd,
        GROUP,
        "the first node on generation 4",
        Duration::from_secs(30),
        |s| {
            s["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["generation"] == 4)
        },
    );
    let out = fleet(etcd, GROUP, &["rollout", "abort"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let start = Instant::now();
    while controller.0.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the controller did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let show = fleet(etcd, GROUP, &["--format", "json", "rollout", "show"]);
    let r: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(r["phase"], "aborted", "{r}");
    let admitted: Vec<String> = r["admitted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert!((1..N).contains(&admitted.len()), "{r}");
    // Consistent: every node reported; admitted ones applied generation 4; the others are
    // exactly as before (generation and state).
    let s = status_json(etcd, GROUP);
    assert_eq!(s["nodes"].as_array().unwrap().len(), N, "{s}");
    let mut on4 = 0;
    for f in fleet_nodes {
        let host = f.file("/etc/hostname").unwrap().trim().to_string();
        let now = row(&s, &host);
        let text = f.file("/etc/app/app.conf").unwrap();
        if admitted.contains(&f.id()) {
            assert_eq!(now["state"], "applied", "{s}");
            assert_eq!(now["generation"], 4, "{s}");
            assert_eq!(text, "version=4\n");
            on4 += 1;
        } else {
            let was = row(&before, &host);
            assert_eq!(now["generation"], was["generation"], "{host}: {s}");
            assert_eq!(now["state"], was["state"], "{host}: {s}");
            assert!(
                text == "version=2\n" || text == "version=3\n",
                "{host}: {text}"
            );
        }
    }
    assert_eq!(on4, admitted.len(), "{s}");
    for f in fleet_nodes {
        f.set_health("exit 0\n");
    }
}

/// Phase 4: node-39 is killed while it applies generation 5 (its health check is slow);
/// it shows as unreachable, never dropped, and converges when it starts again.
fn killed_mid_apply(etcd: &Etcd, dir: &Path, fleet_nodes: &mut [FleetNode]) {
    let victim = N - 1;
    fleet_nodes[victim].set_health("sleep 20\n");
    let c5 = write(dir, "c5.yaml", &app_config("5"));
    assert_eq!(fleet(etcd, GROUP, &["publish", &c5]).code, 0);
    wait_status(
        etcd,
        GROUP,
        "node-39 applying generation 5",
        Duration::from_secs(30),
        |s| {
            let r = row(s, &host(victim));
            r["state"] == "applying"
        },
    );
    fleet_nodes[victim].kill();
    let s = wait_status(
        etcd,
        GROUP,
        "node-39 unreachable and the others on generation 5",
        Duration::from_secs(30),
        |s| {
            s["nodes"].as_array().unwrap().iter().all(|r| {
                if r["host"] == host(victim).as_str() {
                    r["state"] == "unreachable"
                } else {
                    r["generation"] == 5 && r["state"] == "applied"
                }
            })
        },
    );
    assert_eq!(s["nodes"].as_array().unwrap().len(), N, "{s}");
    assert!(
        s["summary"].as_str().unwrap().contains("1 unreachable"),
        "{s}"
    );
    fleet_nodes[victim].set_health("exit 0\n");
    fleet_nodes[victim].start();
    wait_status(
        etcd,
        GROUP,
        "every node on generation 5",
        Duration::from_secs(30),
        |s| all_nodes(s, N, |r| r["generation"] == 5 && r["state"] == "applied"),
    );
    assert_eq!(
        fleet_nodes[victim].file("/etc/app/app.conf").as_deref(),
        Some("version=5\n")
    );
}

/// Phase 5: a config using `$private_ipv4`, substituted per node from its own
/// `/etc/environment`; node-13 has no value, so it refuses (its own group in the preview).
fn variables(etcd: &Etcd, dir: &Path, fleet_nodes: &[FleetNode]) {
    let c6 = write(
        dir,
        "c6.yaml",
        "#cloud-config\nwrite_files:\n  - path: /etc/app/listen.conf\n    content: |\n      listen=$private_ipv4:2379\n",
    );
    let out = fleet(etcd, GROUP, &["--format", "json", "diff", &c6]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let p: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let groups = p["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{p}");
    assert_eq!(groups[0]["effect"], "in-service", "{p}");
    assert_eq!(groups[0]["nodes"].as_array().unwrap().len(), N - 1, "{p}");
    assert_eq!(groups[1]["effect"], "refused", "{p}");
    let refused_id = fleet_nodes[NO_ADDRESS].id();
    assert_eq!(groups[1]["nodes"], serde_json::json!([refused_id]), "{p}");
    assert!(
        groups[1]["what"][0]
            .as_str()
            .unwrap()
            .contains("COREOS_PRIVATE_IPV4 in /etc/environment"),
        "{p}"
    );
    // Each node's prediction is its own `kindling diff` with its own value.
    for (i, f) in fleet_nodes.iter().enumerate() {
        if i == NO_ADDRESS {
            assert_eq!(predicted_paths(&p, &f.id()), Vec::<String>::new());
            continue;
        }
        let var = format!("private_ipv4={}", private_ipv4(i));
        let (own_paths, own_actions) = own_diff(f, &c6, &["--var", &var]);
        assert_eq!(
            predicted_paths(&p, &f.id()),
            own_paths,
            "prediction for {}",
            f.id()
        );
        assert_eq!(predicted_actions(&p, &f.id()), own_actions);
    }
    let human = fleet(etcd, GROUP, &["diff", &c6]);
    assert!(
        human
            .stdout
            .contains("1 node(s): refused (the config uses $private_ipv4"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains(&format!("{} node(s): in-service", N - 1)),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("+listen=10.0.0.10:2379"),
        "{}",
        human.stdout
    );
    let out = fleet(etcd, GROUP, &["publish", &c6]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let s = wait_status(
        etcd,
        GROUP,
        "generation 6 applied, node-13 refusing it",
        Duration::from_secs(30),
        |s| {
            s["nodes"].as_array().unwrap().iter().all(|r| {
                if r["host"] == host(NO_ADDRESS).as_str() {
                    r["state"] == "failed"
                } else {
                    r["generation"] == 6 && r["state"] == "applied"
                }
            })
        },
    );
    let r = row(&s, &host(NO_ADDRESS));
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("uses $private_ipv4, which this node has no value for"),
        "{s}"
    );
    assert_eq!(r["generation"], 5, "{s}");
    for (i, f) in fleet_nodes.iter().enumerate() {
        let want = (i != NO_ADDRESS).then(|| format!("listen={}:2379\n", private_ipv4(i)));
        assert_eq!(f.file("/etc/app/listen.conf"), want, "node {i}");
    }
    // The records carry the values the prediction used.
    let v = etcd
        .v3_value(&format!(
            "kindling/fleet/{GROUP}/node/{}",
            fleet_nodes[7].id()
        ))
        .unwrap();
    let rec: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(rec["vars"]["private_ipv4"], private_ipv4(7).as_str());
}

/// Phase 6: a sysctl drop-in takes effect only at boot. Every node applies the file at once
/// and waits for its reboot; the lock (4 slots, etcd v3) lets at most 4 reboot at a time
/// (from the semaphore's whole history in etcd), and the nodes whose window is closed never
/// take a slot nor reboot.
fn reboots(etcd: &Etcd, dir: &Path, fleet_nodes: &mut [FleetNode]) {
    let slots = 4;
    let out = kindling(&[
        "lock",
        "--endpoint",
        &etcd.url,
        "--backend",
        "etcd3",
        "set-max",
        &slots.to_string(),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let c = write(
        dir,
        "sysctl.yaml",
        "#cloud-config\nwrite_files:\n  - path: /etc/sysctl.d/90-fleet.conf\n    content: |\n      vm.swappiness=10\n",
    );
    let p = fleet(etcd, GROUP, &["diff", &c]);
    assert!(
        p.stdout.contains(&format!(
            "{N} node(s): reboot required (/etc/sysctl.d/90-fleet.conf"
        )),
        "{}",
        p.stdout
    );
    assert_eq!(fleet(etcd, GROUP, &["publish", &c]).code, 0);
    let open: Vec<usize> = (0..N).filter(|i| !WINDOW_CLOSED.contains(i)).collect();
    let mut rebooted = Vec::new();
    let start = Instant::now();
    while rebooted.len() < open.len() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "rebooted only {rebooted:?}"
        );
        let now: Vec<usize> = (0..N)
            .filter(|i| !rebooted.contains(i) && fleet_nodes[*i].node.rebooted())
            .collect();
        assert!(
            now.len() <= slots,
            "more nodes rebooting than slots: {now:?}"
        );
        for i in &now {
            assert!(
                !WINDOW_CLOSED.contains(i),
                "node {i} rebooted outside its window"
            );
        }
        if !now.is_empty() {
            let s = status_json(etcd, GROUP);
            for &i in &now {
                let r = row(&s, &host(i));
                assert_eq!(r["state"], "awaiting-reboot", "{s}");
                assert_eq!(r["reboot_required"], true);
            }
            // The simulated reboot: the agent stops, the firmware and kernel run, it starts.
            for &i in &now {
                let f = &mut fleet_nodes[i];
                f.kill();
                f.node.clear_rebooted();
                f.node.boot();
                f.start();
                rebooted.push(i);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = wait_status(
        etcd,
        GROUP,
        "every open-window node applied after its reboot",
        Duration::from_secs(30),
        |s| {
            s["nodes"].as_array().unwrap().iter().all(|r| {
                let i: usize = r["host"].as_str().unwrap()[5..].parse().unwrap();
                if WINDOW_CLOSED.contains(&i) {
                    r["state"] == "awaiting-reboot"
                } else {
                    r["state"] == "applied" && r["reboot_required"] == false
                }
            })
        },
    );
    assert_eq!(s["nodes"].as_array().unwrap().len(), N);
    for f in fleet_nodes.iter() {
        assert!(f.file("/etc/sysctl.d/90-fleet.conf").is_some());
    }
    for i in WINDOW_CLOSED {
        assert!(!fleet_nodes[i].node.rebooted(), "node {i} rebooted");
    }
    // Never more holders than slots, over the semaphore's whole history; the closed-window
    // nodes never held it.
    let history =
        crate::support::lock::v3_history(etcd, "com.coreos.airlock/groups/default/v1/semaphore");
    let most = crate::support::fleet::assert_never_more_than(&history, slots);
    eprintln!(
        "fleet_forty: {} reboots, at most {most} slot holders at once (limit {slots}), {} semaphore revisions",
        rebooted.len(),
        history.len()
    );
    for value in &history {
        for holder in crate::support::fleet::holders(value) {
            for i in WINDOW_CLOSED {
                assert_ne!(holder, fleet_nodes[i].id(), "node {i} took a slot: {value}");
            }
        }
    }
}
