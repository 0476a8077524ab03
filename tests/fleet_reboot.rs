//! A fleet on one machine: simulated nodes with the same staged update, each driven by the
//! real agent through `kindling agent run --once`, reboot under `etcd-lock` on one real etcd
//! with 3 slots (tests/fleet_support.rs has the harness). Checked: every revision of the
//! semaphore, read back from etcd, has at most 3 holders; every node rebooted once, holding
//! a slot at that moment (etcd asked by the reboot command itself), came up on the new
//! release with its slot marked good and gave its slot back; the makespan against the ideal.
//! Then the faults: etcd restarted mid-rollout, a holder SIGKILLed and never back, etcd
//! unreachable for a while, a node whose window closes while it waits.
//!
//! Which history: on the etcd v3 backend the key's every revision is read from etcd's own
//! history after the run (`v3_history`). The v2 store has no such history (its watch keeps
//! the last 1000 events only), so the v2 run is checked by a watcher that follows every
//! modification of the key with `wait=true&waitIndex=` long polls while the fleet runs, and
//! fails if it ever fell behind.

use std::time::Duration;

use crate::fleet_support::{
    Backend, EtcdServer, Fleet, Report, Spec, V2Watch, assert_never_more_than, holders,
    one_at_a_time, v3_history,
};

/// The CI variant: 12 nodes, 3 slots, a 2 s reboot (ideal 8 s).
fn ci_spec(backend: Backend) -> Spec {
    Spec::new(12, 3, Duration::from_secs(2), backend)
}

/// Every node but `except` ends on 1.0.1 with its new slot (USR-B) marked good, idle, and
/// holding no slot; the semaphore ends with no holders.
fn assert_fleet_done(fleet: &Fleet, report: &Report, except: &[usize], last: &str) {
    report.assert_complete(except);
    for (i, node) in fleet.nodes.iter().enumerate() {
        if except.contains(&i) {
            continue;
        }
        let node = node.lock().unwrap();
        assert_eq!(node.running(), "1.0.1", "node {i}");
        let (_, _, successful) = node.attrs("USR-B");
        assert_eq!(successful, 1, "node {i}: USR-B is not marked good");
        let status = node.status_json();
        assert_eq!(status["current_op"], "UPDATE_STATUS_IDLE", "node {i}");
        assert!(status["record"]["lock_held"].is_null(), "node {i}");
    }
    for (i, id) in fleet.ids.iter().enumerate() {
        if !except.contains(&i) {
            assert!(
                !holders(last).contains(id),
                "node {i} still holds a slot: {last}"
            );
        }
    }
}

/// The makespan bound. 1.1 x the ideal is the figure for 100 agents on a 1 s
/// reboot; see `makespan_bound` in book/src/agent.md for what the CI variant can hold.
fn assert_makespan(report: &Report, bound: f64) {
    let f = report.figures();
    assert!(
        f.makespan <= bound * f.ideal,
        "makespan {:.2} s > {bound} x the ideal {:.1} s ({f})",
        f.makespan,
        f.ideal
    );
}

#[test]
fn a_fleet_on_etcd3_reboots_three_at_a_time_and_every_node_ends_updated() {
    let _one = one_at_a_time();
    let etcd = EtcdServer::start();
    let fleet = Fleet::new(ci_spec(Backend::Etcd3), &etcd.url);
    let report = fleet.run(|_| {});
    eprintln!("fleet: {}", report.figures());
    let history = v3_history(&etcd.url, Backend::Etcd3.key());
    let most = assert_never_more_than(&history, 3);
    assert_eq!(most, 3, "the slots were never all used: {history:?}");
    assert_fleet_done(&fleet, &report, &[], history.last().unwrap());
    assert!(report.most_down_at_once(&[]) <= 3);
    assert_makespan(&report, MAKESPAN_BOUND);
}

/// The CI variant's bound (see the module docs of the figures in book/src/agent.md).
const MAKESPAN_BOUND: f64 = 1.1;

#[test]
fn a_fleet_on_etcd2_never_has_more_than_three_holders_in_any_modification() {
    let _one = one_at_a_time();
    let etcd = EtcdServer::start();
    let fleet = Fleet::new(ci_spec(Backend::Etcd2), &etcd.url);
    let watch = V2Watch::start(&etcd.url, Backend::Etcd2.key());
    let report = fleet.run(|_| {});
    eprintln!("fleet (etcd v2): {}", report.figures());
    let history = watch.finish();
    // Every lock and every unlock is a modification: two per node, besides set-max.
    assert!(history.len() > 2 * 12, "{history:?}");
    assert_eq!(assert_never_more_than(&history, 3), 3, "{history:?}");
    assert_fleet_done(&fleet, &report, &[], history.last().unwrap());
    assert!(report.most_down_at_once(&[]) <= 3);
    assert_makespan(&report, MAKESPAN_BOUND);
}

/// Wait (bounded) until `n` reboots were recorded across the fleet.
fn wait_for_reboots(fleet: &Fleet, n: usize) {
    crate::lock_support::wait_until("reboots", Duration::from_secs(60), || {
        (0..fleet.spec.nodes)
            .map(|i| fleet.reboots(i).len())
            .sum::<usize>()
            >= n
    });
}

#[test]
fn etcd_restarted_mid_rollout_the_fleet_still_completes_three_at_a_time() {
    let _one = one_at_a_time();
    let mut etcd = EtcdServer::start();
    let fleet = Fleet::new(Spec::new(9, 3, Duration::from_secs(2), Backend::Etcd3), &etcd.url);
    let report = fleet.run(|_| {
        wait_for_reboots(&fleet, 4);
        // A crash (SIGKILL) and a restart on the same ports and data dir.
        etcd.stop();
        std::thread::sleep(Duration::from_secs(1));
        etcd.restart();
    });
    eprintln!("fleet (etcd restarted): {}", report.figures());
    let history = v3_history(&etcd.url, Backend::Etcd3.key());
    assert_never_more_than(&history, 3);
    assert_fleet_done(&fleet, &report, &[], history.last().unwrap());
    assert!(report.most_down_at_once(&[]) <= 3);
}

#[test]
fn a_holder_killed_and_never_back_is_recovered_by_its_lease_by_one_contender() {
    let _one = one_at_a_time();
    let etcd = EtcdServer::start();
    let mut spec = Spec::new(9, 3, Duration::from_secs(2), Backend::Etcd3);
    // Longer than a reboot and the after-boot run (a holder that merely reboots keeps its
    // slot), short enough for a test.
    spec.conf = "KINDLING_LOCK_LEASE_TTL=5s\n".into();
    spec.hang = Some(0);
    let fleet = Fleet::new(spec, &etcd.url);
    let victim = fleet.ids[0].clone();
    let mut killed_at = 0.0;
    let report = fleet.run(|live| {
        crate::lock_support::wait_until("the victim to take its slot", Duration::from_secs(30), || {
            fleet.hung(0).is_some()
        });
        live.kill(0);
        killed_at = crate::fleet_support::now();
    });
    eprintln!("fleet (a holder killed): {}", report.figures());
    assert!(report.nodes[0].killed && report.nodes[0].reboots.is_empty());
    let history = v3_history(&etcd.url, Backend::Etcd3.key());
    assert_never_more_than(&history, 3);
    // The victim held a slot, then one revision removed it and nothing else: one
    // contender's compare-and-swap, not a TTL that frees everything at once.
    let held: Vec<bool> = history.iter().map(|v| holders(v).contains(&victim)).collect();
    let removed = held
        .windows(2)
        .position(|w| w[0] && !w[1])
        .unwrap_or_else(|| panic!("the killed holder's slot was never recovered: {history:#?}"));
    assert!(!held[removed + 1..].iter().any(|h| *h), "{history:?}");
    let (before, after) = (holders(&history[removed]), holders(&history[removed + 1]));
    assert_eq!(
        after,
        before.iter().filter(|h| **h != victim).cloned().collect::<Vec<_>>(),
        "the recovery changed more than the dead holder"
    );
    assert_fleet_done(&fleet, &report, &[0], history.last().unwrap());
    assert!(report.most_down_at_once(&[0]) <= 3);
    // Recovered by the lease's expiry, not before: from the victim's lock until its lease
    // could first have run out (TTL 5 s after its last keep-alive, sent every TTL/3), the
    // others had two slots: never more than two of them were down.
    let took = fleet.hung(0).unwrap();
    let earliest_expiry = killed_at + 5.0 - 5.0 / 3.0;
    assert!(
        report.most_down_during(&[0], took, earliest_expiry) <= 2,
        "a node rebooted in the killed holder's slot before its lease expired"
    );
}

#[test]
fn etcd_unreachable_for_a_while_no_node_reboots_without_the_lock_and_all_complete() {
    let _one = one_at_a_time();
    let etcd = EtcdServer::start();
    // locksmith's backend; the v2 watcher keeps following the key across the outage.
    let fleet = Fleet::new(Spec::new(9, 3, Duration::from_secs(2), Backend::Etcd2), &etcd.url);
    let watch = V2Watch::start(&etcd.url, Backend::Etcd2.key());
    let mut outage = (0.0, 0.0);
    let report = fleet.run(|_| {
        wait_for_reboots(&fleet, 3);
        // SIGSTOP: etcd's sockets accept and nothing answers, as behind a partition; the
        // three holders come back from their reboot during it and cannot give their slots
        // back, the six others cannot take one.
        etcd.pause();
        outage.0 = crate::fleet_support::now();
        std::thread::sleep(Duration::from_secs(5));
        outage.1 = crate::fleet_support::now();
        etcd.resume();
    });
    eprintln!("fleet (etcd unreachable 5 s): {}", report.figures());
    let history = watch.finish();
    assert_never_more_than(&history, 3);
    // Every reboot found its node holding a slot in etcd (asked by the reboot command,
    // answered once etcd was back for a reboot during the outage).
    assert_fleet_done(&fleet, &report, &[], history.last().unwrap());
    assert!(report.most_down_at_once(&[]) <= 3);
    // Nobody rebooted during the outage but those that held a slot when it began: the
    // first three rebooted before it; no fourth reboot until it ended.
    let mut reboots: Vec<f64> = report
        .nodes
        .iter()
        .filter_map(|n| n.reboots.first().map(|r| r.at))
        .collect();
    reboots.sort_by(f64::total_cmp);
    assert!(
        reboots[3] > outage.1,
        "a fourth node rebooted at {:.2} during the outage ({:.2}..{:.2})",
        reboots[3],
        outage.0,
        outage.1
    );
}
