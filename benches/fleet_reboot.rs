//! A fleet on one machine, the benchmark: 100 simulated nodes (default), each driven by the
//! real agent (`kindling agent run --once`, release build), 3 slots on one real etcd, a 1 s
//! simulated reboot; the harness is the fleet tests' (tests/support/fleet.rs). Measured: the
//! makespan against the ideal ceil(N/3) x 1 s, and where the rest goes (start-up, the
//! hand-over from a node being up to the next reboot in its slot), for
//!   - the agent on etcd v3 (Airlock's key, leases) waiting by watch,
//!   - the agent on etcd v2 (locksmith's key) waiting by `wait=true` long polls,
//!   - the anchor: locksmithd's loop with the peer `locksmithctl lock` (try; on failure
//!     back off 5 s doubling to 5 min), then the agent, on the same v2 key. Its full run
//!     takes hours (everyone starting together retries together at 5, 15, 35, 75, 155, 315,
//!     615 s, then every 300 s, and each retry lets about 3 through), so it is cut off at
//!     `--polling-cap` seconds (600 by default) and reports how many nodes were done by then.
//!
//! Every run also checks its safety: every revision of the semaphore has at most 3 holders,
//! every node rebooted holding a slot (etcd asked by the reboot command itself).
//!
//! `cargo bench --bench fleet_reboot -- [N] [--reboot SECS] [--polling-cap SECS] [--no-polling]`

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod common {
    /// The repository root.
    pub fn root() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}
#[path = "../tests/support/agent.rs"]
mod agent;
#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "../tests/support/fleet.rs"]
mod fleet;
#[path = "../tests/support/lock.rs"]
mod lock;
#[path = "../tests/support/process.rs"]
mod process;
/// The integration tests' harness names its parts `crate::support::*`.
mod support {
    pub(crate) use super::{agent, cluster, common, fleet, lock};
}

use std::time::{Duration, Instant};

use support::fleet::{
    Backend, EtcdServer, Fleet, Spec, V2Watch, assert_never_more_than, one_at_a_time, v3_history,
};

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
        .unwrap_or(100);
    let seconds = |name: &str, default: f64| {
        let value = arg(&args, name).unwrap_or(default);
        Duration::try_from_secs_f64(value).unwrap_or_else(|e| {
            eprintln!("{name} {value}: {e}");
            std::process::exit(2)
        })
    };
    let reboot = seconds("--reboot", 1.0);
    let cap = seconds("--polling-cap", 600.0);
    let polling = !args.iter().any(|a| a == "--no-polling");
    let _one = one_at_a_time();
    let ideal = Spec::new(n, 3, reboot, Backend::Etcd3).ideal();
    println!(
        "{n} agents, 3 slots, a {:.1} s simulated reboot; ideal makespan {ideal:.0} s",
        reboot.as_secs_f64()
    );
    let mut runs = vec![
        ("agent, etcd v3, watch", Backend::Etcd3, false),
        ("agent, etcd v2, watch", Backend::Etcd2, false),
    ];
    if polling {
        runs.push(("locksmith's polling, etcd v2", Backend::Etcd2, true));
    }
    for (name, backend, polls) in runs {
        let etcd = EtcdServer::start();
        let mut spec = Spec::new(n, 3, reboot, backend);
        spec.reboot_wait = 600;
        spec.polling = polls;
        spec.limit = if polls { cap } else { Duration::from_secs(600) };
        let staged = Instant::now();
        let fleet = Fleet::new(spec, &etcd.url);
        let setup = staged.elapsed();
        let watch = (backend == Backend::Etcd2).then(|| V2Watch::start(&etcd.url, backend.key()));
        let report = fleet.run(|_| {});
        let history = match watch {
            Some(w) => w.finish(),
            None => v3_history(&etcd.url, backend.key()),
        };
        let most = assert_never_more_than(&history, 3);
        let f = report.figures();
        let done: Vec<usize> = (0..n)
            .filter(|i| report.nodes[*i].released.is_some())
            .collect();
        let not_done: Vec<usize> = (0..n).filter(|i| !done.contains(i)).collect();
        report.assert_complete(&not_done);
        println!("{name:<30} {f}");
        println!(
            "{:<30} (set-up {:.1} s: one node staged by the agent, {n} copies; {} revisions of the semaphore, at most {most} holders; at most {} nodes down at once)",
            "",
            setup.as_secs_f64(),
            history.len(),
            report.most_down_at_once(&[])
        );
        if polls && !not_done.is_empty() {
            println!(
                "{:<30} cut off after {:.0} s: {} of {n} nodes done, {} still backing off",
                "",
                cap.as_secs_f64(),
                done.len(),
                not_done.len()
            );
        }
    }
}
