//! A reboot window: starts laid out in a time zone (locksmith's periodic start or a calendar
//! expression), each open for a length, end inclusive. [`Window::contains`] and
//! [`Window::next_open`] are pure functions of the instant passed in.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};

use super::calendar::CalendarStarts;
use super::error::WindowError;
use super::go_duration::parse_go_duration;
use super::periodic::{Start, parse_start};

/// How the window's starts are laid out.
#[derive(Debug, Clone)]
enum Schedule {
    /// locksmith's `HH:MM` (`day` is `None`) or `Day HH:MM`.
    Periodic(Start),
    /// A systemd calendar expression.
    Calendar(Box<CalendarStarts>),
}

/// A reboot window: starts laid out in a time zone, each open for `length` (end inclusive).
#[derive(Debug, Clone)]
pub struct Window {
    schedule: Schedule,
    length: SignedDuration,
    zone: TimeZone,
    /// The text the window was built from, for messages.
    text: String,
}

/// The environment names locksmithd reads, in its order of preference.
pub const START_VARS: [&str; 2] = ["LOCKSMITHD_REBOOT_WINDOW_START", "REBOOT_WINDOW_START"];
/// See [`START_VARS`].
pub const LENGTH_VARS: [&str; 2] = ["LOCKSMITHD_REBOOT_WINDOW_LENGTH", "REBOOT_WINDOW_LENGTH"];

/// update.conf: the maintenance window's systemd calendar expression (kindling's
/// `maintenance-window: calendar:`), read by the agent and the reboot manager.
pub const MAINTENANCE_WINDOW_VAR: &str = "KINDLING_MAINTENANCE_WINDOW";
/// update.conf: how long the maintenance window stays open after each elapse, in whole
/// seconds ([`DEFAULT_MAINTENANCE_LENGTH_SECS`] when unset).
pub const MAINTENANCE_LENGTH_VAR: &str = "KINDLING_MAINTENANCE_WINDOW_LENGTH";
/// The maintenance window's length when none is given: one hour.
pub const DEFAULT_MAINTENANCE_LENGTH_SECS: i64 = 3600;

impl Window {
    /// The node's reboot window from its settings (update.conf, locksmithd's environment):
    /// the maintenance window ([`MAINTENANCE_WINDOW_VAR`], open for
    /// [`MAINTENANCE_LENGTH_VAR`] seconds after each elapse) when set, else locksmith's
    /// ([`Window::from_env`]). `Ok(None)`: no window, reboots may happen at any time. The one
    /// window check the agent and the reboot manager share.
    ///
    /// # Errors
    /// When a value is bad (a calendar systemd refuses, a length that is not whole seconds
    /// above zero, locksmith's pair half set).
    pub fn from_settings(
        get: impl Fn(&str) -> Option<String>,
        zone: TimeZone,
    ) -> Result<Option<Window>, WindowError> {
        let Some(calendar) = get(MAINTENANCE_WINDOW_VAR).filter(|v| !v.trim().is_empty()) else {
            return Window::from_env(get, zone);
        };
        let length = match get(MAINTENANCE_LENGTH_VAR).filter(|v| !v.trim().is_empty()) {
            None => DEFAULT_MAINTENANCE_LENGTH_SECS,
            Some(text) => match text.trim().parse::<i64>() {
                Ok(secs) if secs > 0 => secs,
                _ => {
                    return Err(WindowError(format!(
                        "{MAINTENANCE_LENGTH_VAR}={text:?} is not a number of seconds above 0"
                    )));
                }
            },
        };
        Window::calendar(calendar.trim(), SignedDuration::from_secs(length), zone).map(Some)
    }

    /// locksmith's window: `start` is `HH:MM` (daily) or `Day HH:MM` (weekly; `sun`..`sat`
    /// in any case), `length` a Go duration (`1h30m`), shorter than the period.
    ///
    /// # Errors
    /// When either value is one locksmithd would refuse, or the length is not shorter than a
    /// day (daily) or a week (weekly).
    pub fn locksmith(start: &str, length: &str, zone: TimeZone) -> Result<Window, WindowError> {
        let parsed = parse_start(start).map_err(|why| {
            WindowError(format!(
                "reboot window start {start:?} is not [Day ]HH:MM: {why}"
            ))
        })?;
        let nanos = parse_go_duration(length)
            .map_err(|why| WindowError(format!("reboot window length: {why}")))?;
        if nanos < 0.0 {
            return Err(WindowError(format!(
                "reboot window length {length:?} is negative"
            )));
        }
        #[allow(clippy::cast_possible_truncation)]
        let length_d = SignedDuration::from_nanos(nanos.round() as i64);
        let period = if parsed.day.is_some() {
            SignedDuration::from_hours(7 * 24)
        } else {
            SignedDuration::from_hours(24)
        };
        if length_d >= period {
            return Err(WindowError(format!(
                "reboot window length {length:?} is not shorter than the window's period ({}): the window would never close",
                if parsed.day.is_some() {
                    "a week"
                } else {
                    "a day"
                }
            )));
        }
        Ok(Window {
            schedule: Schedule::Periodic(parsed),
            length: length_d,
            zone,
            text: format!("{start} + {length}"),
        })
    }

    /// locksmithd's window from its environment (update.conf): `LOCKSMITHD_REBOOT_WINDOW_*`,
    /// else `REBOOT_WINDOW_*`. `Ok(None)` when neither start nor length is set.
    ///
    /// # Errors
    /// When only one of the two is set (locksmithd refuses to start then), or a value is bad.
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        zone: TimeZone,
    ) -> Result<Option<Window>, WindowError> {
        let pick = |names: [&str; 2]| names.iter().find_map(|n| get(n).filter(|v| !v.is_empty()));
        match (pick(START_VARS), pick(LENGTH_VARS)) {
            (None, None) => Ok(None),
            (Some(start), Some(length)) => Window::locksmith(&start, &length, zone).map(Some),
            (Some(_), None) => Err(WindowError(
                "REBOOT_WINDOW_START is set but REBOOT_WINDOW_LENGTH is not: set both or neither"
                    .into(),
            )),
            (None, Some(_)) => Err(WindowError(
                "REBOOT_WINDOW_LENGTH is set but REBOOT_WINDOW_START is not: set both or neither"
                    .into(),
            )),
        }
    }

    /// The maintenance window: open for `length` after each elapse of the systemd calendar
    /// expression `expr` (checked as systemd 252 checks `OnCalendar=`). A zone named in the
    /// expression (`Sun 04:00 Europe/Berlin`) wins over `zone`.
    ///
    /// # Errors
    /// When systemd would refuse the expression, or the length is negative.
    pub fn calendar(
        expr: &str,
        length: SignedDuration,
        zone: TimeZone,
    ) -> Result<Window, WindowError> {
        if length.is_negative() {
            return Err(WindowError("a window length cannot be negative".into()));
        }
        let spec = CalendarStarts::parse(expr)?;
        Ok(Window {
            schedule: Schedule::Calendar(Box::new(spec)),
            length,
            zone,
            text: expr.to_string(),
        })
    }

    /// The zone the window is laid out in (a calendar expression's own zone, if it names one).
    #[must_use]
    pub fn zone(&self) -> &TimeZone {
        match &self.schedule {
            Schedule::Calendar(spec) => spec.zone.as_ref().unwrap_or(&self.zone),
            Schedule::Periodic(_) => &self.zone,
        }
    }

    /// How long the window stays open after each start.
    #[must_use]
    pub fn length(&self) -> SignedDuration {
        self.length
    }

    /// What the window was built from, e.g. `Thu 23:00 + 1h30m` or `Sun 04:00`.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first start at or after `t`.
    fn first_start(&self, t: Timestamp) -> Option<Timestamp> {
        match &self.schedule {
            Schedule::Periodic(start) => start.first_at_or_after(t, &self.zone),
            Schedule::Calendar(spec) => spec.first_at_or_after(t, &self.zone),
        }
    }

    /// Whether `at` is inside a window: some start `s` with `s <= at <= s + length`.
    #[must_use]
    pub fn contains(&self, at: Timestamp) -> bool {
        at.checked_sub(self.length)
            .ok()
            .and_then(|from| self.first_start(from))
            .is_some_and(|s| s <= at)
    }

    /// The window `after` is in, or else the next one: `(start, end)` in the window's zone,
    /// `end` inclusive. `None` when no window starts any more (a calendar expression with a
    /// last elapse, e.g. `2026-01-01`, or one past the year 2199).
    #[must_use]
    pub fn next_open(&self, after: Timestamp) -> Option<(ZonedDateTime, ZonedDateTime)> {
        let from = after.checked_sub(self.length).ok()?;
        let start = self.first_start(from)?;
        let end = start.checked_add(self.length).ok()?;
        let zone = self.zone().clone();
        Some((
            start.to_zoned_datetime(zone.clone()),
            end.to_zoned_datetime(zone),
        ))
    }

    /// How long until the window opens, as locksmith's `DurationToStart`: zero or negative
    /// when `at` is inside a window (how deep into it), positive when outside.
    #[must_use]
    pub fn duration_to_start(&self, at: Timestamp) -> Option<SignedDuration> {
        let (start, _) = self.next_open(at)?;
        Some(start.timestamp().duration_since(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: &str, civil: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = civil.parse().unwrap();
        dt.to_zoned_datetime(TimeZone::get(zone).unwrap())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn env_pairs() {
        let utc = || TimeZone::UTC;
        let none = Window::from_env(|_| None, utc()).unwrap();
        assert!(none.is_none());
        let only = Window::from_env(
            |n| (n == "REBOOT_WINDOW_START").then(|| "04:00".to_string()),
            utc(),
        );
        assert!(only.unwrap_err().0.contains("set both or neither"));
        // The LOCKSMITHD_ names win over the plain ones.
        let w = Window::from_env(
            |n| match n {
                "LOCKSMITHD_REBOOT_WINDOW_START" => Some("Thu 23:00".into()),
                "REBOOT_WINDOW_START" => Some("01:00".into()),
                "REBOOT_WINDOW_LENGTH" => Some("1h30m".into()),
                _ => None,
            },
            utc(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(w.text(), "Thu 23:00 + 1h30m");
        // 2026-03-05 is a Thursday.
        assert!(w.contains(at("UTC", "2026-03-06T00:30")));
        assert!(!w.contains(at("UTC", "2026-03-06T00:30:00.000000001")));
    }

    #[test]
    fn refused_lengths() {
        for (start, length) in [
            ("04:00", "24h"),
            ("04:00", "1d"),
            ("04:00", "-1m"),
            ("Sun 04:00", "168h"),
        ] {
            assert!(
                Window::locksmith(start, length, TimeZone::UTC).is_err(),
                "{start} {length}"
            );
        }
        assert!(Window::locksmith("Sun 04:00", "167h59m", TimeZone::UTC).is_ok());
        assert!(Window::locksmith("04:00", "0s", TimeZone::UTC).is_ok());
    }
}
