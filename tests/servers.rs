//! Both servers under hostile clients (issue 19): thousands of idle connections and 500
//! slowloris connections held open while a normal update check and a FleetLock request are
//! answered within 1 s, the connection cap holding (counted in the server's own
//! descriptors), half-sent heads and bodies closed by their timeouts, oversized bodies
//! answered in each protocol's error shape; the update server's records bounded (cap,
//! per-address rate, field size), appended rather than rewritten, and read from an old
//! `instances.json`; `lock serve` sharing one etcd client, checking every group, and
//! writing nothing to etcd for a group that does not exist. Everything on 127.0.0.1, every
//! wait bounded.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::lock::{Etcd, Proc, listening, wait_until};
use crate::support::omaha::{APP_ID, kindling_server, published, status_until};
use crate::support::process::free_port;

/// Idle connections the tests hold (the bench holds 20,000).
const IDLE: usize = 3000;
/// Slowloris connections.
const SLOW: usize = 500;
/// The servers' cap in these tests (below IDLE + SLOW, so shedding is exercised).
const CAP: &str = "1000";

fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    assert!(
        hard >= (IDLE + SLOW + 512) as u64,
        "this test needs {} descriptors, the hard limit is {hard}",
        IDLE + SLOW + 512
    );
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn check_request(machine: &str, version: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<request protocol="3.0" version="update_engine-0.4.10" updaterversion="update_engine-0.4.10" installsource="scheduler" ismachine="1">
    <os version="Chateau" platform="CoreOS" sp="{version}_x86_64"></os>
    <app appid="{APP_ID}" version="{version}" track="stable" machineid="{machine}" machinealias="" lang="en-US" board="amd64-usr">
        <ping active="1"></ping>
        <updatecheck></updatecheck>
    </app>
</request>
"#
    )
}

/// Open `idle` connections that send nothing and `slow` that send a request head one
/// header line per second, never finishing it; all kept until the returned task is dropped.
async fn hostile(addr: &str, idle: usize, slow: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(idle + slow);
    for n in 0..idle + slow {
        let mut s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .expect("connect within 5 s")
            .expect("connect");
        if n >= idle {
            let _ = s
                .write_all(b"POST /v1/update/ HTTP/1.1\r\nHost: x\r\n")
                .await;
        }
        held.push(s);
    }
    held
}

/// Drip one more header line on each slowloris connection (errors: closed by the server).
async fn drip(held: &mut [TcpStream], from: usize) {
    for s in &mut held[from..] {
        let _ = s.write_all(b"X-a: b\r\n").await;
    }
}

/// How many of `held` the server has closed (a read sees EOF or an error at once).
async fn closed(held: &mut [TcpStream]) -> usize {
    let mut n = 0;
    let mut buf = [0u8; 256];
    for s in held.iter_mut() {
        match tokio::time::timeout(Duration::from_millis(2), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => n += 1,
            Ok(Ok(_)) => {
                // A 503/408/431 answer, then the close.
                n += 1;
            }
            Err(_) => {}
        }
    }
    n
}

async fn timed<T>(what: &str, fut: impl std::future::Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"));
    (out, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_server_answers_a_check_within_a_second_under_idle_and_slowloris_connections() {
    raise_fd_limit();
    let (tmp, _) = published(&[("stable", "2.0.0")]);
    let srv = tmp.path().join("srv");
    let (guard, url) = kindling_server(
        &srv,
        &[
            "--max-connections",
            CAP,
            "--header-timeout",
            "3s",
            "--body-timeout",
            "2s",
        ],
    );
    let pid = guard.0.id();
    let addr = url.trim_start_matches("http://").to_string();
    let mut held = hostile(&addr, IDLE, SLOW).await;
    drip(&mut held, IDLE).await;
    let endpoint = format!("{url}/v1/update/");
    for n in 0..5 {
        let client = reqwest::Client::new();
        let ((status, body), took) = timed("an update check", async {
            let r = client
                .post(&endpoint)
                .header("content-type", "text/xml")
                .body(check_request(&format!("normal{n}"), "1.0.0"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("status=\"ok\""), "{body}");
        assert!(
            took < Duration::from_secs(1),
            "check {n} took {took:?} with {IDLE} idle and {SLOW} slowloris connections open"
        );
        // The cap holds: the server's descriptors stay near it, not near IDLE + SLOW.
        let fds = open_fds(pid);
        assert!(fds < 1000 + 300, "the server holds {fds} descriptors");
        drip(&mut held, IDLE).await;
    }
    // Half-sent heads are closed by the header timeout, whatever they drip.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        drip(&mut held, IDLE).await;
        let slow_closed = closed(&mut held[IDLE..]).await;
        if slow_closed == SLOW {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{slow_closed} of {SLOW} slowloris connections closed after 8 s (header timeout 3 s)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(held);
    // A body that stops arriving: 408 in Omaha's shape after the body timeout.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /v1/update/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 500\r\n\r\n<request")
        .await
        .unwrap();
    let mut answer = String::new();
    let (_, took) = timed("a stalled body", s.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("status=\"error-requestTimeout\""),
        "{answer}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    // An oversized body: 413 in Omaha's shape.
    let big = format!("<request>{}</request>", " ".repeat(300 * 1024));
    let r = reqwest::Client::new()
        .post(&endpoint)
        .header("content-type", "text/xml")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("<app appid=") && body.contains("status=\"error-requestTooLarge\""),
        "{body}"
    );
}

fn lock_serve(etcd: &Etcd, extra: &[&str]) -> (Proc, String) {
    let port = free_port();
    let proc = Proc::spawn(
        "kindling lock serve",
        std::process::Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["lock", "--endpoint", &etcd.url, "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra),
    );
    wait_until(
        "kindling lock serve to listen",
        Duration::from_secs(10),
        || listening(port),
    );
    (proc, format!("127.0.0.1:{port}"))
}

fn zincati(id: &str, group: &str) -> String {
    format!("{{\"client_params\":{{\"id\":\"{id}\",\"group\":\"{group}\"}}}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_serve_answers_fleetlock_within_a_second_under_idle_and_slowloris_connections() {
    raise_fd_limit();
    let etcd = Etcd::start();
    let (server, addr) = lock_serve(
        &etcd,
        &[
            "--group-slots",
            "workers=1000",
            "--max-connections",
            CAP,
            "--header-timeout",
            "3s",
        ],
    );
    let pid = server.child.id();
    let mut held = hostile(&addr, IDLE, SLOW).await;
    let url = format!("http://{addr}");
    for n in 0..5 {
        drip(&mut held, IDLE).await;
        let client = reqwest::Client::new();
        let ((status, body), took) = timed("a FleetLock request", async {
            let r = client
                .post(format!("{url}/v1/pre-reboot"))
                .header("fleet-lock-protocol", "true")
                .body(zincati(&format!("node{n}"), "workers"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            took < Duration::from_secs(1),
            "pre-reboot {n} took {took:?} with {IDLE} idle and {SLOW} slowloris connections open"
        );
        let fds = open_fds(pid);
        assert!(fds < 1000 + 300, "the server holds {fds} descriptors");
    }
    drop(held);
    // An oversized body: 413 with Airlock's error shape.
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/pre-reboot"))
        .header("fleet-lock-protocol", "true")
        .body(format!("{{\"x\":\"{}\"}}", "a".repeat(64 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["kind"], "invalid_request", "{body}");
}

// ---- update-server records ----

async fn check(endpoint: &str, machine: &str, version: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "text/xml")
        .body(check_request(machine, version))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn machines(json: &serde_json::Value) -> usize {
    json["instances"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spraying_client_cannot_grow_the_records_past_the_cap() {
    let (tmp, _) = published(&[("stable", "2.0.0")]);
    let srv = tmp.path().join("srv");
    let (_guard, url) = kindling_server(
        &srv,
        &[
            "--max-machines",
            "100",
            "--new-machines-per-minute",
            "100000",
        ],
    );
    let endpoint = format!("{url}/v1/update/");
    for n in 0..400 {
        let (status, body) = check(&endpoint, &format!("spray{n:04}"), "1.0.0").await;
        assert_eq!(status, 200, "{body}");
    }
    let json = status_until(&srv, |j| {
        crate::support::omaha::instance(j, "spray0399").is_some()
    });
    assert!(
        machines(&json) <= 100,
        "{} machines recorded",
        machines(&json)
    );
    // The longest unseen went first.
    assert!(crate::support::omaha::instance(&json, "spray0000").is_none());
    // A field over the limit is refused, not recorded.
    let (status, body) = check(&endpoint, &"m".repeat(200), "1.0.0").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("error-fieldTooLong"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_adds_at_most_its_new_machines_per_minute() {
    let (tmp, _) = published(&[("stable", "2.0.0")]);
    let srv = tmp.path().join("srv");
    // The rate is counted per calendar minute: start early in one, so the test stays in it.
    let second = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 60
    };
    // From second 41 the wait lasts at most 19 s (to the next minute's start).
    let deadline = Instant::now() + Duration::from_secs(25);
    while second() > 40 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_guard, url) = kindling_server(&srv, &["--new-machines-per-minute", "20"]);
    let endpoint = format!("{url}/v1/update/");
    let (_, first) = check(&endpoint, "known", "1.0.0").await;
    assert!(first.contains("<manifest"), "{first}");
    let mut offered = 0;
    for n in 0..60 {
        let (status, body) = check(&endpoint, &format!("new{n:02}"), "1.0.0").await;
        assert_eq!(status, 200, "{body}");
        offered += usize::from(body.contains("<manifest"));
    }
    // 19 more were recorded (and offered the update); the rest got noupdate, unrecorded.
    assert_eq!(offered, 19);
    // A machine already recorded is still answered as before.
    let (_, again) = check(&endpoint, "known", "1.0.0").await;
    assert!(again.contains("<manifest"), "{again}");
    status_until(&srv, |j| machines(j) >= 20);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let json = status_until(&srv, |_| true);
    assert_eq!(machines(&json), 20, "{json:#}");
}

fn log_len(srv: &Path) -> u64 {
    std::fs::metadata(srv.join("instances.log"))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_appends_one_record_instead_of_rewriting_the_table() {
    use std::os::unix::fs::MetadataExt as _;
    let (tmp, _) = published(&[("stable", "2.0.0")]);
    let srv = tmp.path().join("srv");
    let (_guard, url) = kindling_server(&srv, &[]);
    let endpoint = format!("{url}/v1/update/");
    for n in 0..300 {
        check(&endpoint, &format!("m{n:03}"), "2.0.0").await;
    }
    status_until(&srv, |j| machines(j) == 300);
    let before = log_len(&srv);
    let inode = std::fs::metadata(srv.join("instances.log")).unwrap().ino();
    check(&endpoint, "m007", "2.0.0").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while log_len(&srv) == before {
        assert!(Instant::now() < deadline, "the change was never written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let grew = log_len(&srv) - before;
    assert!(
        grew < 1024,
        "one machine's change wrote {grew} bytes (table of {before})"
    );
    assert_eq!(
        std::fs::metadata(srv.join("instances.log")).unwrap().ino(),
        inode
    );
    assert!(!srv.join("instances.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_an_old_instances_json_are_kept() {
    let (tmp, _) = published(&[("stable", "2.0.0")]);
    let srv = tmp.path().join("srv");
    std::fs::write(
        srv.join("instances.json"),
        r#"{"instances":{"old1":{"machine_id":"old1","app_id":"x","channel":"stable","version":"1.0.0","first_seen":1,"last_seen":2,"state":"up-to-date"}}}"#,
    )
    .unwrap();
    let (mut guard, url) = kindling_server(&srv, &[]);
    let json = status_until(&srv, |j| machines(j) == 1);
    assert_eq!(
        crate::support::omaha::instance(&json, "old1").unwrap()["version"],
        "1.0.0"
    );
    check(&format!("{url}/v1/update/"), "new1", "2.0.0").await;
    status_until(&srv, |j| machines(j) == 2);
    assert!(srv.join("instances.json.migrated").exists());
    guard.terminate();
    let json = status_until(&srv, |j| machines(j) == 2);
    assert!(crate::support::omaha::instance(&json, "old1").is_some());
}

// ---- lock serve: groups ----

fn revision(etcd: &Etcd) -> u64 {
    let out = etcd.etcdctl(&["endpoint", "status", "-w", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json[0]["Status"]["header"]["revision"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_group_costs_nothing_that_stays() {
    let etcd = Etcd::start();
    let (server, addr) = lock_serve(&etcd, &["--group-slots", "workers=1"]);
    let pid = server.child.id();
    let url = format!("http://{addr}");
    let http = reqwest::Client::new();
    let status = |g: &str| {
        let r = http.get(format!("{url}/v1/holders?group={g}")).send();
        async move {
            let r = r.await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (code, body) = status("workers").await;
    assert_eq!(code, 200, "{body}");
    let fds = open_fds(pid);
    let rev = revision(&etcd);
    // 300 groups that do not exist: holders, a forced release, a steady-state.
    for n in 0..300 {
        let g = format!("nosuch{n}");
        let (code, body) = status(&g).await;
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\"stored\":false"), "{body}");
        let r = http
            .post(format!("{url}/v1/admin/release"))
            .body(zincati("x", &g))
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "{\"released\":false}\n");
        let r = http
            .post(format!("{url}/v1/steady-state"))
            .header("fleet-lock-protocol", "true")
            .body(zincati("x", &g))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        revision(&etcd),
        rev,
        "etcd was written for groups that do not exist"
    );
    let now = open_fds(pid);
    assert!(
        now <= fds + 8,
        "descriptors grew from {fds} to {now} over 300 groups"
    );
    // A group made on first use is gone again once its last holder leaves.
    for api in ["pre-reboot", "steady-state"] {
        let r = http
            .post(format!("{url}/v1/{api}"))
            .header("fleet-lock-protocol", "true")
            .body(zincati("n1", "passing"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{api}");
    }
    assert_eq!(
        etcd.v3_value("com.coreos.airlock/groups/passing/v1/semaphore"),
        None
    );
    // Malformed or over-long names are refused on every endpoint, without a write.
    let rev = revision(&etcd);
    let long = "a".repeat(200);
    for g in ["bad/name", long.as_str()] {
        let (code, body) = status(g).await;
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("unknown_group"), "{body}");
    }
    assert_eq!(revision(&etcd), rev);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_holds_on_every_endpoint() {
    let etcd = Etcd::start();
    let (_server, addr) = lock_serve(&etcd, &["--group-slots", "workers=1", "--only-configured"]);
    let url = format!("http://{addr}");
    let http = reqwest::Client::new();
    let rev = revision(&etcd);
    let holders = http
        .get(format!("{url}/v1/holders?group=other"))
        .send()
        .await
        .unwrap();
    assert_eq!(holders.status(), 400);
    assert!(holders.text().await.unwrap().contains("unknown_group"));
    for path in ["/v1/admin/release", "/v1/steady-state", "/v1/pre-reboot"] {
        let r = http
            .post(format!("{url}{path}"))
            .header("fleet-lock-protocol", "true")
            .body(zincati("x", "other"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert!(r.text().await.unwrap().contains("unknown_group"), "{path}");
    }
    assert_eq!(
        revision(&etcd),
        rev,
        "etcd was written for a group not configured"
    );
    let ok = http
        .get(format!("{url}/v1/holders?group=workers"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_on_which_nothing_moves_is_closed_after_the_idle_timeout() {
    let (tmp, _) = published(&[("stable", "2.0.0")]);
    let srv = tmp.path().join("srv");
    let (_guard, url) = kindling_server(&srv, &["--header-timeout", "30s", "--idle-timeout", "1s"]);
    let addr = url.trim_start_matches("http://").to_string();
    let mut quiet = TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 64];
    let (read, took) = timed("the idle close", quiet.read(&mut buf)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "closed after {took:?} (idle timeout 1 s, header timeout 30 s)"
    );
    // A client that keeps asking is not cut.
    let mut busy = TcpStream::connect(&addr).await.unwrap();
    for n in 0..4 {
        let body = check_request(&format!("busy{n}"), "2.0.0");
        let head = format!(
            "POST /v1/update/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        busy.write_all(head.as_bytes()).await.unwrap();
        busy.write_all(body.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !answer.ends_with(b"</response>\n") {
            let n = tokio::time::timeout(Duration::from_secs(5), busy.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(
                n > 0,
                "closed while in use: {}",
                String::from_utf8_lossy(&answer)
            );
            answer.extend_from_slice(&chunk[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
}
