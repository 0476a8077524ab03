//! The agent end to end on simulated nodes (see `support::agent`): the happy path, the two
//! ways back from a bad release, the faults that must never make a slot bootable, and
//! SIGKILL at random moments during download and install.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::agent::{Keys, Node, Release, Server, kindling, update_conf, usr_image};

/// A release server with 1.0.1 published on stable, and a 1.0.0 node (strategy given).
fn setup(dir: &Path, strategy: &str, extra: &str) -> (Server, Node, Keys, std::path::PathBuf) {
    let release = Release::publish(dir, 8);
    let node = release.node(dir, &update_conf(&release.server.url, strategy, extra));
    (release.server, node, release.keys, release.v101)
}

#[test]
fn happy_path_check_download_verify_install_reboot_mark_good_report() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut node, _keys, v101) = setup(dir.path(), "reboot", "");
    assert_eq!(node.running(), "1.0.0");
    assert_eq!(node.attrs("USR-A"), (1, 0, 1));

    // One cycle: the update is staged in USR-B and the strategy reboots.
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.rebooted(), "strategy reboot ran the reboot command");
    let status = node.status();
    assert!(
        status.contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT"),
        "{status}"
    );
    assert!(status.contains("NEW_VERSION=1.0.1"), "{status}");
    assert!(status.contains("PROGRESS=1.000000"), "{status}");
    // Exactly cgpt add -S0 -T1 + prioritize: above USR-A, one try, not yet successful.
    let (pb, tb, sb) = node.attrs("USR-B");
    let (pa, ta, sa) = node.attrs("USR-A");
    assert!(pb > pa, "USR-B priority {pb} above USR-A's {pa}");
    assert_eq!((tb, sb), (1, 0));
    assert_eq!((ta, sa), (0, 1));
    node.assert_gpt_clean();
    // The slot holds exactly the published payload.
    let payload = std::fs::read(&v101).unwrap();
    assert_eq!(&node.slot_bytes("USR-B")[..payload.len()], &payload[..]);

    // The simulated reboot runs 1.0.1 (its one try spent).
    assert_eq!(node.boot(), "1.0.1");
    assert_eq!(node.attrs("USR-B").1, 0, "the firmware spent the try");
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("marked good"), "{}", out.stderr);
    let (pb, tb, sb) = node.attrs("USR-B");
    assert_eq!((tb, sb), (0, 1), "USR-B successful after the health check");
    assert!(pb > node.attrs("USR-A").0);
    node.assert_gpt_clean();
    assert!(node.status().contains("CURRENT_OP=UPDATE_STATUS_IDLE"));

    // The server saw 3/2 from this machine, now on 1.0.1.
    let seen = server.instance_where(&node.machine_id(), |i| {
        i["version"] == "1.0.1" && i["last_event"]["event_type"] == 3
    });
    assert_eq!(seen["last_event"]["result"], 2, "{seen}");
    assert_eq!(seen["channel"], "stable", "{seen}");
    // And the next boot stays on 1.0.1.
    assert_eq!(node.boot(), "1.0.1");
}

#[test]
fn strategy_off_stages_and_waits_and_reset_status_unstages() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, node, _keys, _) = setup(dir.path(), "off", "");
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!node.rebooted(), "off never reboots by itself");
    assert!(
        node.status()
            .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT")
    );
    // A second cycle only waits (no second download, same slot state).
    let before = node.attrs("USR-B");
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(node.attrs("USR-B"), before);

    // update_engine_client -reset_status, through the compatibility name.
    let link = dir.path().join("update_engine_client");
    std::os::unix::fs::symlink(crate::support::agent::bin(), &link).unwrap();
    let out = crate::support::agent::run(
        link.to_str().unwrap(),
        &[
            "-reset_status",
            &format!("-root={}", node.root.display()),
            &format!("-disk={}", node.disk.display()),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = crate::support::agent::run(
        link.to_str().unwrap(),
        &["-status", &format!("-root={}", node.root.display())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>()[2],
        "CURRENT_OP=UPDATE_STATUS_IDLE"
    );
    // Unlike update_engine, the staged slot is unbootable again: the node stays on 1.0.0.
    let (pb, tb, sb) = node.attrs("USR-B");
    assert_eq!((pb, tb, sb), (0, 0, 0));
    node.assert_gpt_clean();
}

#[test]
fn a_release_that_fails_its_health_check_rolls_back_and_is_never_retried() {
    let dir = tempfile::tempdir().unwrap();
    // Healthy only on 1.0.0.
    let health =
        "KINDLING_HEALTH_COMMAND=grep -q =1.0.0 \"$KINDLING_ROOT/usr/share/coreos/release\"\n";
    let (_server, mut node, _keys, _) = setup(dir.path(), "reboot", health);
    let out = node.agent_once();
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("rebooting into the staged release: "),
        "{}",
        out.stderr
    );
    node.clear_rebooted();
    assert_eq!(node.boot(), "1.0.1");
    // After boot: unhealthy, not marked good, a reboot to fall back, logged as such (it
    // once said "rebooting into the staged release" with nothing staged).
    let out = node.agent_once();
    assert!(
        out.stderr.contains("failed its health check"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("rebooting to return to the previous release (the running one failed its health check): "),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("staged release"), "{}", out.stderr);
    assert!(
        node.rebooted(),
        "the agent rebooted to leave the bad release"
    );
    let (_, tb, sb) = node.attrs("USR-B");
    assert_eq!((tb, sb), (0, 0), "USR-B never marked good");
    // The firmware rule returns to 1.0.0.
    assert_eq!(node.boot(), "1.0.0");
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Back on 1.0.0, the check carries the rollback (3/0, error 44: the version the update
    // came from runs again), so kindling's update server no longer offers 1.0.1 to this
    // machine; were it offered, the node's denylist refuses it.
    assert!(
        out.stderr.contains("not installing it again")
            || out.stderr.contains("failed on this node")
            || out.stderr.contains("1.0.0 is the newest release of stable"),
        "{}",
        out.stderr
    );
    assert!(node.status().contains("CURRENT_OP=UPDATE_STATUS_IDLE"));
    let json = node.status_json();
    assert!(
        json.to_string().contains("\"denylist\":[\"1.0.1\"]"),
        "{json}"
    );
    // Still on 1.0.0 at the next boot: no reboot loop.
    assert_eq!(node.boot(), "1.0.0");
    node.assert_gpt_clean();
}

#[test]
fn a_release_that_never_comes_up_is_detected_as_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut node, _keys, _) = setup(dir.path(), "off", "");
    assert_eq!(node.agent_once().code, 0);
    // 1.0.1 boots once and dies before the agent runs; the next boot is 1.0.0 again.
    assert_eq!(node.boot(), "1.0.1");
    assert_eq!(node.boot(), "1.0.0");
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("rollback detected"), "{}", out.stderr);
    let json = node.status_json().to_string();
    assert!(json.contains("\"code\":44"), "{json}");
    assert!(json.contains("\"denylist\":[\"1.0.1\"]"), "{json}");
    // The update check carried the rollback (3/0, error 44), and a later check still does,
    // as update_engine's kept previous-version makes it (it once sent 3/2 with
    // previousversion="" from the second check on).
    let rolled_back = |i: &serde_json::Value| {
        i["version"] == "1.0.0"
            && i["last_event"]["event_type"] == 3
            && i["last_event"]["result"] == 0
            && i["last_event"]["error_code"] == 44
    };
    server.instance_where(&node.machine_id(), rolled_back);
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = server.instance_where(&node.machine_id(), |i| i["version"] == "1.0.0");
    assert!(rolled_back(&seen), "{seen}");
    assert_eq!(node.boot(), "1.0.0");
}

/// After a failed cycle: the old slot is the firmware's choice and USR-B is not bootable.
fn assert_nothing_bootable_but_the_old_slot(node: &Node) {
    let (pb, tb, sb) = node.attrs("USR-B");
    assert!(
        pb == 0 || (tb == 0 && sb == 0),
        "USR-B must not be bootable: priority {pb} tries {tb} successful {sb}"
    );
    assert_eq!(node.attrs("USR-A"), (1, 0, 1));
    node.assert_gpt_clean();
    let status = node.status();
    assert!(status.contains("CURRENT_OP=UPDATE_STATUS_IDLE"), "{status}");
}

#[test]
fn a_payload_signed_by_an_untrusted_key_is_never_made_bootable() {
    let dir = tempfile::tempdir().unwrap();
    let other = Keys::new(dir.path(), "other");
    let rogue = Release::builder(dir.path()).signed_by("rogue").publish();
    let node = Node::checking(
        dir.path(),
        &rogue.v100,
        &rogue.server.url,
        "reboot",
        &[&other],
    );
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!node.rebooted());
    assert_nothing_bootable_but_the_old_slot(&node);
    let json = node.status_json().to_string();
    assert!(json.contains("\"code\":12"), "{json}");
}

#[test]
fn a_tampered_payload_is_never_made_bootable() {
    let dir = tempfile::tempdir().unwrap();
    let (server, node, _keys, _) = setup(dir.path(), "reboot", "");
    // Flip bytes of the payload the server stores, after it was published and hashed.
    let stored = walk(&server.dir)
        .into_iter()
        .filter(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) > 1 << 20)
        .collect::<Vec<_>>();
    assert_eq!(stored.len(), 1, "one stored payload: {stored:?}");
    let mut bytes = std::fs::read(&stored[0]).unwrap();
    bytes[4096] ^= 0xff;
    std::fs::write(&stored[0], bytes).unwrap();
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_nothing_bootable_but_the_old_slot(&node);
    let json = node.status_json();
    assert!(json.to_string().contains("\"code\":10"), "{json}");
    // The complete download's SHA-256 was wrong: the next run starts over at byte 0,
    // never resuming the bad bytes once more.
    let written = json["record"]["download"]["written"].as_u64().unwrap_or(0);
    assert_eq!(written, 0, "{json}");
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!out.stderr.contains("resum"), "{}", out.stderr);
}

#[test]
fn no_trusted_key_means_no_install() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, node, _keys, _) = setup(dir.path(), "reboot", "");
    std::fs::remove_dir_all(node.root.join("etc/kindling/trusted-keys")).unwrap();
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("trusted"), "{}", out.stderr);
    assert_nothing_bootable_but_the_old_slot(&node);
}

#[test]
fn a_dead_server_fails_the_check_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path(), "k");
    let v100 = usr_image(dir.path(), "1.0.0", 4);
    let port = crate::support::agent::free_port();
    let node = Node::checking(
        dir.path(),
        &v100,
        &format!("http://127.0.0.1:{port}/v1/update/"),
        "reboot",
        &[&keys],
    );
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("update check"), "{}", out.stderr);
    assert_nothing_bootable_but_the_old_slot(&node);
    let json = node.status_json().to_string();
    assert!(json.contains("\"failures\":1"), "{json}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// SIGKILL the agent at 100 random moments of a download and install. Kills are chained:
/// the run after a kill resumes what the killed one left, and every fifth kill is followed by
/// a run left to finish, which must converge to the staged update. After every kill, USR-B is
/// either unbootable or holds exactly the signed payload, USR-A keeps its attributes, and at
/// least one GPT copy is whole (a kill inside a table write can cut that copy's write short —
/// the kernel stops a write between pages for a fatal signal — while the other stays whole and
/// is what cgpt and the firmware read); after every converging run, `cgpt show -v` finds both
/// copies whole again (the agent repairs a torn copy first, as `cgpt repair` does).
#[test]
fn sigkill_at_random_moments_never_makes_an_unverified_slot_bootable() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, node, _keys, v101) = setup(dir.path(), "off", "");
    let payload = std::fs::read(&v101).unwrap();
    let record = node.root.join("var/lib/kindling/agent.json");
    let usr_b = node.partuuid("USR-B");
    let reset = || {
        let _ = std::fs::remove_file(&record);
        let out = kindling(&[
            "slots",
            "set-unbootable",
            "--disk",
            node.disk.to_str().unwrap(),
            "--partuuid",
            &usr_b,
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    let converged = |why: &str| {
        assert!(
            node.status()
                .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT"),
            "{why}"
        );
        assert_eq!(
            &node.slot_bytes("USR-B")[..payload.len()],
            &payload[..],
            "{why}"
        );
        assert_eq!(node.attrs("USR-B").1, 1, "{why}: one try");
    };
    // How long a whole cycle takes here (the kills are spread over it).
    let args: Vec<String> = node.agent_args().iter().map(|s| (*s).to_string()).collect();
    let spawn = || {
        std::process::Command::new(crate::support::agent::bin())
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // The phase the record shows, as the kills below count them.
    let status_of = || {
        std::fs::read_to_string(&record).ok().and_then(|t| {
            let v: serde_json::Value = serde_json::from_str(&t).ok()?;
            let status = v["status"].as_str()?.to_string();
            Some(match v["download"]["written"].as_u64() {
                Some(w) if status == "DOWNLOADING" && w > 0 => "DOWNLOADING (resumable)".into(),
                _ => status,
            })
        })
    };
    // Short phases (a resumable download, VERIFYING: the payload is hashed as it is
    // written, so both are brief on a quick machine), aimed at below when missed.
    let aimed = ["DOWNLOADING (resumable)", "VERIFYING"];
    let started = Instant::now();
    assert_eq!(node.agent_once().code, 0);
    let full = started.elapsed();
    converged("the first run");
    reset();
    let mut landed = 0;
    let mut torn = 0;
    let mut phases = std::collections::BTreeMap::<String, u32>::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let deadline = Instant::now() + Duration::from_secs(300);
    while landed < 100 {
        assert!(
            Instant::now() < deadline,
            "only {landed} kills landed in 300 s (a full cycle takes {full:?})"
        );
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let at = full.mul_f64((rng % 1000) as f64 / 1000.0);
        let mut child = spawn();
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_some() {
            // It finished before the kill: that run converged.
            converged("a run that finished before its kill");
            reset();
            continue;
        }
        let _ = child.kill();
        let _ = child.wait();
        landed += 1;
        let phase = status_of().unwrap_or_else(|| "before the first record".to_string());
        *phases.entry(phase).or_default() += 1;
        // The invariant, after every kill.
        let (pb, tb, sb) = node.attrs("USR-B");
        if pb > 0 && (tb > 0 || sb == 1) {
            assert_eq!(
                &node.slot_bytes("USR-B")[..payload.len()],
                &payload[..],
                "kill {landed}: USR-B bootable with bytes that are not the payload"
            );
        }
        assert_eq!(node.attrs("USR-A"), (1, 0, 1), "kill {landed}");
        match node.gpt_copies() {
            (true, true) => {}
            (false, false) => panic!("kill {landed}: both GPT copies torn"),
            _ => torn += 1,
        }
        if landed % 5 == 0 {
            // The next run converges from whatever the kills left.
            let out = node.agent_once();
            assert_eq!(out.code, 0, "after kill {landed}: {}", out.stderr);
            converged(&format!("the run after kill {landed}"));
            node.assert_gpt_clean();
            reset();
        }
    }
    // Random moments rarely land in those short phases: for each one missed, kill the
    // moment the record shows it (bounded tries, each from a fresh start), with the same
    // checks, and a run after it that converges.
    for phase in aimed {
        for _ in 0..20 {
            if phases.contains_key(phase) {
                break;
            }
            let started = Instant::now();
            let mut child = spawn();
            let hit = loop {
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                if status_of().as_deref() == Some(phase) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break true;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "an aimed run hangs"
                );
                std::thread::sleep(Duration::from_micros(100));
            };
            if hit && status_of().as_deref() == Some(phase) {
                *phases.entry(phase.into()).or_default() += 1;
                let (pb, tb, sb) = node.attrs("USR-B");
                assert!(
                    pb == 0 || (tb == 0 && sb == 0),
                    "killed in {phase}: USR-B must not be bootable yet"
                );
                assert_eq!(node.attrs("USR-A"), (1, 0, 1));
            }
            let out = node.agent_once();
            assert_eq!(out.code, 0, "{}", out.stderr);
            converged("the run after an aimed kill");
            reset();
        }
    }
    eprintln!("kills by the phase the record showed: {phases:?}; {torn} left one GPT copy torn");
    for phase in ["DOWNLOADING (resumable)", "VERIFYING"] {
        assert!(
            phases.contains_key(phase),
            "no kill landed in {phase}: {phases:?} (full cycle {full:?})"
        );
    }
}

/// The whole update against go-omaha's server, which kindling did not write: the agent's
/// requests, response parsing, payload URL and `.minisig` beside it all work with it.
#[test]
fn updates_from_go_omahas_server() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path(), "release");
    let v100 = usr_image(dir.path(), "1.0.0", 4);
    let v101 = usr_image(dir.path(), "1.0.1", 4);
    let sig = keys.sign(&v101);
    let server = crate::support::agent::PeerServer::start(&v101, "1.0.1", &sig);
    let mut node = Node::checking(dir.path(), &v100, &server.url, "off", &[&keys]);
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        node.status()
            .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT"),
        "{}",
        out.stderr
    );
    assert_eq!(node.boot(), "1.0.1");
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(node.attrs("USR-B").2, 1, "marked good");
    // go-omaha offers nothing newer than 1.0.1.
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(node.status().contains("CURRENT_OP=UPDATE_STATUS_IDLE"));
}

/// Downloads cut short (a clean close, a reset, a 500) fail the cycle with nothing bootable;
/// each next run resumes with a Range request from the bytes already in the slot (whose hash
/// is recomputed, never trusted) and the last one stages exactly the signed payload.
#[test]
fn interrupted_downloads_resume_and_never_boot_half_a_payload() {
    use crate::support::payload::{Behaviour, FileServer};
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path(), "release");
    let v100 = usr_image(dir.path(), "1.0.0", 4);
    let v101 = usr_image(dir.path(), "1.0.1", 8);
    let sig = keys.sign(&v101);
    let payload = std::fs::read(&v101).unwrap();
    let path = "/packages/stable/1.0.1/usr-1.0.1.ext4";
    let files = FileServer::start(vec![
        (path, payload.clone()),
        (
            "/packages/stable/1.0.1/usr-1.0.1.ext4.minisig",
            std::fs::read(&sig).unwrap(),
        ),
    ]);
    files.script(
        path,
        vec![
            Behaviour::default().truncating_at(3 << 20),
            Behaviour::default().resetting_at(2 << 20),
            Behaviour::default().answering(500),
        ],
    );
    let base = files.url("");
    let server = Server::start_with(&dir.path().join("server"), &["--base-url", &base]);
    server.publish("stable", "1.0.1", &v101, &sig);
    let node = Node::checking(dir.path(), &v100, &server.url, "off", &[&keys]);
    let mut written = Vec::new();
    for attempt in 0..3 {
        let out = node.agent_once();
        assert_eq!(out.code, 1, "attempt {attempt} should fail: {}", out.stderr);
        assert_nothing_bootable_but_the_old_slot(&node);
        let json = node.status_json();
        assert_eq!(json["record"]["last_error"]["code"], 9, "{json}");
        written.push(json["record"]["download"]["written"].as_u64().unwrap_or(0));
    }
    assert!(
        written[0] >= 1 << 20,
        "the cut download kept its prefix: {written:?}"
    );
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        node.status()
            .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT")
    );
    assert_eq!(&node.slot_bytes("USR-B")[..payload.len()], &payload[..]);
    // The later attempts asked for the rest only.
    let ranges: Vec<Option<String>> = files
        .seen()
        .into_iter()
        .filter(|s| s.path == path)
        .map(|s| s.range)
        .collect();
    assert_eq!(ranges[0], None, "{ranges:?}");
    assert!(
        ranges[1..]
            .iter()
            .any(|r| r.as_deref().is_some_and(|r| r != "bytes=0-")),
        "no resumed request: {ranges:?}"
    );
    node.assert_gpt_clean();
}

/// A payload that cannot fit the passive slot (the disk is full, in effect) is refused before
/// a byte is downloaded; the old slot stays the only bootable one.
#[test]
fn a_payload_larger_than_the_slot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // The simulated node's slots are 24 MiB.
    let release = Release::builder(dir.path()).payload_mib(28).publish();
    let node = release.node(dir.path(), &update_conf(&release.server.url, "reboot", ""));
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!node.rebooted());
    assert_nothing_bootable_but_the_old_slot(&node);
    let json = node.status_json();
    assert_eq!(json["record"]["last_error"]["code"], 14, "{json}");
}

/// A torn copy of the partition table (what a crash inside a table write leaves) is repaired
/// from the whole one before the agent does anything else.
#[test]
fn a_torn_partition_table_copy_is_repaired_first() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, node, _keys, _) = setup(dir.path(), "off", "");
    // Flip a byte in the primary entry array (LBA 2 onward), past the four used entries.
    let mut bytes = std::fs::read(&node.disk).unwrap();
    bytes[1024 + 20 * 128] ^= 0xff;
    std::fs::write(&node.disk, bytes).unwrap();
    assert_eq!(node.gpt_copies(), (false, true));
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("repaired a damaged copy"),
        "{}",
        out.stderr
    );
    node.assert_gpt_clean();
    assert!(
        node.status()
            .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT")
    );
}

/// `agent status` on a root that is no node (no release file, no update.conf, the agent
/// never ran there) says so and exits 1, where it once printed an idle status with exit 0;
/// a release file alone makes it a node that is idle.
#[test]
fn agent_status_on_a_root_that_is_no_node_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    for format in ["human", "json"] {
        let out = kindling(&["agent", "status", "--root", root, "--format", format]);
        assert_eq!(out.code, 1, "{format}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.is_empty(), "{format}: {}", out.stdout);
        assert!(
            out.stderr
                .contains(&format!("{root} is not a CoreOS or Flatcar node")),
            "{}",
            out.stderr
        );
    }
    std::fs::create_dir_all(dir.path().join("usr/share/flatcar")).unwrap();
    std::fs::write(
        dir.path().join("usr/share/flatcar/release"),
        "FLATCAR_RELEASE_VERSION=4081.2.0\n",
    )
    .unwrap();
    let out = kindling(&["agent", "status", "--root", root]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("CURRENT_OP=UPDATE_STATUS_IDLE\n"),
        "{}",
        out.stdout
    );
}
