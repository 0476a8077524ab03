//! Value types of common systemd directives, checked as systemd 252 parses them:
//! booleans (`parse_boolean`), time spans (`parse_sec`), the enumerations of `Type=`,
//! `Restart=`, `KillMode=`, `NotifyAccess=`, unit-name lists (`WantedBy=` ...) and
//! calendar expressions (`OnCalendar=`, via `crate::calendar`).

/// What kind of value a directive takes, for the directives checked here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A boolean.
    Bool,
    /// A time span.
    Timespan,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// A space-separated list of unit names.
    UnitNames,
    /// A calendar expression.
    Calendar,
}

const BOOLEANS: &[(&str, &[&str])] = &[
    (
        "Unit",
        &[
            "DefaultDependencies",
            "RefuseManualStart",
            "RefuseManualStop",
            "AllowIsolate",
            "IgnoreOnIsolate",
            "StopWhenUnneeded",
        ],
    ),
    (
        "Service",
        &[
            "RemainAfterExit",
            "GuessMainPID",
            "PermissionsStartOnly",
            "RootDirectoryStartOnly",
            "NonBlocking",
            "PrivateTmp",
            "PrivateDevices",
            "PrivateNetwork",
            "NoNewPrivileges",
            "ProtectKernelTunables",
            "ProtectKernelModules",
            "ProtectKernelLogs",
            "ProtectControlGroups",
            "ProtectClock",
            "ProtectHostname",
            "MemoryDenyWriteExecute",
            "RestrictRealtime",
            "RestrictSUIDSGID",
            "LockPersonality",
            "PrivateUsers",
            "PrivateMounts",
            "CPUAccounting",
            "MemoryAccounting",
            "IOAccounting",
            "TasksAccounting",
            "IPAccounting",
            "SendSIGKILL",
            "SendSIGHUP",
            "IgnoreSIGPIPE",
            "TTYReset",
            "TTYVHangup",
            "TTYVTDisallocate",
        ],
    ),
    (
        "Timer",
        &[
            "Persistent",
            "WakeSystem",
            "RemainAfterElapse",
            "OnClockChange",
            "OnTimezoneChange",
        ],
    ),
    (
        "Socket",
        &[
            "Accept",
            "FreeBind",
            "Transparent",
            "Broadcast",
            "PassCredentials",
            "PassSecurity",
            "ReusePort",
            "RemoveOnStop",
            "KeepAlive",
            "NoDelay",
            "Writable",
            "FlushPending",
        ],
    ),
    (
        "Mount",
        &[
            "LazyUnmount",
            "ForceUnmount",
            "ReadWriteOnly",
            "SloppyOptions",
        ],
    ),
    ("Path", &["MakeDirectory"]),
];

const TIMESPANS: &[(&str, &[&str])] = &[
    (
        "Unit",
        &[
            "JobTimeoutSec",
            "JobRunningTimeoutSec",
            "StartLimitIntervalSec",
        ],
    ),
    (
        "Service",
        &[
            "TimeoutSec",
            "TimeoutStartSec",
            "TimeoutStopSec",
            "TimeoutAbortSec",
            "RestartSec",
            "RuntimeMaxSec",
            "RuntimeRandomizedExtraSec",
            "WatchdogSec",
        ],
    ),
    (
        "Timer",
        &[
            "OnActiveSec",
            "OnBootSec",
            "OnStartupSec",
            "OnUnitActiveSec",
            "OnUnitInactiveSec",
            "AccuracySec",
            "RandomizedDelaySec",
        ],
    ),
    (
        "Socket",
        &[
            "TimeoutSec",
            "KeepAliveTimeSec",
            "KeepAliveIntervalSec",
            "DeferAcceptSec",
            "TriggerLimitIntervalSec",
        ],
    ),
    ("Mount", &["TimeoutSec"]),
    ("Swap", &["TimeoutSec"]),
    ("Path", &["TriggerLimitIntervalSec"]),
];

/// `Type=` of services in systemd 252 (`notify-reload` came in 253).
pub const SERVICE_TYPES: &[&str] = &[
    "simple", "exec", "forking", "oneshot", "dbus", "notify", "idle",
];
/// `Restart=`.
pub const RESTARTS: &[&str] = &[
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];
/// `KillMode=`.
pub const KILL_MODES: &[&str] = &["control-group", "mixed", "process", "none"];
/// `NotifyAccess=`.
pub const NOTIFY_ACCESS: &[&str] = &["none", "main", "exec", "all"];

/// How `key` in `section` is checked, if it is.
#[must_use]
pub fn kind_of(section: &str, key: &str) -> Option<ValueKind> {
    let listed = |table: &[(&str, &[&str])]| {
        table
            .iter()
            .any(|(s, keys)| *s == section && keys.contains(&key))
    };
    if listed(BOOLEANS) {
        return Some(ValueKind::Bool);
    }
    if listed(TIMESPANS) {
        return Some(ValueKind::Timespan);
    }
    match (section, key) {
        ("Service", "Type") => Some(ValueKind::Enum(SERVICE_TYPES)),
        ("Service", "Restart") => Some(ValueKind::Enum(RESTARTS)),
        ("Service" | "Socket" | "Mount" | "Swap" | "Scope", "KillMode") => {
            Some(ValueKind::Enum(KILL_MODES))
        }
        ("Service", "NotifyAccess") => Some(ValueKind::Enum(NOTIFY_ACCESS)),
        ("Install", "WantedBy" | "RequiredBy" | "Also" | "Alias") => Some(ValueKind::UnitNames),
        ("Timer", "OnCalendar") => Some(ValueKind::Calendar),
        _ => None,
    }
}

/// systemd's `parse_boolean`.
#[must_use]
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// systemd's time units (`time-util.c`), each spelling with its length in microseconds,
/// longest spelling first so that `msec` is not read as `m` followed by `sec`.
const TIME_UNITS: &[(&[&str], u128)] = &[
    (&["seconds", "second", "sec", "s"], USEC_PER_SEC),
    (&["minutes", "minute", "min"], 60 * USEC_PER_SEC),
    (&["months", "month", "M"], 2_629_800 * USEC_PER_SEC),
    (&["msec", "ms"], 1_000),
    (&["m"], 60 * USEC_PER_SEC),
    (&["hours", "hour", "hr", "h"], 3_600 * USEC_PER_SEC),
    (&["days", "day", "d"], 86_400 * USEC_PER_SEC),
    (&["weeks", "week", "w"], 604_800 * USEC_PER_SEC),
    (&["years", "year", "y"], 31_557_600 * USEC_PER_SEC),
    (&["usec", "us", "\u{3bc}s", "\u{b5}s"], 1),
];

/// The unit `rest` starts with, and its length in microseconds.
fn time_unit(rest: &str) -> Option<(&'static str, u128)> {
    TIME_UNITS.iter().find_map(|(spellings, usec)| {
        spellings
            .iter()
            .find(|u| rest.starts_with(**u))
            .map(|u| (*u, *usec))
    })
}

const USEC_PER_SEC: u128 = 1_000_000;

/// Why systemd refuses a time span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimespanError {
    /// Nothing but blanks.
    #[error("an empty time span")]
    Empty,
    /// More microseconds than 64 bits hold.
    #[error("{0:?} is too long a time span")]
    TooLong(String),
    /// A minus sign.
    #[error("{0:?} is negative")]
    Negative(String),
    /// A `.` without digits after it.
    #[error("{0:?} is not a time span (a number like 5, 1.5 or .5 and a unit like s, min, h)")]
    BadFraction(String),
    /// No number where one must be.
    #[error("{0:?} is not a time span (a number and a unit like 30s, 5min, 1h)")]
    NoNumber(String),
}

/// Why systemd ignores a unit-file value (the text names the key and the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not a boolean.
    #[error("{key}={value} is not a boolean (yes/no, true/false, on/off, 1/0)")]
    NotBoolean {
        /// The directive.
        key: String,
        /// The value.
        value: String,
    },
    /// Not a time span.
    #[error("{key}: {why}")]
    Timespan {
        /// The directive.
        key: String,
        /// Why.
        why: TimespanError,
    },
    /// Not one of the directive's words.
    #[error("{key}={value} is not one of {words}{close}")]
    NotOneOf {
        /// The directive.
        key: String,
        /// The value.
        value: String,
        /// The words, joined with `, `.
        words: String,
        /// `; did you mean X?`, or empty.
        close: String,
    },
    /// A name in the list is not a unit name.
    #[error("{key}: {name:?} is not a unit name (e.g. multi-user.target)")]
    NotAUnitName {
        /// The directive.
        key: String,
        /// The bad name.
        name: String,
    },
    /// Not a calendar expression systemd accepts.
    #[error("{key}={value} is not a calendar expression: {why}")]
    Calendar {
        /// The directive.
        key: String,
        /// The value.
        value: String,
        /// Why (the calendar's message).
        why: String,
    },
}

/// systemd's `parse_sec`: `infinity`, or components of a number (`.5` allowed, `5.` not)
/// and an optional unit (seconds by default), blanks allowed between them.
///
/// # Errors
/// When systemd would refuse the value.
pub fn parse_timespan(value: &str) -> Result<(), TimespanError> {
    timespan_usec(value).map(|_| ())
}

/// The length of a time span in microseconds, as systemd's `parse_sec` computes it;
/// `None` for `infinity`.
///
/// # Errors
/// When systemd would refuse the value (also when it does not fit in 64 bits).
pub fn timespan_usec(value: &str) -> Result<Option<u64>, TimespanError> {
    let t = value.trim();
    if t == "infinity" {
        return Ok(None);
    }
    if t.is_empty() {
        return Err(TimespanError::Empty);
    }
    let mut total: u128 = 0;
    let mut rest = t;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return u64::try_from(total)
                .map(Some)
                .map_err(|_| TimespanError::TooLong(value.to_string()));
        }
        if rest.starts_with('-') {
            return Err(TimespanError::Negative(value.to_string()));
        }
        let b = rest.as_bytes();
        let whole_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut i = whole_len;
        let mut frac = "";
        if b.get(i) == Some(&b'.') {
            let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return Err(TimespanError::BadFraction(value.to_string()));
            }
            frac = &rest[i + 1..i + 1 + n];
            i += 1 + n;
        }
        if i == 0 {
            return Err(TimespanError::NoNumber(value.to_string()));
        }
        let whole = &rest[..whole_len];
        rest = rest[i..].trim_start();
        let mut multiplier = USEC_PER_SEC;
        if let Some((unit, usec)) = time_unit(rest) {
            rest = &rest[unit.len()..];
            multiplier = usec;
        }
        let too_long = || TimespanError::TooLong(value.to_string());
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        // The fraction's digits count as far as they change the result in microseconds,
        // as in systemd, which stops at the precision of the unit.
        let mut part = whole.checked_mul(multiplier).ok_or_else(too_long)?;
        let mut scale = multiplier;
        for d in frac.bytes() {
            scale /= 10;
            part += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(part).ok_or_else(too_long)?;
        if total > u128::from(u64::MAX) {
            return Err(too_long());
        }
    }
}

/// A unit name systemd would accept in `WantedBy=` and friends.
#[must_use]
pub fn is_unit_name(name: &str) -> bool {
    let Some((stem, suffix)) = name.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && stem.len() + suffix.len() < 256
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-' | '\\' | '@'))
        && super::SUFFIXES.iter().any(|(s, _)| *s == suffix)
}

/// Check a value; `Err` says why systemd ignores it.
///
/// # Errors
/// When the value is not of the directive's type.
pub fn check(kind: ValueKind, key: &str, value: &str) -> Result<(), ValueError> {
    match kind {
        ValueKind::Bool => parse_bool(value)
            .map(|_| ())
            .ok_or_else(|| ValueError::NotBoolean {
                key: key.to_string(),
                value: value.to_string(),
            }),
        ValueKind::Timespan => parse_timespan(value).map_err(|why| ValueError::Timespan {
            key: key.to_string(),
            why,
        }),
        ValueKind::Enum(words) => {
            if words.contains(&value) {
                Ok(())
            } else {
                let close = words
                    .iter()
                    .map(|w| (crate::suggest::distance(value, w), *w))
                    .min()
                    .filter(|(d, w)| *d <= w.len() / 3 + 1)
                    .map(|(_, w)| format!("; did you mean {w}?"))
                    .unwrap_or_default();
                Err(ValueError::NotOneOf {
                    key: key.to_string(),
                    value: value.to_string(),
                    words: words.join(", "),
                    close,
                })
            }
        }
        ValueKind::UnitNames => {
            for name in value.split_whitespace() {
                if !is_unit_name(name) {
                    return Err(ValueError::NotAUnitName {
                        key: key.to_string(),
                        name: name.to_string(),
                    });
                }
            }
            Ok(())
        }
        ValueKind::Calendar => {
            crate::calendar::parse(value)
                .map(|_| ())
                .map_err(|e| ValueError::Calendar {
                    key: key.to_string(),
                    value: value.to_string(),
                    why: e.message,
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans_as_systemd_analyze() {
        for ok in [
            "2 3",
            "1h2",
            "1.5h",
            "infinity",
            "5 min",
            "1hour",
            "1 h 30m",
            "0",
            ".5s",
            "10msec",
            "3 weeks",
            "1 M",
            "1y2M",
            " 5s",
            "1\u{3bc}s",
            "100",
            "1m 1m",
        ] {
            assert!(parse_timespan(ok).is_ok(), "{ok}");
        }
        for bad in ["-1s", "5x", "1h,2m", "5.s", "1e3", "infinite", ""] {
            assert!(parse_timespan(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timespan_lengths() {
        for (text, usec) in [
            ("0", Some(0)),
            ("90", Some(90_000_000)),
            ("1h 30m", Some(5_400_000_000)),
            ("1.5h", Some(5_400_000_000)),
            (".5s", Some(500_000)),
            ("10msec", Some(10_000)),
            ("2 weeks", Some(1_209_600_000_000)),
            ("1M", Some(2_629_800_000_000)),
            ("1y", Some(31_557_600_000_000)),
            ("5min 3s", Some(303_000_000)),
            ("1\u{b5}s", Some(1)),
            ("infinity", None),
        ] {
            assert_eq!(timespan_usec(text), Ok(usec), "{text}");
        }
        assert!(timespan_usec("99999999999999999999y").is_err());
    }

    #[test]
    fn enums_and_names() {
        assert!(check(ValueKind::Enum(RESTARTS), "Restart", "sometimes").is_err());
        assert!(
            check(ValueKind::Enum(RESTARTS), "Restart", "on-falure")
                .unwrap_err()
                .to_string()
                .contains("on-failure")
        );
        assert!(
            check(
                ValueKind::UnitNames,
                "WantedBy",
                "multi-user.target default.target"
            )
            .is_ok()
        );
        assert!(check(ValueKind::UnitNames, "WantedBy", "multi-user").is_err());
        assert_eq!(parse_bool("YES"), Some(true));
        assert_eq!(parse_bool("2"), None);
    }
}
