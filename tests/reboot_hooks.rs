//! Reboot hooks (issue 24) on simulated nodes with a real etcd (locksmith's v2 semaphore,
//! read with the real locksmithctl): the pre-reboot hook runs after the window and the lock,
//! immediately before the reboot; the post-boot hook after the next boot's health check,
//! before the slot is given back. Every step writes a timestamped line to one events file
//! (the hooks, the reboot command, the health command), so the order is read from the
//! clock, not from the agent's log. A pre-reboot hook that fails or outlives its timeout
//! (killed with its children) means no reboot, the slot back and a retry at the next window
//! opening; a post-boot hook that fails keeps the slot and `fleet status` shows the node as
//! not back; three nodes sharing one slot never overlap between their pre-reboot start and
//! post-boot end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::agent_reboot::locksmithctl;
use crate::support::agent::{Guard, Node, Release, bin, kindling, update_conf};
use crate::support::lock::{Etcd, wait_until};

/// One line of the events file: when, which machine, what, and the rest of the line.
#[derive(Debug, Clone)]
struct Event {
    at: Timestamp,
    machine: String,
    what: String,
    rest: String,
}

fn read_events(file: &Path) -> Vec<Event> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(4, ' ');
            let (secs, nanos) = parts.next()?.split_once('.')?;
            Some(Event {
                at: Timestamp::new(secs.parse().ok()?, nanos.parse().ok()?).ok()?,
                machine: parts.next()?.to_string(),
                what: parts.next()?.to_string(),
                rest: parts.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

/// The events of `machine` named `what`, in order.
fn of<'a>(all: &'a [Event], machine: &str, what: &str) -> Vec<&'a Event> {
    all.iter()
        .filter(|e| e.machine == machine && e.what == what)
        .collect()
}

/// The hook script every node runs (by argv, no shell in between: `hook.sh pre-reboot`).
/// It notes its start (with its environment) and end in the events file, and whether the
/// machine held the reboot slot (asked of the real locksmithctl); marker files beside a
/// node's root make it fail once, hang once (with a child in its group), or fail until
/// `allow` exists.
fn hook_script(dir: &Path, events: &Path, etcd: &Etcd) -> PathBuf {
    let peer = crate::support::common::root().join("../shared/peers/locksmithctl");
    assert!(peer.is_file(), "{} is missing", peer.display());
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
stage="$1"
node="$KINDLING_ROOT/.."
note() {{ echo "$(date +%s.%N) $KINDLING_MACHINE_ID $*" >> {events}; }}
note "$stage-start" "hook=$KINDLING_HOOK group=$KINDLING_LOCK_GROUP reason=$KINDLING_REBOOT_REASON"
echo "hook says: $stage on $KINDLING_MACHINE_ID"
echo "on stderr: $stage" >&2
n=$(cat "$node/$stage-runs" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$node/$stage-runs"
held=free
if {peer} --endpoint={url} status | grep -q "$KINDLING_MACHINE_ID"; then held=held; fi
if [ -e "$node/$stage-fail-once" ] && [ $n -eq 1 ]; then note "$stage-fail" "$held"; exit 1; fi
if [ -e "$node/$stage-hang-once" ] && [ $n -eq 1 ]; then
  sleep 60 & echo $! > "$node/child.pid"
  note "$stage-hang" "$held"
  sleep 60
  note "$stage-woke"
  exit 0
fi
if [ -e "$node/$stage-fail-until-allowed" ] && ! [ -e "$node/allow" ]; then note "$stage-fail" "$held"; exit 1; fi
sleep 0.3
note "$stage-end" "$held"
"#,
            events = events.display(),
            peer = peer.display(),
            url = etcd.url,
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    script
}

/// update.conf lines: the etcd lock, the hooks, a health command that notes itself.
fn hook_conf(etcd: &Etcd, script: &Path, events: &Path, window: &str, extra: &str) -> String {
    format!(
        "LOCKSMITHD_ENDPOINT={url}\n{window}\
KINDLING_PRE_REBOOT_COMMAND={script} pre-reboot\n\
KINDLING_POST_BOOT_COMMAND={script} post-boot\n\
KINDLING_HEALTH_COMMAND=echo \"$(date +%s.%N) $(cat \"$KINDLING_ROOT/etc/machine-id\") health\" >> {events}\n\
KINDLING_MAX_BACKOFF=2\n{extra}",
        url = etcd.url,
        script = script.display(),
        events = events.display(),
    )
}

/// The reboot command: note the reboot, and touch `rebooted` beside the root.
fn reboot_command(events: &Path) -> String {
    format!(
        "echo \"$(date +%s.%N) $(cat \"$KINDLING_ROOT/etc/machine-id\") reboot\" >> {}; touch \"$KINDLING_ROOT/../rebooted\"",
        events.display()
    )
}

/// `kindling agent run --once` on `node` in the background, waiting up to `wait` seconds
/// for the window and the lock; standard error to `agent.log` beside the root.
fn spawn_agent(node: &Node, events: &Path, wait: &str) -> Guard {
    let command = reboot_command(events);
    let mut args = node.agent_args();
    let at = args.iter().position(|a| *a == "--reboot-command").unwrap();
    args[at + 1] = &command;
    args.extend_from_slice(&["--reboot-wait", wait]);
    let log = std::fs::File::create(node.dir.join("agent.log")).unwrap();
    Guard(
        std::process::Command::new(bin())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

fn agent_log(node: &Node) -> String {
    std::fs::read_to_string(node.dir.join("agent.log")).unwrap_or_default()
}

/// Wait (bounded) for the agent to end.
fn ended(agent: &mut Guard, node: &Node, limit: Duration) {
    let deadline = Instant::now() + limit;
    while agent.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the agent did not end:\n{}",
            agent_log(node)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A maintenance window open now for ten minutes (update.conf lines) and its bounds.
fn window_open_now() -> (String, Timestamp, Timestamp) {
    let now = Timestamp::now().to_zoned_datetime(TimeZone::UTC);
    let opens = Timestamp::new(now.timestamp().as_second() - i64::from(now.second()), 0).unwrap();
    (
        format!(
            "KINDLING_MAINTENANCE_WINDOW=*-*-* {:02}:{:02}:00 UTC\nKINDLING_MAINTENANCE_WINDOW_LENGTH=600\n",
            now.hour(),
            now.minute()
        ),
        opens,
        opens
            .checked_add(jiff::SignedDuration::from_mins(10))
            .unwrap(),
    )
}

/// A window that opens every 20 seconds for 8.
const SHORT_WINDOWS: &str =
    "KINDLING_MAINTENANCE_WINDOW=*-*-* *:*:00/20 UTC\nKINDLING_MAINTENANCE_WINDOW_LENGTH=8\n";

/// Whether `at` is inside one of [`SHORT_WINDOWS`]' openings (its second of the minute,
/// modulo 20, at most 8).
fn in_short_window(at: Timestamp) -> bool {
    let s = at.as_second().rem_euclid(20);
    s < 8 || (s == 8 && at.subsec_nanosecond() == 0)
}

fn free(etcd: &Etcd) -> bool {
    locksmithctl(etcd, &["status"]).stdout == "Available: 1\nMax: 1\n"
}

fn holds(etcd: &Etcd, node: &Node) -> bool {
    locksmithctl(etcd, &["status"])
        .stdout
        .contains(&node.machine_id())
}

fn agent_status(node: &Node) -> serde_json::Value {
    let out = kindling(&[
        "agent",
        "status",
        "--root",
        node.root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// The whole order on one node: window -> lock -> pre-reboot hook -> reboot -> health
/// check -> post-boot hook -> slot released, from the timestamps each step wrote.
#[test]
fn hooks_run_in_order_around_the_reboot() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let script = hook_script(dir.path(), &events, &etcd);
    let release = Release::publish(dir.path(), 4);
    let (window, opens, closes) = window_open_now();
    let mut node = release.node(
        dir.path(),
        &update_conf(
            &release.server.url,
            "etcd-lock",
            &hook_conf(&etcd, &script, &events, &window, ""),
        ),
    );
    let id = node.machine_id();
    let mut agent = spawn_agent(&node, &events, "120");
    ended(&mut agent, &node, Duration::from_secs(120));
    let log = agent_log(&node);
    assert!(node.dir.join("rebooted").exists(), "{log}");
    // The slot is held across the reboot; the hook's output was logged with its name.
    assert!(holds(&etcd, &node), "{log}");
    assert!(
        log.contains(&format!("pre-reboot hook: hook says: pre-reboot on {id}"))
            && log.contains("pre-reboot hook: on stderr: pre-reboot"),
        "{log}"
    );
    let taking = log.find("taking the reboot lock").unwrap();
    let running = log.find("running the pre-reboot hook").unwrap();
    assert!(taking < running, "{log}");

    // The next boot: health check, post-boot hook, then the slot is given back.
    assert_eq!(node.boot(), "1.0.1");
    let before_boot_run = Timestamp::now();
    let out = node.agent_once();
    let after = Timestamp::now();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(free(&etcd), "{}", out.stderr);
    let post = out.stderr.find("running the post-boot hook").unwrap();
    let back = out.stderr.find("gave the reboot slot back").unwrap();
    assert!(post < back, "{}", out.stderr);

    let all = read_events(&events);
    let one = |what: &str| -> Event {
        let found = of(&all, &id, what);
        assert_eq!(found.len(), 1, "{what}: {all:#?}");
        found[0].clone()
    };
    let pre_start = one("pre-reboot-start");
    let pre_end = one("pre-reboot-end");
    let reboot = one("reboot");
    let post_start = one("post-boot-start");
    let post_end = one("post-boot-end");
    // The health check of the boot after the reboot (the first run judged its own boot).
    let health = of(&all, &id, "health")
        .into_iter()
        .find(|e| e.at >= before_boot_run)
        .expect("no health check after the reboot")
        .clone();
    // window -> lock -> pre-reboot hook: inside the window, the slot already held.
    assert!(opens <= pre_start.at && pre_start.at <= closes, "{all:#?}");
    assert_eq!(pre_end.rest, "held", "{all:#?}");
    assert!(
        pre_start
            .rest
            .contains("hook=pre-reboot group=default reason=update to 1.0.1"),
        "{}",
        pre_start.rest
    );
    // -> reboot -> health check -> post-boot hook (the slot still held) -> released.
    let order = [
        &pre_start.at,
        &pre_end.at,
        &reboot.at,
        &health.at,
        &post_start.at,
        &post_end.at,
        &after,
    ];
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{all:#?}");
    assert_eq!(post_end.rest, "held", "{all:#?}");
    assert!(
        post_start.rest.contains("hook=post-boot group=default"),
        "{}",
        post_start.rest
    );
    assert!(!node.root.join(kindling::lock::HELD_SLOT_FILE).exists());
    // Once back: the next run owes no hook.
    let out = node.agent_once();
    assert!(!out.stderr.contains("post-boot hook"), "{}", out.stderr);
    assert_eq!(of(&read_events(&events), &id, "post-boot-start").len(), 1);
}

/// A pre-reboot hook that fails once (`fail`) or hangs past its timeout once with a child
/// (`hang`): no reboot, the slot back, the failure in `agent status`, and a retry at the
/// next window opening that reboots.
fn pre_reboot_failure_retries_at_the_next_window(marker: &str, failure: &str) {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let script = hook_script(dir.path(), &events, &etcd);
    let release = Release::publish(dir.path(), 4);
    let node = release.node(
        dir.path(),
        &update_conf(
            &release.server.url,
            "etcd-lock",
            &hook_conf(
                &etcd,
                &script,
                &events,
                SHORT_WINDOWS,
                "KINDLING_PRE_REBOOT_TIMEOUT=2\n",
            ),
        ),
    );
    std::fs::write(node.dir.join(marker), "").unwrap();
    let id = node.machine_id();
    let mut agent = spawn_agent(&node, &events, "150");
    wait_until(
        "the first attempt to fail",
        Duration::from_secs(120),
        || !of(&read_events(&events), &id, failure).is_empty(),
    );
    // The slot comes back and the node says why, with no reboot.
    wait_until("the slot to be given back", Duration::from_secs(10), || {
        free(&etcd)
    });
    let status = agent_status(&node);
    let why = status["record"]["hooks"]["failure"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.starts_with("no reboot: the pre-reboot hook failed")
            && why.contains("the reboot slot was given back")
            && why.contains("trying again at"),
        "{status}"
    );
    assert!(!node.dir.join("rebooted").exists(), "{}", agent_log(&node));
    assert_eq!(of(&read_events(&events), &id, "pre-reboot-start").len(), 1);
    if marker.contains("hang") {
        // Killed with its process group: the child it left is gone too.
        let pid = std::fs::read_to_string(node.dir.join("child.pid")).unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
        assert!(
            stat.as_ref()
                .map_or(true, |s| s.split(' ').nth(2) == Some("Z")),
            "the hook's child {} still runs: {stat:?}",
            pid.trim()
        );
        assert!(
            agent_log(&node).contains("ran longer than 2s"),
            "{}",
            agent_log(&node)
        );
        assert!(of(&read_events(&events), &id, "pre-reboot-woke").is_empty());
    }
    ended(&mut agent, &node, Duration::from_secs(90));
    let log = agent_log(&node);
    assert!(node.dir.join("rebooted").exists(), "{log}");
    let all = read_events(&events);
    let starts = of(&all, &id, "pre-reboot-start");
    assert_eq!(starts.len(), 2, "{all:#?}\n{log}");
    let failed = of(&all, &id, failure)[0];
    let reboot = of(&all, &id, "reboot")[0];
    // Both attempts inside a window, the second in a later opening; the reboot after it.
    assert!(
        in_short_window(starts[0].at) && in_short_window(starts[1].at),
        "{all:#?}"
    );
    let gap = starts[1].at.duration_since(failed.at);
    assert!(
        gap >= jiff::SignedDuration::from_secs(8),
        "retried {gap} after the failure, not at the next opening: {all:#?}"
    );
    assert_eq!(
        starts[0].at.as_second() / 20 + 1,
        starts[1].at.as_second() / 20,
        "the retry was not at the next opening: {all:#?}"
    );
    assert!(
        reboot.at >= of(&all, &id, "pre-reboot-end")[0].at,
        "{all:#?}"
    );
    assert!(holds(&etcd, &node), "{log}");
    // The success cleared the failure.
    let status = agent_status(&node);
    assert!(status["record"]["hooks"]["failure"].is_null(), "{status}");
}

#[test]
fn a_pre_reboot_hook_that_exits_1_means_no_reboot_now_and_a_retry_at_the_next_window() {
    pre_reboot_failure_retries_at_the_next_window("pre-reboot-fail-once", "pre-reboot-fail");
}

#[test]
fn a_pre_reboot_hook_past_its_timeout_is_killed_with_its_children_and_retried() {
    pre_reboot_failure_retries_at_the_next_window("pre-reboot-hang-once", "pre-reboot-hang");
}

/// Three nodes, one slot, hooks that note their start and end: at no moment are two nodes
/// between their pre-reboot start and their post-boot end. The nodes get their window,
/// lock and hooks from a cloud-config (`coreos.update.reboot-hooks`), compiled and applied
/// as on a node.
#[test]
fn three_nodes_one_slot_never_overlap_between_pre_reboot_and_post_boot() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let script = hook_script(dir.path(), &events, &etcd);
    let release = Release::publish(dir.path(), 4);
    let url = &release.server.url;
    let now = Timestamp::now().to_zoned_datetime(TimeZone::UTC);
    let config = format!(
        "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    server: {url}\n    reboot-strategy: etcd-lock\n    maintenance-window:\n      calendar: \"*-*-* {:02}:{:02}:00 UTC\"\n      length: 10min\n    reboot-hooks:\n      pre-reboot: \"{script} pre-reboot\"\n      pre-reboot-timeout: 1min\n      post-boot: \"{script} post-boot\"\n    health-check:\n      command: echo \"$(date +%s.%N) $(cat \"$KINDLING_ROOT/etc/machine-id\") health\" >> {events}\n  locksmith:\n    endpoint: {}\n",
        now.hour(),
        now.minute(),
        etcd.url,
        script = script.display(),
        events = events.display(),
    );
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, &config).unwrap();
    let mut nodes: Vec<Node> = (1..=3)
        .map(|i| {
            let node = release.node_at(
                &dir.path().join(format!("node{i}")),
                &update_conf(url, "off", ""),
            );
            let out = kindling(&[
                "apply",
                "--root",
                node.root.to_str().unwrap(),
                file.to_str().unwrap(),
            ]);
            assert_eq!(out.code, 0, "apply: {}{}", out.stdout, out.stderr);
            node
        })
        .collect();
    let conf = std::fs::read_to_string(nodes[0].root.join("etc/coreos/update.conf")).unwrap();
    assert!(
        conf.contains(&format!(
            "KINDLING_PRE_REBOOT_COMMAND={} pre-reboot\n",
            script.display()
        )) && conf.contains("KINDLING_PRE_REBOOT_TIMEOUT=60\n"),
        "{conf}"
    );
    let mut agents: Vec<Option<Guard>> = nodes
        .iter()
        .map(|n| Some(spawn_agent(n, &events, "240")))
        .collect();
    let mut done = Vec::new();
    for turn in 0..3 {
        let mut found = None;
        wait_until(
            &format!("reboot #{}", turn + 1),
            Duration::from_secs(180),
            || {
                found =
                    (0..3).find(|i| !done.contains(i) && nodes[*i].dir.join("rebooted").exists());
                found.is_some()
            },
        );
        let i = found.unwrap();
        let mut agent = agents[i].take().unwrap();
        ended(&mut agent, &nodes[i], Duration::from_secs(30));
        // The others are still waiting for the slot: no second node in its hooks.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(nodes[i].boot(), "1.0.1");
        let out = nodes[i].agent_once();
        assert!(
            out.stderr.contains("gave the reboot slot back"),
            "node{}: {}",
            i + 1,
            out.stderr
        );
        done.push(i);
    }
    assert!(free(&etcd));
    let all = read_events(&events);
    let mut spans: Vec<(Timestamp, Timestamp, String)> = nodes
        .iter()
        .map(|n| {
            let id = n.machine_id();
            let start = of(&all, &id, "pre-reboot-start");
            let end = of(&all, &id, "post-boot-end");
            assert_eq!((start.len(), end.len()), (1, 1), "{id}: {all:#?}");
            assert!(start[0].at < end[0].at, "{all:#?}");
            // Both hooks ran while this node held the slot.
            assert_eq!(end[0].rest, "held", "{all:#?}");
            assert_eq!(of(&all, &id, "pre-reboot-end")[0].rest, "held", "{all:#?}");
            (start[0].at, end[0].at, id)
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 < pair[1].0,
            "{} was still between its hooks ({} .. {}) when {} started its pre-reboot hook at {}",
            pair[0].2,
            pair[0].0,
            pair[0].1,
            pair[1].2,
            pair[1].0
        );
    }
    for n in &mut nodes {
        assert_eq!(n.running(), "1.0.1");
    }
}

/// A fleet config's reboot-required change takes the same hooks; after the reboot a
/// post-boot hook that fails keeps the slot, and `fleet status` shows the node as not back
/// in service until the hook succeeds (the daemon tries again after its backoff), when the
/// slot is given back.
#[test]
fn a_failing_post_boot_hook_keeps_the_slot_and_fleet_status_shows_the_node_not_back() {
    use crate::fleet::{fleet, status_json, wait_status, write};
    const GROUP: &str = "hooks";
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let events = dir.path().join("events");
    let script = hook_script(dir.path(), &events, &etcd);
    let conf = format!(
        "GROUP=stable\nSERVER=http://127.0.0.1:9/v1/update/\nREBOOT_STRATEGY=etcd-lock\nKINDLING_FIRST_CHECK_DELAY=3600\nKINDLING_FLEET=on\nKINDLING_FLEET_GROUP={GROUP}\nKINDLING_FLEET_TTL=3\n{}",
        hook_conf(&etcd, &script, &events, "", "")
    );
    let image = crate::support::agent::usr_image(dir.path(), "1.0.0", 4);
    let mut node = Node::new(&dir.path().join("node"), &image, &conf, &[]);
    std::fs::write(node.root.join("etc/hostname"), "hooks-0\n").unwrap();
    std::fs::write(node.dir.join("post-boot-fail-until-allowed"), "").unwrap();
    let id = node.machine_id();
    let daemon = |node: &Node| {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("agent.log"))
            .unwrap();
        Guard(
            std::process::Command::new(bin())
                .args(["agent", "run", "--root", node.root.to_str().unwrap()])
                .args(["--disk", node.disk.to_str().unwrap()])
                .args(["--health-timeout", "20"])
                .args(["--reboot-command", &reboot_command(&events)])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let only = |s: &serde_json::Value| -> serde_json::Value {
        let nodes = s["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 1, "{s}");
        nodes[0].clone()
    };
    let limit = Duration::from_secs(40);
    let agent = daemon(&node);
    wait_status(&etcd, GROUP, "the node's record", limit, |s| {
        s["nodes"].as_array().is_some_and(|n| n.len() == 1)
    });
    let sysctl = write(
        dir.path(),
        "sysctl.yaml",
        "#cloud-config\nwrite_files:\n  - path: /etc/sysctl.d/90-fleet.conf\n    content: |\n      vm.swappiness=10\n",
    );
    assert_eq!(fleet(&etcd, GROUP, &["publish", &sysctl]).code, 0);
    wait_until("the config's reboot", limit, || node.rebooted());
    let all = read_events(&events);
    let pre = of(&all, &id, "pre-reboot-start");
    assert_eq!(pre.len(), 1, "{all:#?}");
    assert!(
        pre[0]
            .rest
            .contains("reason=config change: config generation 1 needs a reboot"),
        "{}",
        pre[0].rest
    );
    assert!(holds(&etcd, &node));

    // The next boot: healthy, but the post-boot hook fails: the slot stays held and the
    // fleet shows the node as not back.
    drop(agent);
    node.clear_rebooted();
    node.boot();
    let agent = daemon(&node);
    let s = wait_status(&etcd, GROUP, "the node shown not back", limit, |s| {
        only(s)["not_back"].is_string()
    });
    let not_back = only(&s)["not_back"].as_str().unwrap().to_string();
    assert!(
        not_back.starts_with("not back in service: the post-boot hook failed")
            && not_back.contains("the reboot slot stays held"),
        "{s}"
    );
    assert!(
        s["summary"]
            .as_str()
            .unwrap()
            .contains("1 not back in service after a reboot (post-boot hook)"),
        "{s}"
    );
    let table = fleet(&etcd, GROUP, &["status"]).stdout;
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("hooks-0") && l.contains("not back in service")),
        "{table}"
    );
    assert!(
        holds(&etcd, &node),
        "the slot was given back:\n{}",
        agent_log(&node)
    );
    // Tried again (the backoff is capped at 2 s here), still failing, still held.
    wait_until("a second try", limit, || {
        of(&read_events(&events), &id, "post-boot-fail").len() >= 2
    });
    assert!(holds(&etcd, &node));

    // The hook succeeds: back in service, the slot given back.
    std::fs::write(node.dir.join("allow"), "").unwrap();
    wait_status(&etcd, GROUP, "the node back", limit, |s| {
        only(s)["not_back"].is_null()
    });
    wait_until("the slot to be given back", limit, || free(&etcd));
    let all = read_events(&events);
    let end = of(&all, &id, "post-boot-end");
    assert_eq!(end.len(), 1, "{all:#?}");
    assert_eq!(end[0].rest, "held", "{all:#?}");
    let s = status_json(&etcd, GROUP);
    assert!(!s["summary"].as_str().unwrap().contains("not back"), "{s}");
    drop(agent);
    assert!(!node.rebooted(), "rebooted again:\n{}", agent_log(&node));
}

/// A pre-reboot hook (a drain) that runs longer than the etcd v3 lease the slot lives on:
/// the lease is kept alive while it runs, so the slot is still this node's, alive, when the
/// hook ends and the node reboots.
#[test]
fn a_pre_reboot_hook_longer_than_the_etcd3_lease_keeps_the_slot() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let release = Release::publish(dir.path(), 4);
    let at_end = dir.path().join("node/at-hook-end");
    let hook = format!(
        "/bin/sh -c 'sleep 5; {bin} lock --backend etcd3 --endpoint {url} status --format json > {at_end}'",
        bin = bin(),
        url = etcd.url,
        at_end = at_end.display()
    );
    let node = release.node(
        dir.path(),
        &update_conf(
            &release.server.url,
            "etcd-lock",
            &format!(
                "LOCKSMITHD_ENDPOINT={}\nKINDLING_LOCK_BACKEND=etcd3\nKINDLING_LOCK_LEASE_TTL=2\nKINDLING_PRE_REBOOT_COMMAND={hook}\n",
                etcd.url
            ),
        ),
    );
    let mut agent = spawn_agent(&node, &events, "60");
    ended(&mut agent, &node, Duration::from_secs(90));
    let log = agent_log(&node);
    assert!(node.dir.join("rebooted").exists(), "{log}");
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&at_end).unwrap()).unwrap();
    let holders = status["holders"].as_array().unwrap();
    assert!(
        holders
            .iter()
            .any(|h| h["id"] == node.machine_id().as_str() && h["alive"] == true),
        "the slot's lease did not outlive the hook: {status}\n{log}"
    );
}

/// A fleet config's reboot whose pre-reboot hook fails: no reboot, the slot back, the node
/// still `awaiting-reboot` and shown with its reboot held back in `fleet status`; the
/// reboot stays owed and happens once the hook succeeds (the daemon tries again after the
/// backoff; no window is set).
#[test]
fn a_fleet_reboot_held_back_by_its_pre_reboot_hook_stays_owed_and_is_shown() {
    use crate::fleet::{fleet, wait_status, write};
    const GROUP: &str = "held";
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let events = dir.path().join("events");
    let script = hook_script(dir.path(), &events, &etcd);
    let conf = format!(
        "GROUP=stable\nSERVER=http://127.0.0.1:9/v1/update/\nREBOOT_STRATEGY=etcd-lock\nKINDLING_FIRST_CHECK_DELAY=3600\nKINDLING_FLEET=on\nKINDLING_FLEET_GROUP={GROUP}\nKINDLING_FLEET_TTL=3\n{}",
        hook_conf(&etcd, &script, &events, "", "")
    );
    let image = crate::support::agent::usr_image(dir.path(), "1.0.0", 4);
    let node = Node::new(&dir.path().join("node"), &image, &conf, &[]);
    std::fs::write(node.root.join("etc/hostname"), "held-0\n").unwrap();
    std::fs::write(node.dir.join("pre-reboot-fail-until-allowed"), "").unwrap();
    let id = node.machine_id();
    let log = std::fs::File::create(node.dir.join("agent.log")).unwrap();
    let _agent = Guard(
        std::process::Command::new(bin())
            .args(["agent", "run", "--root", node.root.to_str().unwrap()])
            .args(["--disk", node.disk.to_str().unwrap()])
            .args(["--health-timeout", "20"])
            .args(["--reboot-command", &reboot_command(&events)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let only = |s: &serde_json::Value| -> serde_json::Value {
        let nodes = s["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 1, "{s}");
        nodes[0].clone()
    };
    let limit = Duration::from_secs(40);
    wait_status(&etcd, GROUP, "the node's record", limit, |s| {
        s["nodes"].as_array().is_some_and(|n| n.len() == 1)
    });
    let sysctl = write(
        dir.path(),
        "sysctl.yaml",
        "#cloud-config\nwrite_files:\n  - path: /etc/sysctl.d/90-fleet.conf\n    content: |\n      vm.swappiness=10\n",
    );
    assert_eq!(fleet(&etcd, GROUP, &["publish", &sysctl]).code, 0);
    let s = wait_status(&etcd, GROUP, "the reboot held back", limit, |s| {
        only(s)["reboot_held_back"].is_string()
    });
    let r = only(&s);
    assert_eq!(r["state"], "awaiting-reboot", "{s}");
    assert!(
        r["reboot_held_back"]
            .as_str()
            .unwrap()
            .starts_with("no reboot: the pre-reboot hook failed"),
        "{s}"
    );
    assert!(
        s["summary"]
            .as_str()
            .unwrap()
            .contains("1 with a reboot held back (pre-reboot hook)"),
        "{s}"
    );
    // Tried again and again, never rebooting, the slot given back each time.
    wait_until("a second failure", limit, || {
        of(&read_events(&events), &id, "pre-reboot-fail").len() >= 2
    });
    assert!(!node.rebooted(), "{}", agent_log(&node));
    wait_until("the slot back", Duration::from_secs(10), || free(&etcd));
    assert_eq!(
        of(&read_events(&events), &id, "pre-reboot-fail")[0].rest,
        "held",
        "the hook ran without the slot"
    );
    // The hook succeeds: the owed reboot happens.
    std::fs::write(node.dir.join("allow"), "").unwrap();
    wait_until("the owed reboot", limit, || node.rebooted());
    assert!(holds(&etcd, &node));
    wait_status(&etcd, GROUP, "the failure cleared", limit, |s| {
        only(s)["reboot_held_back"].is_null()
    });
}
