//! Units: coreos-cloudinit's `processUnits`, as a plan.
//!
//! For each unit in order: write its content and drop-ins (under /etc, or /run when
//! `runtime`; `systemd/network` for .network/.netdev/.link), mask it (a /dev/null link,
//! which replaces any content) or, for runtime units, remove a runtime mask, and enable it
//! (not network units). Then one daemon-reload if anything was written, a restart of
//! systemd-networkd if a network unit was, and the units' commands in order (network
//! units' commands are ignored, as on the node).

use std::collections::HashSet;

use super::builder::Builder;
use super::types::{ActionKind, Content, Effect, PlannedFile};
use crate::diagnostic::Span;
use crate::model::{CloudConfig, Unit};

/// A unit to process, from the config or generated.
#[derive(Debug, Clone, Default)]
pub struct UnitSpec {
    /// File name, e.g. `docker.service`.
    pub name: String,
    /// Unit file text, when the config gives one.
    pub content: Option<String>,
    /// Drop-ins: (name, text).
    pub drop_ins: Vec<(String, String)>,
    /// Link to /dev/null.
    pub mask: bool,
    /// `systemctl enable`.
    pub enable: bool,
    /// Under /run instead of /etc.
    pub runtime: bool,
    /// A systemctl verb to run.
    pub command: Option<String>,
    /// Where it comes from.
    pub span: Span,
    /// What it comes from, e.g. `coreos.units[3]`.
    pub origin: String,
}

/// Whether the unit is a systemd-networkd file.
#[must_use]
pub fn is_network(name: &str) -> bool {
    [".network", ".netdev", ".link"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Where a unit's file goes on the node.
#[must_use]
pub fn destination(name: &str, runtime: bool) -> String {
    let dir = if runtime { "/run" } else { "/etc" };
    let group = if is_network(name) {
        "network"
    } else {
        "system"
    };
    format!("{dir}/systemd/{group}/{name}")
}

/// The config's own units.
pub fn from_config(config: &CloudConfig) -> Vec<UnitSpec> {
    config
        .units()
        .enumerate()
        .map(|(i, unit)| {
            let u = &unit.value;
            let text_of = |c: &Option<crate::model::Spanned<crate::model::Block>>| {
                c.as_ref()
                    .map(|c| c.value.text.clone())
                    .filter(|t| !t.is_empty())
            };
            UnitSpec {
                name: u.name().to_string(),
                content: text_of(&u.content),
                drop_ins: u
                    .drop_ins()
                    .filter_map(|d| {
                        let name = d.value.name.as_ref()?.value.clone();
                        let content = text_of(&d.value.content)?;
                        (!name.is_empty()).then_some((name, content))
                    })
                    .collect(),
                mask: Unit::flag(u.mask.as_ref()),
                enable: Unit::flag(u.enable.as_ref()),
                runtime: Unit::flag(u.runtime.as_ref()),
                command: u
                    .command
                    .as_ref()
                    .map(|c| c.value.clone())
                    .filter(|c| !c.is_empty()),
                span: unit.span,
                origin: format!("coreos.units[{i}]"),
            }
        })
        .collect()
}

/// Whether running `verb` makes a new definition of the unit current.
fn applies_now(verb: Option<&str>) -> bool {
    matches!(
        verb,
        Some(
            "start"
                | "restart"
                | "reload"
                | "try-restart"
                | "reload-or-restart"
                | "reload-or-try-restart"
        )
    )
}

/// What follows the units' files: one daemon-reload, one networkd restart, the commands
/// in order (each once), and which unmask/enable actions are already planned.
#[derive(Default)]
struct Followups {
    reload: Option<Span>,
    networkd: Option<Span>,
    commands: Vec<(String, String, Span)>,
    /// What is already queued, for de-duplication in O(1).
    queued: HashSet<(String, String)>,
    unit_actions: HashSet<(&'static str, String)>,
}

/// Turn the units into files and actions.
pub fn process(units: &[UnitSpec], b: &mut Builder) {
    let mut followups = Followups::default();
    let triggered = triggered_services(units);
    for u in units.iter().filter(|u| !u.name.is_empty()) {
        place_files(u, &triggered, b, &mut followups);
        mask_or_enable(u, b, &mut followups);
        if is_network(&u.name) {
            followups.networkd.get_or_insert(u.span);
        } else if let Some(verb) = &u.command
            && followups.queued.insert((verb.clone(), u.name.clone()))
        {
            followups
                .commands
                .push((verb.clone(), u.name.clone(), u.span));
        }
    }
    drop_unmasks_of_masked(b);
    if let Some(span) = followups.reload {
        b.action(ActionKind::DaemonReload, Effect::InService, span);
    }
    if let Some(span) = followups.networkd {
        b.action(ActionKind::RestartNetworkd, Effect::InService, span);
    }
    for (verb, unit, span) in followups.commands {
        b.action(
            ActionKind::Systemctl { verb, unit },
            Effect::InService,
            span,
        );
    }
}

/// Services a timer, path or socket of the config activates: their next run uses the new
/// definition.
fn triggered_services(units: &[UnitSpec]) -> HashSet<String> {
    units
        .iter()
        .filter_map(|u| {
            let stem = u
                .name
                .strip_suffix(".timer")
                .or_else(|| u.name.strip_suffix(".path"))
                .or_else(|| u.name.strip_suffix(".socket"))?;
            Some(format!("{stem}.service"))
        })
        .collect()
}

/// The unit's definition and drop-ins, or its mask.
fn place_files(
    u: &UnitSpec,
    triggered: &HashSet<String>,
    b: &mut Builder,
    followups: &mut Followups,
) {
    let dest = destination(&u.name, u.runtime);
    let oneshot = u
        .content
        .as_deref()
        .is_some_and(|c| c.lines().any(|l| l.trim() == "Type=oneshot"));
    let activated = oneshot || triggered.contains(&u.name);
    let definition_effect = if is_network(&u.name) || activated || applies_now(u.command.as_deref())
    {
        Effect::InService
    } else {
        Effect::RebootRequired
    };
    let definition = |path: String, content: &str| PlannedFile {
        path,
        content: Content::Bytes(content.as_bytes().to_vec()),
        mode: 0o644,
        owner: None,
        effect: definition_effect,
        span: u.span,
        origin: u.origin.clone(),
    };
    if let Some(content) = &u.content {
        b.file(definition(dest.clone(), content));
        followups.reload.get_or_insert(u.span);
    }
    for (name, content) in &u.drop_ins {
        b.file(definition(format!("{dest}.d/{name}"), content));
        followups.reload.get_or_insert(u.span);
    }
    if u.mask {
        let stopped = u.command.as_deref() == Some("stop");
        b.file(PlannedFile {
            path: dest,
            content: Content::Symlink("/dev/null".into()),
            mode: 0o777,
            owner: None,
            effect: if stopped {
                Effect::InService
            } else {
                Effect::RebootRequired
            },
            span: u.span,
            origin: u.origin.clone(),
        });
    }
}

/// Unmask a runtime unit without content; enable a unit that asks for it (each once).
fn mask_or_enable(u: &UnitSpec, b: &mut Builder, followups: &mut Followups) {
    if !u.mask && u.runtime && u.content.is_none() {
        // A runtime unit with content is written at `dest`, which replaces any mask
        // there; removing the mask afterwards would remove the unit just written.
        let unmask = ActionKind::Unmask {
            unit: u.name.clone(),
            path: destination(&u.name, u.runtime),
        };
        if followups.unit_actions.insert(("unmask", u.name.clone())) {
            b.action(unmask, Effect::InService, u.span);
        }
    }
    if u.enable && !is_network(&u.name) {
        let enable = ActionKind::Enable {
            unit: u.name.clone(),
            runtime: u.runtime,
        };
        if followups.unit_actions.insert(("enable", u.name.clone())) {
            let effect = if applies_now(u.command.as_deref()) {
                Effect::InService
            } else {
                Effect::RebootRequired
            };
            b.action(enable, effect, u.span);
        }
    }
}

/// A unit masked by a later entry is not unmasked first, whether the mask is in /run or
/// (the kindling agent's masks) in /etc, where it outlives any runtime mask anyway.
fn drop_unmasks_of_masked(b: &mut Builder) {
    let masked: HashSet<String> = b
        .plan
        .files
        .iter()
        .filter(|f| f.content == Content::Symlink("/dev/null".into()))
        .filter_map(|f| f.path.rsplit('/').next().map(str::to_string))
        .collect();
    b.plan
        .actions
        .retain(|a| !matches!(&a.kind, ActionKind::Unmask { unit, .. } if masked.contains(unit)));
}
