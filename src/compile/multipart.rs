//! Multipart user-data validated and compiled part by part, then merged into one plan.
//!
//! Each cloud-config part is validated on its own (a part without the `#cloud-config` line
//! gets it, as Flatcar's coreos-cloudinit adds it), its `$public_ipv4`-style variables are
//! substituted per part, and its plan is merged with the others in part order by one rule,
//! Flatcar's (parts applied one after the other): a later part's file or unit replaces an
//! earlier part's, the hostname is the first part's that names one, SSH keys add up, the
//! unit commands run in part order. Every finding and planned span is moved into the whole
//! file's coordinates: exact for a part written as is, the part's header line for a part
//! that was base64- or gzip-decoded (the message then says the line and column inside the
//! decoded part). Scripts are handed back in part order for the boot-time apply to plan.
//!
//! Pure, like the rest of `compile`: no I/O.

use super::config::compile_config;
use super::options::{Compiled, Options, Target};
use crate::diagnostic::{Severity, Span};
use crate::plan::{Action, ActionKind, Plan};
use crate::source::UserData;
use crate::source::multipart::{PartKind, split};
use crate::validate::{
    PartMapper, Validation, as_cloud_config, from_hostname_key, validate_rendered,
};

/// One applied part, in part order.
#[derive(Debug, Clone)]
pub enum Step {
    /// A cloud-config part's plan (spans in the whole file).
    Plan(Plan),
    /// A script part, variables substituted: the boot-time apply runs it.
    Script {
        /// The part's number.
        number: usize,
        /// The script.
        text: String,
        /// The part's header line.
        header: Span,
    },
}

/// A multipart compile: the merged plan of the cloud-config parts (in `compiled`) and every
/// applied part in order (`steps`), for the boot-time apply to add the scripts.
#[derive(Debug)]
pub struct Parts {
    /// Findings against the whole file; `plan` merges the cloud-config parts (`None` when any
    /// part has an error: then no part is applied, as coreos-cloudinit does).
    pub compiled: Compiled,
    /// The applied parts in order.
    pub steps: Vec<Step>,
}

/// Compile a validated multipart user-data part by part (`validation` from
/// [`crate::validate`]).
#[must_use]
pub fn compile(validation: Validation, options: &Options) -> Parts {
    let mut findings = validation.findings.clone();
    let stop = |validation, findings| Parts {
        compiled: Compiled {
            validation,
            findings,
            plan: None,
        },
        steps: Vec::new(),
    };
    if validation.source.kind != UserData::Multipart
        || findings.iter().any(|f| f.severity == Severity::Error)
    {
        return stop(validation, findings);
    }
    let parts = match split(&validation.source.text) {
        Ok(s) => s,
        Err(f) => {
            findings.push(f);
            return stop(validation, findings);
        }
    };
    // The target's own checks run once, on the merged plan (`compile::multipart_file`).
    let part_options = Options {
        target: Target::Tree,
        ..options.clone()
    };
    let mut steps = Vec::new();
    let mut failed = false;
    for part in &parts.parts {
        match part.kind {
            PartKind::CloudConfig => {
                let (text, prefix) = as_cloud_config(part);
                let mut v = validate_rendered(&part.label(), text.into_bytes());
                // Its findings are already the whole file's (from `validate`): only what the
                // compile adds (unset variables, the substituted text's problems) is new.
                v.findings.clear();
                let local = v.source.clone();
                let c = compile_config(v, &part_options);
                let map = PartMapper { part, prefix };
                // The compile moved what the substituted text's validation found back onto
                // the part as written, so these map like any other finding of the part.
                for f in c.findings {
                    findings.push(map.finding(f, &local));
                }
                match c.plan {
                    Some(p) => steps.push(Step::Plan(map.plan(p))),
                    None => failed = true,
                }
            }
            PartKind::Script => steps.push(Step::Script {
                number: part.number,
                text: super::substitute::substitute(&part.text, &options.vars),
                header: part.header,
            }),
            PartKind::Ignition | PartKind::Skipped(_) => {}
        }
    }
    crate::diagnostic::sort(&mut findings);
    let failed = failed || findings.iter().any(|f| f.severity == Severity::Error);
    let plan = (!failed).then(|| {
        merge(
            steps
                .iter()
                .filter_map(|s| match s {
                    Step::Plan(p) => Some(p.clone()),
                    Step::Script { .. } => None,
                })
                .collect(),
        )
    });
    Parts {
        compiled: Compiled {
            validation,
            findings,
            plan,
        },
        steps: if failed { Vec::new() } else { steps },
    }
}

/// Where an action goes in a merged plan: coreos-cloudinit's `Apply` order.
fn phase(kind: &ActionKind) -> u8 {
    match kind {
        ActionKind::SetHostname { .. } => 0,
        ActionKind::CreateUser { .. } => 1,
        ActionKind::AuthorizeKeys { .. } => 2,
        ActionKind::WriteEtcHosts => 3,
        ActionKind::Unmask { .. } => 4,
        ActionKind::Enable { .. } => 5,
        ActionKind::DaemonReload => 6,
        ActionKind::RestartNetworkd => 7,
        ActionKind::Systemctl { .. } => 8,
    }
}

/// Merge part plans, given in part order, into one: files in order, a later file at a path
/// replacing an earlier one, except `/etc/hostname` from a `hostname` key, which the first
/// part that names a hostname keeps (with its `set-hostname`); users in order; SSH keys of a
/// user added up; each unit placement, enable, reload and networkd restart once; unit
/// commands in part order, a repeated one kept at its last place.
#[must_use]
pub fn merge(plans: Vec<Plan>) -> Plan {
    let mut out = Plan::default();
    let mut hostname_named = false;
    let mut actions: Vec<Action> = Vec::new();
    for plan in plans {
        let names_hostname = plan
            .actions
            .iter()
            .any(|a| matches!(a.kind, ActionKind::SetHostname { .. }));
        for f in plan.files {
            if hostname_named && from_hostname_key(&f) {
                continue;
            }
            out.files.retain(|g| g.path != f.path);
            out.files.push(f);
        }
        for a in plan.actions {
            match &a.kind {
                ActionKind::SetHostname { .. } if hostname_named => {}
                ActionKind::AuthorizeKeys { user, keys } => {
                    let existing = actions.iter_mut().find_map(|b| match &mut b.kind {
                        ActionKind::AuthorizeKeys { user: u, keys: k } if u == user => Some(k),
                        _ => None,
                    });
                    match existing {
                        Some(list) => {
                            for k in keys {
                                if !list.contains(k) {
                                    list.push(k.clone());
                                }
                            }
                        }
                        None => actions.push(a),
                    }
                }
                ActionKind::Systemctl { .. } => {
                    actions.retain(|b| b.kind != a.kind);
                    actions.push(a);
                }
                _ => {
                    if !actions.iter().any(|b| b.kind == a.kind) {
                        actions.push(a);
                    }
                }
            }
        }
        hostname_named |= names_hostname;
    }
    // Stable: within a phase the parts keep their order.
    actions.sort_by_key(|a| phase(&a.kind));
    out.actions = actions;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Content, Effect, PlannedFile};

    fn file(path: &str, body: &str, origin: &str) -> PlannedFile {
        PlannedFile::unplaced(
            path.into(),
            Content::Bytes(body.as_bytes().to_vec()),
            0o644,
            Effect::InService,
            origin.into(),
        )
    }

    fn act(kind: ActionKind) -> Action {
        Action::unplaced(kind, Effect::InService)
    }

    fn start(unit: &str, verb: &str) -> Action {
        act(ActionKind::Systemctl {
            verb: verb.into(),
            unit: unit.into(),
        })
    }

    /// One part's plan: its hostname, `/etc/x`'s content, the keys it authorizes for
    /// `core`, and two units it starts or stops (`(unit, verb)`).
    fn part(hostname: &str, x: &str, keys: &[&str], units: [(&str, &str); 2]) -> Plan {
        let [(first, first_verb), (second, second_verb)] = units;
        Plan {
            files: vec![
                file("/etc/hostname", &format!("{hostname}\n"), "hostname"),
                file("/etc/x", x, "write_files[0]"),
            ],
            actions: vec![
                act(ActionKind::SetHostname {
                    hostname: hostname.into(),
                }),
                act(ActionKind::AuthorizeKeys {
                    user: "core".into(),
                    keys: keys.iter().map(|&k| k.into()).collect(),
                }),
                act(ActionKind::DaemonReload),
                start(first, first_verb),
                start(second, second_verb),
            ],
        }
    }

    #[test]
    fn merge_follows_part_order() {
        let one = part(
            "a",
            "1",
            &["k1"],
            [("a.service", "start"), ("b.service", "stop")],
        );
        let two = part(
            "b",
            "2",
            &["k2", "k1"],
            [("b.service", "start"), ("a.service", "start")],
        );
        let m = merge(vec![one, two]);
        assert_eq!(
            m.file("/etc/hostname").unwrap().content,
            Content::Bytes(b"a\n".to_vec())
        );
        assert_eq!(
            m.file("/etc/x").unwrap().content,
            Content::Bytes(b"2".to_vec())
        );
        let kinds: Vec<_> = m.actions.iter().map(|a| a.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                ActionKind::SetHostname {
                    hostname: "a".into()
                },
                ActionKind::AuthorizeKeys {
                    user: "core".into(),
                    keys: vec!["k1".into(), "k2".into()]
                },
                ActionKind::DaemonReload,
                start("b.service", "stop").kind,
                start("b.service", "start").kind,
                start("a.service", "start").kind,
            ]
        );
    }
}
