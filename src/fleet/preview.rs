//! `fleet diff`: what publishing a config would change on each node, predicted from the
//! digests the nodes published (path -> hash, mode, owner), grouped by what would happen
//! (`34 nodes: in-service (systemctl restart x.service)`), with one representative node's
//! file diff per group. The old bytes of a file are known when the node's digest matches
//! the currently published config's version of it (then the diff is exact); otherwise the
//! change is shown as a change of content whose old bytes only the node has.
//!
//! A config using `$private_ipv4`-style variables is compiled once per distinct set of
//! values the nodes published ([`PerNode`]); a node missing a value the config uses is
//! predicted as refused, a group of its own (the node refuses it, see `super::vars`).
//!
//! The prediction covers the files a config plans. Two things are node-local and not
//! predicted: accounts (`users`, `ssh_authorized_keys`, whose edits of `/etc/passwd` depend
//! on the node's files) and `coreos.update`'s merge into the node's own update.conf.

use std::collections::BTreeMap;

use serde::Serialize;

use super::listing::Listed;
use super::record::{Digest, NodeRecord, file_entry, link_entry};
use super::vars::{Vars, missing, refusal, restrict};
use crate::diff::{ActionChange, Diff, FileChange};
use crate::plan::{Content, Effect, Plan, PlannedFile};

/// One planned file's change on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The path.
    pub path: String,
    /// `create`, `modify`.
    pub change: &'static str,
    /// When it takes effect.
    pub effect: Effect,
}

/// What publishing would do on one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodePreview {
    /// The node id.
    pub id: String,
    /// Its hostname.
    pub host: String,
    /// The files that would change.
    pub files: Vec<Change>,
    /// The actions that would run.
    pub actions: Vec<String>,
    /// `no change`, `in-service`, `reboot required` or `refused`.
    pub effect: String,
    /// Why the node would refuse the config (a variable it has no value for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Nodes for which the same would happen.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `no change`, `in-service` or `reboot required`.
    pub effect: String,
    /// The actions that would run (in-service) or the changes that need the reboot.
    pub what: Vec<String>,
    /// The nodes (ids).
    pub nodes: Vec<String>,
    /// The representative node's file diff (unified), for people.
    pub representative: String,
}

/// The whole preview.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The groups, largest first.
    pub groups: Vec<Group>,
    /// Every node's prediction.
    pub nodes: Vec<NodePreview>,
    /// Nodes left out (unreachable or with an invalid record), with why.
    pub skipped: BTreeMap<String, String>,
}

fn owner_ids(owner: Option<&str>) -> Option<(u32, u32)> {
    let text = owner.unwrap_or("root");
    let (u, g) = text.split_once(':').unwrap_or((text, text));
    let id = |s: &str| match s {
        "root" | "" => Some(0),
        n => n.parse().ok(),
    };
    Some((id(u)?, id(g)?))
}

/// The digest entry `file` would have once written, and whether the owner is comparable
/// (a user name is resolved only on the node).
fn want(file: &PlannedFile) -> (String, bool) {
    match &file.content {
        Content::Symlink(t) => (link_entry(t), true),
        Content::Bytes(b) => match owner_ids(file.owner.as_deref()) {
            Some((u, g)) => (file_entry(b, file.mode, u, g), true),
            None => (file_entry(b, file.mode, 0, 0), false),
        },
    }
}

/// Whether `have` already is `want` (owners compared only when comparable).
fn same(have: &str, want: &str, owner_known: bool) -> bool {
    if owner_known {
        return have == want;
    }
    let cut = |s: &str| s.splitn(4, ':').take(3).collect::<Vec<_>>().join(":");
    cut(have) == cut(want)
}

/// The plans of a config (and of the published one) per set of node values: compiled once
/// per distinct set of the values the config uses, so a config without variables is
/// compiled once for the whole fleet.
pub struct PerNode {
    text: String,
    old: Option<String>,
    used: std::collections::BTreeSet<&'static str>,
    plans: BTreeMap<Vars, Result<(Plan, Option<Plan>), String>>,
}

fn compile_with(text: &str, vars: &Vars) -> Result<Plan, String> {
    let options = crate::compile::Options {
        target: crate::compile::Target::Tree,
        vars: vars.clone(),
        plan: crate::plan::PlanOptions::default(),
    };
    let compiled = crate::compile::compile("fleet config", text.as_bytes().to_vec(), &options);
    compiled.plan.ok_or_else(|| {
        let first = compiled
            .findings
            .iter()
            .find(|f| f.severity == crate::diagnostic::Severity::Error)
            .map_or("it cannot be compiled", |f| f.message.as_str());
        format!("with this node's values the config has errors: {first}")
    })
}

impl PerNode {
    /// Plans of `text` (and of the published `old` text) for the values of `nodes`.
    #[must_use]
    pub fn new(text: &str, old: Option<&str>, nodes: &[Listed]) -> PerNode {
        let mut p = PerNode {
            text: text.to_string(),
            old: old.map(str::to_string),
            used: crate::compile::variables_used(text),
            plans: BTreeMap::new(),
        };
        for l in nodes {
            if let Ok(r) = &l.record {
                let key = restrict(&r.vars, &p.used);
                if !p.plans.contains_key(&key) {
                    let plan = p.compile(&r.vars);
                    p.plans.insert(key, plan);
                }
            }
        }
        p
    }

    fn compile(&self, vars: &Vars) -> Result<(Plan, Option<Plan>), String> {
        let lacking = missing(&self.text, vars);
        if !lacking.is_empty() {
            return Err(refusal(&lacking));
        }
        let new = compile_with(&self.text, vars)?;
        // The published config with what the node has (a value it lacks: no exact old bytes).
        let old = self.old.as_deref().and_then(|t| compile_with(t, vars).ok());
        Ok((new, old))
    }

    /// The plans for `record`'s values, or why the node would refuse the config.
    ///
    /// # Errors
    /// The refusal.
    pub fn get(&self, record: &NodeRecord) -> Result<(&Plan, Option<&Plan>), String> {
        match self.plans.get(&restrict(&record.vars, &self.used)) {
            Some(Ok((new, old))) => Ok((new, old.as_ref())),
            Some(Err(why)) => Err(why.clone()),
            None => Err("internal error: no plan for this node's values".into()),
        }
    }
}

/// Predict `plan` over `nodes`; `old` is the currently published config's plan (for exact
/// old bytes), when there is one.
#[must_use]
pub fn preview(plan: &Plan, old: Option<&Plan>, nodes: &[Listed]) -> Preview {
    preview_with(&|_| Ok((plan, old)), nodes)
}

/// What a node would be refused or compiled to, per node.
pub type PlanFor<'p> = dyn Fn(&NodeRecord) -> Result<(&'p Plan, Option<&'p Plan>), String> + 'p;

/// A plan's wanted digest entries and the published plan's entries by path, computed once
/// per plan (identified by its address).
type Wanted<'p> = (
    *const Plan,
    Vec<(String, bool)>,
    BTreeMap<&'p str, (String, &'p PlannedFile)>,
);

/// Predict over `nodes` with each node's own plans (see [`PerNode`]).
#[must_use]
pub fn preview_with<'p>(plans: &PlanFor<'p>, nodes: &[Listed]) -> Preview {
    let mut memo: Option<Wanted<'p>> = None;
    let mut skipped = BTreeMap::new();
    let mut previews = Vec::new();
    let mut by_key: BTreeMap<(String, Vec<String>), Vec<usize>> = BTreeMap::new();
    let mut diffs: Vec<Diff> = Vec::new();
    for listed in nodes {
        let record = match (&listed.record, listed.alive) {
            (Err(why), _) => {
                skipped.insert(listed.id.clone(), format!("invalid record: {why}"));
                continue;
            }
            (Ok(_), false) => {
                skipped.insert(
                    listed.id.clone(),
                    "unreachable: its digest may be stale".into(),
                );
                continue;
            }
            (Ok(r), true) => r,
        };
        let (plan, old) = match plans(record) {
            Ok(p) => p,
            Err(why) => {
                by_key
                    .entry(("refused".to_string(), vec![why.clone()]))
                    .or_default()
                    .push(previews.len());
                previews.push(NodePreview {
                    id: listed.id.clone(),
                    host: record.hostname.clone(),
                    files: Vec::new(),
                    actions: Vec::new(),
                    effect: "refused".to_string(),
                    refused: Some(why),
                });
                diffs.push(Diff::default());
                continue;
            }
        };
        // The wanted entries are computed once per plan, not once per node.
        if memo
            .as_ref()
            .is_none_or(|(p, _, _)| !std::ptr::eq(*p, plan))
        {
            let wanted: Vec<(String, bool)> = plan.files.iter().map(want).collect();
            let old_entries: BTreeMap<&str, (String, &PlannedFile)> = old
                .map(|p| {
                    p.files
                        .iter()
                        .map(|f| (f.path.as_str(), (want(f).0, f)))
                        .collect()
                })
                .unwrap_or_default();
            memo = Some((plan, wanted, old_entries));
        }
        let Some((_, wanted, old_entries)) = memo.as_ref() else {
            continue;
        };
        let digest: &Digest = &record.digest;
        let mut diff = Diff::default();
        for (f, (entry, owner_known)) in plan.files.iter().zip(wanted) {
            let have = digest.get(&f.path).map(String::as_str);
            let (change, old_bytes) = match have {
                None | Some("missing") => ("create", None),
                Some(h) if same(h, entry, *owner_known) => continue,
                Some(h) => (
                    "modify",
                    old_entries
                        .get(f.path.as_str())
                        .filter(|(e, _)| e == h)
                        .map(|(_, of)| match &of.content {
                            Content::Bytes(b) => b.clone(),
                            Content::Symlink(t) => t.clone().into_bytes(),
                        }),
                ),
            };
            diff.files.push(FileChange {
                path: f.path.clone(),
                change,
                content: true,
                mode: None,
                owner: None,
                effect: f.effect,
                origin: f.origin.clone(),
                old: old_bytes,
                new: match &f.content {
                    Content::Bytes(b) => b.clone(),
                    Content::Symlink(t) => t.clone().into_bytes(),
                },
            });
        }
        let changed: Vec<&str> = diff.files.iter().map(|f| f.path.as_str()).collect();
        // A node that applied a fleet config has had its one-time actions done.
        let applied_before = record.generation > 0;
        diff.actions = crate::diff::actions(plan, &changed, &|_| applied_before);
        let reboot: Vec<String> = diff
            .files
            .iter()
            .filter(|f| f.effect == Effect::RebootRequired)
            .map(|f| format!("{} ({})", f.path, f.origin))
            .collect();
        let actions: Vec<String> = diff
            .actions
            .iter()
            .map(|a: &ActionChange| crate::diff::describe(&a.kind))
            .collect();
        let effect = if diff.is_empty() {
            "no change"
        } else if reboot.is_empty() {
            "in-service"
        } else {
            "reboot required"
        };
        let what = if effect == "reboot required" {
            reboot
        } else {
            actions.clone()
        };
        by_key
            .entry((effect.to_string(), what))
            .or_default()
            .push(previews.len());
        previews.push(NodePreview {
            id: listed.id.clone(),
            host: record.hostname.clone(),
            files: diff
                .files
                .iter()
                .map(|f| Change {
                    path: f.path.clone(),
                    change: f.change,
                    effect: f.effect,
                })
                .collect(),
            actions,
            effect: effect.to_string(),
            refused: None,
        });
        diffs.push(diff);
    }
    let mut groups: Vec<Group> = by_key
        .into_iter()
        .map(|((effect, what), members)| {
            let representative = members
                .first()
                .map(|i| {
                    let d = &diffs[*i];
                    let mut text = format!("representative: {}\n", previews[*i].host);
                    if let Some(why) = &previews[*i].refused {
                        text.push_str(&format!("refused: {why}\n"));
                    } else if d.is_empty() {
                        text.push_str("no change\n");
                    } else {
                        text.push_str(&crate::diff::render(d, false));
                        if d.files.iter().any(|f| f.change == "modify" && f.old.is_none()) {
                            text.push_str("(a file whose node copy is not the published config's: its old bytes are only on the node; the diff shows the new content)\n");
                        }
                    }
                    text
                })
                .unwrap_or_default();
            Group {
                effect,
                what,
                nodes: members.iter().map(|i| previews[*i].id.clone()).collect(),
                representative,
            }
        })
        .collect();
    groups.sort_by(|a, b| {
        b.nodes
            .len()
            .cmp(&a.nodes.len())
            .then(a.effect.cmp(&b.effect))
    });
    Preview {
        groups,
        nodes: previews,
        skipped,
    }
}

/// The grouped preview, for people.
#[must_use]
pub fn render(p: &Preview) -> String {
    let mut out = String::new();
    for g in &p.groups {
        let what = if g.what.is_empty() {
            String::new()
        } else if g.effect == "in-service" {
            format!(" (run {})", g.what.join(", "))
        } else {
            format!(" ({})", g.what.join(", "))
        };
        out.push_str(&format!("{} node(s): {}{what}\n", g.nodes.len(), g.effect));
    }
    for (id, why) in &p.skipped {
        out.push_str(&format!("skipped {id}: {why}\n"));
    }
    for g in &p.groups {
        out.push_str(&format!("\n--- {} ---\n{}", g.effect, g.representative));
    }
    out
}
