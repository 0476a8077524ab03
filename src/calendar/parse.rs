//! Reading a calendar expression: `[WEEKDAYS] [DATE] [TIME] [TIMEZONE]`, a special word or
//! `@EPOCH`, accepted exactly as far as systemd 252 accepts it, into a [`CalendarSpec`].
//! Each date and time component is read by `component`; the tz names are the `zones` table.

use super::component::{self, DAY, HOUR, Limits, MINUTE, MONTH, SECOND, YEAR};
use super::error::{CalendarError, err};
use super::spec::{CalendarSpec, DatePattern, Elapses, Pattern, TimePattern, Weekdays};
use super::zones;

type Result<T> = std::result::Result<T, CalendarError>;

/// The special words and the expressions they stand for (systemd.time(7)).
const SPECIAL_MEANINGS: [(&str, &str); 9] = [
    ("minutely", "*-*-* *:*:00"),
    ("hourly", "*-*-* *:00:00"),
    ("daily", "*-*-* 00:00:00"),
    ("monthly", "*-*-01 00:00:00"),
    ("weekly", "Mon *-*-* 00:00:00"),
    ("yearly", "*-01-01 00:00:00"),
    ("annually", "*-01-01 00:00:00"),
    ("quarterly", "*-01,04,07,10-01 00:00:00"),
    ("semiannually", "*-01,07-01 00:00:00"),
];

/// The special words (`daily`, `weekly`, ...), each standing alone.
pub const SPECIALS: [&str; 9] = {
    let mut words = [""; 9];
    let mut i = 0;
    while i < words.len() {
        words[i] = SPECIAL_MEANINGS[i].0;
        i += 1;
    }
    words
};

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

/// Read a calendar expression.
///
/// # Errors
/// When systemd would refuse it; the error says where and why.
pub fn parse(expr: &str) -> Result<CalendarSpec> {
    refuse_outer_blanks(expr)?;
    let (body, zone) = split_zone(expr)?;
    let elapses = if let Some(epoch) = body.strip_prefix('@') {
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return err(1, "`@` must be followed by seconds since the epoch");
        }
        Elapses::Epoch(epoch.to_string())
    } else if let Some((_, meaning)) = special(body) {
        Elapses::Pattern(Box::new(pattern(meaning)?))
    } else {
        Elapses::Pattern(Box::new(pattern(body)?))
    };
    Ok(CalendarSpec {
        elapses,
        zone: zone.map(str::to_string),
    })
}

fn refuse_outer_blanks(expr: &str) -> Result<()> {
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
    Ok(())
}

/// The expression without its trailing time zone, and the zone.
fn split_zone(expr: &str) -> Result<(&str, Option<&str>)> {
    if let Some(space) = expr.rfind(' ') {
        let zone = &expr[space + 1..];
        if is_time_zone(zone) {
            return Ok((expr[..space].trim_end_matches(' '), Some(zone)));
        }
        if zone.contains('/') && zone.starts_with(|c: char| c.is_ascii_uppercase()) {
            return err(
                space + 1,
                format!("{zone:?} is not a time zone of the tz database"),
            );
        }
    }
    Ok((expr, None))
}

fn special(word: &str) -> Option<&'static (&'static str, &'static str)> {
    SPECIAL_MEANINGS
        .iter()
        .find(|(special, _)| special.eq_ignore_ascii_case(word))
}

/// `[WEEKDAYS] [DATE] [TIME]`.
fn pattern(body: &str) -> Result<Pattern> {
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
    let mut days_of_week = Weekdays::ALL;
    if let Some(&(off, first)) = rest.first()
        && first.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        if special(first).is_some() {
            return err(
                off,
                format!("{first:?} stands alone: it cannot be combined with a date or time"),
            );
        }
        days_of_week = weekdays(first, off)?;
        rest = &rest[1..];
    }
    let (date, time) = date_and_time(rest)?;
    let date = match date {
        Some((off, token)) => parse_date(token, off)?,
        None => component::every_date(),
    };
    let time = match time {
        Some((off, token)) => parse_time(token, off)?,
        None => component::midnight(),
    };
    Ok(Pattern {
        weekdays: days_of_week,
        date,
        time,
    })
}

/// The date token and the time token, each at most once and the date first.
fn date_and_time<'a>(tokens: &[(usize, &'a str)]) -> Result<(Token<'a>, Token<'a>)> {
    let (mut date, mut time) = (None, None);
    for &(off, token) in tokens {
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
    Ok((date, time))
}

/// A token and its byte offset, if the expression has it.
type Token<'a> = Option<(usize, &'a str)>;

fn weekday_index(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .position(|(short, long)| lower == *short || lower == *long)
}

/// `Mon`, `mon,Wed`, `Mon..Fri`, `Mon-Fri`, lists of them (at byte `base`).
fn weekdays(token: &str, base: usize) -> Result<Weekdays> {
    // systemd allows one trailing comma after the last weekday.
    let token = token.strip_suffix(',').unwrap_or(token);
    let mut days = 0u8;
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
        let mut end = start;
        if let Some(to) = to {
            let Some(last) = weekday_index(to) else {
                return err(at + from.len() + 2, format!("{to:?} is not a weekday"));
            };
            if last < start {
                return err(
                    at,
                    format!("the range {item} runs backwards (weeks run Mon..Sun)"),
                );
            }
            end = last;
        }
        for day in start..=end {
            days |= 1 << day;
        }
        at += item.len() + 1;
    }
    Ok(Weekdays(days))
}

/// `token` split at each separator, with each part's offset in `token`.
fn fields<'a>(token: &'a str, separators: &[char]) -> Vec<(usize, &'a str)> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in token.char_indices() {
        if separators.contains(&c) {
            parts.push((start, &token[start..i]));
            start = i + 1;
        }
    }
    parts.push((start, &token[start..]));
    parts
}

/// `[Y-]M-D`, with `~` before the day to count from the month's end (at byte `base`).
fn parse_date(token: &str, base: usize) -> Result<DatePattern> {
    let tilde = token.find('~');
    if let Some(t) = tilde
        && let Some(i) = token[t + 1..].find(['-', '~'])
    {
        return err(base + t + 1 + i, "nothing may follow the day");
    }
    let days_from_end = tilde.is_some();
    let parts = fields(token, &['-', '~']);
    let read = |(off, part): (usize, &str), limits: &Limits| {
        component::component(part, base + off, limits, false)
    };
    let (years, month, day) = match parts.as_slice() {
        [month, day] => (YEAR.every(), *month, *day),
        [year, month, day] => (read(*year, &YEAR)?, *month, *day),
        _ => return err(base, format!("{token:?} is not a date: write Y-M-D or M-D")),
    };
    Ok(DatePattern {
        years,
        months: read(month, &MONTH)?,
        days: component::component(day.1, base + day.0, &DAY, days_from_end)?,
        days_from_end,
    })
}

/// `H:M[:S]` (at byte `base`).
fn parse_time(token: &str, base: usize) -> Result<TimePattern> {
    let parts = fields(token, &[':']);
    let read = |(off, part): (usize, &str), limits: &Limits| {
        component::component(part, base + off, limits, false)
    };
    let (hour, minute, seconds) = match parts.as_slice() {
        [hour, minute] => (*hour, *minute, None),
        [hour, minute, second] => (*hour, *minute, Some(*second)),
        _ => return err(base, format!("{token:?} is not a time: write H:M or H:M:S")),
    };
    Ok(TimePattern {
        hours: read(hour, &HOUR)?,
        minutes: read(minute, &MINUTE)?,
        seconds: match seconds {
            Some(second) => read(second, &SECOND)?,
            None => SECOND.zero(),
        },
    })
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
            assert!(parse(ok).is_ok(), "{ok}");
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
