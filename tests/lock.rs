//! The reboot lock on a real etcd (Debian's 3.4, started per test on free loopback ports):
//! `kindling lock` and the real `locksmithctl` share one semaphore (same key, same JSON,
//! byte-identical output), kindling's FleetLock client against the real Airlock, a
//! Zincati-shaped request against `kindling lock serve`, etcd v3 lease expiry recovered by
//! exactly one contender, contention that never exceeds the slots in any revision of etcd's
//! history, slot changes, idempotency, and basic auth.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kindling::lock::{
    Acquired, Backend, Etcd2Lock, Etcd3Lock, FleetLockClient, LockConfig, LockError, RebootLock,
    Released,
};

use crate::support::lock::{
    Etcd, Proc, free_port, kindling, kindling_as_locksmithctl, listening, machine_root, peer, rt,
    v3_history, wait_until,
};

const SEM: &str = "coreos.com/updateengine/rebootlock/semaphore";

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn locksmithctl(etcd: &Etcd, args: &[&str]) -> (i32, String, String) {
    run(Command::new(peer("locksmithctl"))
        .arg(format!("--endpoint={}", etcd.url))
        .args(args))
}

fn klock(etcd: &Etcd, args: &[&str]) -> (i32, String, String) {
    let out = kindling(&[&["lock", "--endpoint", &etcd.url][..], args].concat());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn config(etcd: &Etcd, backend: Backend, group: &str) -> LockConfig {
    LockConfig {
        backend,
        endpoints: vec![etcd.url.clone()],
        group: group.into(),
        ..LockConfig::default()
    }
}

#[test]
fn locksmithctl_and_kindling_share_one_lock() {
    let etcd = Etcd::start();
    // locksmithctl creates and changes the semaphore; kindling reads it byte for byte alike.
    assert_eq!(locksmithctl(&etcd, &["set-max", "3"]).0, 0);
    assert_eq!(locksmithctl(&etcd, &["lock", "aaaa"]).0, 0);
    let theirs = locksmithctl(&etcd, &["status"]);
    let ours = klock(&etcd, &["status"]);
    assert_eq!(ours, theirs);
    assert_eq!(ours.1, "Available: 2\nMax: 3\n\nMACHINE ID\naaaa\n");
    // kindling locks with the machine id of its root; locksmithctl sees it.
    let root = machine_root("bbbb");
    let root_arg = root.path().to_str().unwrap();
    assert_eq!(klock(&etcd, &["--root", root_arg, "lock"]).0, 0);
    assert_eq!(
        locksmithctl(&etcd, &["status"]).1,
        "Available: 1\nMax: 3\n\nMACHINE ID\naaaa\nbbbb\n"
    );
    assert_eq!(
        etcd.v2_value(&format!("/{SEM}")).unwrap(),
        r#"{"semaphore":1,"max":3,"holders":["aaaa","bbbb"]}"#
    );
    // Each releases the other's hold.
    assert_eq!(klock(&etcd, &["unlock", "aaaa"]).0, 0);
    assert_eq!(locksmithctl(&etcd, &["unlock", "bbbb"]).0, 0);
    assert_eq!(
        etcd.v2_value(&format!("/{SEM}")).unwrap(),
        r#"{"semaphore":3,"max":3,"holders":[]}"#
    );
    // set-max output and errors, byte for byte and exit status alike (a change is made by
    // one tool, then made again by the other to the same value).
    assert_eq!(
        locksmithctl(&etcd, &["set-max", "1"]),
        (0, "Old-Max: 3\nMax: 1\n".into(), String::new())
    );
    assert_eq!(
        klock(&etcd, &["set-max", "1"]),
        (0, "Old-Max: 1\nMax: 1\n".into(), String::new())
    );
    for args in [
        &["set-max"][..],
        &["set-max", "abc"],
        &["unlock", "nobody"],
        &["status"],
    ] {
        assert_eq!(klock(&etcd, args), locksmithctl(&etcd, args), "{args:?}");
    }
    assert_eq!(locksmithctl(&etcd, &["lock", "cccc"]).0, 0);
    let full = locksmithctl(&etcd, &["lock", "dddd"]);
    assert_eq!(
        full,
        (
            1,
            String::new(),
            "Error locking: semaphore is at 0\n".into()
        )
    );
    assert_eq!(klock(&etcd, &["lock", "dddd"]), full);
    // kindling's extras: age and state of kindling's holds, JSON.
    assert_eq!(locksmithctl(&etcd, &["set-max", "2"]).0, 0);
    assert_eq!(klock(&etcd, &["lock", "eeee"]).0, 0);
    let wide = klock(&etcd, &["status", "--wide"]).1;
    assert!(wide.contains("MACHINE ID  HELD FOR   STATE\n"), "{wide}");
    assert!(wide.contains("cccc        -          -\n"), "{wide}");
    assert!(
        wide.lines()
            .any(|l| l.starts_with("eeee ") && l.ends_with(" locked")),
        "{wide}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&klock(&etcd, &["status", "--format", "json"]).1).unwrap();
    assert_eq!(json["max"], 2);
    assert_eq!(json["available"], 0);
    assert_eq!(json["holders"][1]["id"], "eeee");
    assert_eq!(json["holders"][1]["state"], "locked");
    assert!(json["holders"][1]["held_seconds"].as_i64().unwrap() < 60);
    assert!(json["holders"][0]["since"].is_null());
}

#[test]
fn groups_are_query_escaped_like_locksmith() {
    let etcd = Etcd::start();
    assert_eq!(locksmithctl(&etcd, &["--group", "lb x", "lock", "n1"]).0, 0);
    let ours = klock(&etcd, &["--group", "lb x", "status"]);
    assert_eq!(ours.1, "Available: 0\nMax: 1\n\nMACHINE ID\nn1\n");
    assert_eq!(klock(&etcd, &["--group", "lb/x", "lock", "n2"]).0, 0);
    assert_eq!(
        locksmithctl(&etcd, &["--group", "lb/x", "status"]).1,
        "Available: 0\nMax: 1\n\nMACHINE ID\nn2\n"
    );
    assert!(
        etcd.v2_value("/coreos.com/updateengine/rebootlock/groups/lb%2Fx/semaphore")
            .is_some()
    );
    // The default group is untouched.
    assert_eq!(klock(&etcd, &["status"]).1, "Available: 1\nMax: 1\n");
}

#[test]
fn installed_as_locksmithctl_kindling_answers_as_locksmithctl() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ours = kindling_as_locksmithctl(dir.path());
    let both = |args: &[&str]| {
        let theirs = locksmithctl(&etcd, args);
        let mine = run(Command::new(&ours)
            .arg(format!("-endpoint={}", etcd.url))
            .args(args));
        (mine, theirs)
    };
    let (mine, theirs) = both(&["status"]);
    assert_eq!(mine, theirs);
    // Mutations: locksmithctl first, then kindling as locksmithctl on the same state again.
    assert_eq!(locksmithctl(&etcd, &["lock", "m1"]).0, 0);
    let theirs = locksmithctl(&etcd, &["status"]);
    let mine = run(Command::new(&ours)
        .arg(format!("-endpoint={}", etcd.url))
        .arg("status"));
    assert_eq!(mine, theirs);
    // Locking twice: locksmithctl fails (coreos/locksmith#58), kindling holds its one slot.
    assert_eq!(
        locksmithctl(&etcd, &["lock", "m1"]).2,
        "Error locking: semaphore is at 0\n"
    );
    let again = run(Command::new(&ours)
        .arg(format!("--endpoint={}", etcd.url))
        .args(["lock", "m1"]));
    assert_eq!(again, (0, String::new(), String::new()));
    let full = run(Command::new(&ours)
        .arg("-endpoint")
        .arg(&etcd.url)
        .args(["lock", "m2"]));
    assert_eq!(full, locksmithctl(&etcd, &["lock", "m2"]));
    let set = run(Command::new(&ours)
        .arg(format!("-endpoint={}", etcd.url))
        .args(["set-max", "2"]));
    assert_eq!(set, (0, "Old-Max: 1\nMax: 2\n".into(), String::new()));
    for args in [&["set-max", "x"][..], &["unlock", "zz"], &["set-max"]] {
        let (mine, theirs) = both(args);
        assert_eq!(mine, theirs, "{args:?}");
    }
    // As locksmithctl: on stdout (tests/locksmithctl.rs compares help and bad arguments).
    let (code, out, _) = run(Command::new(&ours).arg("bogus"));
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "locksmithctl: unknown subcommand: \"bogus\"\nRun 'locksmithctl help' for usage.\n"
    );
    let (code, out, _) = run(&mut Command::new(&ours));
    assert_eq!(code, 0);
    assert!(out.starts_with("NAME:\n\tlocksmithctl - Manage the cluster wide reboot lock."));
    // reboot: takes the lock for its machine id, then runs the command the test sets.
    let root = machine_root("rebooter");
    let marker = dir.path().join("rebooted");
    let (code, _, err) = run(Command::new(&ours)
        .arg(format!("--endpoint={}", etcd.url))
        .arg("reboot")
        .env("KINDLING_ROOT", root.path())
        .env(
            "KINDLING_REBOOT_COMMAND",
            format!("touch {}", marker.display()),
        ));
    // No --root through locksmithctl's flags: KINDLING_ROOT names the node's root (the
    // machine id, and where the held slot is recorded), never this machine's.
    assert_eq!(code, 0, "{err}");
    assert!(marker.exists());
    drop(root);
}

#[test]
fn reboot_takes_the_lock_then_runs_the_command() {
    let etcd = Etcd::start();
    let root = machine_root("node-1");
    let r = root.path().to_str().unwrap();
    let marker = root.path().join("rebooted");
    let cmd = format!("touch {}", marker.display());
    let (code, _, err) = klock(&etcd, &["--root", r, "reboot", "--reboot-command", &cmd]);
    assert_eq!(code, 0, "{err}");
    assert!(marker.exists());
    // Held across the reboot, with its state.
    let status = klock(&etcd, &["status", "--wide"]).1;
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("node-1 ") && l.ends_with(" rebooting")),
        "{status}"
    );
    // Again (a node that held the lock before): locksmith#58 would fail; kindling reboots.
    std::fs::remove_file(&marker).unwrap();
    assert_eq!(
        klock(&etcd, &["--root", r, "reboot", "--reboot-command", &cmd]).0,
        0
    );
    assert!(marker.exists());
    // Another node: the only slot is taken, nothing runs.
    let other = machine_root("node-2");
    let o = other.path().to_str().unwrap();
    let other_marker = other.path().join("rebooted");
    let cmd2 = format!("touch {}", other_marker.display());
    let (code, _, err) = klock(&etcd, &["--root", o, "reboot", "--reboot-command", &cmd2]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error locking: semaphore is at 0\n")
    );
    assert!(!other_marker.exists());
    // A failing reboot command gives the slot back.
    assert_eq!(klock(&etcd, &["unlock", "node-1"]).0, 0);
    let (code, _, err) = klock(
        &etcd,
        &["--root", o, "reboot", "--reboot-command", "exit 3"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("the reboot lock was released"), "{err}");
    assert_eq!(klock(&etcd, &["status"]).1, "Available: 1\nMax: 1\n");
}

#[test]
fn lock_and_unlock_are_idempotent_on_every_etcd_backend() {
    let etcd = Etcd::start();
    rt().block_on(async {
        for backend in [Backend::Etcd2, Backend::Etcd3] {
            let lock = kindling::lock::connect(&config(&etcd, backend, ""))
                .await
                .unwrap();
            assert_eq!(lock.lock("a").await.unwrap(), Acquired::Locked);
            assert_eq!(lock.lock("a").await.unwrap(), Acquired::AlreadyHeld);
            let s = lock.status().await.unwrap();
            assert_eq!(
                (s.max, s.available, s.holders.len()),
                (1, 0, 1),
                "{backend:?}"
            );
            assert_eq!(
                lock.lock("b").await.unwrap_err(),
                LockError::Full {
                    max: 1,
                    available: 0
                }
            );
            assert_eq!(lock.unlock("b").await.unwrap(), Released::NotHeld);
            assert_eq!(lock.unlock("a").await.unwrap(), Released::Unlocked);
            assert_eq!(lock.unlock("a").await.unwrap(), Released::NotHeld);
            assert_eq!(lock.status().await.unwrap().available, 1);
        }
    });
}

#[test]
fn etcd3_slot_changes_are_applied_to_the_stored_semaphore() {
    let etcd = Etcd::start();
    let key = "com.coreos.airlock/groups/default/v1/semaphore";
    let (code, _, err) = klock(&etcd, &["--backend", "etcd3", "lock", "a"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        etcd.v3_value(key).unwrap(),
        r#"{"total_slots":1,"holders":["a"]}"#
    );
    assert_eq!(klock(&etcd, &["--backend", "etcd3", "lock", "b"]).0, 1);
    let (code, out, _) = klock(&etcd, &["--backend", "etcd3", "set-max", "2"]);
    assert_eq!((code, out.as_str()), (0, "Old-Max: 1\nMax: 2\n"));
    assert_eq!(klock(&etcd, &["--backend", "etcd3", "lock", "b"]).0, 0);
    assert_eq!(
        etcd.v3_value(key).unwrap(),
        r#"{"total_slots":2,"holders":["a","b"]}"#
    );
    // Lowered below the holders: nobody is dropped, nobody new gets in.
    assert_eq!(klock(&etcd, &["--backend", "etcd3", "set-max", "1"]).0, 0);
    assert_eq!(
        klock(&etcd, &["--backend", "etcd3", "status"]).1,
        "Available: -1\nMax: 1\n\nMACHINE ID\na\nb\n"
    );
    assert_eq!(
        klock(&etcd, &["--backend", "etcd3", "lock", "c"]).2,
        "Error locking: semaphore is at -1\n"
    );
}

fn airlock(etcd: &Etcd, slots: u32) -> (Proc, String, tempfile::TempDir) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let port = free_port();
    let cfg = dir.path().join("airlock.toml");
    std::fs::write(
        &cfg,
        format!(
            "[status]\nenabled = false\n[service]\naddress = \"127.0.0.1\"\nport = {port}\ntls = false\n[etcd3]\nendpoints = [ \"{}\" ]\n[lock]\ndefault_group_name = \"default\"\ndefault_slots = {slots}\n[[lock.groups]]\nname = \"workers\"\nslots = 1\n",
            etcd.url
        ),
    )
    .unwrap();
    let proc = Proc::spawn(
        "airlock",
        Command::new(peer("airlock"))
            .arg("-c")
            .arg(&cfg)
            .arg("serve"),
    );
    wait_until("airlock to listen", Duration::from_secs(10), || {
        listening(port)
    });
    (proc, format!("http://127.0.0.1:{port}"), dir)
}

#[test]
fn fleetlock_client_against_airlock() {
    let etcd = Etcd::start();
    let (_airlock, url, _dir) = airlock(&etcd, 1);
    rt().block_on(async {
        let mut cfg = config(&etcd, Backend::FleetLock, "workers");
        cfg.endpoints = vec![url.clone()];
        let client = FleetLockClient::new(&cfg).unwrap();
        assert_eq!(client.lock("node-a").await.unwrap(), Acquired::Locked);
        // Recursive: the holder may ask again.
        assert_eq!(client.lock("node-a").await.unwrap(), Acquired::Locked);
        let busy = client.lock("node-b").await.unwrap_err();
        assert_eq!(
            busy,
            LockError::Remote {
                status: 500,
                kind: "failed_lock".into(),
                value: "all 1 semaphore slots currently locked".into()
            }
        );
        assert_eq!(
            busy.to_string(),
            "server-side error, code 500: all 1 semaphore slots currently locked"
        );
        assert!(matches!(
            client.status().await,
            Err(LockError::Unsupported(_))
        ));
        // kindling's etcd v3 backend reads Airlock's semaphore.
        let v3 = Etcd3Lock::connect(&config(&etcd, Backend::Etcd3, "workers"))
            .await
            .unwrap();
        let s = v3.status().await.unwrap();
        assert_eq!((s.max, s.available), (1, 0));
        assert_eq!(s.holders[0].id, "node-a");
        assert_eq!(s.holders[0].alive, None);
        // ... and Airlock honours kindling's hold.
        assert_eq!(client.unlock("node-a").await.unwrap(), Released::Unlocked);
        assert_eq!(v3.lock("node-k").await.unwrap(), Acquired::Locked);
        assert!(client.lock("node-b").await.is_err());
        assert_eq!(v3.unlock("node-k").await.unwrap(), Released::Unlocked);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        assert_eq!(
            client.wait_lock("node-b", deadline).await.unwrap(),
            Acquired::Locked
        );
        // Unknown group: Airlock's error shape comes through.
        let mut other = cfg.clone();
        other.group = "nosuch".into();
        let err = FleetLockClient::new(&other)
            .unwrap()
            .lock("x")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, LockError::Remote { status: 400, kind, .. } if kind == "unknown_group"),
            "{err:?}"
        );
    });
}

/// The exact request Zincati sends (reference: airlock-fleetlock.md §8).
fn zincati_body(id: &str, group: &str) -> String {
    format!(
        "{{\n  \"client_params\": {{\n    \"id\": \"{id}\",\n    \"group\": \"{group}\"\n  }}\n}}"
    )
}

pub fn serve(etcd: &Etcd, extra: &[&str]) -> (Proc, String) {
    let port = free_port();
    let proc = Proc::spawn(
        "kindling lock serve",
        Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["lock", "--endpoint", &etcd.url, "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra),
    );
    wait_until(
        "kindling lock serve to listen",
        Duration::from_secs(10),
        || listening(port),
    );
    (proc, format!("http://127.0.0.1:{port}"))
}

#[test]
fn zincati_request_against_kindling_serve() {
    let etcd = Etcd::start();
    // A stored semaphore with 1 slot; the server's configuration says 2 and wins at start
    // (Airlock would keep 1: airlock#81).
    assert_eq!(
        klock(
            &etcd,
            &["--backend", "etcd3", "--group", "workers", "set-max", "1"]
        )
        .0,
        0
    );
    let (_server, url) = serve(&etcd, &["--group-slots", "workers=2"]);
    rt().block_on(async {
        let http = reqwest::Client::new();
        let post = |path: &str, body: String, header: Option<&str>| {
            let mut req = http.post(format!("{url}{path}")).body(body);
            if let Some(h) = header {
                req = req.header("fleet-lock-protocol", h);
            }
            req.send()
        };
        let ok = post("/v1/pre-reboot", zincati_body("e0f3745b108f471cbd4883c6fbed8cdd", "workers"), Some("true"))
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.text().await.unwrap(), "");
        assert_eq!(
            post("/v1/pre-reboot", zincati_body("e0f3745b108f471cbd4883c6fbed8cdd", "workers"), Some("true"))
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            post("/v1/pre-reboot", zincati_body("second", "workers"), Some("true"))
                .await
                .unwrap()
                .status(),
            200
        );
        let full = post("/v1/pre-reboot", zincati_body("third", "workers"), Some("true"))
            .await
            .unwrap();
        assert_eq!(full.status(), 500);
        assert_eq!(
            full.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(full.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            full.text().await.unwrap(),
            "{\"kind\":\"failed_lock\",\"value\":\"all 2 semaphore slots currently locked\"}\n"
        );
        let bad = post("/v1/pre-reboot", zincati_body("x", "workers"), Some("True")).await.unwrap();
        assert_eq!(bad.status(), 400);
        assert_eq!(
            bad.text().await.unwrap(),
            "{\"kind\":\"invalid_client_identity\",\"value\":\"failed to validate client identity: wrong 'fleet-lock-protocol' header\"}\n"
        );
        let empty = post("/v1/pre-reboot", zincati_body("", "workers"), Some("true")).await.unwrap();
        assert_eq!(empty.status(), 400);
        assert!(empty.text().await.unwrap().contains("empty client ID"));
        // Holders, with age.
        let holders: serde_json::Value = http
            .get(format!("{url}/v1/holders?group=workers"))
            .send()
            .await
            .unwrap()
            .json_or_text()
            .await;
        assert_eq!(holders["max"], 2);
        assert_eq!(holders["holders"][0]["id"], "e0f3745b108f471cbd4883c6fbed8cdd");
        assert!(holders["holders"][0]["since"].is_string());
        // The same semaphore is Airlock's: kindling's etcd v3 backend and the FleetLock
        // client through the server agree.
        let mut cfg = config(&etcd, Backend::FleetLock, "workers");
        cfg.endpoints = vec![url.clone()];
        let client = FleetLockClient::new(&cfg).unwrap();
        let s = client.status().await.unwrap();
        assert_eq!((s.max, s.available), (2, 0));
        // Forced release from a loopback peer.
        let released = http
            .post(format!("{url}/v1/admin/release"))
            .body(zincati_body("second", "workers"))
            .send()
            .await
            .unwrap();
        assert_eq!(released.status(), 200);
        assert_eq!(released.text().await.unwrap(), "{\"released\":true}\n");
        assert_eq!(client.status().await.unwrap().available, 1);
        // steady-state gives the slot back.
        let steady = post("/v1/steady-state", zincati_body("e0f3745b108f471cbd4883c6fbed8cdd", "workers"), Some("true"))
            .await
            .unwrap();
        assert_eq!(steady.status(), 200);
        assert_eq!(client.status().await.unwrap().available, 2);
        let metrics = http
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("kindling_lock_requests_total{api=\"pre-reboot\"} 6\n"), "{metrics}");
        assert!(metrics.contains("kindling_lock_errors_total{api=\"pre-reboot\",code=\"500\"} 1\n"), "{metrics}");
        assert!(metrics.contains("kindling_lock_slots{group=\"workers\"} 2\n"), "{metrics}");
        assert!(metrics.contains("airlock_database_semaphore_lock_holders{group=\"workers\"} 0\n"), "{metrics}");
    });
    assert_eq!(
        etcd.v3_value("com.coreos.airlock/groups/workers/v1/semaphore")
            .unwrap(),
        r#"{"total_slots":2,"holders":[]}"#
    );
}

/// kindling's waiting extension: a `pre-reboot` with `kindling-lock-wait: S` waits for a slot
/// by watch and answers the moment it frees (echoing the header); without the header the
/// answer is immediate (Airlock's); past half the connection cap a request is answered at
/// once without it; a stopping server answers its waiting requests at once. kindling's
/// FleetLock client takes a freed slot within a second of its release (polling, as against
/// Airlock, would take it at its next poll: 3.5 s after the release here).
#[test]
fn kindling_serve_waits_for_a_slot() {
    let etcd = Etcd::start();
    let (mut server, url) = serve(
        &etcd,
        &["--group-slots", "workers=1", "--max-connections", "8"],
    );
    rt().block_on(async {
        let http = reqwest::Client::new();
        let pre_reboot = |id: &str, wait: Option<&str>| {
            let mut req = http
                .post(format!("{url}/v1/pre-reboot"))
                .header("fleet-lock-protocol", "true")
                .body(zincati_body(id, "workers"));
            if let Some(w) = wait {
                req = req.header("kindling-lock-wait", w);
            }
            req.send()
        };
        assert_eq!(pre_reboot("a", None).await.unwrap().status(), 200);
        // Without the header: at once, as Airlock.
        let t = Instant::now();
        let full = pre_reboot("b", None).await.unwrap();
        assert_eq!(full.status(), 500);
        assert!(full.headers().get("kindling-lock-wait").is_none());
        assert!(t.elapsed() < Duration::from_secs(1));
        // With it: the whole wait, then failed_lock with the seconds granted.
        let t = Instant::now();
        let waited = pre_reboot("b", Some("2")).await.unwrap();
        let took = t.elapsed();
        assert_eq!(waited.status(), 500);
        assert_eq!(waited.headers()["kindling-lock-wait"], "2");
        assert!(took >= Duration::from_millis(1900), "{took:?}");
        assert_eq!(
            waited.text().await.unwrap(),
            "{\"kind\":\"failed_lock\",\"value\":\"all 1 semaphore slots currently locked\"}\n"
        );
        // A malformed wait is no wait.
        let t = Instant::now();
        assert_eq!(pre_reboot("b", Some("soon")).await.unwrap().status(), 500);
        assert!(t.elapsed() < Duration::from_secs(1));

        // kindling's client, waiting: the slot comes the moment `a` gives it back.
        let mut cfg = config(&etcd, Backend::FleetLock, "workers");
        cfg.endpoints = vec![url.clone()];
        let client = Arc::new(FleetLockClient::new(&cfg).unwrap());
        let waiter = {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                client
                    .wait_lock("b", deadline)
                    .await
                    .map(|a| (a, Instant::now()))
            })
        };
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let released = Instant::now();
        assert_eq!(client.unlock("a").await.unwrap(), Released::Unlocked);
        let (acquired, at) = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(acquired, Acquired::Locked);
        let handover = at.duration_since(released);
        assert!(
            handover < Duration::from_secs(1),
            "hand-over took {handover:?}"
        );
        let s = client.status().await.unwrap();
        assert_eq!(s.holders.len(), 1);
        assert_eq!(s.holders[0].id, "b");

        // At most half the connection cap (8) waits: four wait, the fifth is answered at once
        // without the header.
        let mut waiting = Vec::new();
        for (id, wait) in [("c", "20"), ("d", "20"), ("e", "20"), ("f", "60")] {
            waiting.push(tokio::spawn(pre_reboot(id, Some(wait))));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        let t = Instant::now();
        let past_cap = pre_reboot("g", Some("20")).await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(past_cap.status(), 500);
        assert!(past_cap.headers().get("kindling-lock-wait").is_none());

        // A stopping server answers the waiting requests at once.
        let t = Instant::now();
        let pid = server.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        for (w, granted) in waiting.into_iter().zip(["20", "20", "20", "30"]) {
            let answer = tokio::time::timeout(Duration::from_secs(5), w)
                .await
                .expect("a waiting request was not answered when the server stopped")
                .unwrap()
                .unwrap();
            assert_eq!(answer.status(), 500);
            // 60 asked: 30 granted, the most.
            assert_eq!(answer.headers()["kindling-lock-wait"], granted);
        }
        assert!(t.elapsed() < Duration::from_secs(5));
    });
    wait_until(
        "lock serve to exit after SIGTERM",
        Duration::from_secs(10),
        || !server.is_running(),
    );
}

/// Read a response as JSON, with the text in the panic when it is not.
trait JsonOrText {
    async fn json_or_text(self) -> serde_json::Value;
}

impl JsonOrText for reqwest::Response {
    async fn json_or_text(self) -> serde_json::Value {
        let text = self.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

/// Max holders over every revision of the v3 semaphore.
fn max_holders_in_history(etcd: &Etcd, group: &str) -> (usize, Vec<Vec<String>>) {
    let key = kindling::lock::etcd3_semaphore_key(group);
    let revisions: Vec<Vec<String>> = v3_history(etcd, &key)
        .iter()
        .map(|v| {
            let json: serde_json::Value = serde_json::from_str(v).unwrap();
            json["holders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    let max = revisions.iter().map(Vec::len).max().unwrap_or(0);
    (max, revisions)
}

#[test]
fn etcd3_dead_holder_is_replaced_by_exactly_one_contender() {
    let etcd = Etcd::start();
    // A holder process keeping its hold alive on a 2 s lease.
    let mut holder = Proc::spawn(
        "holder",
        Command::new(env!("CARGO_BIN_EXE_kindling")).args([
            "lock",
            "--backend",
            "etcd3",
            "--endpoint",
            &etcd.url,
            "lock",
            "dead",
            "--hold",
            "--lease-ttl",
            "2",
        ]),
    );
    // A hold without a lease (an operator's, or Airlock's) never expires.
    let rt = rt();
    rt.block_on(async {
        let admin = Etcd3Lock::connect(&config(&etcd, Backend::Etcd3, ""))
            .await
            .unwrap();
        let start = Instant::now();
        loop {
            let s = admin.status().await.unwrap();
            if s.holders
                .iter()
                .any(|h| h.id == "dead" && h.alive == Some(true))
            {
                break;
            }
            assert!(holder.is_running(), "the holder process exited");
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the holder never locked"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        admin.set_max(2).await.unwrap();
        assert_eq!(admin.lock("operator").await.unwrap(), Acquired::Locked);
        // Five contenders wait (by watch) on a full semaphore.
        let acquired = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for n in 0..5 {
            let mut cfg = config(&etcd, Backend::Etcd3, "");
            cfg.lease_ttl = Some(Duration::from_secs(30));
            let lock = Etcd3Lock::connect(&cfg).await.unwrap();
            let acquired = acquired.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("contender-{n}");
                let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
                let got = lock.wait_lock(&id, deadline).await;
                if got.is_ok() {
                    acquired.fetch_add(1, Ordering::SeqCst);
                }
                (got, lock)
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(acquired.load(Ordering::SeqCst), 0, "no slot was free");
        // SIGKILL: no unlock; the lease expires after its TTL.
        let killed = Instant::now();
        holder.kill();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let winners: Vec<_> = results.iter().filter(|(r, _)| r.is_ok()).collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one contender takes the dead holder's slot"
        );
        assert!(killed.elapsed() < Duration::from_secs(9));
        for (r, _) in &results {
            if let Err(e) = r {
                assert_eq!(e, &LockError::Timeout);
            }
        }
        let s = admin.status().await.unwrap();
        assert!(s.holders.iter().all(|h| h.id != "dead"));
        assert!(s.holders.iter().any(|h| h.id == "operator"));
        assert_eq!(s.available, 0);
    });
    let (max, revisions) = max_holders_in_history(&etcd, "default");
    assert!(
        max <= 2,
        "a revision had {max} holders on 2 slots: {revisions:?}"
    );
    // The dead holder disappears in exactly one revision, which adds nobody.
    let removals: Vec<_> = revisions
        .windows(2)
        .filter(|w| w[0].contains(&"dead".to_string()) && !w[1].contains(&"dead".to_string()))
        .collect();
    assert_eq!(removals.len(), 1, "{revisions:?}");
    assert_eq!(removals[0][1].len(), removals[0][0].len() - 1);
}

#[test]
fn twenty_contenders_on_three_slots_never_exceed_three() {
    let etcd = Etcd::start();
    rt().block_on(async {
        let admin = Etcd3Lock::connect(&config(&etcd, Backend::Etcd3, ""))
            .await
            .unwrap();
        admin.set_max(3).await.unwrap();
        let v2admin = Etcd2Lock::new(&config(&etcd, Backend::Etcd2, "")).unwrap();
        v2admin.set_max(3).await.unwrap();
        for backend in [Backend::Etcd3, Backend::Etcd2] {
            let inside = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for n in 0..20 {
                let lock = kindling::lock::connect(&config(&etcd, backend, ""))
                    .await
                    .unwrap();
                let (inside, most) = (inside.clone(), most.clone());
                tasks.push(tokio::spawn(async move {
                    let id = format!("node-{n:02}");
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                    lock.wait_lock(&id, deadline).await.unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    assert_eq!(lock.unlock(&id).await.unwrap(), Released::Unlocked);
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let most = most.load(Ordering::SeqCst);
            assert!(
                (1..=3).contains(&most),
                "{backend:?}: {most} inside at once"
            );
        }
    });
    let (max, revisions) = max_holders_in_history(&etcd, "default");
    assert!(max <= 3, "{revisions:?}");
    assert_eq!(max, 3, "three slots were used at once at some revision");
    // Every contender held a slot in some revision.
    for n in 0..20 {
        let id = format!("node-{n:02}");
        assert!(revisions.iter().any(|r| r.contains(&id)), "{id} never held");
    }
}

#[test]
fn basic_auth_is_passed_through_to_etcd() {
    let etcd = Etcd::start();
    // etcd v2 auth: a root user, auth on, the guest role's access revoked.
    let v2 = |args: &[&str]| {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "2")
            .arg(format!("--endpoints={}", etcd.url))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    v2(&["user", "add", "root:s3cret"]);
    v2(&["auth", "enable"]);
    v2(&[
        "-u",
        "root:s3cret",
        "role",
        "revoke",
        "guest",
        "-path",
        "/*",
        "-readwrite",
    ]);
    let auth = ["--etcd-username", "root", "--etcd-password", "s3cret"];
    assert_eq!(klock(&etcd, &[&auth[..], &["lock", "n1"]].concat()).0, 0);
    assert_eq!(
        locksmithctl(&etcd, &[&auth[..], &["status"]].concat()).1,
        "Available: 0\nMax: 1\n\nMACHINE ID\nn1\n"
    );
    let (code, _, err) = klock(&etcd, &["status"]);
    assert_eq!(code, 1);
    assert!(err.contains("requires user authentication"), "{err}");
    let (code, _, err) = klock(
        &etcd,
        &[
            "--etcd-username",
            "root",
            "--etcd-password",
            "wrong",
            "status",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("refused the credentials"), "{err}");
    // etcd v3 auth through the gRPC client.
    let v3 = |args: &[&str]| {
        let out = etcd.etcdctl(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    v3(&["user", "add", "root", "--new-user-password=s3cret"]);
    v3(&["user", "grant-role", "root", "root"]);
    v3(&["auth", "enable"]);
    assert_eq!(
        klock(
            &etcd,
            &[&auth[..], &["--backend", "etcd3", "lock", "n3"]].concat()
        )
        .0,
        0
    );
    let (code, _, err) = klock(
        &etcd,
        &[
            "--backend",
            "etcd3",
            "--etcd-username",
            "root",
            "--etcd-password",
            "wrong",
            "status",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("credentials") || err.contains("auth"), "{err}");
}
