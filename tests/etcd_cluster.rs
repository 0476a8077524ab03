//! The lock on a production-shaped etcd (issue 23): three members, TLS with client
//! certificates (tests/support/cluster.rs), every endpoint listed. Checked: `kindling lock`
//! with TLS from flags and from the environment, on etcd v2 and v3; clear messages for a
//! wrong CA, an expired and a missing client certificate; 12 contenders for 2 slots all
//! finish while the leader is killed under them; with a majority frozen no slot is given
//! and the error says the cluster lacks a quorum, and a waiter gets its slot after the thaw.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::cluster::Cluster;
use crate::support::lock::wait_until;
use crate::support::process::Guard;

/// `kindling lock --endpoint EVERY-MEMBER --backend BACKEND TLS-FLAGS ARGS`.
fn klock_cmd(cluster: &Cluster, backend: &str, tls: &[String], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kindling"));
    cmd.args([
        "lock",
        "--endpoint",
        &cluster.endpoints(),
        "--backend",
        backend,
    ])
    .args(tls)
    .args(args);
    cmd
}

fn klock(cluster: &Cluster, backend: &str, tls: &[String], args: &[&str]) -> std::process::Output {
    klock_cmd(cluster, backend, tls, args).output().unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// TLS from flags and from the environment (locksmithctl's variables), every endpoint
/// listed, on both etcd backends; `fleet status` with its own variables.
#[test]
fn lock_commands_work_on_the_tls_cluster_from_flags_and_the_environment() {
    let cluster = Cluster::start();
    let tls = cluster.pki.flags();
    for backend in ["etcd3", "etcd2"] {
        for args in [
            &["set-max", "2"][..],
            &["lock", "n1"],
            &["status"],
            &["unlock", "n1"],
        ] {
            let out = klock(&cluster, backend, &tls, args);
            assert!(out.status.success(), "{backend} {args:?}: {}", text(&out));
        }
        let p = &cluster.pki;
        let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args([
                "lock",
                "--backend",
                backend,
                "--format",
                "json",
                "lock",
                "n2",
            ])
            .env("LOCKSMITHCTL_ENDPOINT", cluster.endpoints())
            .env("LOCKSMITHCTL_ETCD_CAFILE", &p.ca)
            .env("LOCKSMITHCTL_ETCD_CERTFILE", &p.client_cert)
            .env("LOCKSMITHCTL_ETCD_KEYFILE", &p.client_key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{backend} from the environment: {}",
            text(&out)
        );
        assert!(text(&out).contains("\"locked\""), "{}", text(&out));
        let out = klock(&cluster, backend, &tls, &["status"]);
        assert!(text(&out).contains("n2"), "{backend}: {}", text(&out));
    }
    let p = &cluster.pki;
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["fleet", "status", "--format", "json"])
        .env("KINDLING_FLEET_ENDPOINT", cluster.endpoints())
        .env("KINDLING_FLEET_ETCD_CAFILE", &p.ca)
        .env("KINDLING_FLEET_ETCD_CERTFILE", &p.client_cert)
        .env("KINDLING_FLEET_ETCD_KEYFILE", &p.client_key)
        .output()
        .unwrap();
    assert!(out.status.success(), "fleet status: {}", text(&out));
}

/// A wrong CA, a missing, an expired and a foreign client certificate, and a missing
/// file: one line naming the file and the reason, on both backends, never a transport
/// error's dump, and quickly (a misconfiguration is not retried for the failover budget).
#[test]
fn tls_mistakes_are_named_with_the_file_and_the_reason() {
    let cluster = Cluster::start();
    let p = &cluster.pki;
    let cases: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        (
            "no client certificate",
            vec!["--etcd-cafile".into(), s(&p.ca)],
            vec![
                "requires a client certificate and none was given".into(),
                "--etcd-certfile".into(),
            ],
        ),
        (
            "a CA that did not sign etcd's certificate",
            vec![
                "--etcd-cafile".into(),
                s(&p.other_ca),
                "--etcd-certfile".into(),
                s(&p.client_cert),
                "--etcd-keyfile".into(),
                s(&p.client_key),
            ],
            vec![s(&p.other_ca), "does not vouch for".into()],
        ),
        (
            "an expired client certificate",
            vec![
                "--etcd-cafile".into(),
                s(&p.ca),
                "--etcd-certfile".into(),
                s(&p.expired_cert),
                "--etcd-keyfile".into(),
                s(&p.client_key),
            ],
            vec![s(&p.expired_cert), "expired on 2020-01-02".into()],
        ),
        (
            "a client certificate from another CA",
            vec![
                "--etcd-cafile".into(),
                s(&p.ca),
                "--etcd-certfile".into(),
                s(&p.other_cert),
                "--etcd-keyfile".into(),
                s(&p.other_key),
            ],
            vec![s(&p.other_cert), "refused the client certificate".into()],
        ),
        (
            "a CA file that is not there",
            vec!["--etcd-cafile".into(), "/nonexistent/ca.pem".into()],
            vec!["/nonexistent/ca.pem".into(), "No such file".into()],
        ),
    ];
    for backend in ["etcd3", "etcd2"] {
        for (what, flags, expect) in &cases {
            let started = Instant::now();
            let out = klock(&cluster, backend, flags, &["status"]);
            let t = text(&out);
            assert!(!out.status.success(), "{backend}, {what}: succeeded: {t}");
            for e in expect {
                assert!(
                    t.contains(e.as_str()),
                    "{backend}, {what}: no {e:?} in: {t}"
                );
            }
            for dump in ["tonic", "Status {", "hyper::", "transport error"] {
                assert!(!t.contains(dump), "{backend}, {what}: a debug dump: {t}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{backend}, {what}: took {:?}",
                started.elapsed()
            );
            eprintln!("{backend}, {what}: {}", t.trim());
        }
    }
}

#[test]
fn twelve_v3_contenders_all_finish_while_the_leader_is_killed() {
    let mut cluster = Cluster::start();
    let tls = cluster.pki.flags();
    let out = klock(&cluster, "etcd3", &tls, &["set-max", "2"]);
    assert!(out.status.success(), "{out:?}");
    let base = format!(
        "{} lock --endpoint {} --backend etcd3 {}",
        env!("CARGO_BIN_EXE_kindling"),
        cluster.endpoints(),
        tls.join(" ")
    );
    let start = Instant::now();
    let mut contenders: Vec<Guard> = (0..12)
        .map(|i| {
            Guard(
                Command::new("sh")
                    .arg("-c")
                    .arg(format!(
                        "{base} lock c{i} --wait 120 && sleep 1 && {base} unlock c{i}"
                    ))
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let leader = cluster.kill_leader().expect("no leader");
    eprintln!("killed the leader m{leader} at {:?}", start.elapsed());
    let mut done = vec![None; 12];
    while done.iter().any(Option::is_none) && start.elapsed() < Duration::from_secs(120) {
        for (i, c) in contenders.iter_mut().enumerate() {
            if done[i].is_none()
                && let Some(status) = c.0.try_wait().unwrap()
            {
                done[i] = Some((status, start.elapsed()));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut failures = Vec::new();
    for (i, d) in done.iter().enumerate() {
        match d {
            Some((s, _)) if s.success() => {}
            other => {
                let mut err = String::new();
                if let Some(mut e) = contenders[i].0.stderr.take()
                    && other.is_some()
                {
                    std::io::Read::read_to_string(&mut e, &mut err).unwrap();
                }
                failures.push(format!("c{i}: {other:?} {err}"));
            }
        }
    }
    eprintln!(
        "finished: {:?}",
        done.iter()
            .map(|d| d.map(|(_, t)| t.as_secs_f64()))
            .collect::<Vec<_>>()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Two of three members frozen (SIGSTOP, a majority: no quorum): a lock without `--wait`
/// fails within its failover budget saying the cluster has no quorum, a lock with `--wait`
/// holds nothing while the majority is frozen and takes its slot once it thaws; on etcd v3
/// and v2. No slot is ever given out without a quorum.
#[test]
fn with_a_majority_frozen_no_slot_is_given_until_it_thaws() {
    let mut cluster = Cluster::start();
    let tls = cluster.pki.flags();
    for backend in ["etcd3", "etcd2"] {
        let out = klock(&cluster, backend, &tls, &["set-max", "1"]);
        assert!(out.status.success(), "{backend}: {}", text(&out));
        let leader = cluster.leader(Duration::from_secs(10)).expect("no leader");
        let follower = (0..3).find(|&i| i != leader).unwrap();
        cluster.freeze(leader, true);
        cluster.freeze(follower, true);
        let start = Instant::now();
        let out = klock(&cluster, backend, &tls, &["lock", "a"]);
        let took = start.elapsed();
        eprintln!("{backend}: lock without a quorum, {took:?}: {}", text(&out));
        assert!(!out.status.success(), "{backend}: {}", text(&out));
        assert!(took < Duration::from_secs(60), "{backend}: {took:?}");
        assert!(
            text(&out).contains("majority of its members are up and reach each other"),
            "{backend}: no quorum hint: {}",
            text(&out)
        );
        let mut waiter = Guard(
            klock_cmd(&cluster, backend, &tls, &["lock", "b", "--wait", "90"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        std::thread::sleep(Duration::from_secs(5));
        assert!(
            waiter.0.try_wait().unwrap().is_none(),
            "{backend}: the waiter ended without a quorum"
        );
        let thawed = Instant::now();
        cluster.freeze(leader, false);
        cluster.freeze(follower, false);
        let mut status = None;
        wait_until(
            &format!("{backend}: the waiter's slot after the thaw"),
            Duration::from_secs(60),
            || {
                status = waiter.0.try_wait().unwrap();
                status.is_some()
            },
        );
        let status = status.unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(waiter.0.stderr.as_mut().unwrap(), &mut err).unwrap();
        eprintln!(
            "{backend}: the waiter took its slot {:?} after the thaw: {err}",
            thawed.elapsed()
        );
        assert!(status.success(), "{backend}: {err}");
        let out = klock(&cluster, backend, &tls, &["status", "--format", "json"]);
        assert!(out.status.success(), "{backend}: {}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        eprintln!("{backend}: {v}");
        let out = klock(&cluster, backend, &tls, &["unlock", "b"]);
        assert!(out.status.success(), "{backend}: {}", text(&out));
    }
}
