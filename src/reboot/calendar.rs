//! The next elapse of a systemd calendar expression (`OnCalendar=`), computed in a time zone.
//!
//! [`crate::calendar::parse`] decides whether an expression is valid (the same check, with the
//! same messages, as the compiler's lint); this file reads an expression that passed it into
//! sets of matching values and walks the calendar forward. As systemd does, an elapse whose
//! wall-clock time does not exist (a DST gap) is skipped that day, and one in a repeated
//! hour elapses once, at its first occurrence.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::WindowError;

/// One list item: values `v` with `lo <= v <= hi` and `(v - anchor) % step == 0`.
#[derive(Debug, Clone, Copy)]
struct Item {
    lo: i64,
    hi: i64,
    anchor: i64,
    step: i64,
}

/// A component's values: `None` is `*`.
#[derive(Debug, Clone, Default)]
struct Chain(Option<Vec<Item>>);

impl Chain {
    fn matches(&self, v: i64) -> bool {
        self.0.as_ref().is_none_or(|items| {
            items
                .iter()
                .any(|i| v >= i.lo && v <= i.hi && (v - i.anchor).rem_euclid(i.step) == 0)
        })
    }

    /// The matching values in `min..=max`, ascending.
    fn values(&self, min: i64, max: i64) -> Vec<i64> {
        match &self.0 {
            None => (min..=max).collect(),
            Some(items) => {
                let mut out: Vec<i64> = items
                    .iter()
                    .flat_map(|i| {
                        let first = i.lo.max(min);
                        let first = first + (i.anchor - first).rem_euclid(i.step);
                        let last = i.hi.min(max);
                        (0..)
                            .map(move |k| first + k * i.step)
                            .take_while(move |v| *v <= last)
                    })
                    .collect();
                out.sort_unstable();
                out.dedup();
                out
            }
        }
    }
}

/// A parsed calendar expression.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    /// `@EPOCH`: one instant.
    epoch: Option<Timestamp>,
    /// Bit `n` for `Weekday::to_monday_zero_offset() == n`.
    weekdays: u8,
    years: Chain,
    months: Chain,
    days: Chain,
    /// `~`: days count back from the month's last day (`~1` is the last day).
    from_end: bool,
    hours: Vec<i64>,
    minutes: Vec<i64>,
    /// Microseconds within the minute.
    seconds: Vec<i64>,
    /// A zone named in the expression (`None`: the node's zone).
    pub zone: Option<TimeZone>,
}

fn special(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "minutely" => "*-*-* *:*:00",
        "hourly" => "*-*-* *:00:00",
        "daily" => "*-*-* 00:00:00",
        "monthly" => "*-*-01 00:00:00",
        "weekly" => "Mon *-*-* 00:00:00",
        "yearly" | "annually" => "*-01-01 00:00:00",
        "quarterly" => "*-01,04,07,10-01 00:00:00",
        "semiannually" => "*-01,07-01 00:00:00",
        _ => return None,
    })
}

const WEEKDAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday_index(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    let index = WEEKDAY_NAMES
        .iter()
        .position(|short| lower.len() >= 3 && short.starts_with(&lower[..3]))?;
    u8::try_from(index).ok()
}

fn weekdays(token: &str) -> u8 {
    let mut bits = 0u8;
    for item in token.trim_end_matches(',').split(',') {
        let (from, to) = item
            .split_once("..")
            .or_else(|| item.split_once('-'))
            .unwrap_or((item, item));
        if let (Some(a), Some(b)) = (weekday_index(from), weekday_index(to)) {
            for d in a..=b {
                bits |= 1 << d;
            }
        }
    }
    bits
}

/// A number; `scale` turns seconds with a fraction into microseconds.
fn number(text: &str, scale: i64) -> i64 {
    if scale == 1 {
        return text.parse().unwrap_or(0);
    }
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let whole: i64 = whole.parse().unwrap_or(0);
    let mut micros = 0i64;
    for (i, digit) in frac.bytes().take(6).enumerate() {
        let place = 10i64.pow(5 - u32::try_from(i).unwrap_or(5));
        micros += i64::from(digit - b'0') * place;
    }
    whole * 1_000_000 + micros
}

/// `*` or a `,`-list of `N`, `N..M`, `N/S`, `N..M/S` (already validated).
fn chain(text: &str, max: i64, scale: i64, from_end: bool) -> Chain {
    if text == "*" {
        return Chain(None);
    }
    let items = text
        .split(',')
        .map(|item| {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, Some(number(s, 1) * scale)),
                None => (item, None),
            };
            let (first, last) = match range.split_once("..") {
                Some((a, b)) => (number(a, scale), Some(number(b, scale))),
                None => (number(range, scale), None),
            };
            match (last, step) {
                (Some(last), step) => Item {
                    lo: first.min(last),
                    hi: first.max(last),
                    anchor: first,
                    step: step.unwrap_or(scale),
                },
                // `~7/1`: from the 7th-last day on to the month's end, i.e. counting down.
                (None, Some(step)) if from_end => Item {
                    lo: 1,
                    hi: first,
                    anchor: first,
                    step,
                },
                (None, Some(step)) => Item {
                    lo: first,
                    hi: max,
                    anchor: first,
                    step,
                },
                (None, None) => Item {
                    lo: first,
                    hi: first,
                    anchor: first,
                    step: 1,
                },
            }
        })
        .collect();
    Chain(Some(items))
}

impl Spec {
    /// Parse `expr` (checked first with [`crate::calendar::parse`]).
    pub(super) fn parse(expr: &str) -> Result<Spec, WindowError> {
        crate::calendar::parse(expr).map_err(|e| {
            WindowError(format!(
                "{expr:?} is not a calendar expression: {} (at byte {})",
                e.message, e.offset
            ))
        })?;
        let mut tokens: Vec<&str> = expr.split(' ').filter(|t| !t.is_empty()).collect();
        let mut zone = None;
        if tokens.len() > 1
            && let Some(last) = tokens.last().copied()
            && crate::calendar::is_time_zone(last)
        {
            tokens.pop();
            zone = if last.eq_ignore_ascii_case("UTC") {
                Some(TimeZone::UTC)
            } else if last == "localtime" {
                None
            } else {
                let name = last
                    .strip_prefix("posix/")
                    .or_else(|| last.strip_prefix("right/"))
                    .unwrap_or(last);
                Some(TimeZone::get(name).map_err(|e| {
                    WindowError(format!(
                        "time zone {name:?} is not in this system's tz database: {e}"
                    ))
                })?)
            };
        }
        let mut spec = Spec {
            epoch: None,
            weekdays: 0x7f,
            years: Chain(None),
            months: Chain(None),
            days: Chain(None),
            from_end: false,
            hours: vec![0],
            minutes: vec![0],
            seconds: vec![0],
            zone,
        };
        let body = tokens.join(" ");
        if let Some(epoch) = body.strip_prefix('@') {
            let secs: i64 = epoch.parse().unwrap_or(i64::MAX);
            spec.epoch = Some(Timestamp::from_second(secs).map_err(|e| {
                WindowError(format!(
                    "{expr:?}: @{epoch} is not a representable time: {e}"
                ))
            })?);
            return Ok(spec);
        }
        let expanded = special(&body).map_or(body.clone(), str::to_string);
        let mut rest: Vec<&str> = expanded.split(' ').filter(|t| !t.is_empty()).collect();
        if rest
            .first()
            .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            spec.weekdays = weekdays(rest.remove(0));
        }
        for token in rest {
            if token.contains(':') {
                let parts: Vec<&str> = token.split(':').collect();
                spec.hours = chain(parts[0], 23, 1, false).values(0, 23);
                spec.minutes =
                    chain(parts.get(1).copied().unwrap_or("0"), 59, 1, false).values(0, 59);
                spec.seconds = chain(parts.get(2).copied().unwrap_or("0"), 59, 1_000_000, false)
                    .values(0, 59_999_999);
            } else {
                let (date, from_end) = match token.rsplit_once('~') {
                    Some((head, day)) => (format!("{head}-{day}"), true),
                    None => (token.to_string(), false),
                };
                let parts: Vec<&str> = date.split('-').collect();
                let (year, month, day) = match parts.as_slice() {
                    [m, d] => ("*", *m, *d),
                    [y, m, d] => (*y, *m, *d),
                    _ => ("*", "*", "*"),
                };
                spec.years = chain(year, 2199, 1, false);
                spec.months = chain(month, 12, 1, false);
                spec.days = chain(day, 31, 1, from_end);
                spec.from_end = from_end;
            }
        }
        Ok(spec)
    }

    fn date_matches(&self, date: Date) -> bool {
        let bit = 1u8 << date.weekday().to_monday_zero_offset();
        if self.weekdays & bit == 0 {
            return false;
        }
        let day = i64::from(date.day());
        let day = if self.from_end {
            i64::from(date.days_in_month()) - day + 1
        } else {
            day
        };
        self.days.matches(day)
    }

    /// The first elapse at or after `t`, in the expression's zone or else `node`.
    pub(super) fn first_at_or_after(&self, t: Timestamp, node: &TimeZone) -> Option<Timestamp> {
        if let Some(epoch) = self.epoch {
            return (epoch >= t).then_some(epoch);
        }
        let zone = self.zone.as_ref().unwrap_or(node);
        let local = zone.to_datetime(t);
        // From yesterday: a repeated hour can put an elapse of yesterday's date after `t`.
        let mut date = local.date().yesterday().ok()?;
        let last = Date::new(2199, 12, 31).ok()?;
        while date <= last {
            let (year, month) = (i64::from(date.year()), i64::from(date.month()));
            if !self.years.matches(year) {
                date = Date::new(date.year().checked_add(1)?, 1, 1).ok()?;
                continue;
            }
            if !self.months.matches(month) {
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
        let spec = Spec::parse(expr).unwrap();
        spec.first_at_or_after(t, &tz).map(|ts| {
            let z = ts.to_zoned_datetime(spec.zone.clone().unwrap_or(tz));
            format!("{}", z.strftime("%a %F %T%.f %Z"))
        })
    }

    #[test]
    fn elapses_like_systemd_analyze_calendar() {
        // 2026-03-02 is a Monday.
        let cases = [
            ("daily", "2026-03-02T10:00", "Tue 2026-03-03 00:00:00 UTC"),
            ("daily", "2026-03-02T00:00", "Mon 2026-03-02 00:00:00 UTC"),
            (
                "weekly",
                "2026-03-02T00:00:01",
                "Mon 2026-03-09 00:00:00 UTC",
            ),
            (
                "Sun 04:00",
                "2026-03-02T10:00",
                "Sun 2026-03-08 04:00:00 UTC",
            ),
            (
                "*-*-* 05,06:00,30:00",
                "2026-03-02T05:31",
                "Mon 2026-03-02 06:00:00 UTC",
            ),
            (
                "Mon..Fri 03:00",
                "2026-03-06T03:00:01",
                "Mon 2026-03-09 03:00:00 UTC",
            ),
            ("*-02~03", "2026-01-10T00:00", "Thu 2026-02-26 00:00:00 UTC"),
            ("*-02~01", "2028-01-10T00:00", "Tue 2028-02-29 00:00:00 UTC"),
            (
                "Mon *-05~07/1",
                "2026-05-01T00:00",
                "Mon 2026-05-25 00:00:00 UTC",
            ),
            ("*:0/15", "2026-03-02T10:16", "Mon 2026-03-02 10:30:00 UTC"),
            (
                "quarterly",
                "2026-03-02T10:16",
                "Wed 2026-04-01 00:00:00 UTC",
            ),
            (
                "2026-11-24",
                "2026-03-02T10:16",
                "Tue 2026-11-24 00:00:00 UTC",
            ),
            (
                "12:00:59.5",
                "2026-03-02T12:00:59.6",
                "Tue 2026-03-03 12:00:59.5 UTC",
            ),
            (
                "Sat *-*-1..7 4:00",
                "2026-03-02T00:00",
                "Sat 2026-03-07 04:00:00 UTC",
            ),
            ("*-*-31", "2026-04-01T00:00", "Sun 2026-05-31 00:00:00 UTC"),
            (
                "Wednesday,Thu 1:0",
                "2026-03-05T01:00:01",
                "Wed 2026-03-11 01:00:00 UTC",
            ),
        ];
        for (expr, after, want) in cases {
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
