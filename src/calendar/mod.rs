//! systemd calendar expressions (`OnCalendar=`, systemd.time(7)), read exactly as far as
//! systemd 252 accepts them, so a config can be checked without a running systemd, and
//! read once: [`parse`] returns the expression's meaning ([`CalendarSpec`]), which the
//! linter checks and the reboot windows evaluate (`reboot::calendar`).
//!
//! `[WEEKDAYS] [DATE] [TIME] [TIMEZONE]`, or a special word (`daily`, `weekly`, ...), or
//! `@EPOCH`. Weekdays: names or three-letter abbreviations in any case, lists with `,`,
//! ascending ranges with `..` or `-`. Date: `[Y-]M-D`, with `~` before the day to count
//! from the month's end. Time: `H:M[:S]`, seconds may have a fraction. Every component is
//! `*` or a list of values, ranges `a..b` and repetitions `a/step` or `a..b/step`; a `*`
//! takes no step. Ranges: years 1970-2199, months 1-12, days 1-31, hours 0-23, minutes and
//! seconds 0-59. Time zones are names of the tz database (or `UTC`, in any case).
//!
//! Errors carry the byte offset in the expression where the problem is, so findings can
//! point inside a YAML value. Pure; the tz name list is compiled in (`zones`).
//!
//! The files: `parse` (the expression), `component` (one date or time component), `spec`
//! (what was read), `error`, `zones` (the generated tz names).

mod component;
mod error;
mod parse;
mod spec;
mod zones;

pub use error::CalendarError;
pub use parse::{SPECIALS, is_time_zone, parse};
pub use spec::{
    CalendarSpec, Component, DatePattern, Elapses, Pattern, Repeat, TimePattern, Weekdays,
};
