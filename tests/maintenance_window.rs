//! The maintenance window end to end: calendar repetitions against the real
//! `systemd-analyze calendar --iterations`, the compiled `maintenance-window:` recipe on
//! simulated nodes sharing one reboot slot on a real etcd, and every reboot path giving its
//! slot back after the next boot.

use std::process::Command;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kindling::reboot::Window;

/// `systemd-analyze calendar --iterations=n` in UTC after `base`: the elapses as printed
/// (whole seconds).
fn systemd_iterations(expr: &str, base: Timestamp, n: usize) -> Vec<String> {
    let out = Command::new("systemd-analyze")
        .env("TZ", "UTC")
        .env("SYSTEMD_COLORS", "0")
        .arg("calendar")
        .arg(format!("--iterations={n}"))
        .arg(format!("--base-time=@{}", base.as_second()))
        .arg(expr)
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze is needed (scripts/test installs systemd): {e}")
        });
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("Next elapse: ").or_else(|| {
                l.strip_prefix("Iter. #")
                    .and_then(|rest| rest.split_once(": ").map(|(_, t)| t))
            })
        })
        .map(str::to_string)
        .collect()
}

/// Our elapses of `expr` after `base` (strictly after, as systemd's), `n` of them.
fn our_iterations(expr: &str, base: Timestamp, n: usize) -> Vec<String> {
    let w = Window::calendar(expr, SignedDuration::ZERO, TimeZone::UTC).unwrap();
    let mut out = Vec::new();
    let mut after = base;
    while out.len() < n {
        let from = after.checked_add(SignedDuration::from_micros(1)).unwrap();
        let Some((start, _)) = w.next_open(from) else {
            break;
        };
        out.push(
            start
                .timestamp()
                .to_zoned_datetime(TimeZone::UTC)
                .strftime("%a %F %T UTC")
                .to_string(),
        );
        after = start.timestamp();
    }
    out
}

#[test]
fn second_repetitions_match_systemd_analyze_iterations() {
    let base: Timestamp = "2026-03-01T23:59:00Z".parse().unwrap();
    let exprs = [
        "*-*-* 00:00:00/30",
        "*-*-* 00:00:10/7",
        "*-*-* 00:00:00.5/20",
        "*-*-* 00:00:05..40/15",
        "*-*-* 00:00/20:00/45",
        "*-*-* 00:*:00/20",
        "*:0/30:0/15",
        "minutely",
        "*:*:*",
        "*-*-* 00:00:*",
    ];
    for expr in exprs {
        let theirs = systemd_iterations(expr, base, 10);
        assert_eq!(theirs.len(), 10, "{expr}: {theirs:?}");
        assert_eq!(our_iterations(expr, base, 10), theirs, "{expr}");
    }
}

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::agent_reboot::locksmithctl;
use crate::support::agent::{Guard, Node, Out, Release, bin, kindling, run, update_conf};
use crate::support::lock::{Etcd, wait_until};

/// The reboot command of a simulated node: note the instant (Unix seconds with
/// nanoseconds) in `rebooted` beside the root.
const RECORD_REBOOT: &str = "date -u +%s.%N > \"$KINDLING_ROOT/../rebooted\"";

/// When the node's reboot command ran, if it did.
fn rebooted_at(node: &Node) -> Option<Timestamp> {
    let text = std::fs::read_to_string(node.dir.join("rebooted")).ok()?;
    let (secs, nanos) = text.trim().split_once('.')?;
    Timestamp::new(secs.parse().ok()?, nanos.parse().ok()?).ok()
}

/// `kindling agent run --once` on `node` in the background, rebooting with
/// [`RECORD_REBOOT`], waiting up to `wait` seconds for the window and the lock; its
/// standard error goes to `agent.log` beside the root.
fn spawn_agent(node: &Node, wait: &str) -> Guard {
    let mut args = node.agent_args();
    let at = args.iter().position(|a| *a == "--reboot-command").unwrap();
    args[at + 1] = RECORD_REBOOT;
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

/// Compile `config` and apply it to `node`'s root, as on the node.
fn apply(dir: &Path, node: &Node, config: &str) {
    let file = dir.join("config.yaml");
    std::fs::write(&file, config).unwrap();
    let out = kindling(&[
        "apply",
        "--root",
        node.root.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "apply: {}{}", out.stdout, out.stderr);
}

/// A maintenance window open now: from the start of the current UTC minute, for ten
/// minutes (`*-*-* HH:MM:00 UTC` + `10min`); its start and end.
fn window_open_now() -> (String, Timestamp, Timestamp) {
    let now = Timestamp::now().to_zoned_datetime(TimeZone::UTC);
    let start = now
        .datetime()
        .with()
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .unwrap()
        .to_zoned_datetime(TimeZone::UTC)
        .unwrap()
        .timestamp();
    let calendar = format!("*-*-* {:02}:{:02}:00 UTC", now.hour(), now.minute());
    (
        calendar,
        start,
        start.checked_add(SignedDuration::from_mins(10)).unwrap(),
    )
}

/// The compiled `maintenance-window:` recipe with the kindling agent on three simulated
/// nodes sharing one slot of a real etcd (v2, locksmith's semaphore): each reboots inside
/// the window, one at a time (the others wait for the slot by watch), each gives its slot
/// back after its next boot's health check, and the semaphore is full again at the end
/// (as the real locksmithctl sees it).
#[test]
fn three_nodes_one_slot_reboot_in_turn_inside_the_window() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let release = Release::publish(dir.path(), 4);
    let url = &release.server.url;
    let (calendar, opens, closes) = window_open_now();
    let config = format!(
        "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    group: stable\n    server: {url}\n    reboot-strategy: etcd-lock\n    maintenance-window:\n      calendar: \"{calendar}\"\n      length: 10min\n  locksmith:\n    endpoint: {}\n",
        etcd.url
    );
    let mut nodes: Vec<Node> = (1..=3)
        .map(|i| {
            let node = release.node_at(
                &dir.path().join(format!("node{i}")),
                &update_conf(url, "off", ""),
            );
            apply(dir.path(), &node, &config);
            node
        })
        .collect();
    let conf = std::fs::read_to_string(nodes[0].root.join("etc/coreos/update.conf")).unwrap();
    assert!(
        conf.contains(&format!("KINDLING_MAINTENANCE_WINDOW={calendar}\n"))
            && conf.contains("KINDLING_MAINTENANCE_WINDOW_LENGTH=600\n")
            && conf.contains("REBOOT_STRATEGY=etcd-lock\n"),
        "{conf}"
    );
    assert!(!nodes[0].root.join("opt/bin/update-window.sh").exists());

    let mut agents: Vec<Option<Guard>> =
        nodes.iter().map(|n| Some(spawn_agent(n, "240"))).collect();
    let mut order = Vec::new();
    for turn in 0..3 {
        // The next reboot: exactly one node that has not rebooted yet.
        let mut found = None;
        wait_until(
            &format!("reboot #{}", turn + 1),
            Duration::from_secs(180),
            || {
                found = (0..3).find(|i| !order.contains(i) && rebooted_at(&nodes[*i]).is_some());
                found.is_some()
            },
        );
        let i = found.unwrap();
        let at = rebooted_at(&nodes[i]).unwrap();
        assert!(
            opens <= at && at <= closes,
            "node{} rebooted at {at}, outside the window {opens} .. {closes}",
            i + 1
        );
        // It holds the only slot; the others still wait for it (no second reboot).
        let status = locksmithctl(&etcd, &["status"]);
        assert!(
            status.stdout.starts_with("Available: 0\nMax: 1\n")
                && status.stdout.contains(&nodes[i].machine_id()),
            "{}",
            status.stdout
        );
        std::thread::sleep(Duration::from_millis(500));
        for j in (0..3).filter(|j| *j != i && !order.contains(j)) {
            assert!(
                rebooted_at(&nodes[j]).is_none(),
                "node{} rebooted while node{} held the only slot",
                j + 1,
                i + 1
            );
        }
        // Its agent ended with the reboot; the node comes back on the new release, and the
        // agent's after-boot step gives the slot back after the health check.
        let mut agent = agents[i].take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent.0.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "node{}'s agent did not end",
                i + 1
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            agent_log(&nodes[i]).contains("taking the reboot lock"),
            "{}",
            agent_log(&nodes[i])
        );
        assert_eq!(nodes[i].boot(), "1.0.1");
        let out = nodes[i].agent_once();
        assert!(
            out.stderr.contains("gave the reboot slot back"),
            "node{}: {}",
            i + 1,
            out.stderr
        );
        order.push(i);
    }
    // Everyone rebooted once, in turn, and the semaphore is full again.
    let mut times: Vec<Timestamp> = order
        .iter()
        .map(|i| rebooted_at(&nodes[*i]).unwrap())
        .collect();
    let sorted = {
        let mut t = times.clone();
        t.sort();
        t
    };
    assert_eq!(times, sorted);
    times.dedup();
    assert_eq!(times.len(), 3);
    let status = locksmithctl(&etcd, &["status"]);
    assert_eq!(status.stdout, "Available: 1\nMax: 1\n", "{}", status.stderr);
    for node in &mut nodes {
        assert_eq!(node.running(), "1.0.1");
        assert!(!node.root.join(kindling::lock::HELD_SLOT_FILE).exists());
    }
}

/// A maintenance window that is not open now keeps the agent from rebooting (and from
/// taking the slot): the agent reads the compiled window, not a timer.
#[test]
fn a_closed_maintenance_window_means_no_reboot_and_no_slot_taken() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let release = Release::publish(dir.path(), 4);
    let url = &release.server.url;
    // Open for a minute, starting 30 minutes from now: closed now.
    let later = Timestamp::now()
        .checked_add(SignedDuration::from_mins(30))
        .unwrap()
        .to_zoned_datetime(TimeZone::UTC);
    let config = format!(
        "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    server: {url}\n    reboot-strategy: etcd-lock\n    maintenance-window:\n      calendar: \"*-*-* {:02}:{:02}:00 UTC\"\n      length: 1min\n  locksmith:\n    endpoint: {}\n",
        later.hour(),
        later.minute(),
        etcd.url
    );
    let node = release.node(dir.path(), &update_conf(url, "off", ""));
    apply(dir.path(), &node, &config);
    let mut agent = spawn_agent(&node, "2");
    let deadline = Instant::now() + Duration::from_secs(120);
    while agent.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the agent did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = agent_log(&node);
    assert!(rebooted_at(&node).is_none(), "{log}");
    assert!(log.contains("is closed; still waiting"), "{log}");
    let status = locksmithctl(&etcd, &["status"]);
    assert_eq!(status.stdout, "Available: 1\nMax: 1\n", "{}", status.stderr);
}

/// `kindling lock ARGS` (the test's global flags first).
fn klock(args: &[&str]) -> Out {
    let mut all = vec!["lock"];
    all.extend_from_slice(args);
    kindling(&all)
}

/// `kindling lock reboot` takes the slot and records it on the node; an agent run in the
/// same boot leaves it (the reboot has not happened); after the next boot the agent gives
/// it back once the boot was judged healthy, on the backend the record names.
fn lock_reboot_slot_is_given_back_after_the_healthy_boot(
    lock_flags: &[&str],
    holders: &dyn Fn() -> String,
) {
    let dir = tempfile::tempdir().unwrap();
    let release = Release::publish(dir.path(), 4);
    let mut node = release.node(dir.path(), &update_conf(&release.server.url, "off", ""));
    let marker = node.dir.join("rebooted");
    let command = format!("touch {}", marker.display());
    let mut args = lock_flags.to_vec();
    let root = node.root.to_str().unwrap().to_string();
    args.extend_from_slice(&["--root", &root, "reboot", "--reboot-command", &command]);
    let out = klock(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(marker.exists());
    let id = node.machine_id();
    assert!(holders().contains(&id), "{}", holders());
    let record = std::fs::read_to_string(node.root.join(kindling::lock::HELD_SLOT_FILE)).unwrap();
    assert!(
        record.contains("\"taken_by\": \"kindling lock reboot\""),
        "{record}"
    );

    // The same boot: the reboot has not happened, the slot stays.
    let out = node.agent_once();
    assert!(
        !out.stderr.contains("gave the reboot slot back"),
        "{}",
        out.stderr
    );
    assert!(holders().contains(&id), "{}", holders());

    // The next boot, healthy: given back, the record gone.
    node.boot();
    let out = node.agent_once();
    assert!(
        out.stderr
            .contains("gave the reboot slot back (taken by kindling lock reboot)"),
        "{}",
        out.stderr
    );
    assert!(!holders().contains(&id), "{}", holders());
    assert!(!node.root.join(kindling::lock::HELD_SLOT_FILE).exists());
}

#[test]
fn lock_reboot_slot_is_given_back_after_the_healthy_boot_on_etcd_v2() {
    let etcd = Etcd::start();
    let holders = || {
        let out = locksmithctl(&etcd, &["status"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    lock_reboot_slot_is_given_back_after_the_healthy_boot(&["--endpoint", &etcd.url], &holders);
    assert_eq!(holders(), "Available: 1\nMax: 1\n");
}

#[test]
fn lock_reboot_slot_is_given_back_after_the_healthy_boot_on_etcd_v3() {
    let etcd = Etcd::start();
    let key = kindling::lock::etcd3_semaphore_key("default");
    let holders = || {
        let out = etcd.etcdctl(&["get", "--print-value-only", &key]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    lock_reboot_slot_is_given_back_after_the_healthy_boot(
        &["--backend", "etcd3", "--endpoint", &etcd.url],
        &holders,
    );
    let value: serde_json::Value = serde_json::from_str(&holders()).unwrap();
    assert_eq!(value["semaphore"], value["max"], "{value}");
}

#[test]
fn lock_reboot_slot_is_given_back_after_the_healthy_boot_on_fleetlock() {
    let etcd = Etcd::start();
    let (_serve, url) = crate::lock::serve(&etcd, &[]);
    let holders = || {
        let out = klock(&["--backend", "etcd3", "--endpoint", &etcd.url, "status"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    lock_reboot_slot_is_given_back_after_the_healthy_boot(
        &["--backend", "fleetlock", "--endpoint", &url],
        &holders,
    );
    assert!(holders().starts_with("Available: 1\n"), "{}", holders());
}

/// An etcd on fixed ports and data directory that the test stops and starts again.
struct RestartableEtcd {
    url: String,
    client: u16,
    peer: u16,
    data: std::path::PathBuf,
    proc: Option<crate::support::lock::Proc>,
    _dir: tempfile::TempDir,
}

impl RestartableEtcd {
    fn start() -> RestartableEtcd {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let client = crate::support::lock::free_port();
        let peer = crate::support::lock::free_port();
        let mut etcd = RestartableEtcd {
            url: format!("http://127.0.0.1:{client}"),
            client,
            peer,
            data: dir.path().join("data"),
            proc: None,
            _dir: dir,
        };
        etcd.up();
        etcd
    }

    fn up(&mut self) {
        let program = std::env::var_os("PATH")
            .and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("etcd"))
                    .find(|p| p.is_file())
            })
            .expect("etcd is not installed: scripts/test installs it (Debian package etcd-server)");
        self.proc = Some(crate::support::lock::Proc::spawn(
            "etcd",
            &mut crate::support::lock::etcd_command(
                &program,
                "kindling-test",
                &self.data,
                self.client,
                self.peer,
            ),
        ));
        let url = self.url.clone();
        wait_until("etcd to be healthy", Duration::from_secs(20), || {
            crate::support::lock::healthy(&url)
        });
    }

    fn down(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }
}

fn sigterm(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The exit code of `child`, waited for at most `limit`.
fn exit_within(child: &mut Guard, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `kindling lock --hold`: told to stop while etcd is down, it keeps trying to give the
/// slot back (bounded backoff) and succeeds when etcd returns; a second SIGTERM while it
/// retries makes it give up, with locksmithctl's error.
#[test]
fn lock_hold_retries_its_release_while_etcd_is_down() {
    let mut etcd = RestartableEtcd::start();
    let url = etcd.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let hold = |id: &str| {
        let log = std::fs::File::create(dir.path().join(format!("{id}.log"))).unwrap();
        Guard(
            std::process::Command::new(bin())
                .args(["lock", "--endpoint", &url, "lock", id, "--hold"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let log = |id: &str| std::fs::read_to_string(dir.path().join(format!("{id}.log"))).unwrap();
    let status = |url: &str| {
        let peer = crate::support::common::root().join("../shared/peers/locksmithctl");
        assert!(peer.is_file(), "{} is missing", peer.display());
        run(
            peer.to_str().unwrap(),
            &[&format!("--endpoint={url}"), "status"],
        )
        .stdout
    };

    // 1. Released once etcd is back.
    let mut holder = hold("m1");
    wait_until("m1 to hold the slot", Duration::from_secs(20), || {
        status(&url).contains("m1")
    });
    etcd.down();
    sigterm(&holder.0);
    wait_until("a retried release", Duration::from_secs(20), || {
        log("m1").contains("retrying in")
    });
    assert_eq!(
        exit_within(&mut holder, Duration::from_secs(3)),
        None,
        "{}",
        log("m1")
    );
    etcd.up();
    // The backoff doubles from 1 s up to 30 s: a few attempts fit in this bound.
    assert_eq!(
        exit_within(&mut holder, Duration::from_secs(45)),
        Some(0),
        "{}",
        log("m1")
    );
    assert_eq!(status(&url), "Available: 1\nMax: 1\n");

    // 2. Told to stop again while retrying: it gives up, saying why.
    let mut holder = hold("m2");
    wait_until("m2 to hold the slot", Duration::from_secs(20), || {
        status(&url).contains("m2")
    });
    etcd.down();
    sigterm(&holder.0);
    wait_until("a retried release", Duration::from_secs(20), || {
        log("m2").contains("retrying in")
    });
    sigterm(&holder.0);
    assert_eq!(
        exit_within(&mut holder, Duration::from_secs(10)),
        Some(1),
        "{}",
        log("m2")
    );
    assert!(
        log("m2").contains("Error initializing etcd client"),
        "{}",
        log("m2")
    );
    etcd.up();
    assert!(
        status(&url).contains("m2"),
        "the slot stays with the holder that gave up"
    );
}

/// A node that keeps update_engine: the compiled recipe's script, run as its timer would
/// with stand-ins for `update_engine_client` (an update is staged) and `systemctl` (etcd
/// runs here), and kindling installed as `locksmithctl` on the node's root.
struct ScriptNode {
    dir: tempfile::TempDir,
}

impl ScriptNode {
    fn new(id: &str) -> ScriptNode {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("root/etc")).unwrap();
        std::fs::write(dir.path().join("root/etc/machine-id"), format!("{id}\n")).unwrap();
        ScriptNode { dir }
    }

    /// Run the script (`arg`: none for the timer's run, `release` for the boot unit's).
    fn run(&self, script: &Path, stubs: &Path, etcd: &str, arg: Option<&str>) -> Out {
        let path = format!(
            "{}:{}",
            stubs.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let marker = self.dir.path().join("rebooted");
        let out = std::process::Command::new("bash")
            .arg(script)
            .args(arg)
            .env("PATH", path)
            .env("LOCKSMITHCTL_ENDPOINT", etcd)
            .env("KINDLING_ROOT", self.dir.path().join("root"))
            .env(
                "KINDLING_REBOOT_COMMAND",
                format!("touch {}", marker.display()),
            )
            .env("UPDATE_WINDOW_HELD", self.dir.path().join("lock-held"))
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    fn rebooted(&self) -> bool {
        self.dir.path().join("rebooted").exists()
    }

    fn holds_marker(&self) -> bool {
        self.dir.path().join("lock-held").exists()
    }
}

/// The maintenance-window recipe for nodes that keep update_engine, on three nodes and one
/// slot (etcd v2): at each elapse of the timer one node takes the slot and reboots; the
/// release unit at its next boot gives the slot back (locksmithctl reboot never did), so the
/// next elapse lets the next node through; the semaphore is full at the end.
#[test]
fn the_update_engine_recipe_gives_the_slot_back_at_the_next_boot() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "#cloud-config\ncoreos:\n  update:\n    maintenance-window:\n      calendar: \"*-*-* 05:00\"\n      random-delay: 0\n",
    )
    .unwrap();
    let tree = dir.path().join("tree");
    let out = kindling(&[
        "compile",
        config.to_str().unwrap(),
        "--out",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let script = tree.join("opt/bin/update-window.sh");
    let unit =
        std::fs::read_to_string(tree.join("run/systemd/system/update-window-release.service"))
            .unwrap();
    assert!(
        unit.contains("ExecStart=/opt/bin/update-window.sh release"),
        "{unit}"
    );
    // The stand-ins, and kindling as locksmithctl.
    let stubs = dir.path().join("bin");
    std::fs::create_dir_all(&stubs).unwrap();
    for (name, body) in [
        (
            "update_engine_client",
            "echo CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT",
        ),
        ("systemctl", "[ \"$1\" = is-active ]"),
    ] {
        let path = stubs.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }
    crate::support::lock::kindling_as_locksmithctl(&stubs);
    let nodes: Vec<ScriptNode> = (1..=3)
        .map(|i| ScriptNode::new(&format!("node-{i}")))
        .collect();
    let mut rebooted = Vec::new();
    for elapse in 0..3 {
        // The timer elapses on every node that has not rebooted: exactly one gets the slot.
        for (i, node) in nodes.iter().enumerate() {
            if !rebooted.contains(&i) {
                node.run(&script, &stubs, &etcd.url, None);
            }
        }
        let now: Vec<usize> = (0..3)
            .filter(|i| !rebooted.contains(i) && nodes[*i].rebooted())
            .collect();
        assert_eq!(now.len(), 1, "elapse {elapse}: {now:?} rebooted");
        let i = now[0];
        let status = locksmithctl(&etcd, &["status"]);
        assert!(
            status.stdout.contains(&format!("node-{}", i + 1)),
            "{}",
            status.stdout
        );
        // Its next boot: the release unit gives the slot back.
        assert!(nodes[i].holds_marker());
        let out = nodes[i].run(&script, &stubs, &etcd.url, Some("release"));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!nodes[i].holds_marker());
        rebooted.push(i);
    }
    let status = locksmithctl(&etcd, &["status"]);
    assert_eq!(status.stdout, "Available: 1\nMax: 1\n", "{}", status.stderr);
    // A boot with nothing taken does nothing.
    let out = nodes[0].run(&script, &stubs, &etcd.url, Some("release"));
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
}
