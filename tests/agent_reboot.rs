//! The agent's reboot step on simulated nodes with a real etcd (Debian's, started by the test)
//! and the real `locksmithctl`: the lock is taken before the reboot, held across it and given
//! back after the new release was judged; a full semaphore, a closed window or an unreachable
//! lock never turns into a reboot; best-effort follows the node's etcd units.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::agent::{Node, Out, Release, Server, run, update_conf, utc_clock};
use crate::support::lock::{Etcd, wait_until};

/// The real locksmithctl against `etcd` (the v2 semaphore).
pub(crate) fn locksmithctl(etcd: &Etcd, args: &[&str]) -> Out {
    let peer = crate::support::common::root().join("../shared/peers/locksmithctl");
    assert!(peer.is_file(), "{} is missing", peer.display());
    let endpoint = format!("--endpoint={}", etcd.url);
    let mut all = vec![endpoint.as_str()];
    all.extend_from_slice(args);
    run(peer.to_str().unwrap(), &all)
}

fn staged_node(dir: &Path, conf: impl FnOnce(&str) -> String) -> (Server, Node) {
    let release = Release::publish(dir, 4);
    let node = release.node(dir, &conf(&release.server.url));
    (release.server, node)
}

/// A staged node taking the reboot slot from etcd v3 with a lease of `ttl` seconds, whose
/// health check passes once the test creates `healthy` beside the root (bounded: about 15 s,
/// under the agent's --health-timeout 20); `healthy` is there to begin with, its path
/// returned.
fn etcd3_node_waiting_for_health(dir: &Path, etcd: &str, ttl: u32) -> (Server, Node, PathBuf) {
    let health = "i=0; while [ ! -e \"$KINDLING_ROOT/../healthy\" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done; test -e \"$KINDLING_ROOT/../healthy\"";
    let (server, node) = staged_node(dir, |url| {
        update_conf(
            url,
            "etcd-lock",
            &format!(
                "LOCKSMITHD_ENDPOINT={etcd}\nKINDLING_LOCK_BACKEND=etcd3\nKINDLING_LOCK_LEASE_TTL={ttl}\nKINDLING_HEALTH_COMMAND={health}\n"
            ),
        )
    });
    let healthy = node.dir.join("healthy");
    std::fs::write(&healthy, "").unwrap();
    (server, node, healthy)
}

/// `kindling lock --backend etcd3 --endpoint URL status EXTRA...`, which must succeed.
fn lock_status(etcd: &str, extra: &[&str]) -> String {
    let mut args = vec!["lock", "--backend", "etcd3", "--endpoint", etcd, "status"];
    args.extend_from_slice(extra);
    let out = crate::support::agent::kindling(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

/// Wait (at most 30 s) for a spawned agent to end; its status and standard error.
fn finish(agent: &mut crate::support::agent::Guard) -> (std::process::ExitStatus, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        match agent.0.try_wait().unwrap() {
            Some(status) => break status,
            None => assert!(
                std::time::Instant::now() < deadline,
                "the agent did not finish"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(agent.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

fn once_with_wait(node: &Node, wait: &str) -> Out {
    let mut args = node.agent_args();
    args.extend_from_slice(&["--reboot-wait", wait]);
    crate::support::agent::kindling(&args)
}

fn staged(node: &Node) -> bool {
    node.status()
        .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT")
}

#[test]
fn etcd_lock_is_held_across_the_reboot_and_given_back_after_the_health_check() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let (_server, mut node) = staged_node(dir.path(), |url| {
        update_conf(
            url,
            "etcd-lock",
            &format!("LOCKSMITHD_ENDPOINT={}\n", etcd.url),
        )
    });
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.rebooted(), "{}", out.stderr);
    // locksmithctl sees this machine holding the only slot.
    let status = locksmithctl(&etcd, &["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout.contains("Available: 0"), "{}", status.stdout);
    assert!(
        status.stdout.contains(&node.machine_id()),
        "{}",
        status.stdout
    );
    // Across the reboot the slot stays taken; the after-boot step gives it back.
    assert_eq!(node.boot(), "1.0.1");
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("gave the reboot slot back"),
        "{}",
        out.stderr
    );
    let status = locksmithctl(&etcd, &["status"]);
    assert!(status.stdout.contains("Available: 1"), "{}", status.stdout);
    assert!(
        !status.stdout.contains(&node.machine_id()),
        "{}",
        status.stdout
    );
}

#[test]
fn a_full_semaphore_means_no_reboot_until_a_slot_is_free() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    // The lock settings where the compiler writes them: locksmithd's drop-in.
    let (_server, node) = staged_node(dir.path(), |url| update_conf(url, "etcd-lock", ""));
    let dropin = node.root.join("run/systemd/system/locksmithd.service.d");
    std::fs::create_dir_all(&dropin).unwrap();
    std::fs::write(
        dropin.join("20-cloudinit.conf"),
        format!(
            "[Service]\nEnvironment=\"LOCKSMITHD_ENDPOINT={}\"\n",
            etcd.url
        ),
    )
    .unwrap();
    let other = locksmithctl(&etcd, &["lock", "another-machine"]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    let out = once_with_wait(&node, "2");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!node.rebooted(), "rebooted while the semaphore was full");
    assert!(staged(&node));
    assert!(
        out.stderr.contains("no reboot slot was free"),
        "{}",
        out.stderr
    );
    // The other machine gives its slot back: the next run takes it and reboots.
    assert_eq!(locksmithctl(&etcd, &["unlock", "another-machine"]).code, 0);
    let out = once_with_wait(&node, "10");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.rebooted(), "{}", out.stderr);
    assert!(
        locksmithctl(&etcd, &["status"])
            .stdout
            .contains(&node.machine_id())
    );
}

#[test]
fn a_closed_window_means_no_reboot_and_an_open_one_reboots() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!(
        "REBOOT_WINDOW_START={}\nREBOOT_WINDOW_LENGTH=1h\n",
        utc_clock(3)
    );
    let (_server, node) = staged_node(dir.path(), |url| update_conf(url, "reboot", &closed));
    let out = once_with_wait(&node, "1");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !node.rebooted(),
        "rebooted outside the window: {}",
        out.stderr
    );
    assert!(out.stderr.contains("window"), "{}", out.stderr);
    assert!(staged(&node));
    // Open now (started an hour ago, two hours long).
    let conf = std::fs::read_to_string(node.root.join("etc/coreos/update.conf")).unwrap();
    let server = conf
        .lines()
        .find_map(|l| l.strip_prefix("SERVER="))
        .unwrap();
    std::fs::write(
        node.root.join("etc/coreos/update.conf"),
        update_conf(
            server,
            "reboot",
            &format!(
                "REBOOT_WINDOW_START={}\nREBOOT_WINDOW_LENGTH=2h\n",
                utc_clock(-1)
            ),
        ),
    )
    .unwrap();
    let out = once_with_wait(&node, "1");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.rebooted(), "{}", out.stderr);
}

#[test]
fn best_effort_follows_the_etcd_units_and_never_reboots_without_a_reachable_lock() {
    // A port nothing listens on: the lock is unreachable.
    let dead = format!(
        "LOCKSMITHD_ENDPOINT=http://127.0.0.1:{}\n",
        crate::support::agent::free_port()
    );
    // No etcd unit on the node: best-effort reboots without asking for a lock.
    let dir = tempfile::tempdir().unwrap();
    let (_server, node) = staged_node(dir.path(), |url| update_conf(url, "best-effort", &dead));
    let out = once_with_wait(&node, "2");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.rebooted(), "{}", out.stderr);
    // With an etcd unit, best-effort is etcd-lock: an unreachable etcd means no reboot.
    let dir = tempfile::tempdir().unwrap();
    let (_server, node) = staged_node(dir.path(), |url| update_conf(url, "best-effort", &dead));
    let units = node.root.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(
        units.join("etcd-member.service"),
        "[Service]\nExecStart=/usr/bin/etcd\n",
    )
    .unwrap();
    let out = once_with_wait(&node, "2");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!node.rebooted(), "a lockless reboot: {}", out.stderr);
    assert!(staged(&node));
}

/// `fleet-lock`: the agent takes its slot from a FleetLock server (`kindling lock serve`, on a
/// real etcd), holds it across the reboot and releases it (steady-state) after the boot.
#[test]
fn fleet_lock_through_kindling_lock_serve() {
    let etcd = Etcd::start();
    let (_serve, url) = crate::lock::serve(&etcd, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (_server, mut node) = staged_node(dir.path(), |u| {
        update_conf(u, "fleet-lock", &format!("LOCKSMITHD_ENDPOINT={url}\n"))
    });
    let holders = || lock_status(&etcd.url, &[]);
    let out = once_with_wait(&node, "10");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.rebooted(), "{}", out.stderr);
    assert!(holders().contains(&node.machine_id()), "{}", holders());
    assert_eq!(node.boot(), "1.0.1");
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("gave the reboot slot back"),
        "{}",
        out.stderr
    );
    assert!(!holders().contains(&node.machine_id()), "{}", holders());
}

/// etcd v3 with a lease: the agent that starts on the new boot renews the slot it held across
/// the reboot at once (a new lease, the live key on it), before its health check, and keeps
/// it alive for as long as the health check takes, longer than the lease TTL.
#[test]
fn etcd3_slot_held_across_the_reboot_is_renewed_as_soon_as_the_agent_starts() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let (_server, mut node, healthy) = etcd3_node_waiting_for_health(dir.path(), &etcd.url, 2);
    let id = node.machine_id();
    let live_key = format!("kindling/rebootlock/groups/default/live/{id}");
    let live = || {
        let out = etcd.etcdctl(&["get", "--keys-only", &live_key]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).contains(&live_key)
    };
    let status = || lock_status(&etcd.url, &["--wide"]);
    let holds = || status().contains(&id);

    let out = once_with_wait(&node, "10");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.rebooted(), "{}", out.stderr);
    assert!(holds());
    // The agent that took the slot is gone (the node rebooted): its lease runs out, and with
    // it the live key, while the hold stays in the semaphore.
    wait_until("the old lease to expire", Duration::from_secs(15), || {
        !live()
    });
    assert!(holds(), "nobody else asked: the hold stays");

    // The new boot; the health check now waits for the test.
    assert_eq!(node.boot(), "1.0.1");
    std::fs::remove_file(&healthy).unwrap();
    let mut agent = node.spawn_agent(std::process::Stdio::piped());
    // Renewed at start, while the health check is still running.
    wait_until(
        "the live key on the agent's new lease",
        Duration::from_secs(10),
        live,
    );
    assert!(
        agent.0.try_wait().unwrap().is_none(),
        "the agent is still in its health check"
    );
    // And kept alive through a health check longer than the TTL.
    std::thread::sleep(Duration::from_secs(4));
    assert!(live(), "the lease lapsed during the health check");
    let shown = status();
    assert!(shown.contains("rebooting (lease alive)"), "{shown}");
    assert!(
        agent.0.try_wait().unwrap().is_none(),
        "the agent is still in its health check"
    );
    std::fs::write(&healthy, "").unwrap();
    let (status, stderr) = finish(&mut agent);
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("renewed the reboot slot held across the reboot"),
        "{stderr}"
    );
    assert!(stderr.contains("gave the reboot slot back"), "{stderr}");
    assert!(!holds());
    assert!(!live());
}

/// Back within the lease's TTL (the usual case): the agent on the new boot keeps the previous
/// boot's lease alive (the live key stays on it, its TTL is renewed) before its health check.
#[test]
fn etcd3_lease_still_alive_after_the_reboot_is_taken_over_at_start() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().unwrap();
    let (_server, mut node, healthy) = etcd3_node_waiting_for_health(dir.path(), &etcd.url, 30);
    let live_key = format!(
        "kindling/rebootlock/groups/default/live/{}",
        node.machine_id()
    );
    // (lease id, seconds remaining) of the live key's lease.
    let lease = || -> Option<(i64, i64)> {
        let out = etcd.etcdctl(&["get", &live_key, "-w", "json"]);
        assert!(out.status.success());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = json["kvs"].as_array()?.first()?["lease"].as_i64()?;
        let out = etcd.etcdctl(&["lease", "timetolive", &format!("{id:x}"), "-w", "json"]);
        assert!(out.status.success());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        Some((id, json["ttl"].as_i64()?))
    };
    let out = once_with_wait(&node, "10");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.rebooted(), "{}", out.stderr);
    let (before, _) = lease().expect("the live key is on a lease");
    // The reboot takes a while: the lease runs down, nobody renews it.
    wait_until("the lease to run down", Duration::from_secs(10), || {
        lease().is_some_and(|(_, left)| left <= 27)
    });
    assert_eq!(node.boot(), "1.0.1");
    std::fs::remove_file(&healthy).unwrap();
    let mut agent = node.spawn_agent(std::process::Stdio::null());
    // Renewed, on the same lease, while the health check is still running.
    wait_until("the lease renewed", Duration::from_secs(10), || {
        lease().is_some_and(|(_, left)| left >= 28)
    });
    assert_eq!(lease().map(|(id, _)| id), Some(before), "the same lease");
    assert!(
        agent.0.try_wait().unwrap().is_none(),
        "the agent is still in its health check"
    );
    std::fs::write(&healthy, "").unwrap();
    let (status, stderr) = finish(&mut agent);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("gave the reboot slot back"), "{stderr}");
    assert_eq!(lease(), None, "the live key goes with the slot");
}
