//! The next elapse of a systemd calendar expression (`OnCalendar=`), computed in a time zone.
//!
//! [`crate::calendar::parse`] reads the expression (the same check, with the same messages, as
//! the compiler's lint) into a [`CalendarSpec`]; this file resolves its time zone and epoch
//! and walks the calendar forward through its pattern. As systemd does, an elapse whose
//! wall-clock time does not exist (a DST gap) is skipped that day, and one in a repeated
//! hour elapses once, at its first occurrence.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::calendar::{CalendarSpec, Elapses, Pattern};

use super::error::WindowError;

/// A calendar expression ready to be walked: its pattern with the times of day listed, or
/// its one instant, and the zone it names.
#[derive(Debug, Clone)]
pub(super) struct CalendarStarts {
    when: When,
    /// A zone named in the expression (`None`: the node's zone).
    pub zone: Option<TimeZone>,
}

#[derive(Debug, Clone)]
enum When {
    /// `@EPOCH`: one instant.
    Epoch(Timestamp),
    /// Every instant whose wall-clock time matches.
    Pattern(Box<Walk>),
}

/// A pattern, and its hours, minutes and seconds (in microseconds) listed ascending.
#[derive(Debug, Clone)]
struct Walk {
    pattern: Pattern,
    hours: Vec<i64>,
    minutes: Vec<i64>,
    seconds: Vec<i64>,
}

/// The zone an expression names, from the tz database (`localtime`: the node's).
fn named_zone(name: &str) -> Result<Option<TimeZone>, WindowError> {
    if name.eq_ignore_ascii_case("UTC") {
        return Ok(Some(TimeZone::UTC));
    }
    if name == "localtime" {
        return Ok(None);
    }
    let name = name
        .strip_prefix("posix/")
        .or_else(|| name.strip_prefix("right/"))
        .unwrap_or(name);
    TimeZone::get(name).map(Some).map_err(|e| {
        WindowError(format!(
            "time zone {name:?} is not in this system's tz database: {e}"
        ))
    })
}

impl CalendarStarts {
    /// Read `expr` with [`crate::calendar::parse`] and resolve its zone and epoch.
    pub(super) fn parse(expr: &str) -> Result<CalendarStarts, WindowError> {
        let CalendarSpec { elapses, zone } = crate::calendar::parse(expr).map_err(|e| {
            WindowError(format!(
                "{expr:?} is not a calendar expression: {} (at byte {})",
                e.message, e.offset
            ))
        })?;
        let zone = match zone {
            Some(name) => named_zone(&name)?,
            None => None,
        };
        let when = match elapses {
            Elapses::Epoch(digits) => {
                let secs: i64 = digits.parse().unwrap_or(i64::MAX);
                When::Epoch(Timestamp::from_second(secs).map_err(|e| {
                    WindowError(format!(
                        "{expr:?}: @{digits} is not a representable time: {e}"
                    ))
                })?)
            }
            Elapses::Pattern(pattern) => When::Pattern(Box::new(Walk {
                hours: pattern.time.hours.values(),
                minutes: pattern.time.minutes.values(),
                seconds: pattern.time.seconds.values(),
                pattern: *pattern,
            })),
        };
        Ok(CalendarStarts { when, zone })
    }

    /// The first elapse at or after `t`, in the expression's zone or else `node`.
    pub(super) fn first_at_or_after(&self, t: Timestamp, node: &TimeZone) -> Option<Timestamp> {
        match &self.when {
            When::Epoch(epoch) => (*epoch >= t).then_some(*epoch),
            When::Pattern(walk) => walk.first_at_or_after(t, self.zone.as_ref().unwrap_or(node)),
        }
    }
}

impl Walk {
    /// Whether the weekday and the day of the month of `date` match.
    fn date_matches(&self, date: Date) -> bool {
        let pattern = &self.pattern;
        if !pattern
            .weekdays
            .contains(date.weekday().to_monday_zero_offset())
        {
            return false;
        }
        let day = i64::from(date.day());
        let day = if pattern.date.days_from_end {
            i64::from(date.days_in_month()) - day + 1
        } else {
            day
        };
        pattern.date.days.matches(day)
    }

    /// The first elapse at or after `t` in `zone`.
    fn first_at_or_after(&self, t: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let local = zone.to_datetime(t);
        // From yesterday: a repeated hour can put an elapse of yesterday's date after `t`.
        let mut date = local.date().yesterday().ok()?;
        let last = Date::new(2199, 12, 31).ok()?;
        while date <= last {
            let (year, month) = (i64::from(date.year()), i64::from(date.month()));
            if !self.pattern.date.years.matches(year) {
                date = Date::new(date.year().checked_add(1)?, 1, 1).ok()?;
                continue;
            }
            if !self.pattern.date.months.matches(month) {
                date = date.last_of_month().tomorrow().ok()?;
                continue;
            }
            if self.date_matches(date)
                && let Some(found) = self.first_on(date, local, t, zone)
            {
                return Some(found);
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The first elapse on `date` at or after `t` (`local` is `t` on the wall clock).
    fn first_on(
        &self,
        date: Date,
        local: DateTime,
        t: Timestamp,
        zone: &TimeZone,
    ) -> Option<Timestamp> {
        // Hours that end more than three hours before `t` on the wall clock cannot elapse
        // after `t`: no zone moves its clocks back by more than that.
        let floor = if date == local.date() {
            i64::from(local.hour()) - 3
        } else if date < local.date() {
            21
        } else {
            -1
        };
        for &hour in self.hours.iter().filter(|h| **h > floor) {
            for &minute in &self.minutes {
                for &micros in &self.seconds {
                    #[allow(clippy::cast_possible_truncation)]
                    let civil = date.at(
                        hour as i8,
                        minute as i8,
                        (micros / 1_000_000) as i8,
                        ((micros % 1_000_000) * 1000) as i32,
                    );
                    let instant = match zone.to_ambiguous_timestamp(civil).offset() {
                        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(civil),
                        // The wall-clock time does not exist that day: systemd skips it.
                        AmbiguousOffset::Gap { .. } => continue,
                        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(civil),
                    };
                    if let Ok(instant) = instant
                        && instant >= t
                    {
                        return Some(instant);
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(expr: &str, zone: &str, after: &str) -> Option<String> {
        let tz = TimeZone::get(zone).unwrap();
        let dt: DateTime = after.parse().unwrap();
        let t = dt.to_zoned_datetime(tz.clone()).unwrap().timestamp();
        let spec = CalendarStarts::parse(expr).unwrap();
        spec.first_at_or_after(t, &tz).map(|ts| {
            let z = ts.to_zoned_datetime(spec.zone.clone().unwrap_or(tz));
            format!("{}", z.strftime("%a %F %T%.f %Z"))
        })
    }

    #[test]
    fn elapses_like_systemd_analyze_calendar() {
        // 2026-03-02 is a Monday.
        // expression | after | the next elapse
        let cases = "\
daily | 2026-03-02T10:00 | Tue 2026-03-03 00:00:00 UTC
daily | 2026-03-02T00:00 | Mon 2026-03-02 00:00:00 UTC
weekly | 2026-03-02T00:00:01 | Mon 2026-03-09 00:00:00 UTC
Sun 04:00 | 2026-03-02T10:00 | Sun 2026-03-08 04:00:00 UTC
*-*-* 05,06:00,30:00 | 2026-03-02T05:31 | Mon 2026-03-02 06:00:00 UTC
Mon..Fri 03:00 | 2026-03-06T03:00:01 | Mon 2026-03-09 03:00:00 UTC
*-02~03 | 2026-01-10T00:00 | Thu 2026-02-26 00:00:00 UTC
*-02~01 | 2028-01-10T00:00 | Tue 2028-02-29 00:00:00 UTC
Mon *-05~07/1 | 2026-05-01T00:00 | Mon 2026-05-25 00:00:00 UTC
*:0/15 | 2026-03-02T10:16 | Mon 2026-03-02 10:30:00 UTC
quarterly | 2026-03-02T10:16 | Wed 2026-04-01 00:00:00 UTC
2026-11-24 | 2026-03-02T10:16 | Tue 2026-11-24 00:00:00 UTC
12:00:59.5 | 2026-03-02T12:00:59.6 | Tue 2026-03-03 12:00:59.5 UTC
Sat *-*-1..7 4:00 | 2026-03-02T00:00 | Sat 2026-03-07 04:00:00 UTC
*-*-31 | 2026-04-01T00:00 | Sun 2026-05-31 00:00:00 UTC
Wednesday,Thu 1:0 | 2026-03-05T01:00:01 | Wed 2026-03-11 01:00:00 UTC";
        for case in cases.lines() {
            let [expr, after, want] = [0, 1, 2].map(|i| case.split(" | ").nth(i).unwrap());
            assert_eq!(next(expr, "UTC", after).as_deref(), Some(want), "{expr}");
        }
        assert_eq!(next("2026-01-01", "UTC", "2026-03-02T00:00"), None);
        assert_eq!(
            next("@1700000000", "UTC", "2020-01-01T00:00").unwrap(),
            "Tue 2023-11-14 22:13:20 UTC"
        );
    }

    #[test]
    fn dst_days_in_a_named_zone() {
        // Berlin springs forward on 2026-03-29 at 02:00 (to 03:00) and falls back on
        // 2026-10-25 at 03:00 (to 02:00).
        assert_eq!(
            next("*-*-* 02:30", "Europe/Berlin", "2026-03-29T00:00").unwrap(),
            "Mon 2026-03-30 02:30:00 CEST",
            "the skipped hour does not elapse that day"
        );
        assert_eq!(
            next("*-*-* 02:30", "Europe/Berlin", "2026-10-25T00:00").unwrap(),
            "Sun 2026-10-25 02:30:00 CEST",
            "the repeated hour elapses at its first occurrence"
        );
        // In the zone of the expression, whatever the node's zone.
        assert_eq!(
            next("Sun 04:00 America/New_York", "UTC", "2026-03-08T00:00").unwrap(),
            "Sun 2026-03-08 04:00:00 EDT"
        );
    }
}
