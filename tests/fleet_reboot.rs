//! A fleet on one machine: simulated nodes with the same staged update, each driven by the
//! real agent through `kindling agent run --once`, reboot under `etcd-lock` on one real etcd
//! with 3 slots (tests/support/fleet.rs has the harness). Checked: every revision of the
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

use crate::support::fleet::{
    Backend, EtcdServer, Fleet, Report, Spec, V2Watch, assert_never_more_than, holders,
    one_at_a_time, v3_history,
};

/// The CI variant: 9 nodes, 3 slots, a 3 s reboot (ideal 9 s). Each wave costs, beyond the
/// reboot, a hand-over of 0.1-0.15 s in the debug build (the after-boot run up to the
/// unlock, the waiters' watch, the winner's compare-and-swap and reboot command), plus
/// start-up and the last node's after-boot run once; with a 2 s reboot that is 1.06-1.09 x
/// the ideal on an idle machine, too close to 1.1 to hold beside other tests, so the CI
/// variant reboots for 3 s (see `MAKESPAN_BOUND` for its bound).
fn ci_spec(backend: Backend) -> Spec {
    Spec::new(9, 3, Duration::from_secs(3), backend)
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

/// The makespan bound: at most `bound` x the ideal.
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

/// The CI variant's bound. The 1.1 x is a benchmark figure (`scripts/bench
/// fleet-reboot`: 100 release-build agents, measured 1.07-1.09 x); here the debug build
/// shares two cores with every other test of the suite, and one run under load measured
/// 1.136 x. What this test must catch is a node that waits by polling instead of by watch,
/// which costs whole seconds per wave (locksmith's backoff: 9 x the ideal at 12 nodes), so
/// the bound is 1.3 x: far below any polling run, clear of load noise.
const MAKESPAN_BOUND: f64 = 1.3;

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
    assert!(history.len() > 2 * 9, "{history:?}");
    assert_eq!(assert_never_more_than(&history, 3), 3, "{history:?}");
    assert_fleet_done(&fleet, &report, &[], history.last().unwrap());
    assert!(report.most_down_at_once(&[]) <= 3);
    assert_makespan(&report, MAKESPAN_BOUND);
}

/// Wait (bounded) until `n` reboots were recorded across the fleet.
fn wait_for_reboots(fleet: &Fleet, n: usize) {
    crate::support::lock::wait_until("reboots", Duration::from_secs(60), || {
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
    let fleet = Fleet::new(
        Spec::new(9, 3, Duration::from_secs(2), Backend::Etcd3),
        &etcd.url,
    );
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
    // It takes its slot first, so that others still wait when its lease runs out.
    spec.first = vec![0];
    let fleet = Fleet::new(spec, &etcd.url);
    let victim = fleet.ids[0].clone();
    let mut killed_at = 0.0;
    let report = fleet.run(|live| {
        crate::support::lock::wait_until(
            "the victim to take its slot",
            Duration::from_secs(30),
            || fleet.hung(0).is_some(),
        );
        live.kill(0);
        killed_at = crate::support::fleet::now();
    });
    eprintln!("fleet (a holder killed): {}", report.figures());
    assert!(report.nodes[0].killed && report.nodes[0].reboots.is_empty());
    let history = v3_history(&etcd.url, Backend::Etcd3.key());
    assert_never_more_than(&history, 3);
    // The victim held a slot, then one revision removed it and nothing else: one
    // contender's compare-and-swap, not a TTL that frees everything at once.
    let held: Vec<bool> = history
        .iter()
        .map(|v| holders(v).contains(&victim))
        .collect();
    let removed = held
        .windows(2)
        .position(|w| w[0] && !w[1])
        .unwrap_or_else(|| panic!("the killed holder's slot was never recovered: {history:#?}"));
    assert!(!held[removed + 1..].iter().any(|h| *h), "{history:?}");
    let (before, after) = (holders(&history[removed]), holders(&history[removed + 1]));
    assert_eq!(
        after,
        before
            .iter()
            .filter(|h| **h != victim)
            .cloned()
            .collect::<Vec<_>>(),
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
    let fleet = Fleet::new(
        Spec::new(9, 3, Duration::from_secs(2), Backend::Etcd2),
        &etcd.url,
    );
    let watch = V2Watch::start(&etcd.url, Backend::Etcd2.key());
    let mut outage = (0.0, 0.0);
    let report = fleet.run(|_| {
        wait_for_reboots(&fleet, 3);
        // SIGSTOP: etcd's sockets accept and nothing answers, as behind a partition; the
        // three holders come back from their reboot during it and cannot give their slots
        // back, the six others cannot take one.
        etcd.pause();
        outage.0 = crate::support::fleet::now();
        std::thread::sleep(Duration::from_secs(5));
        outage.1 = crate::support::fleet::now();
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

/// A daily window (UTC: the simulated roots have no /etc/localtime) that is open now and
/// closes `secs` (at least) from now: the current minute, for the seconds it takes.
fn window_closing_in(secs: f64) -> (String, f64) {
    let now = crate::support::fleet::now();
    let minute = (now / 60.0).floor() * 60.0;
    let length = (now - minute + secs).ceil();
    let of_day = (minute as u64) % 86_400;
    (
        format!(
            "REBOOT_WINDOW_START={:02}:{:02}\nREBOOT_WINDOW_LENGTH={length}s\n",
            of_day / 3600,
            of_day % 3600 / 60
        ),
        minute + length,
    )
}

/// How many separate holds of `id` the history shows.
fn holds(history: &[String], id: &str) -> usize {
    let held: Vec<bool> = history
        .iter()
        .map(|v| holders(v).iter().any(|h| h == id))
        .collect();
    held.iter()
        .enumerate()
        .filter(|(k, h)| **h && (*k == 0 || !held[k - 1]))
        .count()
}

#[test]
fn a_node_whose_window_closes_while_it_waits_never_reboots_outside_it() {
    let _one = one_at_a_time();
    let etcd = EtcdServer::start();
    // Nodes 0-2 take the three slots first and reboot for 5 s. Nodes 3 and 4 wait for a
    // slot in a window that closes after 2.5-3.5 s. Node 3 just waits: its window closes, it
    // stops waiting for the lock. Node 4 is frozen (SIGSTOP) while it waits, until the
    // window closed and slots are free: it then wins a slot late, and must give it back.
    // On etcd v3: the v2 backend's watch, when its deadline passes while etcd has sent the
    // answer's head but not its body (which etcd v2 does for every long poll), reports the
    // lock unavailable instead of timing out; that is `Etcd2Lock::wait_lock`'s deadline
    // handling, being changed elsewhere.
    let mut spec = Spec::new(5, 3, Duration::from_secs(5), Backend::Etcd3);
    spec.first = vec![0, 1, 2];
    spec.reboot_wait = 7;
    let fleet = Fleet::new(spec, &etcd.url);
    let (window, closes) = window_closing_in(2.5);
    fleet.write_conf(3, &window);
    fleet.write_conf(4, &window);
    let log =
        |i: usize| std::fs::read_to_string(fleet.dirs[i].join("agent.log")).unwrap_or_default();
    let mut reopened = 0.0;
    let report = fleet.run(|live| {
        crate::support::lock::wait_until(
            "node 4 to wait for the lock",
            Duration::from_secs(20),
            || log(4).contains("taking the reboot lock"),
        );
        // Frozen while it waits on its watch, not in the middle of a try (a try that read a
        // full semaphore before the window closed rightly ends the wait after it).
        std::thread::sleep(Duration::from_millis(600));
        assert!(
            crate::support::fleet::now() < closes - 0.3,
            "the fleet started too slowly for the window"
        );
        live.freeze(4, true);
        crate::support::lock::wait_until("the first three back", Duration::from_secs(30), || {
            (0..3).all(|i| live.released(i).is_some())
        });
        assert!(crate::support::fleet::now() > closes);
        live.freeze(4, false);
        let start = std::time::Instant::now();
        while !log(4).contains("giving the slot back") {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "node 4 did not give a late slot back:\n{}",
                log(4)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The window opens again (a new one, no limit): both reboot on their next run.
        reopened = crate::support::fleet::now();
        fleet.write_conf(3, "");
        fleet.write_conf(4, "");
    });
    eprintln!("fleet (windows): {}", report.figures());
    let history = v3_history(&etcd.url, Backend::Etcd3.key());
    assert_never_more_than(&history, 3);
    assert_fleet_done(&fleet, &report, &[], history.last().unwrap());
    for i in [3, 4] {
        let at = report.nodes[i].reboots[0].at;
        assert!(
            at > reopened,
            "node {i} rebooted at {at:.2}, outside its window (closed at {closes:.2}, reopened at {reopened:.2})"
        );
    }
    // Node 4 held a slot twice: won late (and given back), then for its reboot; node 3
    // never held one while its window was closed.
    assert_eq!(holds(&history, &fleet.ids[4]), 2, "{history:#?}");
    assert_eq!(holds(&history, &fleet.ids[3]), 1, "{history:#?}");
    assert!(!log(3).contains("giving the slot back"), "{}", log(3));
}
