//! `fleet diff`: what publishing a config would change on each node, predicted from the
//! digests the nodes published (path -> hash, mode, owner), grouped by what would happen
//! (`34 nodes: in-service (systemctl restart x.service)`), with one representative node's
//! file diff per group. The old bytes of a file are known when the node's digest matches
//! the currently published config's version of it (then the diff is exact); otherwise the
//! change is shown as a change of content whose old bytes only the node has.
//!
//! A config using `$private_ipv4`-style variables is compiled once with a stand-in for each
//! value and each node's values put into the plan's file contents ([`PerNode`]), when that
//! gives exactly what compiling with the node's values gives (checked on two nodes; else it
//! is compiled once per distinct set of values); a node missing a value the config uses is
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
    plans: BTreeMap<Vars, Result<(Plan, Option<Plan>), Refusal>>,
}

/// Why a node would refuse the config (or why it cannot be predicted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The config uses variables the node has no value for.
    #[error("{}", refusal(.0))]
    Missing(Vec<&'static str>),
    /// With the node's values the config has errors (the first).
    #[error("with this node's values the config has errors: {0}")]
    Errors(String),
    /// No plan was compiled for the node's values.
    #[error("internal error: no plan for this node's values")]
    NoPlan,
}

fn compile_with(text: &str, vars: &Vars) -> Result<Plan, Refusal> {
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
        Refusal::Errors(first.to_string())
    })
}

impl PerNode {
    /// Plans of `text` (and of the published `old` text) for the values of `nodes`.
    ///
    /// Compiling once per distinct set of values costs a compile per node when every node
    /// has its own address (10,000 compiles for 10,000 nodes). So the config is compiled
    /// once with a stand-in for each value ([`Stand`]), and each node's plans are the
    /// stand-in plans with its values put in; that is used only when, for the first two
    /// distinct sets of values, it gives exactly the plans a real compile gives (otherwise,
    /// say where a value decides whether the config is valid, every set is compiled).
    #[must_use]
    pub fn new(text: &str, old: Option<&str>, nodes: &[Listed]) -> PerNode {
        let mut p = PerNode {
            text: text.to_string(),
            old: old.map(str::to_string),
            used: crate::compile::variables_used(text),
            plans: BTreeMap::new(),
        };
        let mut keys: Vec<(Vars, &Vars)> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for l in nodes {
            if let Ok(r) = &l.record {
                let key = restrict(&r.vars, &p.used);
                if seen.insert(key.clone()) {
                    keys.push((key, &r.vars));
                }
            }
        }
        let stand = Stand::new(&p, &keys);
        for (key, vars) in keys {
            let plan = match &stand {
                Some(stand) if missing(&p.text, vars).is_empty() => Ok(stand.put(vars)),
                _ => p.compile(vars),
            };
            p.plans.insert(key, plan);
        }
        p
    }

    fn compile(&self, vars: &Vars) -> Result<(Plan, Option<Plan>), Refusal> {
        let lacking = missing(&self.text, vars);
        if !lacking.is_empty() {
            return Err(Refusal::Missing(lacking));
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
    pub fn get(&self, record: &NodeRecord) -> Result<(&Plan, Option<&Plan>), Refusal> {
        match self.plans.get(&restrict(&record.vars, &self.used)) {
            Some(Ok((new, old))) => Ok((new, old.as_ref())),
            Some(Err(why)) => Err(why.clone()),
            None => Err(Refusal::NoPlan),
        }
    }
}

/// The plans compiled once with a stand-in text for each variable the config uses, which
/// each node's values replace.
struct Stand {
    /// Variable -> its stand-in.
    stand_ins: Vars,
    new: Plan,
    old: Option<Plan>,
}

impl Stand {
    /// The stand-in plans, when they agree with real compiles of the first two sets of
    /// values in `keys` (and the config uses variables at all).
    fn new(p: &PerNode, keys: &[(Vars, &Vars)]) -> Option<Stand> {
        // Below three sets a compile each costs no more than the check.
        if p.used.is_empty() || keys.len() < 3 {
            return None;
        }
        let stand_ins: Vars = p
            .used
            .iter()
            .map(|v| {
                (
                    (*v).to_string(),
                    format!("kindling-stand-in-{}-x7q", v.replace('_', "-")),
                )
            })
            .collect();
        let new = compile_with(&p.text, &stand_ins).ok()?;
        let old = match p.old.as_deref() {
            None => None,
            Some(t) => Some(compile_with(t, &stand_ins).ok()?),
        };
        // A stand-in anywhere but in file contents (a path, an owner, a link, an action)
        // is not put in; such a config is compiled per set of values.
        let elsewhere = |plan: &Plan| {
            let shown = format!("{:?}", plan.actions);
            plan.files.iter().any(|f| {
                let mut fields = vec![f.path.as_str()];
                fields.extend(f.owner.as_deref());
                if let Content::Symlink(t) = &f.content {
                    fields.push(t);
                }
                fields.iter().any(|x| x.contains("kindling-stand-in-"))
            }) || shown.contains("kindling-stand-in-")
        };
        if elsewhere(&new) || old.as_ref().is_some_and(elsewhere) {
            return None;
        }
        let stand = Stand {
            stand_ins,
            new,
            old,
        };
        for (_, vars) in keys.iter().take(2) {
            if !missing(&p.text, vars).is_empty() {
                return None;
            }
            let real = p.compile(vars).ok()?;
            if stand.put(vars) != real {
                return None;
            }
        }
        Some(stand)
    }

    /// The plans with `vars` in place of the stand-ins.
    fn put(&self, vars: &Vars) -> (Plan, Option<Plan>) {
        let put_in = |plan: &Plan| {
            let mut plan = plan.clone();
            for file in &mut plan.files {
                if let Content::Bytes(bytes) = &mut file.content {
                    for (var, stand_in) in &self.stand_ins {
                        let value = vars.get(var).map_or("", String::as_str);
                        replace_bytes(bytes, stand_in.as_bytes(), value.as_bytes());
                    }
                }
            }
            plan
        };
        (put_in(&self.new), self.old.as_ref().map(put_in))
    }
}

/// Replace every `from` in `bytes` by `to`.
fn replace_bytes(bytes: &mut Vec<u8>, from: &[u8], to: &[u8]) {
    if from.is_empty() || !bytes.windows(from.len()).any(|w| w == from) {
        return;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    *bytes = out;
}

/// Predict `plan` over `nodes`; `old` is the currently published config's plan (for exact
/// old bytes), when there is one.
#[must_use]
pub fn preview(plan: &Plan, old: Option<&Plan>, nodes: &[Listed]) -> Preview {
    preview_with(&|_| Ok((plan, old)), nodes)
}

/// What a node would be refused or compiled to, per node.
pub type PlanFor<'p> = dyn Fn(&NodeRecord) -> Result<(&'p Plan, Option<&'p Plan>), Refusal> + 'p;

/// A plan's wanted digest entries and the published plan's entries by path, computed once
/// per plan (identified by its address).
struct Wanted<'p> {
    plan: *const Plan,
    entries: Vec<(String, bool)>,
    old: BTreeMap<&'p str, (String, &'p PlannedFile)>,
}

impl<'p> Wanted<'p> {
    fn of(plan: &'p Plan, old: Option<&'p Plan>) -> Wanted<'p> {
        Wanted {
            plan,
            entries: plan.files.iter().map(want).collect(),
            old: old
                .map(|p| {
                    p.files
                        .iter()
                        .map(|f| (f.path.as_str(), (want(f).0, f)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The file diff of `plan` on a node with `digest`: what it creates or modifies, with
    /// the old bytes when the node's copy is the published config's.
    fn diff(&self, plan: &Plan, digest: &Digest) -> Diff {
        let mut diff = Diff::default();
        for (f, (entry, owner_known)) in plan.files.iter().zip(&self.entries) {
            let (change, old_bytes) = match digest.get(&f.path).map(String::as_str) {
                None | Some("missing") => ("create", None),
                Some(h) if same(h, entry, *owner_known) => continue,
                Some(h) => (
                    "modify",
                    self.old
                        .get(f.path.as_str())
                        .filter(|(e, _)| e == h)
                        .map(|(_, of)| bytes_of(of)),
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
                new: bytes_of(f),
            });
        }
        diff
    }
}

/// A planned file's content as bytes (a link: its target).
fn bytes_of(file: &PlannedFile) -> Vec<u8> {
    match &file.content {
        Content::Bytes(b) => b.clone(),
        Content::Symlink(t) => t.clone().into_bytes(),
    }
}

/// Why a node is left out of the preview.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Skipped {
    /// Its record cannot be used (why).
    #[error("invalid record: {0}")]
    Invalid(String),
    /// Its lease expired.
    #[error("unreachable: its digest may be stale")]
    Unreachable,
}

/// The node's record, or why it is left out of the preview.
fn usable(listed: &Listed) -> Result<&NodeRecord, Skipped> {
    match (&listed.record, listed.alive) {
        (Err(why), _) => Err(Skipped::Invalid(why.to_string())),
        (Ok(_), false) => Err(Skipped::Unreachable),
        (Ok(r), true) => Ok(r),
    }
}

/// The preview as it is built, node by node.
#[derive(Default)]
struct Builder<'p> {
    memo: Option<Wanted<'p>>,
    skipped: BTreeMap<String, String>,
    previews: Vec<NodePreview>,
    /// (effect, what) -> the nodes (indexes into `previews` and `diffs`).
    by_key: BTreeMap<(String, Vec<String>), Vec<usize>>,
    diffs: Vec<Diff>,
}

/// Predict over `nodes` with each node's own plans (see [`PerNode`]).
#[must_use]
pub fn preview_with<'p>(plans: &PlanFor<'p>, nodes: &[Listed]) -> Preview {
    let mut b = Builder::default();
    for listed in nodes {
        let record = match usable(listed) {
            Ok(r) => r,
            Err(why) => {
                b.skipped.insert(listed.id.clone(), why.to_string());
                continue;
            }
        };
        match plans(record) {
            Ok((plan, old)) => b.predict(listed, record, plan, old),
            Err(why) => b.refused(listed, record, &why),
        }
    }
    b.finish()
}

impl<'p> Builder<'p> {
    /// One node the config would be refused on: a group of its own reason.
    fn refused(&mut self, listed: &Listed, record: &NodeRecord, why: &Refusal) {
        let why = why.to_string();
        self.add(
            ("refused".to_string(), vec![why.clone()]),
            NodePreview {
                id: listed.id.clone(),
                host: record.hostname.clone(),
                files: Vec::new(),
                actions: Vec::new(),
                effect: "refused".to_string(),
                refused: Some(why),
            },
            Diff::default(),
        );
    }

    /// One node's prediction from its digest: the files that change, the actions that
    /// run, and whether it needs a reboot.
    fn predict(
        &mut self,
        listed: &Listed,
        record: &NodeRecord,
        plan: &'p Plan,
        old: Option<&'p Plan>,
    ) {
        // The wanted entries are computed once per plan, not once per node.
        let wanted = match self.memo.take() {
            Some(w) if std::ptr::eq(w.plan, plan) => w,
            _ => Wanted::of(plan, old),
        };
        let mut diff = wanted.diff(plan, &record.digest);
        self.memo = Some(wanted);
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
        let files = diff
            .files
            .iter()
            .map(|f| Change {
                path: f.path.clone(),
                change: f.change,
                effect: f.effect,
            })
            .collect();
        let preview = NodePreview {
            id: listed.id.clone(),
            host: record.hostname.clone(),
            files,
            actions,
            effect: effect.to_string(),
            refused: None,
        };
        self.add((effect.to_string(), what), preview, diff);
    }

    fn add(&mut self, key: (String, Vec<String>), preview: NodePreview, diff: Diff) {
        self.by_key
            .entry(key)
            .or_default()
            .push(self.previews.len());
        self.previews.push(preview);
        self.diffs.push(diff);
    }

    /// The representative text of the node at `i`: its file diff, or why it is refused.
    fn representative(&self, i: usize) -> String {
        let d = &self.diffs[i];
        let mut text = format!("representative: {}\n", self.previews[i].host);
        if let Some(why) = &self.previews[i].refused {
            text.push_str(&format!("refused: {why}\n"));
        } else if d.is_empty() {
            text.push_str("no change\n");
        } else {
            text.push_str(&crate::diff::render(d, false));
            if d.files
                .iter()
                .any(|f| f.change == "modify" && f.old.is_none())
            {
                text.push_str("(a file whose node copy is not the published config's: its old bytes are only on the node; the diff shows the new content)\n");
            }
        }
        text
    }

    /// The groups, largest first, each with its representative.
    fn finish(mut self) -> Preview {
        let by_key = std::mem::take(&mut self.by_key);
        let mut groups: Vec<Group> = by_key
            .into_iter()
            .map(|((effect, what), members)| Group {
                effect,
                what,
                representative: members
                    .first()
                    .map(|i| self.representative(*i))
                    .unwrap_or_default(),
                nodes: members
                    .iter()
                    .map(|i| self.previews[*i].id.clone())
                    .collect(),
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
            nodes: self.previews,
            skipped: self.skipped,
        }
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

#[cfg(test)]
mod per_node_tests {
    use super::*;

    fn node(i: usize, ip: Option<&str>) -> Listed {
        let mut record = NodeRecord {
            hostname: format!("host-{i}"),
            ..NodeRecord::default()
        };
        if let Some(ip) = ip {
            record.vars.insert("private_ipv4".into(), ip.into());
        }
        Listed {
            id: format!("m{i}"),
            record: Ok(record),
            alive: true,
        }
    }

    /// Whether `text` over five nodes with their own addresses is compiled once.
    fn stands(text: &str) -> bool {
        let vars: Vec<Vars> = (0..5)
            .map(|i| Vars::from([("private_ipv4".into(), format!("10.0.0.{i}"))]))
            .collect();
        let p = PerNode::new(text, None, &[]);
        let keys: Vec<(Vars, &Vars)> = vars.iter().map(|v| (v.clone(), v)).collect();
        Stand::new(&p, &keys).is_some()
    }

    fn check_against_compiles(text: &str, old: Option<&str>) {
        let nodes: Vec<Listed> = (0..6)
            .map(|i| node(i, (i != 4).then(|| format!("10.0.0.{i}")).as_deref()))
            .collect();
        let p = PerNode::new(text, old, &nodes);
        for l in &nodes {
            let Ok(record) = &l.record else { continue };
            let got = p.get(record);
            match p.compile(&record.vars) {
                Ok((new, old)) => {
                    let (n, o) = got.expect("a plan");
                    assert_eq!(n, &new, "{}", l.id);
                    assert_eq!(o, old.as_ref(), "{}", l.id);
                }
                Err(why) => assert_eq!(got.unwrap_err(), why, "{}", l.id),
            }
        }
    }

    #[test]
    fn stand_in_plans_equal_a_compile_per_node() {
        // In file contents: compiled once, each node's value put in.
        let text = "#cloud-config\nwrite_files:\n  - path: /etc/a.conf\n    content: |\n      listen $private_ipv4:80 \\$private_ipv4\n  - path: /etc/b.conf\n    content: same\n";
        let old = "#cloud-config\nwrite_files:\n  - path: /etc/a.conf\n    content: |\n      was $private_ipv4\n";
        check_against_compiles(text, Some(old));
        check_against_compiles(text, None);
        assert!(stands(text));
        // A unit's content is a file too; a path or an action that names the value is
        // compiled per node.
        for (text, fast) in [
            (
                "#cloud-config\ncoreos:\n  units:\n    - name: a.service\n      command: start\n      content: |\n        [Service]\n        ExecStart=/bin/x $private_ipv4\n",
                true,
            ),
            (
                "#cloud-config\nwrite_files:\n  - path: /etc/$private_ipv4.conf\n    content: x\n",
                false,
            ),
            ("#cloud-config\nhostname: node-$private_ipv4\n", false),
        ] {
            check_against_compiles(text, None);
            assert_eq!(stands(text), fast, "{text}");
        }
    }
}
