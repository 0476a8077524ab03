//! What `coreos.update.agent: kindling` and the agent's settings compile to: the agent's
//! unit, the masks of the units it replaces, its trusted keys, and its `KINDLING_*` keys of
//! update.conf.
//!
//! This is the whole contract between the compiler and the on-node agent: the agent
//! reads nothing but what is planned here (and the update.conf keys update_engine reads),
//! so every name and value format is a constant or a function of this file, and the book
//! (compile.md) documents them. Nothing here does I/O.

use super::types::{Content, Effect, PlannedFile};
use super::units::UnitSpec;
use crate::model::minisign::PublicKey;
use crate::model::values::{hook_timeout, hook_words};
use crate::model::{RebootHooks, Spanned, Update};
use crate::units::values::{TimespanError, timespan_usec};

/// Where the kindling binary is installed on a node: `/usr` is the read-only image, and
/// `/opt/bin` is where CoreOS-style nodes keep binaries of their own (the maintenance
/// window's script lives there too).
pub const AGENT_BINARY: &str = "/opt/bin/kindling";

/// The agent's unit.
pub const AGENT_UNIT: &str = "kindling-agent.service";

/// The reboot manager's unit (`agent: reboot-manager`: locksmithd's replacement).
pub const REBOOT_MANAGER_UNIT: &str = "kindling-reboot-manager.service";

/// Where the agent's trusted minisign public keys are, one `<KEY ID>.pub` file each.
pub const TRUSTED_KEYS_DIR: &str = "/etc/kindling/trusted-keys";

/// update.conf: the units that must be active after an update, separated by one blank.
pub const HEALTH_UNITS_KEY: &str = "KINDLING_HEALTH_UNITS";

/// update.conf: a command for `/bin/sh -c` that must exit 0 after an update, verbatim.
pub const HEALTH_COMMAND_KEY: &str = "KINDLING_HEALTH_COMMAND";

/// update.conf: seconds between update checks.
pub const CHECK_INTERVAL_KEY: &str = "KINDLING_CHECK_INTERVAL";

/// update.conf: seconds from the agent's start to its first check.
pub const FIRST_CHECK_DELAY_KEY: &str = "KINDLING_FIRST_CHECK_DELAY";

/// update.conf: upper bound, in seconds, of the random delay added to each wait.
pub const CHECK_JITTER_KEY: &str = "KINDLING_CHECK_JITTER";

/// update.conf: upper bound, in seconds, of the random delay before a reboot without the
/// lock inside the maintenance window (the window's `random-delay`).
pub const REBOOT_RANDOM_DELAY_KEY: &str = "KINDLING_REBOOT_RANDOM_DELAY";

/// Why a setting is not a span the agent can wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecondsError {
    /// Not a systemd time span.
    #[error(transparent)]
    Timespan(#[from] TimespanError),
    /// `infinity`.
    #[error("{0:?} is endless; the agent needs a finite time span such as 1h")]
    Endless(String),
}

/// The span in whole seconds, rounded up, as written to update.conf.
///
/// # Errors
/// When the text is not a finite systemd time span.
pub fn seconds(text: &str) -> Result<u64, SecondsError> {
    match timespan_usec(text)? {
        None => Err(SecondsError::Endless(text.to_string())),
        Some(usec) => Ok(usec.div_ceil(1_000_000)),
    }
}

/// Where a config's settings come from, for the manifest.
const ORIGIN: &str = "coreos.update.agent";

/// The agent's unit file, for a node (the binary at [`AGENT_BINARY`]).
#[must_use]
pub fn unit_text() -> String {
    unit_text_for(AGENT_BINARY)
}

/// The agent's unit file for a binary installed at `bin` (the Debian package's
/// `/usr/bin/kindling`).
#[must_use]
pub fn unit_text_for(bin: &str) -> String {
    service_unit(
        "kindling update agent (check, download, verify, install, reboot by strategy)",
        "Wants=network-online.target\nAfter=network-online.target\n",
        "",
        &format!("{bin} agent run"),
    )
}

/// The reboot manager's unit file for a binary at `bin`. As locksmithd's unit, it loads
/// update.conf as `EnvironmentFile=`s (the reboot manager reads the files itself too; the
/// environment wins over them, as it did for locksmithd); it starts after the bus and
/// update-engine.
#[must_use]
pub fn reboot_manager_unit_text_for(bin: &str) -> String {
    service_unit(
        "kindling reboot manager (reboots by strategy when update-engine staged an update)",
        "Requires=dbus.socket\nAfter=dbus.socket update-engine.service network-online.target\nWants=network-online.target\n",
        "EnvironmentFile=-/usr/share/coreos/update.conf\nEnvironmentFile=-/etc/coreos/update.conf\n",
        &format!("{bin} agent reboot-manager"),
    )
}

/// A kindling service: `unit` and `service` lines added to its sections. Restart and the
/// condition follow update-engine.service: a failed service comes back after a pause, and
/// an image marked not to update (/usr/.noupdate) is left alone.
fn service_unit(description: &str, unit: &str, service: &str, exec: &str) -> String {
    format!(
        "[Unit]\nDescription={description}\n{unit}ConditionPathExists=!/usr/.noupdate\n\n\
[Service]\n{service}ExecStart={exec}\nRestart=on-failure\nRestartSec=30\n\n\
[Install]\nWantedBy=multi-user.target\n"
    )
}

/// The units of `agent: reboot-manager`: locksmithd masked (persistently: two reboot
/// managers must never race for one node's reboot) and stopped, the reboot manager's unit
/// written, enabled and restarted; update-engine is left as it is.
#[must_use]
pub fn reboot_manager_units(update: &Spanned<Update>) -> Vec<UnitSpec> {
    let span = update
        .value
        .agent
        .as_ref()
        .map_or(update.key_span, |a| a.span);
    vec![
        UnitSpec {
            name: "locksmithd.service".to_string(),
            mask: true,
            command: Some("stop".into()),
            span,
            origin: ORIGIN.into(),
            ..UnitSpec::default()
        },
        UnitSpec {
            name: REBOOT_MANAGER_UNIT.into(),
            content: Some(reboot_manager_unit_text_for(AGENT_BINARY)),
            enable: true,
            command: Some("restart".into()),
            span,
            origin: ORIGIN.into(),
            ..UnitSpec::default()
        },
    ]
}

/// The agent's settings as update.conf keys, for the keys the config sets (valid values
/// only; the checker reports the others).
#[must_use]
pub fn update_conf_settings(update: &Update) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(health) = &update.health_check {
        let units: Vec<&str> = health
            .value
            .units
            .iter()
            .flat_map(|u| u.value.iter())
            .map(|u| u.value.trim())
            .filter(|u| !u.is_empty())
            .collect();
        if !units.is_empty() {
            out.push((HEALTH_UNITS_KEY, units.join(" ")));
        }
        if let Some(command) = health
            .value
            .command
            .as_ref()
            .map(|c| c.value.text.trim())
            .filter(|c| !c.is_empty())
        {
            out.push((HEALTH_COMMAND_KEY, command.to_string()));
        }
    }
    if let Some(hooks) = &update.reboot_hooks {
        out.extend(reboot_hook_settings(&hooks.value));
    }
    for (key, value) in [
        (CHECK_INTERVAL_KEY, &update.check_interval),
        (FIRST_CHECK_DELAY_KEY, &update.first_check_delay),
        (CHECK_JITTER_KEY, &update.check_jitter),
    ] {
        if let Some(s) = value.as_ref().and_then(|v| seconds(&v.value).ok()) {
            out.push((key, s.to_string()));
        }
    }
    out
}

/// update.conf: the command run before a reboot (split into words, run without a shell).
pub const PRE_REBOOT_COMMAND_KEY: &str = "KINDLING_PRE_REBOOT_COMMAND";
/// update.conf: seconds the pre-reboot command may run.
pub const PRE_REBOOT_TIMEOUT_KEY: &str = "KINDLING_PRE_REBOOT_TIMEOUT";
/// update.conf: the command run after the next boot's health check.
pub const POST_BOOT_COMMAND_KEY: &str = "KINDLING_POST_BOOT_COMMAND";
/// update.conf: seconds the post-boot command may run.
pub const POST_BOOT_TIMEOUT_KEY: &str = "KINDLING_POST_BOOT_TIMEOUT";

/// The reboot hooks' update.conf keys (valid values only). A command that starts with a
/// quote is written inside double quotes, since update.conf's reader strips one pair of
/// quotes around a whole value.
fn reboot_hook_settings(hooks: &RebootHooks) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (key, command) in [
        (PRE_REBOOT_COMMAND_KEY, &hooks.pre_reboot),
        (POST_BOOT_COMMAND_KEY, &hooks.post_boot),
    ] {
        let Some(text) = command
            .as_ref()
            .map(|c| c.value.trim())
            .filter(|c| hook_words(c).is_ok())
        else {
            continue;
        };
        let text = if text.starts_with(['"', '\'']) {
            format!("\"{text}\"")
        } else {
            text.to_string()
        };
        out.push((key, text));
    }
    for (key, timeout) in [
        (PRE_REBOOT_TIMEOUT_KEY, &hooks.pre_reboot_timeout),
        (POST_BOOT_TIMEOUT_KEY, &hooks.post_boot_timeout),
    ] {
        if let Some(t) = timeout.as_ref().and_then(|t| hook_timeout(&t.value).ok()) {
            // Whole seconds, rounded up as every other span of update.conf.
            let secs = t.as_secs() + u64::from(t.subsec_nanos() > 0);
            out.push((key, secs.to_string()));
        }
    }
    out
}

/// One file per distinct valid key, in list order: `<TRUSTED_KEYS_DIR>/<KEY ID>.pub`.
#[must_use]
pub fn key_files(update: &Spanned<Update>) -> Vec<PlannedFile> {
    let mut out: Vec<PlannedFile> = Vec::new();
    for key in update.value.signing_keys() {
        let Ok(parsed) = PublicKey::parse(&key.value.text) else {
            continue;
        };
        let path = format!("{TRUSTED_KEYS_DIR}/{}.pub", parsed.id_hex());
        if out.iter().any(|f| f.path == path) {
            continue;
        }
        out.push(PlannedFile {
            path,
            content: Content::Bytes(parsed.file_text().into_bytes()),
            mode: 0o644,
            owner: None,
            effect: Effect::InService,
            span: key.span,
            origin: "coreos.update.signing-keys".into(),
        });
    }
    out
}

/// The units of `agent: kindling`: update-engine and locksmithd masked (persistently, in
/// /etc: two agents must never update one node) and stopped, and the agent's unit written,
/// enabled and restarted, with the proxy drop-in update-engine would have had.
#[must_use]
pub fn units(update: &Spanned<Update>, proxy_drop_in: Option<(String, String)>) -> Vec<UnitSpec> {
    let span = update
        .value
        .agent
        .as_ref()
        .map_or(update.key_span, |a| a.span);
    let mask = |name: &str| UnitSpec {
        name: name.to_string(),
        mask: true,
        command: Some("stop".into()),
        span,
        origin: ORIGIN.into(),
        ..UnitSpec::default()
    };
    vec![
        mask("update-engine.service"),
        mask("locksmithd.service"),
        UnitSpec {
            name: AGENT_UNIT.into(),
            content: Some(unit_text()),
            drop_ins: proxy_drop_in.into_iter().collect(),
            enable: true,
            command: Some("restart".into()),
            span,
            origin: ORIGIN.into(),
            ..UnitSpec::default()
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_conf_key_names_match_the_model() {
        use crate::model::{HealthCheck, Update};
        let env = |info: &crate::model::SectionInfo, key: &str| info.field(key).and_then(|f| f.env);
        assert_eq!(
            env(&Update::INFO, "check_interval"),
            Some(CHECK_INTERVAL_KEY)
        );
        assert_eq!(
            env(&Update::INFO, "first_check_delay"),
            Some(FIRST_CHECK_DELAY_KEY)
        );
        assert_eq!(env(&Update::INFO, "check_jitter"), Some(CHECK_JITTER_KEY));
        assert_eq!(env(&HealthCheck::INFO, "command"), Some(HEALTH_COMMAND_KEY));
    }

    #[test]
    fn settings_in_whole_seconds() {
        let v = crate::validate(
            "t",
            b"#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    check-interval: 1h 30min\n    first-check-delay: 90\n    check-jitter: 1.5s\n    health-check:\n      units: [docker.service, ' etcd-member.service ']\n      command: |\n        curl -fsS http://127.0.0.1:8080/healthz\n".to_vec(),
        );
        let update = &v.config.update().unwrap().value;
        assert_eq!(
            update_conf_settings(update),
            vec![
                (
                    HEALTH_UNITS_KEY,
                    "docker.service etcd-member.service".into()
                ),
                (
                    HEALTH_COMMAND_KEY,
                    "curl -fsS http://127.0.0.1:8080/healthz".into()
                ),
                (CHECK_INTERVAL_KEY, "5400".into()),
                (FIRST_CHECK_DELAY_KEY, "90".into()),
                (CHECK_JITTER_KEY, "2".into()),
            ]
        );
    }

    #[test]
    fn reboot_hooks_as_update_conf_keys() {
        use crate::model::RebootHooks;
        let env = |key: &str| RebootHooks::INFO.field(key).and_then(|f| f.env);
        assert_eq!(env("pre_reboot"), Some(PRE_REBOOT_COMMAND_KEY));
        assert_eq!(env("pre_reboot_timeout"), Some(PRE_REBOOT_TIMEOUT_KEY));
        assert_eq!(env("post_boot"), Some(POST_BOOT_COMMAND_KEY));
        assert_eq!(env("post_boot_timeout"), Some(POST_BOOT_TIMEOUT_KEY));
        let v = crate::validate(
            "t",
            b"#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    reboot-hooks:\n      pre-reboot: /bin/sh -c 'kubectl drain \"$(hostname)\"'\n      pre-reboot-timeout: 1h 30min\n      post-boot: \"'/opt/my bin/uncordon' now\"\n      post-boot-timeout: 1.5s\n".to_vec(),
        );
        let update = &v.config.update().unwrap().value;
        assert_eq!(
            update_conf_settings(update),
            vec![
                (
                    PRE_REBOOT_COMMAND_KEY,
                    "/bin/sh -c 'kubectl drain \"$(hostname)\"'".into()
                ),
                // Quoted, so that update.conf's reader keeps the inner quotes.
                (
                    POST_BOOT_COMMAND_KEY,
                    "\"'/opt/my bin/uncordon' now\"".into()
                ),
                (PRE_REBOOT_TIMEOUT_KEY, "5400".into()),
                (POST_BOOT_TIMEOUT_KEY, "2".into()),
            ]
        );
        // As the node reads it back: the words the config meant.
        let line = format!("X={}", update_conf_settings(update)[1].1);
        let (_, value) = crate::slots::parse_key_values(&line).remove(0);
        assert_eq!(hook_words(&value).unwrap(), ["/opt/my bin/uncordon", "now"]);
    }
}
