//! `kindling lock lock ID --wait` survives an etcd restart on every etcd backend (issue 18,
//! item 5): a waiter whose watch breaks when etcd dies (SIGKILL, a crash) pauses and tries
//! again, and takes the slot once etcd is back on the same port and data dir and the holder
//! gave it up. Real etcd (Debian's 3.4, v2 API on), the real binary.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::fleet::EtcdServer;
use crate::support::lock::kindling;
use crate::support::process::Guard;

fn klock(url: &str, backend: &str, args: &[&str]) -> std::process::Output {
    kindling(&[&["lock", "--endpoint", url, "--backend", backend][..], args].concat())
}

/// What an exited child wrote (standard output, standard error).
fn output(child: &mut Guard) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.0.stdout.take() {
        o.read_to_string(&mut out).unwrap();
    }
    if let Some(mut e) = child.0.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    (out, err)
}

fn waiter_survives_a_restart(backend: &str) {
    let mut etcd = EtcdServer::start();
    let out = klock(&etcd.url, backend, &["lock", "a"]);
    assert!(out.status.success(), "{backend}: {out:?}");
    let mut waiter = Guard(
        Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["lock", "--endpoint", &etcd.url, "--backend", backend])
            .args(["--format", "json", "lock", "b", "--wait", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The waiter is watching; etcd crashes under it and comes back 2 s later.
    std::thread::sleep(Duration::from_secs(1));
    assert!(waiter.0.try_wait().unwrap().is_none(), "{backend}: gave up");
    etcd.stop();
    std::thread::sleep(Duration::from_secs(2));
    if let Some(status) = waiter.0.try_wait().unwrap() {
        panic!(
            "{backend}: the waiter gave up while etcd was down ({status}): {}",
            output(&mut waiter).1
        );
    }
    etcd.restart();
    std::thread::sleep(Duration::from_secs(1));
    assert!(waiter.0.try_wait().unwrap().is_none(), "{backend}: gave up");
    let out = klock(&etcd.url, backend, &["unlock", "a"]);
    assert!(out.status.success(), "{backend}: {out:?}");
    let since = Instant::now();
    while waiter.0.try_wait().unwrap().is_none() {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "{backend}: the waiter never took the freed slot"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = waiter.0.wait().unwrap();
    let (stdout, stderr) = output(&mut waiter);
    assert!(status.success(), "{backend}: {stderr}");
    assert_eq!(
        stdout, "{\"id\":\"b\",\"result\":\"locked\"}\n",
        "{backend}: {stderr}"
    );
    let status = klock(&etcd.url, backend, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains('b') && !text.contains("\ta\n"), "{text}");
}

#[test]
fn an_etcd2_lock_wait_survives_an_etcd_restart() {
    waiter_survives_a_restart("etcd2");
}

#[test]
fn an_etcd3_lock_wait_survives_an_etcd_restart() {
    waiter_survives_a_restart("etcd3");
}
