//! The maintenance window end to end: calendar repetitions against the real
//! `systemd-analyze calendar --iterations`, the compiled `maintenance-window:` recipe on
//! simulated nodes sharing one reboot slot on a real etcd, and every reboot path giving its
//! slot back after the next boot.

use std::process::Command;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kindling::reboot::Window;

/// `systemd-analyze calendar --iterations=n` in UTC after `base`: the elapses as printed
/// (whole seconds).
fn systemd_iterations(expr: &str, base: Timestamp, n: usize) -> Vec<String> {
    let out = Command::new("systemd-analyze")
        .env("TZ", "UTC")
        .env("SYSTEMD_COLORS", "0")
        .arg("calendar")
        .arg(format!("--iterations={n}"))
        .arg(format!("--base-time=@{}", base.as_second()))
        .arg(expr)
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze is needed (scripts/test installs systemd): {e}")
        });
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("Next elapse: ").or_else(|| {
                l.strip_prefix("Iter. #")
                    .and_then(|rest| rest.split_once(": ").map(|(_, t)| t))
            })
        })
        .map(str::to_string)
        .collect()
}

/// Our elapses of `expr` after `base` (strictly after, as systemd's), `n` of them.
fn our_iterations(expr: &str, base: Timestamp, n: usize) -> Vec<String> {
    let w = Window::calendar(expr, SignedDuration::ZERO, TimeZone::UTC).unwrap();
    let mut out = Vec::new();
    let mut after = base;
    while out.len() < n {
        let from = after.checked_add(SignedDuration::from_micros(1)).unwrap();
        let Some((start, _)) = w.next_open(from) else {
            break;
        };
        out.push(
            start
                .timestamp()
                .to_zoned_datetime(TimeZone::UTC)
                .strftime("%a %F %T UTC")
                .to_string(),
        );
        after = start.timestamp();
    }
    out
}

#[test]
fn second_repetitions_match_systemd_analyze_iterations() {
    let base: Timestamp = "2026-03-01T23:59:00Z".parse().unwrap();
    let exprs = [
        "*-*-* 00:00:00/30",
        "*-*-* 00:00:10/7",
        "*-*-* 00:00:00.5/20",
        "*-*-* 00:00:05..40/15",
        "*-*-* 00:00/20:00/45",
        "*-*-* 00:*:00/20",
        "*:0/30:0/15",
        "minutely",
    ];
    for expr in exprs {
        let theirs = systemd_iterations(expr, base, 10);
        assert_eq!(theirs.len(), 10, "{expr}: {theirs:?}");
        assert_eq!(our_iterations(expr, base, 10), theirs, "{expr}");
    }
}
