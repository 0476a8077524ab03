//! The fleet on a production-shaped etcd, the benchmark (issue 23): 30 simulated nodes
//! (default) driven by the real agent (release build), 3 slots, a 1 s simulated reboot, on a
//! three-member etcd with TLS and client certificates (tests/support/cluster.rs), for the
//! agent on etcd v3, on etcd v2 (locksmith's semaphore over TLS) and through `kindling lock
//! serve` (FleetLock) in front of the cluster. Each backend runs twice on a fresh cluster:
//! without faults, then while the harness kills the leader every 10 s (restarting it a
//! second later) and freezes a follower (SIGSTOP) for 15 s from 5 s in. Every run's history
//! is checked (tests/support/history.rs: no revision with more holders than slots, every
//! reboot with its slot held and re-checked, every slot given back); reported: the
//! makespans and their ratio (goal <= 1.5x).
//!
//! `cargo bench --bench fleet_cluster -- [N] [--kill-every SECS] [--freeze SECS] [--only v3|v2|fleetlock]`

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unused_imports)]

mod common {
    /// The repository root.
    pub fn root() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}
#[path = "../tests/support/agent.rs"]
mod agent;
#[path = "../tests/support/chaos.rs"]
mod chaos;
#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "../tests/support/fleet.rs"]
mod fleet;
#[path = "../tests/support/history.rs"]
mod history;
#[path = "../tests/support/lock.rs"]
mod lock;
#[path = "../tests/support/process.rs"]
mod process;
/// The integration tests' harness names its parts `crate::support::*`.
mod support {
    pub(crate) use super::{agent, chaos, cluster, common, fleet, history, lock, process};
}

use std::time::Duration;

use support::chaos::{Faults, run};
use support::cluster::Cluster;
use support::fleet::{Backend, one_at_a_time};

fn arg(args: &[String], name: &str) -> Option<f64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap())
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let n: usize = args
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let seconds = |name: &str, default: f64| {
        let value = arg(&args, name).unwrap_or(default);
        Duration::try_from_secs_f64(value).unwrap_or_else(|e| {
            eprintln!("{name} {value}: {e}");
            std::process::exit(2)
        })
    };
    let kill = seconds("--kill-every", 10.0);
    let freeze = seconds("--freeze", 15.0);
    let _one = one_at_a_time();
    let reboot = Duration::from_secs(1);
    println!(
        "{n} agents, 3 slots, a 1 s simulated reboot, a three-member etcd with TLS and client certificates; faults: the leader killed every {:.0} s, a follower frozen for {:.0} s",
        kill.as_secs_f64(),
        freeze.as_secs_f64()
    );
    let faults = Faults {
        kill_every: Some(kill),
        freeze_for: Some(freeze),
        freeze_at: Duration::from_secs(5),
    };
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    for (key, name, backend) in [
        ("v3", "agent, etcd v3", Backend::Etcd3),
        ("v2", "agent, etcd v2", Backend::Etcd2),
        (
            "fleetlock",
            "agent, lock serve (FleetLock)",
            Backend::FleetLock,
        ),
    ] {
        if only.as_deref().is_some_and(|o| o != key) {
            continue;
        }
        let mut makespans = Vec::new();
        for (what, f) in [("no faults", Faults::NONE), ("faults", faults)] {
            let mut cluster = Cluster::start();
            let out = run(
                &mut cluster,
                backend,
                n,
                3,
                reboot,
                f,
                Duration::from_secs(600),
            );
            out.report.assert_complete(&[]);
            let fig = out.report.figures();
            println!(
                "{name:<30} {what:<10} {fig}; {} leaders killed, {} freezes; history: {} revisions, at most {} holders, {} reboots, {} re-checks, no violation",
                out.leaders_killed,
                out.frozen,
                out.summary.revisions,
                out.summary.most_holders,
                out.summary.reboots,
                out.summary.rechecks
            );
            makespans.push(fig.makespan);
            if std::env::var_os("FLEET_CLUSTER_TRACE").is_some() {
                trace(&out);
            }
        }
        println!(
            "{name:<30} makespan with faults / without: {:.2} s / {:.2} s = {:.2}x (goal <= 1.5x)",
            makespans[1],
            makespans[0],
            makespans[1] / makespans[0]
        );
    }
}

/// With `FLEET_CLUSTER_TRACE` set: the run's timeline (faults, reboots, nodes up, slots given
/// back, seconds from the start) and the log of each node whose reboot came over a second
/// after the slot it took was freed.
fn trace(out: &support::chaos::Outcome) {
    let t0 = out.report.started;
    let mut lines: Vec<(f64, String)> = out
        .events
        .iter()
        .map(|(t, what)| (t - t0, format!("FAULT {what}")))
        .collect();
    for n in &out.report.nodes {
        if let Some(r) = n.reboots.first() {
            lines.push((r.at - t0, format!("{} reboots", n.id)));
        }
        if let Some(up) = n.up {
            lines.push((up - t0, format!("{} up", n.id)));
        }
        if let Some(rel) = n.released {
            lines.push((rel - t0, format!("{} released", n.id)));
        }
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (t, what) in &lines {
        println!("  {t:7.2} {what}");
    }
    let slots = out.report.spec.slots as usize;
    let mut reboots: Vec<(f64, &str)> = out
        .report
        .nodes
        .iter()
        .filter_map(|n| n.reboots.first().map(|r| (r.at, n.id.as_str())))
        .collect();
    let mut ups: Vec<f64> = out.report.nodes.iter().filter_map(|n| n.up).collect();
    reboots.sort_by(|a, b| a.0.total_cmp(&b.0));
    ups.sort_by(f64::total_cmp);
    for (up, (next, id)) in ups.iter().zip(reboots.iter().skip(slots)) {
        if next - up > 1.0 {
            let log = out
                .report
                .nodes
                .iter()
                .find(|n| n.id == *id)
                .map_or("", |n| n.log.as_str());
            println!(
                "--- hand-over {:.2} s at {:.2}: {id}'s log ---\n{log}",
                next - up,
                up - t0
            );
        }
    }
}
