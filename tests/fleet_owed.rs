//! A fleet node never loses a reboot it owes (issue 18, item 4), on a real etcd with the
//! real agent daemon: a reboot-required change applied while the node's window is closed
//! stays owed through the next in-service publish (the record keeps `awaiting-reboot` and
//! `Reboot Required: Yes`), through an agent restart on the same boot (the restarted agent
//! asks for the reboot again and reboots once its window is open), and is forgotten only
//! once a boot happened (a new boot id).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::fleet::{agent_daemon, app_config, fleet, status_json, wait_status, write};
use crate::support::agent::{Node, usr_image};
use crate::support::lock::Etcd;
use crate::support::process::Guard;

const GROUP: &str = "owed";

/// A daily one-hour window that opens 12 hours from now: closed for the whole test.
fn closed_window() -> String {
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
}

fn conf(etcd: &str, window: &str) -> String {
    format!(
        "GROUP=stable\nSERVER=http://127.0.0.1:9/v1/update/\nREBOOT_STRATEGY=etcd-lock\nKINDLING_LOCK_BACKEND=etcd3\nLOCKSMITHD_ENDPOINT={etcd}\nKINDLING_FIRST_CHECK_DELAY=3600\nKINDLING_FLEET=on\nKINDLING_FLEET_GROUP={GROUP}\nKINDLING_FLEET_TTL=3\n{window}"
    )
}

/// The node's agent daemon, its standard error appended to `agent.log` beside the root.
fn start(node: &Node) -> Guard {
    spawn(agent_daemon(node), node)
}

fn spawn(mut command: std::process::Command, node: &Node) -> Guard {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(node.dir.join("agent.log"))
        .unwrap();
    Guard(
        command
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap(),
    )
}

fn log(node: &Node) -> String {
    std::fs::read_to_string(node.dir.join("agent.log")).unwrap_or_default()
}

fn only(s: &serde_json::Value) -> &serde_json::Value {
    let nodes = s["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{s}");
    &nodes[0]
}

fn make_node(dir: &Path, conf: &str) -> Node {
    let image = usr_image(dir, "1.0.0", 4);
    let node = Node::new(&dir.join("node"), &image, conf, &[]);
    std::fs::write(node.root.join("etc/hostname"), "owed-0\n").unwrap();
    node
}

#[test]
fn a_reboot_owed_survives_an_in_service_publish_and_an_agent_restart_until_a_boot() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut node = make_node(dir.path(), &conf(&etcd.url, &closed_window()));
    let agent = start(&node);
    let limit = Duration::from_secs(30);
    wait_status(&etcd, GROUP, "the node's record", limit, |s| {
        s["nodes"].as_array().is_some_and(|n| n.len() == 1)
    });

    // A change that takes effect only at boot, while the window is closed.
    let sysctl = write(
        dir.path(),
        "sysctl.yaml",
        "#cloud-config\nwrite_files:\n  - path: /etc/sysctl.d/90-fleet.conf\n    content: |\n      vm.swappiness=10\n",
    );
    assert_eq!(fleet(&etcd, GROUP, &["publish", &sysctl]).code, 0);
    wait_status(&etcd, GROUP, "awaiting-reboot", limit, |s| {
        only(s)["state"] == "awaiting-reboot"
    });

    // The next publish changes only in-service files: the reboot is still owed.
    let app = write(
        dir.path(),
        "app.yaml",
        &format!(
            "{}  - path: /etc/sysctl.d/90-fleet.conf\n    content: |\n      vm.swappiness=10\n",
            app_config("2")
        ),
    );
    assert_eq!(fleet(&etcd, GROUP, &["publish", &app]).code, 0);
    let s = wait_status(&etcd, GROUP, "generation 2 applied", limit, |s| {
        only(s)["generation"] == 2
    });
    let r = only(&s);
    assert_eq!(r["state"], "awaiting-reboot", "{s}\n{}", log(&node));
    assert_eq!(r["reboot_required"], true, "{s}");
    assert!(
        r["reason"].as_str().unwrap().contains("90-fleet.conf"),
        "{s}"
    );
    let table = fleet(&etcd, GROUP, &["status"]);
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.contains("owed-0") && l.contains("awaiting-reboot") && l.contains("Yes")),
        "{}",
        table.stdout
    );
    assert!(!node.rebooted(), "rebooted outside its window");

    // The agent restarts on the same boot, its window now open: it asks again and reboots.
    drop(agent);
    std::fs::write(
        node.root.join("etc/coreos/update.conf"),
        conf(&etcd.url, ""),
    )
    .unwrap();
    let agent = start(&node);
    let since = Instant::now();
    while !node.rebooted() {
        assert!(
            since.elapsed() < limit,
            "the restarted agent never asked for the reboot it owes:\n{}",
            log(&node)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = status_json(&etcd, GROUP);
    assert_eq!(only(&s)["state"], "awaiting-reboot", "{s}");
    // The log names the config change, not a staged release (nothing is staged).
    let said = log(&node);
    assert!(
        said.contains("rebooting to apply the config change (") && said.contains("90-fleet.conf"),
        "{said}"
    );
    assert!(
        !said.contains("rebooting into the staged release"),
        "{said}"
    );

    // The simulated reboot: a new boot id; the reboot is no longer owed.
    drop(agent);
    node.clear_rebooted();
    node.boot();
    let _agent = start(&node);
    let s = wait_status(&etcd, GROUP, "applied after the boot", limit, |s| {
        only(s)["state"] == "applied"
    });
    assert_eq!(only(&s)["reboot_required"], false, "{s}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(!node.rebooted(), "rebooted again:\n{}", log(&node));
}

#[test]
fn a_reboot_owed_is_asked_again_when_the_reboot_command_failed() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let node = make_node(dir.path(), &conf(&etcd.url, ""));
    // A reboot command that fails until the test allows it (no window is set, so the agent
    // asks again after a back-off of 1 s, doubling).
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_kindling"));
    daemon
        .args(["agent", "run", "--root", node.root.to_str().unwrap()])
        .args([
            "--disk",
            node.disk.to_str().unwrap(),
            "--health-timeout",
            "20",
        ])
        .args([
            "--reboot-command",
            "test -e \"$KINDLING_ROOT/../allow\" && touch \"$KINDLING_ROOT/../rebooted\"",
        ])
        .stdin(Stdio::null());
    let _agent = spawn(daemon, &node);
    let limit = Duration::from_secs(30);
    wait_status(&etcd, GROUP, "the node's record", limit, |s| {
        s["nodes"].as_array().is_some_and(|n| n.len() == 1)
    });
    let sysctl = write(
        dir.path(),
        "sysctl.yaml",
        "#cloud-config\nwrite_files:\n  - path: /etc/sysctl.d/90-fleet.conf\n    content: |\n      vm.swappiness=10\n",
    );
    assert_eq!(fleet(&etcd, GROUP, &["publish", &sysctl]).code, 0);
    let since = Instant::now();
    while log(&node).matches("still owed; asking again").count() < 2 {
        assert!(since.elapsed() < limit, "not asked again:\n{}", log(&node));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!node.rebooted());
    let s = status_json(&etcd, GROUP);
    assert_eq!(only(&s)["state"], "awaiting-reboot", "{s}");
    // Now the command works: the next try reboots.
    std::fs::write(node.dir.join("allow"), "").unwrap();
    let since = Instant::now();
    while !node.rebooted() {
        assert!(
            since.elapsed() < limit,
            "the owed reboot was not asked again:\n{}",
            log(&node)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
