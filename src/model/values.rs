//! The value rules of the key tables: pure checks of a key's text, each tied to the rule
//! of the catalogue it is reported under ([`ValueRule`]).
//!
//! The `section!` tables (`config.rs`, `legacy.rs`) name these statics in `@valid(..)`;
//! the structure walk in `check` runs them. A check fails with an [`Invalid`], whose
//! text is the finding's message. They may use what lies below the model (units, reboot
//! windows, encodings, suggestions), never plan or check.

use std::fmt;

use thiserror::Error;

use crate::diagnostic::Rule;
use crate::encoding::ENCODINGS;
use crate::reboot::parse_go_duration;
use crate::rules;
use crate::units::values::timespan_usec;

/// `coreos.update.agent` when it names kindling's agent.
pub const AGENT_KINDLING: &str = "kindling";

/// `coreos.update.agent` for the image's update_engine (the default).
pub const AGENT_UPDATE_ENGINE: &str = "update-engine";

/// `coreos.update.agent` for the image's update_engine with kindling's reboot manager in
/// locksmithd's place (`kindling agent reboot-manager`; locksmith calls itself a "reboot
/// manager", and the name says what is replaced: the reboots, not the updates).
pub const AGENT_REBOOT_MANAGER: &str = "reboot-manager";

/// A check on a string value's text (the `valid` regexes of coreos-cloudinit).
#[derive(Debug)]
pub struct ValueRule {
    /// The rule a failure is reported under.
    pub rule: &'static Rule,
    /// `Ok` when the text is valid, else why not (one sentence).
    pub check: fn(&str) -> Result<(), Invalid>,
}

/// Every reboot strategy kindling understands.
pub const STRATEGIES: [&str; 4] = ["reboot", "etcd-lock", "off", "best-effort"];

/// The verbs of a unit's `command`.
pub const COMMANDS: [&str; 7] = [
    "start",
    "stop",
    "restart",
    "reload",
    "try-restart",
    "reload-or-restart",
    "reload-or-try-restart",
];

/// `coreos.update.reboot-strategy`.
pub static REBOOT_STRATEGY: ValueRule = ValueRule {
    rule: &rules::update_reboot_strategy::RULE,
    check: reboot_strategy,
};

/// `coreos.update.proxy`.
pub static UPDATE_PROXY: ValueRule = ValueRule {
    rule: &rules::update_proxy::RULE,
    check: update_proxy,
};

/// `coreos.update.agent`.
pub static UPDATE_AGENT: ValueRule = ValueRule {
    rule: &rules::update_agent::RULE,
    check: update_agent,
};

/// `check-interval`, `first-check-delay` and `check-jitter` of `coreos.update`.
pub static CHECK_TIMING: ValueRule = ValueRule {
    rule: &rules::update_check_timing::RULE,
    check: check_timing,
};

/// `coreos.update.health-check.command`.
pub static HEALTH_COMMAND: ValueRule = ValueRule {
    rule: &rules::update_health_check::RULE,
    check: health_command,
};

/// `pre-reboot` and `post-boot` of `coreos.update.reboot-hooks`.
pub static HOOK_COMMAND: ValueRule = ValueRule {
    rule: &rules::update_reboot_hooks::RULE,
    check: hook_command,
};

/// `pre-reboot-timeout` and `post-boot-timeout` of `coreos.update.reboot-hooks`.
pub static HOOK_TIMEOUT: ValueRule = ValueRule {
    rule: &rules::update_reboot_hooks::RULE,
    check: hook_timeout_text,
};

/// `coreos.locksmith.window-start`.
pub static WINDOW_START: ValueRule = ValueRule {
    rule: &rules::locksmith_window_start::RULE,
    check: window_start,
};

/// `coreos.locksmith.window-length` (units and sign; the range needs `window-start`, see
/// `locksmith_window_pair`).
pub static WINDOW_LENGTH: ValueRule = ValueRule {
    rule: &rules::locksmith_window_length::RULE,
    check: window_length,
};

/// A unit's `command`.
pub static UNIT_COMMAND: ValueRule = ValueRule {
    rule: &rules::units_command::RULE,
    check: unit_command,
};

/// A `write_files` entry's `encoding`.
pub static ENCODING: ValueRule = ValueRule {
    rule: &rules::write_files_encoding::RULE,
    check: encoding,
};

/// A `write_files` entry's `permissions`: `^0?[0-7]{3,4}$`.
pub static PERMISSIONS: ValueRule = ValueRule {
    rule: &rules::write_files_permissions::RULE,
    check: permissions,
};

/// `coreos.etcd2.proxy`.
pub static ETCD2_PROXY: ValueRule = ValueRule {
    rule: &rules::etcd2_proxy::RULE,
    check: etcd2_proxy,
};

/// `hostname`.
pub static HOSTNAME: ValueRule = ValueRule {
    rule: &rules::hostname_invalid::RULE,
    check: hostname,
};

/// The longest hostname the node sets (`HOST_NAME_MAX`: `hostnamectl` refuses a longer one).
pub const HOSTNAME_MAX: usize = 64;

/// Why `name` is not a hostname a node can set, or `None` when it is one: RFC 1123 labels
/// (ASCII letters, digits and `-`, 1 to 63 bytes, no `-` at either end) joined by `.`, at
/// most [`HOSTNAME_MAX`] bytes in all. The one check of every hostname kindling is given,
/// from user-data (`hostname`) and from every datasource's metadata.
#[must_use]
pub fn hostname_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        let what = if c == char::REPLACEMENT_CHARACTER {
            "invalid UTF-8 is".to_string()
        } else if c.is_ascii() {
            format!("{c:?} is")
        } else {
            format!("{c:?} (not ASCII) is")
        };
        return Some(format!(
            "{what} not allowed (only letters, digits, `-` and `.`)"
        ));
    }
    if name.len() > HOSTNAME_MAX {
        return Some(format!(
            "it is {} bytes long; the node takes at most {HOSTNAME_MAX}",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Some("it has an empty label (a `.` at either end, or `..`)".into());
        }
        if label.len() > 63 {
            return Some(format!("the label {label:?} is longer than 63 bytes"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("the label {label:?} starts or ends with `-`"));
        }
    }
    None
}

/// Why a key's text is not valid (the finding's message).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Invalid {
    /// Not one of [`STRATEGIES`].
    #[error("{text:?} is not a reboot strategy{hint}")]
    RebootStrategy { text: String, hint: Hint },
    /// A proxy address with a blank in it.
    #[error("{text:?} contains a blank")]
    ProxyBlank { text: String },
    /// A proxy address without `scheme://`.
    #[error("{text:?} has no scheme; write http://{text}")]
    ProxyNoScheme { text: String },
    /// A scheme no proxy speaks.
    #[error("{scheme:?} is not a proxy scheme (http, https, socks4, socks4a, socks5, socks5h)")]
    ProxyScheme { scheme: String },
    /// A proxy address without a host.
    #[error("{text:?} has no host")]
    ProxyNoHost { text: String },
    /// None of [`AGENT_KINDLING`], [`AGENT_UPDATE_ENGINE`], [`AGENT_REBOOT_MANAGER`].
    #[error("{text:?} is not an update agent ({kindling}, {engine} or {manager}){hint}", kindling = AGENT_KINDLING, engine = AGENT_UPDATE_ENGINE, manager = AGENT_REBOOT_MANAGER)]
    UpdateAgent { text: String, hint: Hint },
    /// Not a systemd time span (why, in the time span reader's words).
    #[error("{why}")]
    TimeSpan { why: String },
    /// `infinity`, where the agent needs a finite time.
    #[error("{text:?} is endless; the agent needs a finite time span such as 1h")]
    Endless { text: String },
    /// A blank health-check command.
    #[error("the command is blank")]
    BlankCommand,
    /// A hook command whose quotes are not balanced.
    #[error(
        "the command's quotes are not balanced (it is split into words as a shell would, without running one)"
    )]
    HookQuotes,
    /// A hook command on several lines.
    #[error("the command goes on over several lines; update.conf holds it on one")]
    HookLines,
    /// A hook program that is not an absolute path.
    #[error(
        "{program:?} is not an absolute path; a hook runs without a shell and without a PATH search"
    )]
    HookRelative { program: String },
    /// A hook timeout that cannot be used.
    #[error("{why}")]
    HookTimeout { why: String },
    /// Not `[<day> ]H:MM`.
    #[error("{text:?} is not a window start: {why}")]
    WindowStart { text: String, why: WindowStart },
    /// Not a Go duration (why, in the duration reader's words).
    #[error("{why}")]
    Duration { why: String },
    /// A negative window length.
    #[error("{text:?} is negative")]
    Negative { text: String },
    /// Not one of [`COMMANDS`].
    #[error("{text:?} is not a unit command{hint}")]
    UnitCommand { text: String, hint: Hint },
    /// Not one of the encodings the node decodes.
    #[error("{text:?} is not an encoding{hint}")]
    Encoding { text: String, hint: Hint },
    /// A mode written as `rwxr-xr-x`.
    #[error("{text:?} is a symbolic mode; write it in octal")]
    SymbolicMode { text: String },
    /// A mode that is not 3 or 4 octal digits.
    #[error("{text:?} is not an octal mode")]
    NotOctal { text: String },
    /// Not a hostname the node can set.
    #[error("{text:?} is not a valid hostname: {why}")]
    Hostname { text: String, why: String },
    /// Not `on`, `off` or `readonly`.
    #[error("{text:?} is not an etcd2 proxy mode")]
    Etcd2Proxy { text: String },
}

/// What is wrong in a window start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WindowStart {
    /// Not a three-letter day.
    #[error("{day:?} is not a day: use sun, mon, tue, wed, thu, fri or sat")]
    Day { day: String },
    /// No `H:MM`.
    #[error("{text:?} has no H:MM time")]
    NoTime { text: String },
    /// An hour or minute that is not a number.
    #[error("{part:?} is not a valid {what}")]
    Number { part: String, what: &'static str },
    /// An hour or minute past its range.
    #[error("{what} {value} is out of range 0-{max}")]
    Range {
        what: &'static str,
        value: u32,
        max: u32,
    },
}

/// The hint closing a message, after `; ` (or nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// No hint.
    None,
    /// `; did you mean X?`
    DidYouMean(&'static str),
    /// `; strategies are lowercase: x`
    Lowercase(String),
    /// `; ` and what to write instead.
    Instead(&'static str),
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::None => Ok(()),
            Hint::DidYouMean(word) => write!(f, "; did you mean {word}?"),
            Hint::Lowercase(lower) => write!(f, "; strategies are lowercase: {lower}"),
            Hint::Instead(what) => write!(f, "; {what}"),
        }
    }
}

impl Hint {
    /// `DidYouMean` the first of `words` that `matches`, else none.
    fn first_of(words: &[&'static str], matches: impl Fn(&str) -> bool) -> Hint {
        words
            .iter()
            .find(|w| matches(w))
            .map_or(Hint::None, |w| Hint::DidYouMean(w))
    }
}

fn reboot_strategy(text: &str) -> Result<(), Invalid> {
    if STRATEGIES.contains(&text) {
        return Ok(());
    }
    let lower = text.to_ascii_lowercase();
    let hint = if STRATEGIES.contains(&lower.as_str()) {
        Hint::Lowercase(lower)
    } else {
        match lower.as_str() {
            "false" | "no" | "n" | "none" | "never" | "disabled" => {
                Hint::Instead("to stop automatic reboots write `off`")
            }
            "besteffort" | "best_effort" => Hint::DidYouMean("best-effort"),
            "etcd_lock" | "etcdlock" | "lock" => Hint::DidYouMean("etcd-lock"),
            _ => Hint::None,
        }
    };
    Err(Invalid::RebootStrategy {
        text: text.to_string(),
        hint,
    })
}

fn update_proxy(text: &str) -> Result<(), Invalid> {
    let text_owned = || text.to_string();
    if text.chars().any(char::is_whitespace) {
        return Err(Invalid::ProxyBlank { text: text_owned() });
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(Invalid::ProxyNoScheme { text: text_owned() });
    };
    if !matches!(
        scheme,
        "http" | "https" | "socks4" | "socks4a" | "socks5" | "socks5h"
    ) {
        return Err(Invalid::ProxyScheme {
            scheme: scheme.to_string(),
        });
    }
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if host.is_empty() || host.starts_with([':', '/']) {
        return Err(Invalid::ProxyNoHost { text: text_owned() });
    }
    Ok(())
}

fn update_agent(text: &str) -> Result<(), Invalid> {
    if [AGENT_KINDLING, AGENT_UPDATE_ENGINE, AGENT_REBOOT_MANAGER].contains(&text) {
        return Ok(());
    }
    let lower = text.to_ascii_lowercase().replace('_', "-");
    let near = |word: &str| lower.contains(word) || crate::suggest::distance(&lower, word) <= 3;
    let hint = if near(AGENT_KINDLING) {
        Hint::DidYouMean(AGENT_KINDLING)
    } else if near(AGENT_UPDATE_ENGINE) || lower.contains("engine") {
        Hint::DidYouMean(AGENT_UPDATE_ENGINE)
    } else if near(AGENT_REBOOT_MANAGER) || lower.contains("reboot") || lower.contains("locksmith")
    {
        Hint::DidYouMean(AGENT_REBOOT_MANAGER)
    } else {
        Hint::None
    };
    Err(Invalid::UpdateAgent {
        text: text.to_string(),
        hint,
    })
}

/// A finite systemd time span (what `plan::agent::seconds` turns into whole seconds).
fn check_timing(text: &str) -> Result<(), Invalid> {
    match timespan_usec(text) {
        Err(why) => Err(Invalid::TimeSpan {
            why: why.to_string(),
        }),
        Ok(None) => Err(Invalid::Endless {
            text: text.to_string(),
        }),
        Ok(Some(_)) => Ok(()),
    }
}

fn health_command(text: &str) -> Result<(), Invalid> {
    if text.trim().is_empty() {
        return Err(Invalid::BlankCommand);
    }
    Ok(())
}

/// A reboot hook's command split into words as a POSIX shell splits them (quotes and
/// backslashes, no expansion): the program, an absolute path, and its arguments. The
/// compiler's check and the node's reading (`machine::hooks`) are this one function.
///
/// # Errors
/// A blank command, a line break, unbalanced quotes, or a relative program.
pub fn hook_words(text: &str) -> Result<Vec<String>, Invalid> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid::BlankCommand);
    }
    if text.contains(['\n', '\r']) {
        return Err(Invalid::HookLines);
    }
    let words = shlex::split(text).ok_or(Invalid::HookQuotes)?;
    let Some(program) = words.first() else {
        return Err(Invalid::BlankCommand);
    };
    if !program.starts_with('/') {
        return Err(Invalid::HookRelative {
            program: program.clone(),
        });
    }
    Ok(words)
}

fn hook_command(text: &str) -> Result<(), Invalid> {
    hook_words(text).map(|_| ())
}

/// A reboot hook's timeout: a systemd time span (a bare number is seconds), finite and at
/// least a second.
///
/// # Errors
/// Why not.
pub fn hook_timeout(text: &str) -> Result<std::time::Duration, Invalid> {
    let text = text.trim();
    let why = |why: String| Invalid::HookTimeout { why };
    match timespan_usec(text) {
        Err(e) => Err(why(e.to_string())),
        Ok(None) => Err(why(format!(
            "{text:?} is endless; a hook needs a finite timeout"
        ))),
        Ok(Some(usec)) if usec < 1_000_000 => Err(why(format!(
            "{text:?} is less than a second; give a hook at least 1s"
        ))),
        Ok(Some(usec)) => Ok(std::time::Duration::from_micros(usec)),
    }
}

fn hook_timeout_text(text: &str) -> Result<(), Invalid> {
    hook_timeout(text).map(|_| ())
}

const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn window_start(text: &str) -> Result<(), Invalid> {
    window_start_parts(text).map_err(|why| Invalid::WindowStart {
        text: text.to_string(),
        why,
    })
}

fn window_start_parts(text: &str) -> Result<(), WindowStart> {
    let time = match text.split_once(' ') {
        Some((day, time)) => {
            if !DAYS.contains(&day.to_ascii_lowercase().as_str()) {
                return Err(WindowStart::Day {
                    day: day.to_string(),
                });
            }
            time
        }
        None => text,
    };
    let Some((hour, minute)) = time.split_once(':') else {
        return Err(WindowStart::NoTime {
            text: text.to_string(),
        });
    };
    clock_number(hour, 23, "hour")?;
    clock_number(minute, 59, "minute")?;
    Ok(())
}

/// An hour or minute: digits (leading zeros allowed), at most `max`.
fn clock_number(part: &str, max: u32, what: &'static str) -> Result<u32, WindowStart> {
    let not_number = || WindowStart::Number {
        part: part.to_string(),
        what,
    };
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_number());
    }
    let trimmed = part.trim_start_matches('0');
    if trimmed.len() > 2 {
        return Err(not_number());
    }
    let value: u32 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().map_err(|_| not_number())?
    };
    if value > max {
        return Err(WindowStart::Range { what, value, max });
    }
    Ok(value)
}

fn window_length(text: &str) -> Result<(), Invalid> {
    let nanos = parse_go_duration(text).map_err(|why| Invalid::Duration {
        why: why.to_string(),
    })?;
    if nanos < 0.0 {
        return Err(Invalid::Negative {
            text: text.to_string(),
        });
    }
    Ok(())
}

fn hostname(text: &str) -> Result<(), Invalid> {
    // The node substitutes `$private_ipv4` and friends (config::VARIABLES, not imported:
    // config names this file) before it sets the name; check it with a stand-in value.
    let mut probe = text.to_string();
    for var in ["public_ipv4", "private_ipv4", "public_ipv6", "private_ipv6"] {
        probe = probe.replace(&format!("${var}"), "0");
    }
    if text.is_empty() {
        return Ok(());
    }
    match hostname_problem(&probe) {
        None => Ok(()),
        Some(why) => Err(Invalid::Hostname {
            text: text.to_string(),
            why,
        }),
    }
}

fn unit_command(text: &str) -> Result<(), Invalid> {
    if COMMANDS.contains(&text) {
        return Ok(());
    }
    let hint = match text {
        "enable" => Hint::Instead("to enable a unit write `enable: true`"),
        "mask" => Hint::Instead("to mask a unit write `mask: true`"),
        _ => {
            let squashed = text.replace(['-', '_'], "").to_ascii_lowercase();
            Hint::first_of(&COMMANDS, |c| c.replace('-', "") == squashed)
        }
    };
    Err(Invalid::UnitCommand {
        text: text.to_string(),
        hint,
    })
}

fn encoding(text: &str) -> Result<(), Invalid> {
    if ENCODINGS.contains(&text) {
        return Ok(());
    }
    let squashed = text.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let hint = Hint::first_of(&ENCODINGS, |e| {
        e == squashed || e.replace('+', "") == squashed
    });
    Err(Invalid::Encoding {
        text: text.to_string(),
        hint,
    })
}

fn permissions(text: &str) -> Result<(), Invalid> {
    let digits = text
        .strip_prefix('0')
        .filter(|d| d.len() >= 3)
        .unwrap_or(text);
    if (3..=4).contains(&digits.len()) && digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Ok(());
    }
    let text = text.to_string();
    if text.contains(['r', 'w', 'x']) {
        return Err(Invalid::SymbolicMode { text });
    }
    Err(Invalid::NotOctal { text })
}

fn etcd2_proxy(text: &str) -> Result<(), Invalid> {
    match text {
        "on" | "off" | "readonly" => Ok(()),
        other => Err(Invalid::Etcd2Proxy {
            text: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Check = fn(&str) -> Result<(), Invalid>;

    fn message(check: Check, text: &str) -> String {
        check(text).map_or_else(|e| e.to_string(), |()| String::new())
    }

    /// Every `good` text passes and every `bad` one fails.
    fn sorts(check: Check, good: &[&str], bad: &[&str]) {
        for text in good {
            assert!(check(text).is_ok(), "{text}");
        }
        for text in bad {
            assert!(check(text).is_err(), "{text}");
        }
    }

    #[test]
    fn hostnames() {
        sorts(
            hostname,
            &[
                "node-1",
                "a",
                "web01.example.com",
                "node-$private_ipv4",
                &"a".repeat(63),
                &format!("{}.{}", "a".repeat(31), "b".repeat(32)),
            ],
            &[
                "../../etc/x",
                "a/b",
                "a b",
                "-a",
                "a-",
                "a..b",
                ".a",
                "a.",
                "h\u{fffd}st",
                "höst",
                "a_b",
                "$foo",
                &"a".repeat(64 + 1),
                &format!("{}.b", "a".repeat(64)),
            ],
        );
        assert_eq!(
            message(hostname, "../../etc/x"),
            "\"../../etc/x\" is not a valid hostname: '/' is not allowed (only letters, digits, `-` and `.`)"
        );
        assert_eq!(
            message(hostname, "h\u{fffd}st"),
            "\"h\u{fffd}st\" is not a valid hostname: invalid UTF-8 is not allowed (only letters, digits, `-` and `.`)"
        );
    }

    #[test]
    fn reboot_strategies() {
        sorts(
            reboot_strategy,
            &STRATEGIES,
            &["always", "OFF", "false", "besteffort", "unknown"],
        );
        assert_eq!(
            message(reboot_strategy, "OFF"),
            "\"OFF\" is not a reboot strategy; strategies are lowercase: off"
        );
        assert_eq!(
            message(reboot_strategy, "never"),
            "\"never\" is not a reboot strategy; to stop automatic reboots write `off`"
        );
        assert_eq!(
            message(reboot_strategy, "lock"),
            "\"lock\" is not a reboot strategy; did you mean etcd-lock?"
        );
    }

    #[test]
    fn proxies() {
        sorts(
            update_proxy,
            &["http://p:3128", "https://u:pw@p", "socks5h://10.0.0.1:1080"],
            &["p:3128", "ftp://p", "http://", "http://:80", "http://p q"],
        );
        assert_eq!(
            message(update_proxy, "p:3128"),
            "\"p:3128\" has no scheme; write http://p:3128"
        );
    }

    #[test]
    fn agents() {
        sorts(
            update_agent,
            &["kindling", "update-engine", "reboot-manager"],
            &["Kindling"],
        );
        assert!(message(update_agent, "Kindling").contains("did you mean kindling"));
        assert!(message(update_agent, "update_engine").contains("did you mean update-engine"));
        assert!(message(update_agent, "kindlin").contains("did you mean kindling"));
        assert_eq!(
            message(update_agent, "locksmith"),
            "\"locksmith\" is not an update agent (kindling, update-engine or reboot-manager); did you mean reboot-manager?"
        );
        assert_eq!(
            message(update_agent, "apt"),
            "\"apt\" is not an update agent (kindling, update-engine or reboot-manager)"
        );
    }

    #[test]
    fn timings() {
        sorts(check_timing, &["1h 30min", "0"], &["soon", "-5min"]);
        assert_eq!(
            message(check_timing, "infinity"),
            "\"infinity\" is endless; the agent needs a finite time span such as 1h"
        );
    }

    #[test]
    fn health_commands() {
        sorts(health_command, &["systemctl is-active docker"], &[]);
        assert_eq!(message(health_command, "  "), "the command is blank");
    }

    #[test]
    fn hook_commands_and_timeouts() {
        assert_eq!(
            hook_words("/bin/sh -c 'kubectl drain \"$(hostname)\" --timeout=5m'").unwrap(),
            [
                "/bin/sh",
                "-c",
                "kubectl drain \"$(hostname)\" --timeout=5m"
            ]
        );
        assert_eq!(
            hook_words("  /opt/bin/drain a\\ b \"c d\"").unwrap(),
            ["/opt/bin/drain", "a b", "c d"]
        );
        assert_eq!(message(hook_command, " "), "the command is blank");
        assert_eq!(hook_words("/bin/x 'open"), Err(Invalid::HookQuotes));
        assert_eq!(hook_words("/bin/x\n/bin/y"), Err(Invalid::HookLines));
        assert_eq!(
            message(hook_command, "kubectl drain"),
            "\"kubectl\" is not an absolute path; a hook runs without a shell and without a PATH search"
        );
        sorts(
            hook_timeout_text,
            &["90", "10min", "1h 30min", "1s"],
            &["0", "infinity", "soon", "500ms"],
        );
        assert_eq!(hook_timeout("90"), Ok(std::time::Duration::from_secs(90)));
    }

    #[test]
    fn window_starts() {
        sorts(
            window_start,
            &[
                "Sun 0:0",
                "Sun 00:00",
                "sUn 23:59",
                "00:00",
                "20:50",
                "0004:05",
            ],
            &[
                "tues 0:0",
                "thur 0:0",
                "sat00:00",
                "20:60",
                "24:00",
                "sun  1:00",
                "1",
                ":",
            ],
        );
        assert_eq!(
            message(window_start, "24:00"),
            "\"24:00\" is not a window start: hour 24 is out of range 0-23"
        );
    }

    #[test]
    fn window_lengths() {
        sorts(window_length, &["1h30m"], &["-1h"]);
    }

    #[test]
    fn unit_commands() {
        sorts(unit_command, &COMMANDS, &["unknown"]);
        assert!(message(unit_command, "tryrestart").contains("try-restart"));
        assert!(message(unit_command, "enable").contains("enable: true"));
    }

    #[test]
    fn encodings() {
        sorts(
            encoding,
            &ENCODINGS,
            &["gzzzzbase64", "gzipppbase64", "unknown", "custom"],
        );
        assert!(message(encoding, "Base64").contains("base64"));
    }

    #[test]
    fn modes() {
        sorts(
            permissions,
            &["744", "0744", "1744", "01744", "0644", "4755"],
            &[
                "11744",
                "rwxr--r--",
                "800",
                "0o644",
                "0777777",
                "64",
                "0x1ed",
            ],
        );
    }

    #[test]
    fn etcd2_proxies() {
        sorts(etcd2_proxy, &["on", "off", "readonly"], &["yes"]);
        assert_eq!(
            message(etcd2_proxy, "yes"),
            "\"yes\" is not an etcd2 proxy mode"
        );
    }
}
