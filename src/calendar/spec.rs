//! What a calendar expression says, once [`super::parse`] has read it: the weekdays, the
//! date and time components (each `*` or a list of values, ranges and repetitions) and the
//! time zone named in it. Data and pure membership questions only: when the expression
//! elapses in a time zone is the reboot window's question (`reboot::calendar`).

/// A parsed calendar expression: when it elapses and in which zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSpec {
    /// The elapses.
    pub elapses: Elapses,
    /// The trailing time zone as written (`UTC`, `Europe/Berlin`, `posix/...`, `localtime`);
    /// `None`: the expression names none (the node's zone applies).
    pub zone: Option<String>,
}

/// When an expression elapses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elapses {
    /// `@EPOCH`: once, at these seconds since the epoch (the digits as written: any length;
    /// whether they name a representable instant is the evaluator's question).
    Epoch(String),
    /// Every instant whose wall-clock date and time match (special words are expanded).
    Pattern(Box<Pattern>),
}

/// The components of `[WEEKDAYS] [DATE] [TIME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The weekdays the pattern elapses on.
    pub weekdays: Weekdays,
    /// The dates (`*-*-*` when the expression has none).
    pub date: DatePattern,
    /// The times of day (`00:00:00` when the expression has none).
    pub time: TimePattern,
}

/// `[Y-]M-D` or `[Y-]M~D`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePattern {
    /// Years (1970-2199).
    pub years: Component,
    /// Months (1-12).
    pub months: Component,
    /// Days of the month (1-31); counted back from the month's end when `days_from_end`.
    pub days: Component,
    /// `~`: `days` count back from the month's last day (`~1` is the last day).
    pub days_from_end: bool,
}

/// `H:M[:S]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimePattern {
    /// Hours (0-23).
    pub hours: Component,
    /// Minutes (0-59).
    pub minutes: Component,
    /// Microseconds within the minute (0-59 999 999).
    pub seconds: Component,
}

/// A set of weekdays: bit `n` is the weekday `n` days after Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(pub u8);

impl Weekdays {
    /// Every day of the week.
    pub const ALL: Weekdays = Weekdays(0x7f);

    /// Whether the weekday `days_after_monday` (0 = Monday .. 6 = Sunday) is in the set.
    #[must_use]
    pub fn contains(self, days_after_monday: i8) -> bool {
        (0..7).contains(&days_after_monday) && self.0 & (1 << days_after_monday) != 0
    }
}

/// One component's values within its range `min..=max`: `*` (every value) or a list of
/// [`Repeat`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `None` is `*`.
    pub repeats: Option<Vec<Repeat>>,
    /// The component's smallest value.
    pub min: i64,
    /// The component's largest value.
    pub max: i64,
}

/// One list item: the values `v` with `lo <= v <= hi` and `(v - anchor) % step == 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    /// The smallest value.
    pub lo: i64,
    /// The largest value.
    pub hi: i64,
    /// A value the repetition runs through.
    pub anchor: i64,
    /// The distance between two values (at least 1).
    pub step: i64,
}

impl Component {
    /// Whether `v` is one of the component's values.
    #[must_use]
    pub fn matches(&self, v: i64) -> bool {
        self.repeats.as_ref().is_none_or(|repeats| {
            repeats
                .iter()
                .any(|r| v >= r.lo && v <= r.hi && (v - r.anchor).rem_euclid(r.step) == 0)
        })
    }

    /// The component's values, ascending.
    #[must_use]
    pub fn values(&self) -> Vec<i64> {
        let (min, max) = (self.min, self.max);
        match &self.repeats {
            None => (min..=max).collect(),
            Some(repeats) => {
                let mut out: Vec<i64> = repeats
                    .iter()
                    .flat_map(|r| {
                        let first = r.lo.max(min);
                        let first = first + (r.anchor - first).rem_euclid(r.step);
                        let last = r.hi.min(max);
                        (0..)
                            .map(move |k| first + k * r.step)
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
