//! User-data and metadata into one plan, as coreos-cloudinit's main flow and `mergeConfigs`:
//! the `$public_ipv4`-style values from the metadata (else the `COREOS_*` environment, else
//! empty, with a warning for each one the user-data uses but nothing provides), substituted
//! over the whole user-data; a `#cloud-config` compiled and planned; a `#!` script planned as
//! a unit that runs it; an Ignition config left to Ignition; a multipart MIME user-data as
//! Flatcar's coreos-cloudinit reads it, substituted per part, its cloud-config parts and
//! scripts merged in part order into the one plan (`compile::multipart`), nothing of it when
//! any part fails. Then the metadata part: the
//! hostname (the user-data's wins, with a warning), the SSH keys appended to `core`'s, the
//! `COREOS_*` values merged into `/etc/environment` (unless the user-data writes that file),
//! and with `--convert-netconf` the provider's network config as runtime networkd units with
//! a networkd restart. Pure: the caller reads the root and applies the plan.
//!
//! A script runs as coreos-cloudinit runs it, `/bin/bash` on a copy in the workspace
//! (`/var/lib/coreos-cloudinit/scripts/`), in a unit of its own named
//! `coreos-cloudinit-<hash>.service`; that unit is a runtime file (`/run/systemd/system`)
//! started by a planned `systemctl start`, the file form of coreos-cloudinit's transient
//! unit, so it runs again at every boot (`/run` is empty at boot), never twice in one boot,
//! and `diff` shows it. On a root that is not the running system the start stays pending.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::env::{Origin, env_name, merge_env, values};
use super::netconf;
use super::{FetchError, Metadata};
use crate::compile::{self, Compiled, Options, Target};
use crate::diagnostic::{Severity, Span};
use crate::model::values::{HOSTNAME_MAX, hostname_problem};
use crate::plan::{Action, ActionKind, Content, Effect, Plan, PlanOptions, PlannedFile};
use crate::rules;
use crate::source::UserData;

/// What `build` needs besides the data.
pub struct Input<'a> {
    /// A name for the user-data in messages (`ec2-metadata-service user-data`).
    pub name: String,
    /// The user-data, or why it could not be fetched.
    pub user_data: Result<Vec<u8>, FetchError>,
    /// The metadata.
    pub metadata: Metadata,
    /// `--convert-netconf`.
    pub convert_netconf: Option<String>,
    /// `--workspace` (`/var/lib/coreos-cloudinit`).
    pub workspace: String,
    /// The `COREOS_*` fallback lookup.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The root's `/etc/environment` now (empty when missing).
    pub etc_environment: String,
    /// The root's update.conf to merge into.
    pub update_conf_base: Option<String>,
}

/// The merged plan and what to say about it.
#[derive(Debug)]
pub struct Outcome {
    /// The plan to apply.
    pub plan: Plan,
    /// Warnings (printed, not fatal).
    pub warnings: Vec<String>,
    /// Why the user-data part failed; the metadata part is still in the plan and the run
    /// ends with status 1.
    pub failure: Option<String>,
    /// The user-data is an Ignition config: nothing is applied.
    pub ignition: bool,
    /// The compile of a cloud-config, for its findings.
    pub compiled: Option<Compiled>,
    /// The user-data as fetched (unpacked, before substitution): where the compile's
    /// findings point.
    pub source: Option<crate::source::SourceFile>,
}

/// The origin every metadata-made file and action carries.
fn origin(what: &str) -> String {
    format!("metadata: {what}")
}

fn meta_file(path: &str, content: Vec<u8>, mode: u32, what: &str) -> PlannedFile {
    PlannedFile::unplaced(
        path.to_string(),
        Content::Bytes(content),
        mode,
        Effect::InService,
        origin(what),
    )
}

fn action(kind: ActionKind) -> Action {
    Action::unplaced(kind, Effect::InService)
}

/// Whether `text` uses `$name` (not escaped).
fn uses(text: &str, name: &str) -> bool {
    let needle = format!("${name}");
    text.match_indices(&needle)
        .any(|(i, _)| i == 0 || text.as_bytes()[i - 1] != b'\\')
}

/// A metadata hostname as `hostnamectl` accepts it: trimmed, and when longer than 64 bytes
/// cut at the first dot and to 63 bytes (Flatcar's rule, flatcar/coreos-cloudinit#19); then
/// it must be a valid hostname (`model::values::hostname_problem`), else it is refused.
///
/// # Errors
/// The name is not a valid hostname (the message names the rule and why).
fn usable_hostname(h: &str, warnings: &mut Vec<String>) -> Result<Option<String>, String> {
    let h = h.trim();
    if h.is_empty() {
        return Ok(None);
    }
    let name = if h.len() <= HOSTNAME_MAX {
        h.to_string()
    } else {
        let mut short = h.split('.').next().unwrap_or("").to_string();
        while short.len() > 63 {
            short.pop();
        }
        warnings.push(format!(
            "the metadata hostname {h:?} is longer than {HOSTNAME_MAX} bytes; using {short:?}"
        ));
        if short.is_empty() {
            return Ok(None);
        }
        short
    };
    match hostname_problem(&name) {
        None => Ok(Some(name)),
        Some(why) => Err(format!(
            "{}: the metadata hostname {name:?} is not set: {why} ({})",
            rules::hostname_invalid::RULE.code,
            rules::hostname_invalid::RULE.help
        )),
    }
}

/// Insert `a` before the first `systemctl` command (after enables and reloads), or last.
fn insert_before_commands(plan: &mut Plan, a: Action) {
    let at = plan
        .actions
        .iter()
        .position(|x| matches!(x.kind, ActionKind::Systemctl { .. }))
        .unwrap_or(plan.actions.len());
    plan.actions.insert(at, a);
}

fn ensure_reload(plan: &mut Plan) {
    if !plan
        .actions
        .iter()
        .any(|a| a.kind == ActionKind::DaemonReload)
    {
        insert_before_commands(plan, action(ActionKind::DaemonReload));
    }
}

fn add_file(plan: &mut Plan, f: PlannedFile) {
    plan.files.retain(|g| g.path != f.path);
    plan.files.push(f);
}

/// The plan of a `#!` script.
fn script_plan(text: &str, workspace: &str) -> Plan {
    let hash = Sha256::digest(text.as_bytes());
    let id: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let unit = format!("coreos-cloudinit-{id}.service");
    let dir = format!("{}/scripts", workspace.trim_end_matches('/'));
    let path = format!("{dir}/{id}");
    let span = Span::new(0, text.len());
    let file = |p: String, c: Vec<u8>, mode: u32| PlannedFile {
        path: p,
        content: Content::Bytes(c),
        mode,
        owner: None,
        effect: Effect::InService,
        span,
        origin: "user-data script".into(),
    };
    let unit_text = format!(
        "# Written by kindling: runs the user-data script, as coreos-cloudinit's transient unit did.\n[Unit]\nDescription=User-data script {id}\n\n[Service]\nExecStart=/bin/bash {path}\n"
    );
    Plan {
        files: vec![
            file(path.clone(), text.as_bytes().to_vec(), 0o744),
            file(
                format!("{dir}/unit-name"),
                format!("{unit}\n").into_bytes(),
                0o644,
            ),
            file(
                format!("/run/systemd/system/{unit}"),
                unit_text.into_bytes(),
                0o644,
            ),
        ],
        actions: vec![
            Action {
                kind: ActionKind::DaemonReload,
                effect: Effect::InService,
                span,
            },
            Action {
                kind: ActionKind::Systemctl {
                    verb: "start".into(),
                    unit,
                },
                effect: Effect::InService,
                span,
            },
        ],
    }
}

/// Merge user-data and metadata into one plan.
///
/// # Errors
/// When the metadata part itself cannot be planned (its network config does not convert):
/// nothing should be applied then.
pub fn build(input: Input<'_>) -> Result<Outcome, netconf::Error> {
    let mut warnings = Vec::new();
    let vals = values(&input.metadata, input.env);
    let part = user_data_part(&input, &vals, &mut warnings);
    if part.ignition {
        return Ok(Outcome {
            plan: Plan::default(),
            warnings,
            failure: None,
            ignition: true,
            compiled: None,
            source: None,
        });
    }
    let mut plan = part.plan;
    let md = &input.metadata;
    let mut failure = part.failure;
    match md
        .hostname
        .as_deref()
        .map(|h| usable_hostname(h, &mut warnings))
    {
        Some(Ok(Some(h))) => merge_hostname(&mut plan, h, &mut warnings),
        Some(Err(why)) => {
            warnings.push(why.clone());
            failure.get_or_insert(why);
        }
        None | Some(Ok(None)) => {}
    }
    merge_keys(&mut plan, md);
    merge_environment(&mut plan, &vals, &input.etc_environment);
    if let Some(kind) = &input.convert_netconf {
        match &md.network {
            None => warnings.push(format!(
                "--convert-netconf={kind}: the datasource has no network config; no network units"
            )),
            Some(net) => add_network_units(&mut plan, kind, net)?,
        }
    }
    Ok(Outcome {
        plan,
        warnings,
        failure,
        ignition: false,
        compiled: part.compiled,
        source: part.source,
    })
}

/// What the user-data alone gives.
#[derive(Default)]
struct UserDataPart {
    plan: Plan,
    failure: Option<String>,
    ignition: bool,
    compiled: Option<Compiled>,
    source: Option<crate::source::SourceFile>,
}

impl UserDataPart {
    fn failed(failure: String) -> Self {
        UserDataPart {
            failure: Some(failure),
            ..UserDataPart::default()
        }
    }
}

/// The user-data's plan (or why there is none), with a warning for each `$variable` it
/// uses that nothing provides.
fn user_data_part(
    input: &Input<'_>,
    vals: &BTreeMap<String, (String, Origin)>,
    warnings: &mut Vec<String>,
) -> UserDataPart {
    let bytes = match &input.user_data {
        Err(why) => return UserDataPart::failed(format!("cannot fetch the user-data: {why}")),
        Ok(bytes) => bytes.clone(),
    };
    let (source, load_findings) = crate::source::load(&input.name, bytes.clone());
    for (name, (_, from)) in vals {
        if *from == Origin::Missing && uses(&source.text, name) {
            warnings.push(format!(
                "the user-data uses ${name}, but neither the datasource nor {} provides it; it becomes empty",
                env_name(name)
            ));
        }
    }
    let load_error = load_findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .map(|f| f.message.clone());
    let vars: BTreeMap<String, String> = vals
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    let options = || Options {
        target: Target::Tree,
        vars: vars.clone(),
        plan: PlanOptions {
            update_conf_base: input.update_conf_base.clone(),
        },
    };
    let mut part = match (source.kind, load_error) {
        (UserData::Unrecognized, why) => UserDataPart::failed(format!(
            "unrecognized user-data format: it is neither #cloud-config, a #! script nor an Ignition config{}",
            why.map(|w| format!(" ({w})")).unwrap_or_default()
        )),
        (_, Some(why)) => UserDataPart::failed(format!("cannot read the user-data: {why}")),
        (UserData::Empty, None) => UserDataPart::default(),
        (UserData::Template, None) => UserDataPart::failed(
            "the user-data is a `## template: jinja` template: render it per node before it reaches the node (kindling render, or compile --inventory); only the metadata is applied"
                .into(),
        ),
        (UserData::Ignition, None) => {
            return UserDataPart {
                ignition: true,
                ..UserDataPart::default()
            };
        }
        (UserData::Script, None) => UserDataPart {
            plan: script_plan(&compile::substitute(&source.text, &vars), &input.workspace),
            ..UserDataPart::default()
        },
        (UserData::Multipart, None) => multipart_part(input, bytes, &options()),
        (UserData::CloudConfig, None) => {
            let c = compile::compile(&input.name, bytes, &options());
            match &c.plan {
                Some(p) => UserDataPart {
                    plan: p.clone(),
                    ..UserDataPart::default()
                },
                None => UserDataPart::failed(
                    "the user-data has errors (listed above); only the metadata is applied".into(),
                ),
            }
            .with_compiled(c)
        }
    };
    part.source = Some(source);
    part
}

impl UserDataPart {
    fn with_compiled(self, compiled: Compiled) -> Self {
        UserDataPart {
            compiled: Some(compiled),
            ..self
        }
    }
}

/// Flatcar's coreos-cloudinit: substitution per part, cloud-config parts and scripts in
/// part order, nothing at all when one part fails to parse.
fn multipart_part(input: &Input<'_>, bytes: Vec<u8>, options: &Options) -> UserDataPart {
    let parts = compile::multipart::compile(crate::validate(&input.name, bytes), options);
    let part = if parts.compiled.plan.is_some() {
        let plans = parts
            .steps
            .iter()
            .map(|s| match s {
                compile::multipart::Step::Plan(p) => p.clone(),
                compile::multipart::Step::Script { text, .. } => {
                    script_plan(text, &input.workspace)
                }
            })
            .collect();
        UserDataPart {
            plan: compile::multipart::merge(plans),
            ..UserDataPart::default()
        }
    } else {
        UserDataPart::failed(
            "a part of the multipart user-data has errors (listed above); no part is applied, only the metadata"
                .into(),
        )
    };
    part.with_compiled(parts.compiled)
}

/// The metadata's hostname `h`, unless the user-data sets one (it wins, with a warning).
fn merge_hostname(plan: &mut Plan, h: String, warnings: &mut Vec<String>) {
    let ours = plan.actions.iter().find_map(|a| match &a.kind {
        ActionKind::SetHostname { hostname } => Some(hostname.clone()),
        _ => None,
    });
    match ours {
        Some(u) if u != h => warnings.push(format!(
            "user-data hostname ({u}) overrides metadata hostname ({h})"
        )),
        Some(_) => {}
        None => {
            add_file(
                plan,
                meta_file(
                    "/etc/hostname",
                    format!("{h}\n").into_bytes(),
                    0o644,
                    "hostname",
                ),
            );
            plan.actions
                .insert(0, action(ActionKind::SetHostname { hostname: h }));
        }
    }
}

/// The metadata's SSH keys, appended to the user-data's keys for core.
fn merge_keys(plan: &mut Plan, md: &Metadata) {
    let keys: Vec<String> = md
        .ssh_keys
        .iter()
        .map(|(_, k)| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return;
    }
    let existing = plan.actions.iter_mut().find_map(|a| match &mut a.kind {
        ActionKind::AuthorizeKeys { user, keys } if user == "core" => Some(keys),
        _ => None,
    });
    if let Some(list) = existing {
        for k in keys {
            if !list.contains(&k) {
                list.push(k);
            }
        }
        return;
    }
    let at = plan
        .actions
        .iter()
        .rposition(|a| {
            matches!(
                a.kind,
                ActionKind::SetHostname { .. } | ActionKind::CreateUser { .. }
            )
        })
        .map_or(0, |i| i + 1);
    plan.actions.insert(
        at,
        action(ActionKind::AuthorizeKeys {
            user: "core".into(),
            keys,
        }),
    );
}

/// The `COREOS_*` values merged into `/etc/environment`, unless the user-data writes it.
fn merge_environment(
    plan: &mut Plan,
    vals: &BTreeMap<String, (String, Origin)>,
    etc_environment: &str,
) {
    let pending: BTreeMap<String, String> = vals
        .iter()
        .filter(|(_, (v, _))| !v.is_empty())
        .map(|(k, (v, _))| (env_name(k), v.clone()))
        .collect();
    if !pending.is_empty() && plan.file("/etc/environment").is_none() {
        let merged = merge_env(etc_environment, &pending);
        add_file(
            plan,
            meta_file(
                "/etc/environment",
                merged.into_bytes(),
                0o644,
                "COREOS_* addresses",
            ),
        );
    }
}

/// The provider's network config as runtime networkd units, with a networkd restart.
fn add_network_units(
    plan: &mut Plan,
    kind: &str,
    net: &super::NetworkConfig,
) -> Result<(), netconf::Error> {
    for u in netconf::convert(kind, net)? {
        add_file(
            plan,
            meta_file(
                &format!("/run/systemd/network/{}", u.name),
                u.content.into_bytes(),
                0o644,
                &format!("network config ({kind})"),
            ),
        );
    }
    ensure_reload(plan);
    if !plan
        .actions
        .iter()
        .any(|a| a.kind == ActionKind::RestartNetworkd)
    {
        insert_before_commands(plan, action(ActionKind::RestartNetworkd));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(user_data: &str, md: Metadata) -> Input<'static> {
        Input {
            name: "test".into(),
            user_data: Ok(user_data.as_bytes().to_vec()),
            metadata: md,
            convert_netconf: None,
            workspace: "/var/lib/coreos-cloudinit".into(),
            env: &|_| None,
            etc_environment: String::new(),
            update_conf_base: None,
        }
    }

    fn md() -> Metadata {
        Metadata {
            private_ipv4: Some("10.1.2.3".parse().unwrap()),
            hostname: Some("node-1".into()),
            ssh_keys: vec![("k".into(), "ssh-ed25519 AAAA meta".into())],
            ..Metadata::default()
        }
    }

    #[test]
    fn metadata_fills_the_plan() {
        let out = build(input(
            "#cloud-config\nssh_authorized_keys: [\"ssh-ed25519 BBBB user\"]\nwrite_files:\n- path: /etc/x\n  content: \"$private_ipv4 $public_ipv4\"\n",
            md(),
        ))
        .unwrap();
        assert!(out.failure.is_none());
        let x = out.plan.file("/etc/x").unwrap();
        assert_eq!(x.content, Content::Bytes(b"10.1.2.3 ".to_vec()));
        assert!(
            out.warnings.iter().any(|w| w.contains("$public_ipv4")),
            "{:?}",
            out.warnings
        );
        assert_eq!(
            out.plan.actions[0].kind,
            ActionKind::SetHostname {
                hostname: "node-1".into()
            }
        );
        assert!(out.plan.actions.iter().any(|a| a.kind
            == ActionKind::AuthorizeKeys {
                user: "core".into(),
                keys: vec![
                    "ssh-ed25519 BBBB user".into(),
                    "ssh-ed25519 AAAA meta".into()
                ]
            }));
        let env = out.plan.file("/etc/environment").unwrap();
        assert_eq!(
            env.content,
            Content::Bytes(b"COREOS_PRIVATE_IPV4=10.1.2.3\n".to_vec())
        );
    }

    #[test]
    fn user_data_hostname_wins_with_a_warning() {
        let out = build(input("#cloud-config\nhostname: mine\n", md())).unwrap();
        assert!(
            out.warnings
                .iter()
                .any(|w| w
                    .contains("user-data hostname (mine) overrides metadata hostname (node-1)"))
        );
        assert_eq!(
            out.plan.file("/etc/hostname").unwrap().content,
            Content::Bytes(b"mine\n".to_vec())
        );
    }

    #[test]
    fn bad_user_data_keeps_the_metadata() {
        let out = build(input("#cloud-config\nhostname: [\n", md())).unwrap();
        assert!(out.failure.is_some());
        assert!(out.plan.file("/etc/hostname").is_some());
        let out = build(input("hello", md())).unwrap();
        assert!(out.failure.unwrap().contains("unrecognized"));
        let out = build(input("{\"ignition\":{\"version\":\"3.3.0\"}}", md())).unwrap();
        assert!(out.ignition && out.plan.files.is_empty());
    }

    #[test]
    fn scripts_become_a_unit() {
        let out = build(input("#!/bin/bash\necho $private_ipv4\n", md())).unwrap();
        let script = out
            .plan
            .files
            .iter()
            .find(|f| f.path.starts_with("/var/lib/coreos-cloudinit/scripts/") && f.mode == 0o744)
            .unwrap();
        assert_eq!(
            script.content,
            Content::Bytes(b"#!/bin/bash\necho 10.1.2.3\n".to_vec())
        );
        assert!(out.plan.actions.iter().any(|a| matches!(&a.kind, ActionKind::Systemctl { verb, unit } if verb == "start" && unit.starts_with("coreos-cloudinit-"))));
    }
}
