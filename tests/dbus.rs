//! update_engine's D-Bus interface served by the agent, on a private `dbus-daemon` with a
//! system bus's policy and kindling's shipped `com.coreos.update1.conf` (`support::dbus`):
//! `GetStatus` answers `xdssx`, a `StatusUpdate` comes for every transition of a real update
//! (a simulated node, kindling's update server), `AttemptUpdate` starts it and `ResetStatus`
//! undoes it; `update_engine_client -status` answers over the bus; and the real locksmithd
//! (`../shared/peers/locksmithd`, in its own mount namespace) hears kindling's
//! UPDATE_STATUS_UPDATED_NEED_REBOOT, takes the etcd v2 lock and calls `Reboot` on the
//! test's logind stand-in.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::agent::{Guard, Node, Release, run_env, update_conf};
use crate::support::dbus::{Bus, Login1, Signals, Wire, call, get_status, wait_for_update1};
use crate::support::lock::{Etcd, rt};

/// A node of `release` whose agent checks only when asked (first check in an hour) and
/// never reboots by itself (`REBOOT_STRATEGY=off`: a reboot manager on the bus does).
fn node(dir: &Path, release: &Release) -> Node {
    release.node(
        dir,
        &update_conf(
            &release.server.url,
            "off",
            "KINDLING_FIRST_CHECK_DELAY=3600\n",
        ),
    )
}

/// The agent daemon serving the bus (`--bus`), its standard error in `node.dir/agent.log`.
fn agent(node: &Node, bus: &Bus) -> Guard {
    let log = std::fs::File::create(node.dir.join("agent.log")).unwrap();
    Guard(
        crate::fleet::agent_daemon(node)
            .args(["--bus", &bus.address])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// A test's world: a private bus, a published release, a node of it (its agent not
/// started), a runtime and a client connection on the bus. Dropped in this order.
struct Scene {
    conn: zbus::Connection,
    rt: tokio::runtime::Runtime,
    node: Node,
    release: Release,
    bus: Bus,
    dir: tempfile::TempDir,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let bus = Bus::start(&dir.path().join("dbus"));
    let release = Release::publish(dir.path(), 4);
    let node = node(dir.path(), &release);
    let rt = rt();
    let conn = rt.block_on(bus.connect());
    Scene {
        conn,
        rt,
        node,
        release,
        bus,
        dir,
    }
}

fn agent_log(node: &Node) -> String {
    std::fs::read_to_string(node.dir.join("agent.log")).unwrap_or_default()
}

/// Wait (bounded) until `signals` saw `operation`.
async fn wait_for_signal(signals: &Signals, operation: &str, node: &Node) -> Wire {
    let start = Instant::now();
    loop {
        if let Some((_, w)) = signals
            .0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(_, w)| w.2 == operation)
        {
            return w.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no StatusUpdate {operation} within 90 s; seen {:?}\nagent:\n{}",
            signals.operations(),
            agent_log(node)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// kindling under the name `update_engine_client` (a symlink in `dir`).
fn update_engine_client(dir: &Path) -> std::path::PathBuf {
    let link = dir.join("update_engine_client");
    std::os::unix::fs::symlink(crate::support::agent::bin(), &link).unwrap();
    link
}

#[test]
fn the_agent_serves_update_engines_interface_and_signals_every_transition() {
    let Scene {
        conn,
        rt,
        node,
        release,
        bus,
        dir,
    } = scene();
    let signals = rt.block_on(Signals::record(&conn));
    let _agent = agent(&node, &bus);

    // GetStatus answers five values of exactly x d s s x.
    let idle = rt.block_on(wait_for_update1(&conn, Duration::from_secs(20)));
    let (signature, wire) = rt.block_on(get_status(&conn)).unwrap();
    assert_eq!(signature, "xdssx");
    assert_eq!(wire, idle);
    assert_eq!(
        (wire.1, wire.2.as_str(), wire.3.as_str(), wire.4),
        (0.0, "UPDATE_STATUS_IDLE", "0.0.0", 0)
    );
    // ResetStatus from IDLE is a no-op, as update_engine's.
    rt.block_on(call(&conn, "ResetStatus")).unwrap();

    // AttemptUpdate: the whole update, one StatusUpdate per transition, in order.
    rt.block_on(call(&conn, "AttemptUpdate")).unwrap();
    let staged = rt.block_on(wait_for_signal(
        &signals,
        "UPDATE_STATUS_UPDATED_NEED_REBOOT",
        &node,
    ));
    let mut seen = signals.operations();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "UPDATE_STATUS_CHECKING_FOR_UPDATE",
            "UPDATE_STATUS_UPDATE_AVAILABLE",
            "UPDATE_STATUS_DOWNLOADING",
            "UPDATE_STATUS_VERIFYING",
            "UPDATE_STATUS_FINALIZING",
            "UPDATE_STATUS_UPDATED_NEED_REBOOT",
        ],
        "agent:\n{}",
        agent_log(&node)
    );
    for (signature, _) in signals.0.lock().unwrap().iter() {
        assert_eq!(signature, "xdssx");
    }
    let size = i64::try_from(std::fs::metadata(&release.v101).unwrap().len()).unwrap();
    assert_eq!(
        (staged.1, staged.3.as_str(), staged.4),
        (1.0, "1.0.1", size)
    );
    assert!(staged.0 > 0, "LAST_CHECKED_TIME is set after a check");
    assert_eq!(rt.block_on(get_status(&conn)).unwrap().1, staged);
    // What the book shows: systemd's busctl sees the same, signature first.
    let address = format!("--address={}", bus.address);
    let out = crate::support::agent::run(
        "busctl",
        &[
            &address,
            "call",
            "com.coreos.update1",
            "/com/coreos/update1",
            "com.coreos.update1.Manager",
            "GetStatus",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "xdssx {} 1 \"UPDATE_STATUS_UPDATED_NEED_REBOOT\" \"1.0.1\" {size}\n",
            staged.0
        )
    );
    // The same five values the record gives `kindling agent status`.
    let status = node.status();
    assert!(
        status.contains(&format!(
            "LAST_CHECKED_TIME={}\nPROGRESS=1.000000\nCURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT\nNEW_VERSION=1.0.1\nNEW_SIZE={size}\n",
            staged.0
        )),
        "{status}"
    );

    // update_engine_client -status asks the bus: pointed at an empty root, it still prints
    // the agent's status, exactly its five lines.
    let empty = dir.path().join("empty-root");
    std::fs::create_dir_all(&empty).unwrap();
    let client = update_engine_client(dir.path());
    let root_flag = format!("-root={}", empty.display());
    let out = run_env(
        client.to_str().unwrap(),
        &["-status", &root_flag],
        &[("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "LAST_CHECKED_TIME={}\nPROGRESS=1.000000\nCURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT\nNEW_VERSION=1.0.1\nNEW_SIZE={size}\n",
            staged.0
        )
    );
    assert!(out.stderr.contains("Querying Update Engine status..."));
    // Without a bus it reads the record in the root, as before.
    let out = run_env(
        client.to_str().unwrap(),
        &["-status", &root_flag],
        &[("DBUS_SYSTEM_BUS_ADDRESS", "")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("CURRENT_OP=UPDATE_STATUS_IDLE\n"),
        "{}",
        out.stdout
    );

    // AttemptUpdate while staged is skipped (update_engine checks only from IDLE).
    rt.block_on(call(&conn, "AttemptUpdate")).unwrap();
    // ResetStatus: back to IDLE, signalled, the staged slot unbootable again.
    rt.block_on(call(&conn, "ResetStatus")).unwrap();
    let idle = rt.block_on(wait_for_signal(&signals, "UPDATE_STATUS_IDLE", &node));
    assert_eq!((idle.1, idle.3.as_str(), idle.4), (0.0, "0.0.0", 0));
    assert_eq!(
        node.attrs("USR-B").0,
        0,
        "USR-B unbootable after ResetStatus"
    );
    assert!(
        agent_log(&node).contains(
            "skipping the update check because the status is UPDATE_STATUS_UPDATED_NEED_REBOOT"
        ),
        "{}",
        agent_log(&node)
    );
}

#[test]
fn a_second_agent_on_the_same_bus_fails_clearly_and_a_missing_bus_is_no_failure() {
    let Scene {
        conn,
        rt,
        node: first,
        release,
        bus,
        dir,
    } = scene();
    let second = node(&dir.path().join("b"), &release);
    let _agent = agent(&first, &bus);
    rt.block_on(wait_for_update1(&conn, Duration::from_secs(20)));
    let mut args = second.agent_args();
    args.extend_from_slice(&["--bus", &bus.address]);
    let out = crate::support::agent::kindling(&args);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("com.coreos.update1 is already owned on unix:path="),
        "{}",
        out.stderr
    );
    // A bus nobody listens on: said, and the update goes on.
    let gone = format!("unix:path={}", dir.path().join("no-bus").display());
    let mut args = second.agent_args();
    args.extend_from_slice(&["--bus", &gone]);
    let out = crate::support::agent::kindling(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("going on without D-Bus"),
        "{}",
        out.stderr
    );
    // A bus that accepts and never answers: given up on after 10 s, and the agent goes on.
    let silent = dir.path().join("silent-bus");
    let _listener = std::os::unix::net::UnixListener::bind(&silent).unwrap();
    let silent = format!("unix:path={}", silent.display());
    let mut args = second.agent_args();
    args.extend_from_slice(&["--bus", &silent]);
    let out = crate::support::agent::kindling(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("did not answer within 10 s; going on without D-Bus"),
        "{}",
        out.stderr
    );
    assert!(
        second
            .status()
            .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT")
    );
}

#[test]
fn a_bus_that_goes_away_does_not_stop_the_update() {
    let Scene {
        conn,
        rt,
        node,
        release: _release,
        bus,
        dir: _dir,
    } = scene();
    let mut agent = agent(&node, &bus);
    rt.block_on(wait_for_update1(&conn, Duration::from_secs(20)));
    // The bus daemon dies; the update is asked for on the control socket.
    drop(conn);
    drop(bus);
    let out =
        crate::support::agent::kindling(&["agent", "check", "--root", node.root.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("the running agent checks now"),
        "{}",
        out.stderr
    );
    crate::support::lock::wait_until("the update staged", Duration::from_secs(90), || {
        node.status()
            .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT")
    });
    assert!(
        agent.0.try_wait().unwrap().is_none(),
        "the agent still runs"
    );
    let log = agent_log(&node);
    assert!(
        log.contains("the bus is no longer told of status changes"),
        "{log}"
    );
}

/// The real locksmithd in its own mount namespace: a tmpfs on /run (its coordinator.conf)
/// and the node's machine id over /etc/machine-id, pointed at the private bus and etcd.
fn locksmithd(dir: &Path, bus: &Bus, etcd: &Etcd, machine_id: &str) -> Guard {
    // locksmithd is locksmithctl run under the name locksmithd (../shared/peers/README.md);
    // the peers' `locksmithd` link lost its link-ness when copied here (a 12-byte file
    // holding "locksmithctl"), so the test makes the same link itself.
    let peer = dir.join("locksmithd");
    std::os::unix::fs::symlink(crate::support::process::peer("locksmithctl"), &peer).unwrap();
    let id = dir.join("machine-id");
    std::fs::write(&id, format!("{machine_id}\n")).unwrap();
    let log = std::fs::File::create(dir.join("locksmithd.log")).unwrap();
    Guard(
        Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                "mount -t tmpfs tmpfs /run && mount --bind \"$1\" /etc/machine-id && exec \"$0\"",
            ])
            .arg(&peer)
            .arg(&id)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .env("REBOOT_STRATEGY", "etcd-lock")
            .env("LOCKSMITHD_ENDPOINT", &etcd.url)
            .env_remove("LOCKSMITHD_REBOOT_WINDOW_START")
            .env_remove("REBOOT_WINDOW_START")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

#[test]
fn locksmithd_hears_kindling_takes_the_etcd_lock_and_reboots_through_logind() {
    let etcd = Etcd::start();
    let Scene {
        conn,
        rt,
        node,
        release: _release,
        bus,
        dir,
    } = scene();
    let login1 = rt.block_on(Login1::serve(&conn));
    let _agent = agent(&node, &bus);
    rt.block_on(wait_for_update1(&conn, Duration::from_secs(20)));

    let _locksmithd = locksmithd(dir.path(), &bus, &etcd, &node.machine_id());
    let log = || std::fs::read_to_string(dir.path().join("locksmithd.log")).unwrap_or_default();
    let start = Instant::now();
    while !log().contains("locksmithd starting currentOperation=\"UPDATE_STATUS_IDLE\"") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "locksmithd did not start within 20 s:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(login1.reboots.lock().unwrap().is_empty());

    // The update, asked for over the bus; locksmithd hears it and reboots through logind.
    rt.block_on(call(&conn, "AttemptUpdate")).unwrap();
    let start = Instant::now();
    while login1.reboots.lock().unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "locksmithd did not call Reboot within 90 s\nlocksmithd:\n{}\nagent:\n{}",
            log(),
            agent_log(&node)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(*login1.reboots.lock().unwrap(), [false], "Reboot(false)");
    let said = log();
    assert!(
        said.contains("CurrentOperation=\"UPDATE_STATUS_UPDATED_NEED_REBOOT\" NewVersion=1.0.1"),
        "{said}"
    );
    assert!(said.contains("Reboot sent. Going to sleep."), "{said}");
    assert!(
        !node.rebooted(),
        "kindling itself never rebooted (strategy off)"
    );

    // The etcd v2 lock is this machine's, as locksmithctl sees it.
    let out = run_env(
        crate::support::process::peer("locksmithctl")
            .to_str()
            .unwrap(),
        &[&format!("--endpoint={}", etcd.url), "status"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("Available: 0\nMax: 1\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&node.machine_id()), "{}", out.stdout);
}
