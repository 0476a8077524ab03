//! Reboot windows against a fixed clock: locksmith's semantics (daily, weekly, end
//! inclusive, crossing midnight and the week end) in UTC and named zones, DST days (a window
//! in the skipped hour and in the repeated hour, placed as Go's `time.Date` places them), and calendar expressions checked against
//! the real `systemd-analyze calendar --base-time` in the same zones.

use std::process::Command;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kindling::reboot::{Window, node_zone};

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// A wall-clock time in a zone (`compatible` disambiguation), as an instant.
fn at(z: &str, civil: &str) -> Timestamp {
    let dt: DateTime = civil.parse().unwrap();
    dt.to_zoned_datetime(zone(z)).unwrap().timestamp()
}

/// An instant from its UTC offset form.
fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn show(window: &Window, after: Timestamp) -> String {
    let (s, e) = window.next_open(after).unwrap();
    format!(
        "{} .. {}",
        s.strftime("%a %F %T %Z"),
        e.strftime("%a %F %T %Z")
    )
}

#[test]
fn daily_window_end_inclusive_and_across_midnight() {
    for z in ["UTC", "Europe/Berlin", "America/New_York"] {
        let w = Window::locksmith("23:05", "11h", zone(z)).unwrap();
        assert!(w.contains(at(z, "2026-06-10T23:05")), "{z}: the start");
        assert!(w.contains(at(z, "2026-06-11T03:00")), "{z}: after midnight");
        assert!(
            w.contains(at(z, "2026-06-11T10:05")),
            "{z}: the end is inclusive"
        );
        assert!(
            !w.contains(at(z, "2026-06-11T10:05:00.000000001")),
            "{z}: past the end"
        );
        assert!(
            !w.contains(at(z, "2026-06-11T23:04:59")),
            "{z}: before the start"
        );
        let d = w.duration_to_start(at(z, "2026-06-11T12:05")).unwrap();
        assert_eq!(d, SignedDuration::from_hours(11), "{z}");
        let d = w.duration_to_start(at(z, "2026-06-11T01:05")).unwrap();
        assert_eq!(
            d,
            -SignedDuration::from_hours(2),
            "{z}: two hours into the window"
        );
    }
}

#[test]
fn weekly_window_across_the_week_end() {
    // locksmith's README: "Thu 23:00" + 1h30m is Thu 23:00 .. Fri 00:30.
    let w = Window::locksmith("thu 23:00", "1h30m", TimeZone::UTC).unwrap();
    // 2026-03-05 is a Thursday.
    assert_eq!(
        show(&w, ts("2026-03-02T00:00Z")),
        "Thu 2026-03-05 23:00:00 UTC .. Fri 2026-03-06 00:30:00 UTC"
    );
    assert!(w.contains(ts("2026-03-06T00:30Z")));
    assert!(!w.contains(ts("2026-03-06T00:31Z")));
    // Saturday night into Sunday (locksmith's week starts on Sunday; the window does not care).
    let w = Window::locksmith("Sat 23:00", "2h", zone("Europe/Berlin")).unwrap();
    assert!(w.contains(at("Europe/Berlin", "2026-03-08T00:30")));
    assert!(w.contains(at("Europe/Berlin", "2026-03-08T01:00")));
    assert!(!w.contains(at("Europe/Berlin", "2026-03-08T01:00:01")));
    assert!(
        !w.contains(at("Europe/Berlin", "2026-03-06T23:30")),
        "a Friday"
    );
    assert_eq!(
        show(&w, at("Europe/Berlin", "2026-03-08T01:00:01")),
        "Sat 2026-03-14 23:00:00 CET .. Sun 2026-03-15 01:00:00 CET"
    );
    // Sunday night into Monday, the other week end.
    let w = Window::locksmith("Sun 23:30", "1h", TimeZone::UTC).unwrap();
    assert!(w.contains(ts("2026-03-09T00:15Z")));
}

#[test]
fn dst_days_in_berlin_and_new_york() {
    let berlin = zone("Europe/Berlin");
    // Spring forward, 2026-03-29 02:00 -> 03:00: a start in the skipped hour opens when the
    // clock reads 03:30 (Go's time.Date does the same), for the full length.
    let w = Window::locksmith("02:30", "1h", berlin.clone()).unwrap();
    assert_eq!(
        show(&w, at("Europe/Berlin", "2026-03-29T00:00")),
        "Sun 2026-03-29 03:30:00 CEST .. Sun 2026-03-29 04:30:00 CEST"
    );
    assert!(!w.contains(at("Europe/Berlin", "2026-03-29T03:29")));
    // Fall back, 2026-10-25 03:00 -> 02:00: a start in the repeated hour opens when Go's
    // time.Date puts it, east of UTC the second pass (02:30 CET); the length is elapsed.
    assert_eq!(
        show(&w, at("Europe/Berlin", "2026-10-25T00:00")),
        "Sun 2026-10-25 02:30:00 CET .. Sun 2026-10-25 03:30:00 CET"
    );
    assert!(
        !w.contains(ts("2026-10-25T00:30:00Z")),
        "02:30 CEST, the first pass, is not the start"
    );
    assert!(w.contains(ts("2026-10-25T01:30:00Z")), "02:30 CET");
    assert!(w.contains(ts("2026-10-25T02:30:00Z")), "03:30 CET, the end");
    assert!(!w.contains(ts("2026-10-25T02:30:01Z")));
    // The next day is ordinary again.
    assert_eq!(
        show(&w, at("Europe/Berlin", "2026-10-25T04:00")),
        "Mon 2026-10-26 02:30:00 CET .. Mon 2026-10-26 03:30:00 CET"
    );
    // New York: a window that spans the spring-forward gap is an hour shorter on the wall
    // clock, never shorter in time.
    let ny = Window::locksmith("01:30", "2h", zone("America/New_York")).unwrap();
    assert_eq!(
        show(&ny, at("America/New_York", "2026-03-08T00:00")),
        "Sun 2026-03-08 01:30:00 EST .. Sun 2026-03-08 04:30:00 EDT"
    );
    // New York's fall back, 2026-11-01 02:00 EDT -> 01:00 EST: west of UTC, Go's time.Date
    // (and so locksmith) opens 01:30 at its first pass, 01:30 EDT.
    let ny_fall = Window::locksmith("01:30", "30m", zone("America/New_York")).unwrap();
    assert_eq!(
        show(&ny_fall, at("America/New_York", "2026-11-01T00:00")),
        "Sun 2026-11-01 01:30:00 EDT .. Sun 2026-11-01 01:00:00 EST"
    );
    assert!(ny_fall.contains(ts("2026-11-01T05:30:00Z")), "01:30 EDT");
    assert!(
        !ny_fall.contains(ts("2026-11-01T06:30:00Z")),
        "01:30 EST, the second pass, is outside"
    );
    // A start in New York's spring-forward gap moves back by the gap, as Go's time.Date
    // does west of UTC: 02:30 on 2026-03-08 opens at 01:30 EST.
    let ny_gap = Window::locksmith("02:30", "1h", zone("America/New_York")).unwrap();
    assert_eq!(
        show(&ny_gap, at("America/New_York", "2026-03-08T00:00")),
        "Sun 2026-03-08 01:30:00 EST .. Sun 2026-03-08 03:30:00 EDT"
    );
    // In UTC nothing moves.
    let utc = Window::locksmith("02:30", "1h", TimeZone::UTC).unwrap();
    assert_eq!(
        show(&utc, ts("2026-03-29T00:00Z")),
        "Sun 2026-03-29 02:30:00 UTC .. Sun 2026-03-29 03:30:00 UTC"
    );
}

#[test]
fn calendar_windows_open_for_their_length() {
    let w = Window::calendar("Sun 04:00", SignedDuration::from_mins(90), TimeZone::UTC).unwrap();
    assert!(w.contains(ts("2026-03-08T05:30Z")));
    assert!(!w.contains(ts("2026-03-08T05:30:01Z")));
    assert_eq!(
        show(&w, ts("2026-03-08T05:31Z")),
        "Sun 2026-03-15 04:00:00 UTC .. Sun 2026-03-15 05:30:00 UTC"
    );
    // A zone in the expression wins over the node's.
    let w = Window::calendar(
        "*-*-* 05:00 Europe/Berlin",
        SignedDuration::ZERO,
        TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(
        show(&w, ts("2026-07-01T00:00Z")),
        "Wed 2026-07-01 05:00:00 CEST .. Wed 2026-07-01 05:00:00 CEST"
    );
    // The lint's messages for a bad expression.
    let err = Window::calendar("*-*-* 25:00", SignedDuration::ZERO, TimeZone::UTC).unwrap_err();
    assert!(err.0.contains("hour 25 is out of range"), "{err}");
}

/// `systemd-analyze calendar`'s next elapse, in UTC.
fn systemd_next(expr: &str, tz: &str, base: Timestamp) -> Option<String> {
    let out = Command::new("systemd-analyze")
        .env("TZ", tz)
        .arg("calendar")
        .arg(format!("--base-time=@{}", base.as_second()))
        .arg(expr)
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze is needed (scripts/test installs systemd): {e}")
        });
    let text = String::from_utf8(out.stdout).unwrap();
    // With TZ=UTC, systemd prints no separate "(in UTC)" line.
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(str::to_string)
    };
    line("(in UTC): ").or_else(|| {
        if tz == "UTC" {
            line("Next elapse: ")
        } else {
            None
        }
    })
}

#[test]
fn calendar_next_elapse_matches_systemd_analyze() {
    let exprs = [
        "daily",
        "weekly",
        "monthly",
        "quarterly",
        "Sun 04:00",
        "Mon..Fri 03:00",
        "*-*-* 05,06:00,30:00",
        "*-*-* 02:30",
        "*-*-* 02:00..03:00/20",
        "Sat *-*-1..7 4:00",
        "*-02~03",
        "Mon *-05~07/1",
        "*-*-31 23:59",
        "*:0/15",
        "2027-02-28 12:00",
        "Wed,Fri 1:00 America/New_York",
        "*-*-* 12:00:30.5",
    ];
    let bases = [
        "2026-03-28T23:00:00Z",
        "2026-03-29T00:45:00Z",
        "2026-10-24T23:30:00Z",
        "2026-10-25T00:45:00Z",
        "2026-12-31T23:59:59Z",
        "2026-02-27T10:00:00Z",
    ];
    let mut compared = 0;
    for tz in ["UTC", "Europe/Berlin", "America/New_York"] {
        for expr in exprs {
            let w = Window::calendar(expr, SignedDuration::ZERO, zone(tz)).unwrap();
            for base in bases {
                let base = ts(base);
                // systemd's next elapse is strictly after the base time.
                let after = base.checked_add(SignedDuration::from_micros(1)).unwrap();
                let ours = w.next_open(after).map(|(s, _)| {
                    s.timestamp()
                        .to_zoned_datetime(TimeZone::UTC)
                        .strftime("%a %F %T UTC")
                        .to_string()
                });
                let theirs = systemd_next(expr, tz, base);
                // systemd-analyze prints whole seconds.
                assert_eq!(ours, theirs, "{expr:?} in {tz} after {base}");
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 17 * 6 * 3);
}

#[test]
fn the_nodes_zone_comes_from_its_root() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    assert_eq!(
        node_zone(Some(dir.path())).unwrap(),
        TimeZone::UTC,
        "no /etc/localtime"
    );
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::os::unix::fs::symlink(
        "../usr/share/zoneinfo/Europe/Berlin",
        dir.path().join("etc/localtime"),
    )
    .unwrap();
    let z = node_zone(Some(dir.path())).unwrap();
    assert_eq!(z.iana_name(), Some("Europe/Berlin"));
    std::fs::remove_file(dir.path().join("etc/localtime")).unwrap();
    std::fs::write(dir.path().join("etc/localtime"), b"not tzif").unwrap();
    assert!(node_zone(Some(dir.path())).is_err());
}
