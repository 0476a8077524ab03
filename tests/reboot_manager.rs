//! `kindling agent reboot-manager` beside a stand-in update_engine and a logind stand-in on
//! a private dbus-daemon, on a simulated node (`--root DIR`) with a real etcd: it takes
//! update_engine's reboot-needed status as locksmithd does, waits for the lock (and the
//! window), reboots through logind, and gives its slot back after the next boot's health
//! check; other statuses, malformed signals and a missing update_engine do nothing harmful
//! and say why. Nothing here touches the machine's bus or reboots it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::agent::utc_clock;
use crate::support::bus_standins::{Bus, Logind, UpdateEngine, status};
use crate::support::lock::{Etcd, kindling, wait_until};
use crate::support::process::Guard;

const NEED_REBOOT: &str = "UPDATE_STATUS_UPDATED_NEED_REBOOT";
const SEM: &str = "/coreos.com/updateengine/rebootlock/semaphore";

/// A simulated node's root: machine id, boot id, command line, release, update.conf.
fn node_root(dir: &Path, update_conf: &str) -> PathBuf {
    let root = dir.join("root");
    for d in ["etc/coreos", "proc/sys/kernel/random", "usr/share/coreos"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(
        root.join("etc/machine-id"),
        "5eb00c0ffee0000000000000000000aa\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/coreos/update.conf"), update_conf).unwrap();
    std::fs::write(root.join("proc/cmdline"), "mount.usr=PARTUUID=x\n").unwrap();
    boot(&root, 1, "3000.0.0");
    root
}

/// A (simulated) boot: a new boot id and the running release.
fn boot(root: &Path, n: u32, version: &str) {
    std::fs::write(
        root.join("proc/sys/kernel/random/boot_id"),
        format!("00000000-0000-4000-8000-{n:012x}\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("usr/share/coreos/release"),
        format!("COREOS_RELEASE_VERSION={version}\nCOREOS_RELEASE_BOARD=amd64-usr\n"),
    )
    .unwrap();
}

/// The reboot manager on `root`, its standard error in `log` (a file: never a full pipe).
fn spawn(root: &Path, bus: &Bus, log: &Path, env: &[(&str, &str)]) -> Guard {
    let file = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kindling"));
    cmd.args(["agent", "reboot-manager", "--root"])
        .arg(root)
        .args(["--health-timeout", "20", "--retry", "1"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Guard(cmd.spawn().unwrap())
}

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

fn wait_for_line(log: &Path, needle: &str) {
    let start = std::time::Instant::now();
    while !log_text(log).contains(needle) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no {needle:?} in the log after 30 s:\n{}",
            log_text(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn waits_for_the_lock_reboots_through_logind_and_gives_the_slot_back_after_the_next_boot() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start();
    // Another node holds the only slot.
    let out = kindling(&["lock", "--endpoint", &etcd.url, "lock", "other-node"]);
    assert!(out.status.success(), "{out:?}");
    // locksmithd's configuration: update.conf says off, the environment (which wins, as
    // locksmithd's unit has it) says etcd-lock and names the endpoint; the window is open.
    let conf = format!(
        "REBOOT_STRATEGY=off\nREBOOT_WINDOW_START={}\nREBOOT_WINDOW_LENGTH=2h\n",
        utc_clock(-1)
    );
    let root = node_root(dir.path(), &conf);
    let bus = Bus::start(dir.path());
    let engine = UpdateEngine::start(&bus, status("UPDATE_STATUS_IDLE", "0.0.0"));
    let logind = Logind::start(&bus);
    let log = dir.path().join("manager.log");
    let env = [
        ("REBOOT_STRATEGY", "etcd-lock"),
        ("LOCKSMITHD_ENDPOINT", etcd.url.as_str()),
    ];
    let mut manager = spawn(&root, &bus, &log, &env);
    wait_for_line(
        &log,
        "starting: update_engine says UPDATE_STATUS_IDLE; strategy etcd-lock",
    );

    // Other statuses and malformed signals: said, nothing done.
    engine.set(status("UPDATE_STATUS_DOWNLOADING", "3100.0.0"));
    wait_for_line(&log, "nothing to do: UPDATE_STATUS_DOWNLOADING");
    engine.emit(&("only a string",));
    wait_for_line(&log, "ignored a StatusUpdate signal: 1 argument(s) \"s\"");
    engine.emit(&(0i64, 0.0f64, NEED_REBOOT));
    wait_for_line(&log, "3 argument(s) \"xds\"; a status has five");
    engine.emit(&(1i32, 0.0f64, NEED_REBOOT, "3100.0.0", 0i64));
    wait_for_line(&log, "are not a status (x d s s x)");
    assert!(logind.reboots().is_empty(), "{}", log_text(&log));

    // Reboot needed: the window is open, the lock is not free yet.
    engine.set(status(NEED_REBOOT, "3100.0.0"));
    wait_for_line(&log, "taking the reboot lock");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        logind.reboots().is_empty(),
        "rebooted without the lock: {}",
        log_text(&log)
    );
    let out = kindling(&["lock", "--endpoint", &etcd.url, "unlock", "other-node"]);
    assert!(out.status.success(), "{out:?}");
    wait_until("Reboot on logind", Duration::from_secs(30), || {
        !logind.reboots().is_empty()
    });
    assert_eq!(
        logind.reboots(),
        vec![false],
        "Reboot(false), as locksmithd"
    );
    let held = etcd.v2_value(SEM).unwrap();
    assert!(
        held.contains("5eb00c0ffee0000000000000000000aa") && held.contains("\"semaphore\":0"),
        "the slot is held across the reboot: {held}"
    );
    wait_for_line(&log, "reboot sent; waiting for the reboot");
    manager.terminate();

    // The next boot: the new release runs, update_engine is idle again.
    boot(&root, 2, "3100.0.0");
    *engine.status.lock().unwrap() = status("UPDATE_STATUS_IDLE", "0.0.0");
    let log2 = dir.path().join("manager2.log");
    let _manager = spawn(&root, &bus, &log2, &env);
    wait_for_line(&log2, "gave the reboot slot back");
    let text = log_text(&log2);
    assert!(text.contains("health check passed"), "{text}");
    assert!(text.contains("rebooted for 3100.0.0"), "{text}");
    let sem = etcd.v2_value(SEM).unwrap();
    assert!(
        sem.contains("\"semaphore\":1") && !sem.contains("5eb00c0ffee"),
        "the slot is back: {sem}"
    );
    wait_for_line(&log2, "starting: update_engine says UPDATE_STATUS_IDLE");
    assert_eq!(logind.reboots().len(), 1, "{text}");
}

#[test]
fn a_closed_window_means_no_reboot() {
    let dir = tempfile::tempdir().unwrap();
    let conf = format!(
        "REBOOT_STRATEGY=reboot\nLOCKSMITHD_REBOOT_WINDOW_START={}\nLOCKSMITHD_REBOOT_WINDOW_LENGTH=1h\n",
        utc_clock(3)
    );
    let root = node_root(dir.path(), &conf);
    let bus = Bus::start(dir.path());
    // update_engine already staged a release when the reboot manager starts.
    let _engine = UpdateEngine::start(&bus, status(NEED_REBOOT, "3100.0.0"));
    let logind = Logind::start(&bus);
    let log = dir.path().join("manager.log");
    let _manager = spawn(&root, &bus, &log, &[]);
    wait_for_line(&log, "waiting");
    std::thread::sleep(Duration::from_millis(1000));
    let text = log_text(&log);
    assert!(text.contains("reboot window is"), "{text}");
    assert!(logind.reboots().is_empty(), "{text}");
}

#[test]
fn no_update_engine_or_no_bus_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = node_root(dir.path(), "REBOOT_STRATEGY=reboot\n");
    let bus = Bus::start(dir.path());
    let logind = Logind::start(&bus);
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args([
            "agent",
            "reboot-manager",
            "--update-engine-wait",
            "1",
            "--root",
        ])
        .arg(&root)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("update_engine is not on unix:path=")
            && stderr.contains("com.coreos.update1"),
        "{stderr}"
    );
    assert!(logind.reboots().is_empty());
    // A simulated node with no bus named never falls back to the machine's bus.
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["agent", "reboot-manager", "--root"])
        .arg(&root)
        .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no D-Bus to use"), "{stderr}");
}

#[test]
fn strategy_off_exits_before_the_bus_and_a_lone_window_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = node_root(dir.path(), "REBOOT_STRATEGY=reboot\n");
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kindling"));
        cmd.args(["agent", "reboot-manager", "--root"])
            .arg(&root)
            .env_remove("DBUS_SYSTEM_BUS_ADDRESS");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stderr) = run(&[("REBOOT_STRATEGY", "off")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("REBOOT_STRATEGY=off"), "{stderr}");
    let (code, stderr) = run(&[("REBOOT_STRATEGY", "sometimes")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("sometimes"), "{stderr}");
    // One window key without the other is refused at start, as in locksmithd.
    let (code, stderr) = run(&[("LOCKSMITHD_REBOOT_WINDOW_START", "04:00")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("REBOOT_WINDOW_LENGTH is not"), "{stderr}");
}

#[test]
fn agent_reboot_manager_compiles_to_locksmithd_masked_and_the_manager_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let example = crate::support::common::root().join("examples/reboot-manager.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["compile", "--out"])
        .arg(&tree)
        .arg(&example)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let unit =
        std::fs::read_to_string(tree.join("etc/systemd/system/kindling-reboot-manager.service"))
            .unwrap();
    assert!(
        unit.contains("ExecStart=/opt/bin/kindling agent reboot-manager\n"),
        "{unit}"
    );
    assert_eq!(
        std::fs::read_link(tree.join("etc/systemd/system/locksmithd.service")).unwrap(),
        Path::new("/dev/null")
    );
    // update-engine keeps updating: never masked.
    assert!(
        !tree
            .join("etc/systemd/system/update-engine.service")
            .exists()
    );
    let manifest = std::fs::read_to_string(tree.join("kindling-plan.json")).unwrap();
    assert!(
        manifest.contains("\"unit\": \"kindling-reboot-manager.service\""),
        "{manifest}"
    );
    // validate says what the choice does.
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["validate", "--format", "json"])
        .arg(&example)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("kindling::update::reboot-manager") && text.contains("replaces locksmithd"),
        "{text}"
    );
}

/// With the reboot manager a maintenance window is its own window check, as with the agent:
/// the calendar goes to update.conf (read by `Window::from_settings`), and no timer runs
/// `lock reboot` once.
#[test]
fn a_maintenance_window_with_the_reboot_manager_is_its_window_check_not_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "#cloud-config\ncoreos:\n  update:\n    agent: reboot-manager\n    reboot_strategy: etcd-lock\n    maintenance-window:\n      calendar: \"Sat *-*-* 03:00\"\n      length: 2h\n  locksmith:\n    endpoint: http://127.0.0.1:2379\n",
    )
    .unwrap();
    let tree = dir.path().join("tree");
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["compile", "--out"])
        .arg(&tree)
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let conf = std::fs::read_to_string(tree.join("etc/coreos/update.conf")).unwrap();
    assert!(
        conf.contains("KINDLING_MAINTENANCE_WINDOW=Sat *-*-* 03:00\n")
            && conf.contains("KINDLING_MAINTENANCE_WINDOW_LENGTH=7200\n")
            && conf.contains("REBOOT_STRATEGY=etcd-lock\n"),
        "{conf}"
    );
    for unit in ["update-window.timer", "update-window.service"] {
        assert!(
            !tree.join("etc/systemd/system").join(unit).exists(),
            "{unit} is generated beside the reboot manager"
        );
    }
    assert!(
        tree.join("etc/systemd/system/kindling-reboot-manager.service")
            .exists()
    );
}

#[test]
fn an_unhealthy_boot_keeps_the_slot_until_a_healthy_start() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start();
    let conf = format!(
        "REBOOT_STRATEGY=etcd-lock\nLOCKSMITHD_ENDPOINT={}\nKINDLING_HEALTH_COMMAND=test -e \"$KINDLING_ROOT/healthy\"\n",
        etcd.url
    );
    let root = node_root(dir.path(), &conf);
    std::fs::write(root.join("healthy"), "").unwrap();
    let bus = Bus::start(dir.path());
    // update_engine staged a release before the reboot manager started.
    let engine = UpdateEngine::start(&bus, status(NEED_REBOOT, "3100.0.0"));
    let logind = Logind::start(&bus);
    let log = dir.path().join("manager.log");
    let mut manager = spawn(&root, &bus, &log, &[]);
    wait_for_line(&log, "reboot sent; waiting for the reboot");
    assert_eq!(logind.reboots(), vec![false]);
    manager.terminate();

    // The next boot is not healthy: the slot stays held, nothing else happens.
    std::fs::remove_file(root.join("healthy")).unwrap();
    boot(&root, 2, "3100.0.0");
    *engine.status.lock().unwrap() = status("UPDATE_STATUS_IDLE", "0.0.0");
    let log2 = dir.path().join("manager2.log");
    let mut manager = spawn(&root, &bus, &log2, &[]);
    wait_for_line(&log2, "this boot is not healthy");
    wait_for_line(&log2, "starting: update_engine says UPDATE_STATUS_IDLE");
    let sem = etcd.v2_value(SEM).unwrap();
    assert!(sem.contains("5eb00c0ffee"), "the slot stays held: {sem}");
    manager.terminate();

    // Healthy at the next start: the slot is given back.
    std::fs::write(root.join("healthy"), "").unwrap();
    let log3 = dir.path().join("manager3.log");
    let _manager = spawn(&root, &bus, &log3, &[]);
    wait_for_line(&log3, "gave the reboot slot back");
    let sem = etcd.v2_value(SEM).unwrap();
    assert!(
        sem.contains("\"semaphore\":1") && !sem.contains("5eb00c0ffee"),
        "the slot is back: {sem}"
    );
    assert_eq!(logind.reboots().len(), 1);
}

/// The reboot hooks in the reboot manager: a pre-reboot hook that fails once means no
/// reboot through logind and the slot given back, then the retry (after the backoff, no
/// window set) reboots; on the next boot the post-boot hook runs after the health check and
/// before the slot is given back.
#[test]
fn the_reboot_hooks_run_around_the_logind_reboot() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start();
    let events = dir.path().join("events");
    let note = |what: &str| {
        format!(
            "echo \"$(date +%s.%N) {what} $KINDLING_HOOK [$KINDLING_REBOOT_REASON] $KINDLING_MACHINE_ID\" >> {}",
            events.display()
        )
    };
    let conf = format!(
        "REBOOT_STRATEGY=etcd-lock\nLOCKSMITHD_ENDPOINT={url}\nKINDLING_MAX_BACKOFF=1\n\
KINDLING_PRE_REBOOT_COMMAND=/bin/sh -c 'n=$(cat \"$KINDLING_ROOT/../pre-runs\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$KINDLING_ROOT/../pre-runs\"; {pre}; [ $n -ge 2 ]'\n\
KINDLING_POST_BOOT_COMMAND=/bin/sh -c '{post}'\n\
KINDLING_HEALTH_COMMAND=echo \"$(date +%s.%N) health\" >> {events}\n",
        url = etcd.url,
        pre = note("pre"),
        post = note("post"),
        events = events.display(),
    );
    let root = node_root(dir.path(), &conf);
    let bus = Bus::start(dir.path());
    let engine = UpdateEngine::start(&bus, status("UPDATE_STATUS_IDLE", "0.0.0"));
    let logind = Logind::start(&bus);
    let log = dir.path().join("manager.log");
    let mut manager = spawn(&root, &bus, &log, &[]);
    wait_for_line(&log, "starting: update_engine says UPDATE_STATUS_IDLE");
    engine.set(status(NEED_REBOOT, "3100.0.0"));
    wait_until("Reboot on logind", Duration::from_secs(30), || {
        !logind.reboots().is_empty()
    });
    wait_for_line(&log, "reboot sent; waiting for the reboot");
    manager.terminate();
    let text = log_text(&log);
    let failed = text
        .find("no reboot: the pre-reboot hook failed")
        .unwrap_or_else(|| panic!("{text}"));
    let given_back = text.find("gave the reboot slot back").unwrap();
    let retaken = text.rfind("taking the reboot lock").unwrap();
    let succeeded = text.find("the pre-reboot hook succeeded").unwrap();
    let logind_asked = text.find("rebooting through logind").unwrap();
    assert!(
        given_back < failed && failed < retaken && retaken < succeeded && succeeded < logind_asked,
        "{text}"
    );
    assert_eq!(logind.reboots().len(), 1, "{text}");
    let held = etcd.v2_value(SEM).unwrap();
    assert!(
        held.contains("5eb00c0ffee"),
        "held across the reboot: {held}"
    );
    let lines = std::fs::read_to_string(&events).unwrap();
    assert_eq!(
        lines
            .matches(" pre pre-reboot [update to 3100.0.0] 5eb00c0ffee0000000000000000000aa")
            .count(),
        2,
        "{lines}"
    );

    // The next boot: health check, post-boot hook, slot given back.
    boot(&root, 2, "3100.0.0");
    *engine.status.lock().unwrap() = status("UPDATE_STATUS_IDLE", "0.0.0");
    let log2 = dir.path().join("manager2.log");
    let _manager = spawn(&root, &bus, &log2, &[]);
    wait_for_line(&log2, "gave the reboot slot back");
    let text = log_text(&log2);
    let post = text.find("running the post-boot hook").unwrap();
    assert!(
        post < text.find("gave the reboot slot back").unwrap(),
        "{text}"
    );
    let lines = std::fs::read_to_string(&events).unwrap();
    let health = lines.rfind(" health\n").unwrap();
    let post = lines.find(" post post-boot").unwrap();
    assert!(health < post, "{lines}");
    let sem = etcd.v2_value(SEM).unwrap();
    assert!(!sem.contains("5eb00c0ffee"), "the slot is back: {sem}");
}
