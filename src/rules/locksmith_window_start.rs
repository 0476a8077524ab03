//! `kindling::locksmith::window-start`: `coreos.locksmith.window-start` values.

use crate::diagnostic::{Rule, Severity};
use crate::model::ValueRule;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::locksmith::window-start",
    severity: Severity::Error,
    summary: "a reboot window start that is not `[<day> ]H:MM`",
    help: "write the start as H:MM (daily) or `Day H:MM` (weekly), e.g. `Sun 4:00`; days are sun, mon, tue, wed, thu, fri, sat",
    explanation: "locksmithd opens its reboot window at `window-start`: a time of day (`4:00`), \
or a three-letter day and a time (`Thu 23:30`) for a weekly window. The day names are exactly \
three letters in any case; hours run 0-23 and minutes 0-59, leading zeros allowed. locksmithd \
refuses to start with anything else.",
    example: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: Tues 4:00\n    window-length: 1h\n",
    fixed: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: Tue 4:00\n    window-length: 1h\n",
};

/// The value check.
pub static VALUE: ValueRule = ValueRule { rule: &RULE, check };

const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn number(part: &str, max: u32, what: &str) -> Result<u32, String> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{part:?} is not a valid {what}"));
    }
    let trimmed = part.trim_start_matches('0');
    if trimmed.len() > 2 {
        return Err(format!("{part:?} is not a valid {what}"));
    }
    let value: u32 = if trimmed.is_empty() {
        0
    } else {
        trimmed
            .parse()
            .map_err(|_| format!("{part:?} is not a valid {what}"))?
    };
    if value > max {
        return Err(format!("{what} {value} is out of range 0-{max}"));
    }
    Ok(value)
}

fn check(text: &str) -> Result<(), String> {
    check_parts(text).map_err(|why| format!("{text:?} is not a window start: {why}"))
}

fn check_parts(text: &str) -> Result<(), String> {
    let time = match text.split_once(' ') {
        Some((day, time)) => {
            if !DAYS.contains(&day.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "{day:?} is not a day: use sun, mon, tue, wed, thu, fri or sat"
                ));
            }
            time
        }
        None => text,
    };
    let Some((hour, minute)) = time.split_once(':') else {
        return Err(format!("{text:?} has no H:MM time"));
    };
    number(hour, 23, "hour")?;
    number(minute, 59, "minute")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn peer_values() {
        for ok in [
            "Sun 0:0",
            "Sun 00:00",
            "sUn 23:59",
            "00:00",
            "20:50",
            "0004:05",
        ] {
            assert!(super::check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "tues 0:0",
            "thur 0:0",
            "sat00:00",
            "20:60",
            "24:00",
            "sun  1:00",
            "1",
            ":",
        ] {
            assert!(super::check(bad).is_err(), "{bad}");
        }
    }
}
