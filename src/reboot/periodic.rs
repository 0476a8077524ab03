//! locksmith's reboot window start (`pkg/timeutil/periodic.go`): `HH:MM` every day or
//! `Day HH:MM` every week, laid out on the wall clock of the node's zone.
//!
//! locksmith builds each start with Go's `time.Date(y, m, d+Δ, h, min, 0, 0, loc)`, and so
//! does [`go_date`] here, step for step: Go's documentation leaves the instant of a wall
//! time in a DST gap or a repeated hour unspecified, and its implementation reads the
//! wall time as UTC, looks up the zone's offset at that instant, and keeps it when the
//! corrected instant still has it, else takes the offset at the corrected instant. So which
//! of the two instants of a repeated hour opens the window depends on the zone's side of
//! UTC: in New York (west) 01:30 on 2026-11-01 is the first pass (EDT), in Berlin (east)
//! 02:30 on 2026-10-25 is the second (CET); a start in a gap moves by the gap, forward east
//! of UTC (02:30 in Berlin on 2026-03-29 is 03:30 CEST) and back west of it (02:30 in New
//! York on 2026-03-08 is 01:30 EST). The length is added as elapsed time, as locksmith's
//! `Start.Add(duration)`.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Whether a locksmith window start (`[Day ]HH:MM`) names a weekly window (has a day).
#[must_use]
pub fn is_weekly(start: &str) -> bool {
    start.contains(' ')
}

/// A parsed window start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Start {
    /// `None` for a daily window.
    pub day: Option<Weekday>,
    pub hour: i8,
    pub minute: i8,
}

const DAYS: [(&str, Weekday); 7] = [
    ("sun", Weekday::Sunday),
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
];

/// One `%d` of Go's `fmt.Sscanf`: an optional sign and decimal digits.
fn scan_int(text: &str) -> Option<(i64, &str)> {
    let digits_from = usize::from(text.starts_with(['+', '-']));
    let len = text[digits_from..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if len == 0 {
        return None;
    }
    let end = digits_from + len;
    let value: i64 = text[..end].parse().ok()?;
    Some((value, &text[end..]))
}

/// Why a start is not `[Day ]HH:MM` as locksmith reads it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum StartError {
    #[error("{0:?} is not a day of the week (sun, mon, tue, wed, thu, fri, sat)")]
    NotADay(String),
    #[error("it is empty")]
    Empty,
    #[error("too many fields")]
    TooManyFields,
    #[error("{0:?} is not a time of day H:MM")]
    NotATime(String),
    #[error("hour {0} is out of range 0-23")]
    Hour(i64),
    #[error("minute {0} is out of range 0-59")]
    Minute(i64),
}

/// Parse a start as locksmith does: fields split on blanks, an optional three-letter day,
/// then `%d:%d` (anything after the minutes is ignored, as by `Sscanf`).
pub(super) fn parse_start(text: &str) -> Result<Start, StartError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (day, time) = match fields.as_slice() {
        [time] => (None, *time),
        [day, time] => {
            let lower = day.to_ascii_lowercase();
            let Some((_, weekday)) = DAYS.iter().find(|(name, _)| *name == lower) else {
                return Err(StartError::NotADay((*day).to_string()));
            };
            (Some(*weekday), *time)
        }
        [] => return Err(StartError::Empty),
        _ => return Err(StartError::TooManyFields),
    };
    let bad = || StartError::NotATime(time.to_string());
    let (hour, rest) = scan_int(time).ok_or_else(bad)?;
    let rest = rest.strip_prefix(':').ok_or_else(bad)?;
    let (minute, _) = scan_int(rest).ok_or_else(bad)?;
    if !(0..=23).contains(&hour) {
        return Err(StartError::Hour(hour));
    }
    if !(0..=59).contains(&minute) {
        return Err(StartError::Minute(minute));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(Start {
        day,
        hour: hour as i8,
        minute: minute as i8,
    })
}

/// The instant Go's `time.Date` gives the wall time `civil` in `zone` (`src/time/time.go`,
/// `Date`): `unix` is `civil` read as UTC; `offset` is the zone's offset at `unix`, replaced
/// by the offset at `unix - offset` when that instant lies outside the offset's period;
/// the instant is `unix - offset`. Both branches come to the offset at `unix - offset`
/// (inside the period it is the same offset), which is what is computed.
#[must_use]
pub fn go_date(civil: jiff::civil::DateTime, zone: &TimeZone) -> Option<Timestamp> {
    let unix = jiff::tz::Offset::UTC.to_timestamp(civil).ok()?;
    let first = zone.to_offset(unix);
    let corrected = unix
        .checked_sub(jiff::SignedDuration::from_secs(i64::from(first.seconds())))
        .ok()?;
    let offset = zone.to_offset(corrected);
    unix.checked_sub(jiff::SignedDuration::from_secs(i64::from(offset.seconds())))
        .ok()
}

impl Start {
    /// The start on `date` (when the window starts that day), as an instant.
    fn on(&self, date: Date, zone: &TimeZone) -> Option<Timestamp> {
        if self.day.is_some_and(|d| d != date.weekday()) {
            return None;
        }
        go_date(date.at(self.hour, self.minute, 0, 0), zone)
    }

    /// The first start at or after `t`.
    pub(super) fn first_at_or_after(&self, t: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let today = zone.to_datetime(t).date();
        // From yesterday (a repeated hour can put a start of yesterday's date after `t`)
        // to eight days on: a weekly start is always among them.
        (-1..=8)
            .filter_map(|k: i32| today.checked_add(k.days()).ok())
            .filter_map(|date| self.on(date, zone))
            .find(|s| *s >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(zone: &str, civil: &str) -> String {
        let tz = TimeZone::get(zone).unwrap();
        let t = go_date(civil.parse().unwrap(), &tz).unwrap();
        t.to_zoned_datetime(tz).strftime("%F %T %Z").to_string()
    }

    #[test]
    fn wall_times_as_go_time_date_places_them() {
        // Repeated hours: west of UTC the first pass, east of it the second.
        assert_eq!(
            go("America/New_York", "2026-11-01T01:30"),
            "2026-11-01 01:30:00 EDT"
        );
        assert_eq!(
            go("Europe/Berlin", "2026-10-25T02:30"),
            "2026-10-25 02:30:00 CET"
        );
        assert_eq!(
            go("Australia/Sydney", "2026-04-05T02:30"),
            "2026-04-05 02:30:00 AEST"
        );
        // Gaps: forward east of UTC (and at UTC+0), back west of it.
        assert_eq!(
            go("Europe/Berlin", "2026-03-29T02:30"),
            "2026-03-29 03:30:00 CEST"
        );
        assert_eq!(
            go("Europe/London", "2026-03-29T01:00"),
            "2026-03-29 02:00:00 BST"
        );
        assert_eq!(
            go("America/New_York", "2026-03-08T02:30"),
            "2026-03-08 01:30:00 EST"
        );
        // An ordinary time is itself.
        assert_eq!(
            go("America/New_York", "2026-07-01T04:00"),
            "2026-07-01 04:00:00 EDT"
        );
    }

    #[test]
    fn starts_as_locksmith_parses_them() {
        let s = parse_start("Thu 23:05").unwrap();
        assert_eq!((s.day, s.hour, s.minute), (Some(Weekday::Thursday), 23, 5));
        // strings.Fields: runs of blanks are one separator; Sscanf ignores what follows.
        assert_eq!(parse_start("  sUN   4:7 ").unwrap().minute, 7);
        assert_eq!(parse_start("04:30pm").unwrap().hour, 4);
        assert_eq!(parse_start("+4:00").unwrap().hour, 4);
        for bad in [
            "",
            "Tues 4:00",
            "Thursday 4:00",
            "24:00",
            "4:60",
            "4",
            "Sun",
            "a b c",
            "-1:00",
            ":30",
            "4:",
        ] {
            assert!(parse_start(bad).is_err(), "{bad:?}");
        }
    }
}
