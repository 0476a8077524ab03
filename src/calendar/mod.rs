//! systemd calendar expressions (`OnCalendar=`, systemd.time(7)), parsed exactly as far as
//! systemd 252 accepts them, so a config can be checked without a running systemd.
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

mod zones;

/// Why an expression is not valid, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError {
    /// Byte offset in the expression.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for CalendarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

type Result<T> = std::result::Result<T, CalendarError>;

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T> {
    Err(CalendarError {
        offset,
        message: message.into(),
    })
}

/// The special words and what they stand for.
pub const SPECIALS: [&str; 9] = [
    "minutely",
    "hourly",
    "daily",
    "monthly",
    "weekly",
    "yearly",
    "annually",
    "quarterly",
    "semiannually",
];

const WEEKDAYS: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

/// Whether `name` is a time zone systemd accepts.
#[must_use]
pub fn is_time_zone(name: &str) -> bool {
    if name.eq_ignore_ascii_case("UTC") {
        return true;
    }
    let base = name
        .strip_prefix("posix/")
        .or_else(|| name.strip_prefix("right/"))
        .unwrap_or(name);
    zones::ZONES.binary_search(&base).is_ok()
}

/// Check a calendar expression.
///
/// # Errors
/// When systemd would refuse it; the error says where and why.
pub fn parse(expr: &str) -> Result<()> {
    if expr.is_empty() {
        return err(0, "the calendar expression is empty");
    }
    if expr.starts_with(char::is_whitespace) {
        return err(0, "a calendar expression may not start with a blank");
    }
    if expr.ends_with(char::is_whitespace) {
        return err(
            expr.len() - 1,
            "a calendar expression may not end with a blank",
        );
    }
    // A trailing time zone.
    let mut body = expr;
    if let Some(space) = expr.rfind(' ') {
        let zone = &expr[space + 1..];
        if is_time_zone(zone) {
            body = expr[..space].trim_end_matches(' ');
        } else if zone.contains('/') && zone.starts_with(|c: char| c.is_ascii_uppercase()) {
            return err(
                space + 1,
                format!("{zone:?} is not a time zone of the tz database"),
            );
        }
    }
    if let Some(epoch) = body.strip_prefix('@') {
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return err(1, "`@` must be followed by seconds since the epoch");
        }
        return Ok(());
    }
    if SPECIALS.iter().any(|s| s.eq_ignore_ascii_case(body)) {
        return Ok(());
    }
    // Tokens separated by runs of spaces, with their offsets.
    let mut tokens = Vec::new();
    let mut at = 0;
    for part in body.split(' ') {
        if !part.is_empty() {
            tokens.push((at, part));
        }
        at += part.len() + 1;
    }
    let mut rest = tokens.as_slice();
    if let Some(&(off, first)) = rest.first()
        && first.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        if SPECIALS.iter().any(|s| s.eq_ignore_ascii_case(first)) {
            return err(
                off,
                format!("{first:?} stands alone: it cannot be combined with a date or time"),
            );
        }
        weekdays(first, off)?;
        rest = &rest[1..];
    }
    let (mut date, mut time) = (None, None);
    for &(off, token) in rest {
        if token.contains(':') {
            if time.is_some() {
                return err(off, "a second time; write one H:M[:S] per expression");
            }
            time = Some((off, token));
        } else {
            if time.is_some() {
                return err(off, "the date must come before the time");
            }
            if date.is_some() {
                return err(
                    off,
                    format!("{token:?} is neither a date (Y-M-D) nor a time (H:M)"),
                );
            }
            date = Some((off, token));
        }
    }
    if let Some((off, token)) = date {
        parse_date(token, off)?;
    }
    if let Some((off, token)) = time {
        parse_time(token, off)?;
    }
    Ok(())
}

fn weekday_index(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .position(|(short, long)| lower == *short || lower == *long)
}

fn weekdays(token: &str, base: usize) -> Result<()> {
    // systemd allows one trailing comma after the last weekday.
    let token = token.strip_suffix(',').unwrap_or(token);
    let mut at = base;
    for item in token.split(',') {
        if item.is_empty() {
            return err(at, "an empty weekday in the list");
        }
        let (from, to) = match item.split_once("..").or_else(|| item.split_once('-')) {
            Some((a, b)) => (a, Some(b)),
            None => (item, None),
        };
        let Some(start) = weekday_index(from) else {
            return err(
                at,
                format!("{from:?} is not a weekday (Mon, Tue, ... or Monday, ...)"),
            );
        };
        if let Some(to) = to {
            let Some(end) = weekday_index(to) else {
                return err(at + from.len() + 2, format!("{to:?} is not a weekday"));
            };
            if end < start {
                return err(
                    at,
                    format!("the range {item} runs backwards (weeks run Mon..Sun)"),
                );
            }
        }
        at += item.len() + 1;
    }
    Ok(())
}

/// One component's allowed values.
struct Limits {
    name: &'static str,
    min: u32,
    max: u32,
    fraction: bool,
}

const YEAR: Limits = Limits {
    name: "year",
    min: 1970,
    max: 2199,
    fraction: false,
};
const MONTH: Limits = Limits {
    name: "month",
    min: 1,
    max: 12,
    fraction: false,
};
const DAY: Limits = Limits {
    name: "day",
    min: 1,
    max: 31,
    fraction: false,
};
const HOUR: Limits = Limits {
    name: "hour",
    min: 0,
    max: 23,
    fraction: false,
};
const MINUTE: Limits = Limits {
    name: "minute",
    min: 0,
    max: 59,
    fraction: false,
};
const SECOND: Limits = Limits {
    name: "second",
    min: 0,
    max: 59,
    fraction: true,
};

fn parse_date(token: &str, base: usize) -> Result<()> {
    // Split on '-' and a final '~'.
    let mut parts: Vec<(usize, &str)> = Vec::new();
    let mut start = 0;
    let mut tilde = false;
    for (i, c) in token.char_indices() {
        if c == '-' || c == '~' {
            if tilde {
                return err(base + i, "nothing may follow the day");
            }
            parts.push((start, &token[start..i]));
            start = i + 1;
            tilde = c == '~';
        }
    }
    parts.push((start, &token[start..]));
    let limits: &[&Limits] = match parts.len() {
        2 => &[&MONTH, &DAY],
        3 => &[&YEAR, &MONTH, &DAY],
        _ => return err(base, format!("{token:?} is not a date: write Y-M-D or M-D")),
    };
    for ((off, part), limits) in parts.iter().zip(limits) {
        chain(part, base + off, limits)?;
    }
    Ok(())
}

fn parse_time(token: &str, base: usize) -> Result<()> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in token.char_indices() {
        if c == ':' {
            parts.push((start, &token[start..i]));
            start = i + 1;
        }
    }
    parts.push((start, &token[start..]));
    let limits: &[&Limits] = match parts.len() {
        2 => &[&HOUR, &MINUTE],
        3 => &[&HOUR, &MINUTE, &SECOND],
        _ => return err(base, format!("{token:?} is not a time: write H:M or H:M:S")),
    };
    for ((off, part), limits) in parts.iter().zip(limits) {
        chain(part, base + off, limits)?;
    }
    Ok(())
}

/// `*`, or a `,`-list of `N`, `N..M`, `N/S`, `N..M/S`.
fn chain(text: &str, base: usize, limits: &Limits) -> Result<()> {
    if text == "*" {
        return Ok(());
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
                if end < start {
                    return err(
                        at,
                        format!("the {} range {range} runs backwards", limits.name),
                    );
                }
                end
            }
            None => start,
        };
        if let Some(step) = step {
            let step_at = at + range.len() + 1;
            let Ok(s) = step.parse::<u32>() else {
                return err(step_at, format!("{step:?} is not a step (a whole number)"));
            };
            if s == 0 {
                return err(step_at, "a step of 0 repeats nothing");
            }
            if last.is_none() && start.saturating_add(s) > limits.max {
                return err(
                    at,
                    format!(
                        "{item} never repeats: {start} + {s} is past the last {} ({})",
                        limits.name, limits.max
                    ),
                );
            }
            let _ = end;
        }
        at += item.len() + 1;
    }
    Ok(())
}

fn number(text: &str, at: usize, limits: &Limits, fraction_ok: bool) -> Result<u32> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if let Some(frac) = frac {
        if !limits.fraction || !fraction_ok {
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
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_as_by_systemd_252() {
        for ok in [
            "daily",
            "Daily",
            "DAILY",
            "annually",
            "semiannually",
            "minutely UTC",
            "Mon..Fri 03:00",
            "mon,wed 3:0",
            "Monday *-*-* 00:00",
            "Mon-Fri 03:00",
            "*-*-* 05,06:00,30:00",
            "*-02~03",
            "*-02~03 01:02",
            "2026-11-24",
            "11-24",
            "*:0/15",
            "0/2:00",
            "12:00:59.5",
            "12:00",
            "Sat *-*-1..7 4:00",
            "weekly Europe/Berlin",
            "daily UTC",
            "@1700000000",
            "2199-12-31",
            "1970-01-01",
            "*-*-* *:*:*",
            "Mon..Wed,Fri 1:00",
            "*-1..3/2-1",
            "*-*-* 1..3:00",
            "Mon",
            "Mon,Tue",
            "mon 12:00 utc",
            "2026-1-1 1:2:3",
            "*-2-30",
            "Tue..Tue",
            "1..5/2:0",
            "fri  12:00",
            "*-*-*",
            "*-*",
            "*~01",
            "*-*~07/1",
            "3:00 Etc/GMT+5",
            "0:0:0,30",
            "00:00:00/30",
            "*-*-* 00:00:00.5/1",
            "0:0:1..2.5",
            "sun 0..23:0/30",
            "2026..2027-1-1",
            "2026/1-1-1",
            "0..0:0",
            "Mon, 12:00",
            "Mon,Tue, 1:0",
            "0:0 localtime",
            "0:0 right/UTC",
            "Wednesday,Thu 1:0",
        ] {
            assert_eq!(parse(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refused_as_by_systemd_252() {
        for bad in [
            "",
            "*-*-* 25:00:00",
            "12:00:60",
            "12",
            "*-*-1..7 Sat 4:00",
            "daily Mars/Base",
            "2200-01-01",
            "1969-12-31",
            "Sat..Mon",
            "*-*-* 1,,2:00",
            "hourly 1:00",
            "* 12:00",
            "*",
            "12-24 13",
            "5..3:00",
            "*:*/0",
            "*-*-* 1:2:3:4",
            "Mon..Fri..Sat",
            "Mon/2",
            "0:0:0.",
            "*/2:0",
            "Fri *-*-* 24:00",
            "Mo 12:00",
            "~",
            "12:00 Europe/Nowhere",
            "1,2,3",
            "*:*/15",
            "*-*-*/2",
            "1,*:00",
            "0..59/0:0",
            "23/2:00",
            "Sun..Sat 0:0",
            "Mon, Tue 0:0",
            "Mon,,Tue 1:0",
            "*-*-* 0:0,",
            "*-*-* 0:0 ",
            " *-*-* 0:0",
            "UTC",
            "0:0 Europe/berlin",
            "9999-1-1",
            "0:0:1.5..2",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("*-*-* 25:00:00").unwrap_err();
        assert_eq!(e.offset, 6);
        assert!(e.message.contains("hour 25"));
        let e = parse("Mon..Fri 03:61").unwrap_err();
        assert_eq!(e.offset, 12);
    }
}
