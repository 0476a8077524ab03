//! The fleet's reboot lock on a production-shaped etcd (issue 23): three members, TLS with
//! client certificates (tests/support/cluster.rs), every endpoint and the client
//! certificate in each node's update.conf, faults while the fleet reboots
//! (tests/support/chaos.rs), and the history checker over each run
//! (tests/support/history.rs): no revision with more holders than slots, every reboot with
//! its slot held (and its lease alive), re-checked by the agent right before, every slot
//! given back. The CI variant: 9 agents, 3 slots, 1 s reboots, the leader killed every 4 s
//! and a follower frozen for 3 s, on etcd v3, v2, and `lock serve` (FleetLock) in front.
//! The full size is a bench (scripts/bench-fleet-cluster). Then a real partition: the
//! member listed first to every agent is cut off from its peers (iptables in a network
//! namespace the test makes).

use std::time::Duration;

use crate::support::chaos::{Faults, run};
use crate::support::cluster::{Cluster, Netns, in_netns, netns_available};
use crate::support::fleet::{Backend, one_at_a_time};

const CI_FAULTS: Faults = Faults {
    kill_every: Some(Duration::from_secs(4)),
    freeze_for: Some(Duration::from_secs(3)),
    freeze_at: Duration::from_secs(2),
};

fn ci(backend: Backend) {
    let _one = one_at_a_time();
    let mut cluster = Cluster::start();
    let out = run(
        &mut cluster,
        backend,
        9,
        3,
        Duration::from_secs(1),
        CI_FAULTS,
        Duration::from_secs(120),
    );
    let f = out.report.figures();
    eprintln!(
        "{backend:?} on the TLS cluster: {f}; {} leaders killed, {} freezes; {:?}",
        out.leaders_killed, out.frozen, out.summary
    );
    out.report.assert_complete(&[]);
    assert!(
        out.leaders_killed >= 1,
        "no leader was killed: the run proves nothing"
    );
    assert_eq!(out.frozen, 1);
    assert_eq!(out.summary.reboots, 9);
    assert_eq!(out.summary.most_holders, 3, "the slots were never all used");
}

#[test]
fn a_fleet_on_a_tls_cluster_with_leader_kills_and_a_freeze_etcd3() {
    ci(Backend::Etcd3);
}

#[test]
fn a_fleet_on_a_tls_cluster_with_leader_kills_and_a_freeze_etcd2() {
    ci(Backend::Etcd2);
}

#[test]
fn a_fleet_through_lock_serve_on_a_tls_cluster_with_leader_kills_and_a_freeze() {
    ci(Backend::FleetLock);
}

/// The member every agent lists first is cut off from its peers for 8 s (it still accepts
/// the agents' connections: the worst case, a member that answers but cannot serve). Every
/// agent fails over or waits; none reboots without its slot; all end updated. Where no
/// network namespace can be made, the member is frozen instead (said on stderr).
#[test]
fn a_partition_of_the_member_an_agent_talks_to() {
    let _one = one_at_a_time();
    for backend in [Backend::Etcd3, Backend::Etcd2] {
        if !netns_available() {
            eprintln!("no network namespaces here: freezing the member instead of a partition");
            let mut cluster = Cluster::start();
            let out = run(
                &mut cluster,
                backend,
                4,
                1,
                Duration::from_secs(1),
                Faults {
                    kill_every: None,
                    freeze_for: Some(Duration::from_secs(8)),
                    freeze_at: Duration::ZERO,
                },
                Duration::from_secs(120),
            );
            out.report.assert_complete(&[]);
            continue;
        }
        let ns = Netns::new();
        let name = ns.name.clone();
        in_netns(&name, move || {
            let mut cluster = Cluster::start_with(3, Some(ns));
            let out = run_partitioned(&mut cluster, backend);
            out.report.assert_complete(&[]);
            eprintln!(
                "{backend:?} with member 0 partitioned: {}; {:?}",
                out.report.figures(),
                out.summary
            );
            let waited = out
                .report
                .nodes
                .iter()
                .filter(|n| n.log.contains("retrying") || n.errors > 0)
                .count();
            eprintln!("{waited} agents waited or retried and said why");
        });
    }
}

fn run_partitioned(cluster: &mut Cluster, backend: Backend) -> crate::support::chaos::Outcome {
    crate::support::chaos::run_with(
        cluster,
        backend,
        4,
        1,
        Duration::from_secs(1),
        Duration::from_secs(120),
        |cluster, done| {
            let p = cluster.partition(0, false);
            let heal = std::time::Instant::now() + Duration::from_secs(8);
            // The cut is real: member 0 still answers but, without its peers, is not healthy.
            let mut seen = false;
            while std::time::Instant::now() < heal && !seen {
                seen = !cluster.member_healthy(0);
            }
            assert!(
                seen,
                "member 0 stayed healthy while cut off: the partition did nothing"
            );
            while std::time::Instant::now() < heal && !done() {
                std::thread::sleep(Duration::from_millis(100));
            }
            drop(p);
        },
    )
}
