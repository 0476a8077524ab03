//! What coreos-cloudinit generates from the `coreos` sections, plus kindling's extensions.
//!
//! Files: `/etc/oem-release`, `/etc/coreos/update.conf` (merged with a base, whole keys
//! only), `/etc/hosts`, `/run/flannel/options.env`, the maintenance window's script.
//! Units: the etcd, etcd2 and fleet drop-ins, locksmithd's drop-in and reboot-strategy
//! handling, the update-engine restart, the update-engine proxy drop-in, the
//! maintenance window's service and timer (with the kindling agent, instead, the window's
//! update.conf keys: the agent checks the window itself), and (through `agent.rs`) the kindling agent's
//! unit, masks, trusted keys and update.conf keys.
//!
//! Deliberate differences from coreos-cloudinit (book: differences.md): `Environment=`
//! values are quoted and escaped for systemd; update.conf keys match whole (`GROUPIE=`
//! is not `GROUP=`) and a key's later duplicates are dropped; locksmithd is restarted when
//! its drop-in is written (unless masked); sections that are absent generate nothing.

use super::builder::{Builder, text};
use super::text::{environment_line, environment_line_plain, go_float, go_quote};
use super::types::{ActionKind, Content, Effect, PlanOptions, PlannedFile};
use super::units::UnitSpec;
use crate::diagnostic::Span;
use crate::model::legacy::Flannel;
use crate::model::{CloudConfig, EnvValue, MaintenanceWindow, Oem, Spanned, Update};

/// Where the maintenance window's script goes.
pub const WINDOW_SCRIPT: &str = "/opt/bin/update-window.sh";

/// Where the window's script notes, before `locksmithctl reboot`, that this node takes the
/// reboot lock for the reboot (for the release at the next boot).
pub const WINDOW_HELD: &str = "/var/lib/update-window/lock-held";

/// Default upper bound of the random delay, in seconds.
pub const DEFAULT_RANDOM_DELAY: i64 = 3600;

fn env_text(value: EnvValue<'_>) -> String {
    match value {
        EnvValue::Text(t) => t.to_string(),
        EnvValue::Bool(b) => b.to_string(),
        EnvValue::Int(i) => i.to_string(),
        EnvValue::Float(f) => go_float(f),
    }
}

/// `[Service]` with one quoted `Environment=` line per set key, or `None` when no key is
/// set (coreos-cloudinit's `serviceContents`).
fn service_contents(values: Vec<(&'static str, EnvValue<'_>)>) -> Option<String> {
    let lines: Vec<String> = values
        .into_iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| environment_line(k, &env_text(v)))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let mut out = String::from("[Service]\n");
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    Some(out)
}

/// Merge `KEY=value` settings into an update.conf: the first line setting a key is
/// replaced, later lines setting it again are dropped, every other line is kept, and keys
/// not found are appended in sorted order.
#[must_use]
pub fn merge_update_conf(base: Option<&str>, settings: &[(&str, String)]) -> String {
    let mut pending: Vec<(&str, &String)> = settings.iter().map(|(k, v)| (*k, v)).collect();
    pending.sort_by_key(|(k, _)| *k);
    let mut done: Vec<&str> = Vec::new();
    let mut out = String::new();
    for line in base.unwrap_or("").lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim());
        if let Some(key) = key {
            if done.contains(&key) {
                continue;
            }
            if let Some(pos) = pending.iter().position(|(k, _)| *k == key) {
                let (k, v) = pending.remove(pos);
                out.push_str(&format!("{k}={v}\n"));
                done.push(k);
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    for (k, v) in pending {
        out.push_str(&format!("{k}={v}\n"));
    }
    out
}

fn window(config: &CloudConfig) -> Option<(&Spanned<MaintenanceWindow>, String, i64)> {
    let w = config.update()?.value.maintenance_window.as_ref()?;
    let calendar = text(w.value.calendar.as_ref())?.to_string();
    let delay = w
        .value
        .random_delay
        .as_ref()
        .map_or(DEFAULT_RANDOM_DELAY, |d| d.value.max(0));
    Some((w, calendar, delay))
}

/// Whether the maintenance window is the kindling agent's own window check (no timer, no
/// script): kindling's agent or its reboot manager decides when the node reboots.
fn window_in_agent(config: &CloudConfig) -> bool {
    window(config).is_some() && config.update().is_some_and(|u| u.value.kindling_reboots())
}

/// The maintenance window's length in whole seconds, rounded up: `length:` when it is a
/// finite time span above zero (the checker reports the others), else an hour.
#[must_use]
pub fn window_length_secs(w: &MaintenanceWindow) -> i64 {
    text(w.length.as_ref())
        .and_then(|l| crate::units::values::timespan_usec(l).ok().flatten())
        .filter(|usec| *usec > 0)
        .and_then(|usec| i64::try_from(usec.div_ceil(1_000_000)).ok())
        .unwrap_or(crate::reboot::DEFAULT_MAINTENANCE_LENGTH_SECS)
}

/// The strategy the agent reboots by inside its maintenance window: the config's, unless it
/// is missing or `off` (which would never reboot); then `best-effort`, the recipe's way
/// (the lock when etcd runs on the node, else a random delay).
fn window_strategy(update: &Update) -> String {
    text(update.reboot_strategy.as_ref())
        .filter(|s| *s != "off")
        .unwrap_or("best-effort")
        .to_string()
}

/// update.conf's keys for a maintenance window the agent checks itself.
fn window_settings(config: &CloudConfig, update: &Update) -> Vec<(&'static str, String)> {
    let Some((w, calendar, delay)) = window(config) else {
        return Vec::new();
    };
    vec![
        ("REBOOT_STRATEGY", window_strategy(update)),
        (crate::reboot::MAINTENANCE_WINDOW_VAR, calendar),
        (
            crate::reboot::MAINTENANCE_LENGTH_VAR,
            window_length_secs(&w.value).to_string(),
        ),
        (super::agent::REBOOT_RANDOM_DELAY_KEY, delay.to_string()),
    ]
}

/// The maintenance window's service unit.
#[must_use]
pub fn window_service() -> String {
    format!(
        "[Unit]\nDescription=Reboot into a staged update inside the maintenance window\nConditionPathExists={WINDOW_SCRIPT}\n\n[Service]\nType=oneshot\nExecStart={WINDOW_SCRIPT}\n"
    )
}

/// The unit that gives back, at boot, a reboot slot the window's script took: locksmith's
/// `locksmithctl reboot` never does (coreos/bugs#1219). Not a oneshot, so a lock that cannot
/// be reached does not hold up the boot while the script retries.
#[must_use]
pub fn window_release_service() -> String {
    format!(
        "[Unit]\nDescription=Give back the reboot lock the maintenance window took before the reboot\nConditionPathExists={WINDOW_SCRIPT}\nConditionPathExists={WINDOW_HELD}\nWants=network-online.target\nAfter=network-online.target etcd-member.service etcd2.service etcd.service\n\n[Service]\nExecStart={WINDOW_SCRIPT} release\n\n[Install]\nWantedBy=multi-user.target\n"
    )
}

/// The maintenance window's timer unit.
#[must_use]
pub fn window_timer(calendar: &str) -> String {
    format!(
        "[Unit]\nDescription=Maintenance window for update reboots\n\n[Timer]\nOnCalendar={calendar}\n\n[Install]\nWantedBy=timers.target\n"
    )
}

/// The maintenance window's script, for a node that keeps update_engine: reboot only when
/// an update is staged, through the reboot lock when etcd runs on the node, else after a
/// random delay. (With the kindling agent there is no script: the agent checks the window
/// itself, waits for the lock inside it and gives the slot back after the next boot.)
#[must_use]
pub fn window_script(random_delay: i64) -> String {
    let mut s = format!(
        r#"#!/bin/bash
# Reboot into a staged update, inside the maintenance window.
# Through the cluster reboot lock when etcd runs here, else after a random
# delay so that nodes do not all reboot at once.
# With "release" (update-window-release.service, at boot): give back the
# lock taken for the reboot (locksmithctl reboot never does), retrying while
# etcd cannot be reached.
held="${{UPDATE_WINDOW_HELD:-{WINDOW_HELD}}}"
if [ "$1" = release ]; then
    [ -e "$held" ] || exit 0
    wait=5
    until out=$(locksmithctl unlock 2>&1) || [[ $out == *"holder does not exist"* ]]; do
        echo "cannot give the reboot lock back yet: $out; retrying in ${{wait}}s" >&2
        sleep "$wait"
        wait=$((wait * 2 > 300 ? 300 : wait * 2))
    done
    rm -f "$held"
    exit 0
fi
if ! update_engine_client -status 2>/dev/null | grep -q 'CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT'; then
    exit 0
fi
if systemctl is-active --quiet etcd-member etcd2 etcd; then
    mkdir -p "${{held%/*}}" && touch "$held" && sync
    exec locksmithctl reboot
fi
"#
    );
    if random_delay > 0 {
        s.push_str(&format!("sleep \"$(shuf -i 0-{random_delay} -n 1)\"\n"));
    }
    s.push_str("exec systemctl reboot\n");
    s
}

/// A generated file of `bytes`, not owned by anyone in particular.
fn generated_file(
    path: &str,
    bytes: String,
    mode: u32,
    effect: Effect,
    span: Span,
    origin: &str,
) -> PlannedFile {
    PlannedFile {
        path: path.to_string(),
        content: Content::Bytes(bytes.into_bytes()),
        mode,
        owner: None,
        effect,
        span,
        origin: origin.to_string(),
    }
}

/// The generated files, in coreos-cloudinit's order, then the extensions'.
pub fn files(config: &CloudConfig, options: &PlanOptions, b: &mut Builder) {
    let coreos = config.coreos.as_ref().map(|c| &c.value);
    if let Some(oem) = coreos.and_then(|c| c.oem.as_ref()) {
        oem_release(oem, b);
    }
    update_conf(config, options, b);
    etc_hosts(config, b);
    if let Some(flannel) = coreos.and_then(|c| c.flannel.as_ref()) {
        flannel_options(flannel, b);
    }
    // The kindling agent's trusted keys.
    if let Some(update) = config.update() {
        for key in super::agent::key_files(update) {
            b.file(key);
        }
    }
    // The maintenance window's script (the kindling agent checks the window itself).
    if let Some((w, _, delay)) = window(config).filter(|_| !window_in_agent(config)) {
        b.file(generated_file(
            WINDOW_SCRIPT,
            window_script(delay),
            0o755,
            Effect::InService,
            w.key_span,
            "coreos.update.maintenance-window",
        ));
    }
}

/// `/etc/oem-release`, when the OEM has an ID.
fn oem_release(oem: &Spanned<Oem>, b: &mut Builder) {
    let o = &oem.value;
    let Some(id) = text(o.id.as_ref()) else {
        return;
    };
    let field =
        |v: &Option<Spanned<String>>| v.as_ref().map_or("", |v| v.value.as_str()).to_string();
    let content = format!(
        "ID={id}\nVERSION_ID={}\nNAME={}\nHOME_URL={}\nBUG_REPORT_URL={}\n",
        field(&o.version_id),
        go_quote(&field(&o.name)),
        go_quote(&field(&o.home_url)),
        go_quote(&field(&o.bug_report_url)),
    );
    b.file(generated_file(
        "/etc/oem-release",
        content,
        0o644,
        Effect::InService,
        oem.key_span,
        "coreos.oem",
    ));
}

/// `/etc/coreos/update.conf`: the config's keys merged into the node's file.
fn update_conf(config: &CloudConfig, options: &PlanOptions, b: &mut Builder) {
    let Some(update) = config.update() else {
        return;
    };
    let u = &update.value;
    let mut settings = Vec::new();
    if let Some(g) = text(u.group.as_ref()) {
        settings.push(("GROUP", g.to_string()));
    }
    if window_in_agent(config) {
        settings.extend(window_settings(config, u));
    } else if window(config).is_some() {
        settings.push(("REBOOT_STRATEGY", "off".to_string()));
    } else if let Some(s) = text(u.reboot_strategy.as_ref()) {
        settings.push(("REBOOT_STRATEGY", s.to_string()));
    }
    if let Some(s) = text(u.server.as_ref()) {
        settings.push(("SERVER", s.to_string()));
    }
    settings.extend(super::agent::update_conf_settings(u));
    if !settings.is_empty() {
        let content = merge_update_conf(options.update_conf_base.as_deref(), &settings);
        b.file(generated_file(
            "/etc/coreos/update.conf",
            content,
            0o644,
            Effect::InService,
            update.key_span,
            "coreos.update",
        ));
    }
}

/// `/etc/hosts` for `manage_etc_hosts: localhost` (written on the node when the hostname
/// is the node's own).
fn etc_hosts(config: &CloudConfig, b: &mut Builder) {
    let Some(hosts) = config
        .manage_etc_hosts
        .as_ref()
        .filter(|h| h.value == "localhost")
    else {
        return;
    };
    match text(config.hostname.as_ref()) {
        Some(hostname) => b.file(generated_file(
            "/etc/hosts",
            format!("127.0.0.1 {hostname}\n"),
            0o644,
            Effect::InService,
            hosts.span,
            "manage_etc_hosts",
        )),
        None => b.action(ActionKind::WriteEtcHosts, Effect::InService, hosts.span),
    }
}

/// `/run/flannel/options.env`: KEY=value lines, no trailing newline, as on the node.
fn flannel_options(flannel: &Spanned<Flannel>, b: &mut Builder) {
    let lines: Vec<String> = flannel
        .value
        .env_values()
        .into_iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| format!("{k}={}", env_text(v)))
        .collect();
    if !lines.is_empty() {
        b.file(generated_file(
            "/run/flannel/options.env",
            lines.join("\n"),
            0o644,
            Effect::RebootRequired,
            flannel.key_span,
            "coreos.flannel",
        ));
    }
}

/// A runtime drop-in `20-cloudinit.conf` for `name`.
fn cloudinit_drop_in(name: &str, contents: String, span: Span, origin: &str) -> UnitSpec {
    UnitSpec {
        name: name.to_string(),
        drop_ins: vec![("20-cloudinit.conf".to_string(), contents)],
        runtime: true,
        span,
        origin: origin.to_string(),
        ..UnitSpec::default()
    }
}

/// The generated units, in coreos-cloudinit's order, then the extensions'.
pub fn units(config: &CloudConfig) -> Vec<UnitSpec> {
    let mut out = Vec::new();
    let Some(coreos) = config.coreos.as_ref() else {
        return out;
    };
    let c = &coreos.value;
    for (values, name, origin) in [
        (
            c.etcd.as_ref().map(|s| (s.value.env_values(), s.key_span)),
            "etcd.service",
            "coreos.etcd",
        ),
        (
            c.etcd2.as_ref().map(|s| (s.value.env_values(), s.key_span)),
            "etcd2.service",
            "coreos.etcd2",
        ),
        (
            c.fleet.as_ref().map(|s| (s.value.env_values(), s.key_span)),
            "fleet.service",
            "coreos.fleet",
        ),
    ] {
        if let Some((values, span)) = values
            && let Some(contents) = service_contents(values)
        {
            out.push(cloudinit_drop_in(name, contents, span, origin));
        }
    }
    let update = c.update.as_ref();
    let strategy = update.and_then(|u| text(u.value.reboot_strategy.as_ref()));
    let reboots = Reboots {
        masked: window(config).is_some() || strategy == Some("off"),
        // The kindling agent replaces update-engine and locksmithd (both masked).
        agent: update.is_some_and(|u| u.value.kindling_agent()),
        manager: update.is_some_and(|u| u.value.reboot_manager()),
        strategy: strategy.is_some(),
    };
    if let Some(s) = &c.locksmith
        && let Some(contents) = service_contents(s.value.env_values())
    {
        let mut unit = cloudinit_drop_in(
            "locksmithd.service",
            contents,
            s.key_span,
            "coreos.locksmith",
        );
        if !reboots.masked && !reboots.agent && !reboots.manager {
            unit.command = Some("restart".into());
        }
        out.push(unit);
    }
    if let Some(update) = update {
        update_units(update, &reboots, &mut out);
        if let Some((w, calendar, _)) = window(config).filter(|_| !window_in_agent(config)) {
            window_units(w.key_span, &calendar, &mut out);
        }
    }
    out
}

/// Who reboots the node, as the units see it.
struct Reboots {
    /// locksmithd is masked (a maintenance window or the strategy `off`).
    masked: bool,
    /// The kindling agent replaces update-engine and locksmithd.
    agent: bool,
    /// kindling's reboot manager replaces locksmithd (update-engine stays).
    manager: bool,
    /// The config names a reboot strategy.
    strategy: bool,
}

/// The agent's units, or else locksmithd's and update-engine's for `coreos.update`.
fn update_units(update: &Spanned<Update>, reboots: &Reboots, out: &mut Vec<UnitSpec>) {
    let u = &update.value;
    let proxy = text(u.proxy.as_ref());
    let proxy_drop_in = proxy.map(|p| {
        (
            "proxy.conf".to_string(),
            format!("[Service]\n{}\n", environment_line_plain("ALL_PROXY", p)),
        )
    });
    if reboots.agent {
        out.extend(super::agent::units(update, proxy_drop_in));
        return;
    }
    let locksmithd = |command: &str| UnitSpec {
        name: "locksmithd.service".into(),
        runtime: true,
        mask: reboots.masked,
        command: Some(command.into()),
        span: update.key_span,
        origin: "coreos.update".into(),
        ..UnitSpec::default()
    };
    if reboots.manager {
        out.extend(super::agent::reboot_manager_units(update));
    } else if reboots.masked {
        out.push(locksmithd("stop"));
    } else if reboots.strategy {
        out.push(locksmithd("restart"));
    }
    if text(u.group.as_ref()).is_some() || text(u.server.as_ref()).is_some() || proxy.is_some() {
        out.push(UnitSpec {
            name: "update-engine.service".into(),
            drop_ins: proxy_drop_in.into_iter().collect(),
            command: Some("restart".into()),
            span: update.key_span,
            origin: "coreos.update".into(),
            ..UnitSpec::default()
        });
    }
}

/// The maintenance window's service and its timer (started now), and the service that
/// gives the lock back at boot.
fn window_units(span: Span, calendar: &str, out: &mut Vec<UnitSpec>) {
    let origin = "coreos.update.maintenance-window";
    out.push(UnitSpec {
        name: "update-window.service".into(),
        content: Some(window_service()),
        runtime: true,
        span,
        origin: origin.into(),
        ..UnitSpec::default()
    });
    out.push(UnitSpec {
        name: "update-window-release.service".into(),
        content: Some(window_release_service()),
        runtime: true,
        enable: true,
        // Started now too: it does nothing unless a slot was taken, and it makes the
        // change take effect without a reboot.
        command: Some("start".into()),
        span,
        origin: origin.into(),
        ..UnitSpec::default()
    });
    out.push(UnitSpec {
        name: "update-window.timer".into(),
        content: Some(window_timer(calendar)),
        runtime: true,
        enable: true,
        command: Some("start".into()),
        span,
        origin: origin.into(),
        ..UnitSpec::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_conf_merge_matches_the_peer_test() {
        // coreos-cloudinit's TestUpdateConf case.
        let base = "SERVER=https://example.com\nGROUP=thegroupc\nREBOOT_STRATEGY=awesome";
        let out = merge_update_conf(Some(base), &[("REBOOT_STRATEGY", "etcd-lock".into())]);
        assert_eq!(
            out,
            "SERVER=https://example.com\nGROUP=thegroupc\nREBOOT_STRATEGY=etcd-lock\n"
        );
    }

    #[test]
    fn update_conf_merge_matches_whole_keys() {
        let base = "# comment\nGROUPIE=x\nGROUP=alpha\nGROUP=alpha-again\nREBOOT_STRATEGY_X=1\n";
        let out = merge_update_conf(
            Some(base),
            &[("GROUP", "beta".into()), ("REBOOT_STRATEGY", "off".into())],
        );
        assert_eq!(
            out,
            "# comment\nGROUPIE=x\nGROUP=beta\nREBOOT_STRATEGY_X=1\nREBOOT_STRATEGY=off\n"
        );
        let fresh = merge_update_conf(None, &[("SERVER", "s".into()), ("GROUP", "g".into())]);
        assert_eq!(fresh, "GROUP=g\nSERVER=s\n");
    }

    #[test]
    fn service_contents_quote_and_skip_zero_values() {
        let out = service_contents(vec![
            ("A", EnvValue::Text("x\"%")),
            ("B", EnvValue::Text("")),
            ("C", EnvValue::Float(0.000001)),
            ("D", EnvValue::Bool(false)),
            ("E", EnvValue::Int(3)),
        ]);
        assert_eq!(
            out.unwrap(),
            "[Service]\nEnvironment=\"A=x\\\"%%\"\nEnvironment=\"C=1e-06\"\nEnvironment=\"E=3\"\n"
        );
        assert_eq!(service_contents(vec![("B", EnvValue::Bool(false))]), None);
    }
}
