//! One component of a date or a time (`2026`, `1..5/2`, `0,30`, `*`, `12.5`): checked
//! against the component's range as systemd 252 checks it, and read into a [`Component`].
//! Seconds are read in microseconds (they may have a fraction); every other component in
//! whole units.

use super::error::{CalendarError, err};
use super::spec::{Component, DatePattern, Repeat, TimePattern};

type Result<T> = std::result::Result<T, CalendarError>;

/// One component's allowed values.
pub(super) struct Limits {
    name: &'static str,
    min: u32,
    max: u32,
    /// Units per whole value: 1, or 1 000 000 for the seconds (which may have a fraction
    /// and are read in microseconds).
    scale: i64,
}

impl Limits {
    const fn whole(name: &'static str, min: u32, max: u32) -> Limits {
        Limits {
            name,
            min,
            max,
            scale: 1,
        }
    }

    fn takes_fraction(&self) -> bool {
        self.scale != 1
    }

    /// An empty component of this range: `*` when `repeats` is `None`.
    fn component(&self, repeats: Option<Vec<Repeat>>) -> Component {
        Component {
            repeats,
            min: i64::from(self.min) * self.scale,
            max: i64::from(self.max) * self.scale + self.scale - 1,
        }
    }

    /// The component holding the one value `0` (a time's default).
    pub(super) fn zero(&self) -> Component {
        self.component(Some(vec![Repeat {
            lo: 0,
            hi: 0,
            anchor: 0,
            step: 1,
        }]))
    }

    /// The component `*`. For the seconds, every *whole* second (as systemd's `*`, whose
    /// elapses have no fraction): listing every microsecond would make 60 million values.
    pub(super) fn every(&self) -> Component {
        if self.takes_fraction() {
            return self.component(Some(vec![Repeat {
                lo: i64::from(self.min) * self.scale,
                hi: i64::from(self.max) * self.scale,
                anchor: 0,
                step: self.scale,
            }]));
        }
        self.component(None)
    }
}

pub(super) const YEAR: Limits = Limits::whole("year", 1970, 2199);
pub(super) const MONTH: Limits = Limits::whole("month", 1, 12);
pub(super) const DAY: Limits = Limits::whole("day", 1, 31);
pub(super) const HOUR: Limits = Limits::whole("hour", 0, 23);
pub(super) const MINUTE: Limits = Limits::whole("minute", 0, 59);
pub(super) const SECOND: Limits = Limits {
    scale: 1_000_000,
    ..Limits::whole("second", 0, 59)
};

/// The dates of an expression without one: `*-*-*`.
pub(super) fn every_date() -> DatePattern {
    DatePattern {
        years: YEAR.every(),
        months: MONTH.every(),
        days: DAY.every(),
        days_from_end: false,
    }
}

/// The time of an expression without one: `00:00:00`.
pub(super) fn midnight() -> TimePattern {
    TimePattern {
        hours: HOUR.zero(),
        minutes: MINUTE.zero(),
        seconds: SECOND.zero(),
    }
}

/// A number as written: its whole part (what ranges are checked on) and its value in the
/// component's units.
#[derive(Clone, Copy)]
struct Number {
    whole: u32,
    units: i64,
}

/// `*`, or a `,`-list of `N`, `N..M`, `N/S`, `N..M/S`, starting at byte `base` of the
/// expression. `from_end`: the days of a `~` date, where `N/S` counts down to the month's end.
pub(super) fn component(
    text: &str,
    base: usize,
    limits: &Limits,
    from_end: bool,
) -> Result<Component> {
    if text == "*" {
        return Ok(limits.every());
    }
    if text.starts_with('*') {
        return err(
            base,
            format!(
                "`*` takes no step or list in the {}; list the values instead",
                limits.name
            ),
        );
    }
    let mut repeats = Vec::new();
    let mut at = base;
    for item in text.split(',') {
        if item.is_empty() {
            return err(at, format!("an empty value in the {} list", limits.name));
        }
        if item == "*" {
            return err(
                at,
                format!("`*` cannot be part of a list in the {}", limits.name),
            );
        }
        repeats.push(repeat(item, at, limits, from_end)?);
        at += item.len() + 1;
    }
    Ok(limits.component(Some(repeats)))
}

/// One list item `N`, `N..M`, `N/S` or `N..M/S` at byte `at`.
fn repeat(item: &str, at: usize, limits: &Limits, from_end: bool) -> Result<Repeat> {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    let (first, last) = match range.split_once("..") {
        Some((a, b)) => (a, Some(b)),
        None => (range, None),
    };
    let start = number(first, at, limits, last.is_none())?;
    let end = match last {
        Some(b) => {
            let end = number(b, at + first.len() + 2, limits, true)?;
            if end.whole < start.whole {
                return err(
                    at,
                    format!("the {} range {range} runs backwards", limits.name),
                );
            }
            Some(end)
        }
        None => None,
    };
    let step = match step {
        Some(step) => Some(checked_step(step, at + range.len() + 1)?),
        None => None,
    };
    if let Some(s) = step
        && end.is_none()
        && start.whole.saturating_add(s) > limits.max
    {
        return err(
            at,
            format!(
                "{item} never repeats: {} + {s} is past the last {} ({})",
                start.whole, limits.name, limits.max
            ),
        );
    }
    let step_units = step.map(|s| i64::from(s) * limits.scale);
    let (lo, hi) = match (end, step_units) {
        (Some(end), _) => (start.units, end.units),
        // `~7/1`: from the 7th-last day on to the month's end, i.e. counting down.
        (None, Some(_)) if from_end => (1, start.units),
        // `N/S` runs to the end of the component's range, in the component's units: for
        // the seconds (microseconds) up to 59.999999 s, so `0/30` elapses at 0 and 30 and
        // `0.5/20` at 0.5, 20.5 and 40.5, as systemd's.
        (None, Some(_)) => (
            start.units,
            i64::from(limits.max) * limits.scale + limits.scale - 1,
        ),
        (None, None) => (start.units, start.units),
    };
    Ok(Repeat {
        lo,
        hi,
        anchor: start.units,
        step: step_units.unwrap_or(limits.scale),
    })
}

/// The `S` of a repetition, at byte `at`: a whole number above 0.
fn checked_step(step: &str, at: usize) -> Result<u32> {
    let Ok(s) = step.parse::<u32>() else {
        return err(at, format!("{step:?} is not a step (a whole number)"));
    };
    if s == 0 {
        return err(at, "a step of 0 repeats nothing");
    }
    Ok(s)
}

/// A value at byte `at`; a fraction only where the component takes one and `fraction_ok`.
fn number(text: &str, at: usize, limits: &Limits, fraction_ok: bool) -> Result<Number> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if let Some(frac) = frac {
        if !limits.takes_fraction() || !fraction_ok {
            return err(at, format!("the {} cannot have a fraction", limits.name));
        }
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return err(at, format!("{text:?} is not a valid {}", limits.name));
        }
    }
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return err(at, format!("{text:?} is not a valid {}", limits.name));
    }
    let value: u32 = whole.parse().unwrap_or(u32::MAX);
    if value < limits.min || value > limits.max {
        return err(
            at,
            format!(
                "{} {value} is out of range {}-{}",
                limits.name, limits.min, limits.max
            ),
        );
    }
    Ok(Number {
        whole: value,
        units: i64::from(value) * limits.scale + micros(frac.unwrap_or("")),
    })
}

/// The microseconds of a fraction's digits (`5` is 500 000; past six digits is ignored).
fn micros(fraction: &str) -> i64 {
    fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(6)
        .fold(0, |acc, digit| acc * 10 + i64::from(digit - b'0'))
}
