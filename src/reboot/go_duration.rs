//! Go's `time.ParseDuration`, which locksmithd applies to `REBOOT_WINDOW_LENGTH`: the
//! window (`Window::locksmith`) and the window rules read lengths through it. Pure.

/// Why a text is not a Go duration; the message names the text or the unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoDurationError {
    /// Not numbers with units at all.
    #[error("{text:?} is not a duration like 1h30m")]
    Malformed {
        /// The whole text.
        text: String,
    },
    /// A number without its unit.
    #[error("{text:?} has a number without a unit (h, m, s, ms, us, ns)")]
    NoUnit {
        /// The whole text.
        text: String,
    },
    /// A unit Go does not know (days, for one).
    #[error(
        "{unit:?} is not a duration unit (use h, m, s, ms, us or ns; Go durations have no days)"
    )]
    UnknownUnit {
        /// The unit as written.
        unit: String,
    },
}

/// Parse a duration as Go's `time.ParseDuration` does, in nanoseconds.
///
/// # Errors
/// When the text is not a Go duration.
pub fn parse_go_duration(text: &str) -> Result<f64, GoDurationError> {
    let bad = || GoDurationError::Malformed {
        text: text.to_string(),
    };
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(bad());
        }
        let value: f64 = if num.starts_with('.') {
            format!("0{num}").parse().map_err(|_| bad())?
        } else {
            num.trim_end_matches('.').parse().map_err(|_| bad())?
        };
        rest = &rest[num_len..];
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(GoDurationError::NoUnit {
                    text: text.to_string(),
                });
            }
            other => {
                return Err(GoDurationError::UnknownUnit {
                    unit: other.to_string(),
                });
            }
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m").unwrap(), 5400e9);
        assert_eq!(parse_go_duration("0.5h").unwrap(), 1800e9);
        assert_eq!(parse_go_duration("0").unwrap(), 0.0);
        assert_eq!(parse_go_duration(".5s").unwrap(), 0.5e9);
        for bad in ["1d", "0d", "90", "0.5.0h", "h", "", "1hh", "1 h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}
