//! The pages, rendered on the server with maud (every value escaped by the template
//! engine: a hostname with markup in it is shown as text). A page is a frame (header,
//! navigation, the control forms when control is on) around a live region, `<main
//! id="live">`, whose HTML is what the server-sent events replace; [`main_of`] renders that
//! region for any page path, so the first load and every live update come from the same
//! code. Pure: the snapshot, a node's history and the update server's report in, HTML out.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::chart;
use super::live::{GroupSnap, Snapshot};
use super::node::{self, Version};
use super::table::{self, Query, SORT_KEYS};
use crate::fleet::rollout::Rollout;
use crate::fleet::view::Row;
use crate::update_server::status::Report;

/// What the whole site offers.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// The update server's directory was given: a releases page.
    pub releases: bool,
    /// `--allow-control`: the control forms.
    pub control: bool,
}

/// The states in display order.
pub const STATES: [&str; 8] = [
    "applied",
    "awaiting-reboot",
    "pending",
    "applying",
    "failed",
    "rolled-back",
    "unreachable",
    "invalid",
];

fn when(at: i64) -> String {
    if at <= 0 {
        return "-".into();
    }
    jiff::Timestamp::from_second(at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| "-".into())
}

fn ago(at: i64, now: i64) -> String {
    if at <= 0 {
        return "-".into();
    }
    let s = (now - at).max(0);
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

/// The frame around a page's live region.
#[must_use]
pub fn frame(title: &str, active: &str, site: Site, main: Markup, control: Markup) -> Markup {
    let nav = [
        ("/", "Overview"),
        ("/nodes", "Nodes"),
        ("/releases", "Releases"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · kindling fleet" }
                link rel="stylesheet" href="/assets/dashboard.css";
                // Without JavaScript the page refreshes itself instead of being live.
                noscript { meta http-equiv="refresh" content="10"; }
                script src="/assets/live.js" defer {}
            }
            body {
                header {
                    span.brand { "kindling fleet" }
                    nav aria-label="Pages" {
                        @for (href, name) in nav {
                            @if href != "/releases" || site.releases {
                                @if href == active {
                                    a href=(href) aria-current="page" { (name) }
                                } @else {
                                    a href=(href) { (name) }
                                }
                            }
                        }
                    }
                    span #livestate role="status" aria-live="polite" {
                        noscript { "refreshes every 10 s" }
                    }
                }
                main #live aria-live="off" { (main) }
                (control)
            }
        }
    }
}

fn state_badge(state: &str) -> Markup {
    html! { span.state style={"background:" (chart::state_colour(state))} { (state) } }
}

/// The overview's live region.
#[must_use]
pub fn overview(snap: &Snapshot, now: i64) -> Markup {
    html! {
        h1 { "Overview" }
        @for g in &snap.groups { (group_card(g, snap, now)) }
        (lock_card(snap, now))
        @if !snap.actions.is_empty() {
            section.card aria-labelledby="actions-h" {
                h2 #actions-h { "Control actions" }
                div.scroll { table {
                    thead { tr { th { "When" } th { "From" } th { "What" } } }
                    tbody { @for a in snap.actions.iter().rev() {
                        tr { td { (when(a.at)) } td { (a.peer) } td.wrap { (a.text) } }
                    } }
                } }
            }
        }
    }
}

fn counts(g: &GroupSnap) -> Vec<(String, usize)> {
    STATES
        .iter()
        .map(|s| {
            (
                (*s).to_string(),
                g.view.nodes.iter().filter(|r| r.state == *s).count(),
            )
        })
        .collect()
}

fn group_card(g: &GroupSnap, _snap: &Snapshot, now: i64) -> Markup {
    let total = g.view.nodes.len();
    let generation = g.view.generation;
    let applied = g
        .view
        .nodes
        .iter()
        .filter(|r| r.current && (r.state == "applied" || r.state == "awaiting-reboot"))
        .count();
    let counts = counts(g);
    let mut versions: Vec<(String, usize)> = Vec::new();
    if let Some(last) = g.history.last() {
        for v in chart::ordered(last.versions.keys()) {
            versions.push((v.clone(), last.versions[v]));
        }
    }
    let id = format!("group-{}", crate::lock::query_escape(&g.group));
    html! {
        section.card id=(id) aria-label={"Group " (g.group)} {
            h2 { "Group " (g.group) }
            @if let Some(e) = &g.error { p.error role="alert" { "etcd: " (e) } }
            @if !g.loaded && g.error.is_none() { p.muted { "reading the group from etcd…" } }
            div.grid {
                div {
                    h3 { "Config" }
                    @if generation == 0 {
                        p.big { "no config published" }
                    } @else {
                        p.big data-testid="applied" { "generation " (generation) " applied " (applied) "/" (total) }
                    }
                    @if let Some((_, hold, at)) = g.published {
                        p.muted { "published " (ago(at, now)) @if hold { ", held (applied by a rollout)" } }
                    }
                    p.muted data-testid="summary" { (g.view.summary) }
                }
                div {
                    h3 { "Nodes by state" }
                    (chart::state_bar(&counts))
                    ul { @for (s, n) in &counts { @if *n > 0 {
                        li { a href={"/nodes?group=" (crate::lock::query_escape(&g.group)) "&state=" (s)} { (n) " " (s) } }
                    } } }
                }
                div {
                    h3 { "Versions" }
                    @if versions.is_empty() { p.muted { "none reported" } }
                    ul data-testid="versions" { @for (v, n) in &versions {
                        li { a href={"/nodes?group=" (crate::lock::query_escape(&g.group)) "&version=" (crate::lock::query_escape(v))} { (n) " on " (v) } }
                    } }
                }
            }
            h3 { "Versions over time" }
            (chart::versions_over_time(&g.history, now))
            h3 { "Rollout" }
            @match &g.rollout {
                None => p.muted { "no rollout" },
                Some(r) => (rollout(r, g)),
            }
        }
    }
}

/// One wave as shown.
struct Wave<'a> {
    members: &'a [String],
    healthy: usize,
    failed: usize,
    in_flight: usize,
}

fn rollout(r: &Rollout, g: &GroupSnap) -> Markup {
    let waves: Vec<Wave<'_>> = r
        .wave_members()
        .into_iter()
        .map(|members| {
            let healthy = members.iter().filter(|id| r.succeeded.contains(id)).count();
            let failed = members
                .iter()
                .filter(|id| r.failed.contains_key(*id))
                .count();
            Wave {
                members,
                healthy,
                failed,
                in_flight: members.len() - healthy - failed,
            }
        })
        .collect();
    let admitted: std::collections::HashSet<&String> = r.admitted.iter().collect();
    let waiting = g
        .view
        .nodes
        .iter()
        .filter(|row| row.state != "unreachable" && !admitted.contains(&row.id))
        .count();
    let name = |id: &String| g.names.get(id).cloned().unwrap_or_else(|| id.clone());
    html! {
        p data-testid="rollout" { (r.summary()) }
        div.scroll { table data-testid="waves" {
            caption.muted { (waves.len()) " wave(s); " (waiting) " node(s) waiting to be admitted" }
            thead { tr { th { "Wave" } th { "Admitted" } th { "Healthy" } th { "Failed" } th { "In flight" } th { "Nodes" } } }
            tbody {
                @for (i, w) in waves.iter().enumerate() {
                    tr data-wave=(i + 1) {
                        td { (i + 1) } td { (w.members.len()) } td.ok { (w.healthy) }
                        td class=@if w.failed > 0 { "error" } { (w.failed) } td { (w.in_flight) }
                        td.wrap { @for (j, id) in w.members.iter().enumerate() {
                            @if j > 0 { ", " }
                            a href={"/node?group=" (crate::lock::query_escape(&g.group)) "&id=" (crate::lock::query_escape(id))} { (name(id)) }
                            @if let Some(why) = r.failed.get(id) { " (failed: " (why) ")" }
                        } }
                    }
                }
                tr { td { "waiting" } td colspan="4" { (waiting) } td.muted { "not admitted yet" } }
            }
        } }
    }
}

fn lock_card(snap: &Snapshot, now: i64) -> Markup {
    let l = &snap.lock;
    let name = |id: &str| -> String {
        snap.groups
            .iter()
            .find_map(|g| g.names.get(id).cloned())
            .unwrap_or_else(|| id.to_string())
    };
    html! {
        section.card aria-labelledby="lock-h" {
            h2 #lock-h { "Reboot semaphore (lock group " (l.group) ")" }
            @if let Some(e) = &l.error { p.error role="alert" { "etcd: " (e) } }
            @match &l.status {
                None => p.muted { "no semaphore in etcd yet (it is created by the first node that takes a slot)" },
                Some(s) => {
                    p.big data-testid="slots" { (s.holders.len()) " of " (s.max) " slot(s) held" }
                    @if s.holders.is_empty() { p.muted { "no holder" } } @else {
                        div.scroll { table {
                            thead { tr { th { "Holder" } th { "Node" } th { "Since" } th { "State" } th { "Alive" } } }
                            tbody { @for h in &s.holders {
                                tr {
                                    td { (h.id) } td { (name(&h.id)) }
                                    td { @match h.since { Some(t) => (ago(t.as_second(), now)), None => "-" } }
                                    td { (h.state.as_deref().unwrap_or("-")) }
                                    td { @match h.alive { Some(true) => span.ok { "yes" }, Some(false) => span.error { "no (its lease expired)" }, None => "no lease" } }
                                }
                            } }
                        } }
                    }
                }
            }
        }
    }
}

fn node_link(group: &str, row: &Row) -> Markup {
    html! { a href={"/node?group=" (crate::lock::query_escape(group)) "&id=" (crate::lock::query_escape(&row.id))} { (row.host) } }
}

/// The nodes table's live region.
#[must_use]
pub fn nodes(g: &GroupSnap, groups: &[String], q: &Query, now: i64) -> Markup {
    let page = table::page(&g.view.nodes, q);
    let versions: Vec<&String> = g
        .history
        .last()
        .map_or_else(Vec::new, |s| chart::ordered(s.versions.keys()));
    let sort = if q.sort.is_empty() {
        "host"
    } else {
        q.sort.as_str()
    };
    html! {
        h1 { "Nodes of group " (g.group) }
        form.filters method="get" action="/nodes" role="search" aria-label="Filter nodes" {
            @if groups.len() > 1 {
                label { "Group" select name="group" { @for name in groups { option value=(name) selected[*name == g.group] { (name) } } } }
            } @else { input type="hidden" name="group" value=(g.group); }
            label { "Search" input type="search" name="q" value=(q.q) placeholder="host, address or id"; }
            label { "State" select name="state" {
                option value="" { "any" }
                @for s in STATES { option value=(s) selected[q.state == s] { (s) } }
            } }
            label { "Version" select name="version" {
                option value="" { "any" }
                @for v in &versions { option value=(v) selected[q.version == **v] { (v) } }
            } }
            label { "Sort by" select name="sort" {
                @for (k, name) in SORT_KEYS { option value=(k) selected[sort == k] { (name) } }
            } }
            label { "Order" select name="order" {
                option value="asc" selected[q.order != "desc"] { "ascending" }
                option value="desc" selected[q.order == "desc"] { "descending" }
            } }
            button type="submit" { "Show" }
        }
        p.muted data-testid="matched" { (page.matched) " of " (g.view.nodes.len()) " node(s); page " (page.page) " of " (page.pages) }
        div.scroll { table data-testid="nodes" {
            thead { tr { th { "Hostname" } th { "Address" } th { "Version" } th { "Generation" } th { "State" } th { "Reboot required" } th { "Last seen" } } }
            tbody { @for r in &page.rows {
                tr {
                    td { (node_link(&g.group, r)) }
                    td { (r.address) }
                    td { (r.version) @if let Some(s) = &r.staged_version { " (staged " (s) ")" } }
                    td { (r.generation) @if !r.current && g.view.generation > 0 { span.muted { " (not current)" } } }
                    td { (state_badge(&r.state)) @if let Some(why) = &r.reason { " " span.muted { (why) } } }
                    td { @if r.reboot_required { "yes" } @else { "no" } }
                    td { (ago(r.last_seen, now)) }
                }
            } }
        } }
        nav.pager aria-label="Pages of nodes" {
            @if page.page > 1 { a href={"/nodes?" (q.with_page(page.page - 1))} rel="prev" { "← previous" } }
            span { "page " (page.page) " of " (page.pages) }
            @if page.page < page.pages { a href={"/nodes?" (q.with_page(page.page + 1))} rel="next" { "next →" } }
        }
    }
}

/// A node's live region.
#[must_use]
pub fn node(g: &GroupSnap, id: &str, history: &[Version], holds: bool, now: i64) -> Markup {
    let row = g.view.nodes.iter().find(|r| r.id == id);
    let current = history.first().and_then(|v| v.record.as_ref().ok());
    let events = node::events(history);
    let apply = node::last_apply(history);
    html! {
        @match row {
            None => { h1 { "No node " (id) " in group " (g.group) } }
            Some(r) => {
                h1 { "Node " (r.host) }
                section.card aria-labelledby="rec-h" {
                    h2 #rec-h { "Record" }
                    dl.record {
                        dt { "Machine id" } dd { (r.id) }
                        dt { "Address" } dd { (r.address) }
                        dt { "State" } dd { (state_badge(&r.state)) @if let Some(why) = &r.reason { " " (why) } }
                        dt { "Version" } dd { (r.version) @if let Some(s) = &r.staged_version { " (staged " (s) ")" } }
                        @if let Some(a) = &r.admission { dt { "Admission" } dd { (a) } }
                        dt { "Generation" } dd { (r.generation) @if r.current { " (current)" } @else if g.view.generation > 0 { " (published: " (g.view.generation) ")" } }
                        dt { "Reboot required" } dd { @if r.reboot_required { "yes" } @else { "no" } }
                        dt { "Agent" } dd { (r.agent) }
                        dt { "Reboot slot" } dd { @if holds { "holds one" } @else { "none" } @if let Some(l) = &r.lock_held { " (agent: " (l) ")" } }
                        @if let Some(rb) = &r.rollback { dt { "Rollback" } dd { (rb) } }
                        dt { "Last seen" } dd { (when(r.last_seen)) " (" (ago(r.last_seen, now)) ")" }
                        @if let Some(c) = current {
                            dt { "Healthy" } dd { @if c.healthy { "yes" } @else { "no" } }
                            dt { "Managed files" } dd { (c.digest.len()) }
                            @if let Some(g) = c.rollback_to { dt { "Can roll back to" } dd { "generation " (g) } }
                        }
                    }
                }
                section.card aria-labelledby="apply-h" {
                    h2 #apply-h { "Last apply" }
                    @match &apply {
                        None => p.muted { "no earlier generation in etcd's history" },
                        Some(s) => {
                            p { "generation " (s.from) " → " (s.to) @if let Some(ms) = s.took_ms { ", took " (ms) " ms" } }
                            p { (s.added.len()) " added, " (s.changed.len()) " changed, " (s.removed.len()) " removed" }
                            ul {
                                @for p in &s.added { li { "added " code { (p) } } }
                                @for p in &s.changed { li { "changed " code { (p) } } }
                                @for p in &s.removed { li { "removed " code { (p) } } }
                            }
                            @if !s.reboot_required.is_empty() { p { "waits for a reboot: " (s.reboot_required.join(", ")) } }
                        }
                    }
                }
                section.card aria-labelledby="hist-h" {
                    h2 #hist-h { "Lock and update history" }
                    @if events.is_empty() { p.muted { "nothing changed in the " (history.len()) " record version(s) etcd keeps" } }
                    @else {
                        div.scroll { table {
                            thead { tr { th { "When" } th { "Revision" } th { "What" } } }
                            tbody { @for e in &events { tr { td { (when(e.at)) } td { (e.revision) } td.wrap { (e.text) } } } }
                        } }
                    }
                }
            }
        }
    }
}

/// The releases page's live region.
#[must_use]
pub fn releases(
    report: &Report,
    releases: &crate::update_server::releases::Releases,
    fleet: &[(String, usize)],
) -> Markup {
    let mut per_version: std::collections::BTreeMap<&str, usize> =
        std::collections::BTreeMap::new();
    for i in &report.instances {
        *per_version.entry(i.version.as_str()).or_default() += 1;
    }
    html! {
        h1 { "Releases" }
        section.card aria-labelledby="ch-h" {
            h2 #ch-h { "Channels and rollout controls" }
            div.scroll { table {
                thead { tr { th { "Channel" } th { "Newest" } th { "Releases" } th { "Updates" } th { "Rate" } th { "Safe mode" } th { "Halted" } } }
                tbody { @for c in &report.channels { tr {
                    td { (c.channel) } td { (c.newest.as_deref().unwrap_or("-")) } td { (c.releases) }
                    td { @if c.updates { "on" } @else { span.error { "off" } } }
                    td { @match (c.max_updates, c.period_secs) { (Some(n), Some(p)) => { (n) " per " (p) " s" }, (Some(n), None) => { (n) }, _ => "no limit" } }
                    td { @if c.safe_mode { "on" } @else { "off" } }
                    td.wrap { @match &c.halted { Some(h) => span.error { (h.version) ": " (h.reason) " (" (h.machine_id) ")" }, None => "no" } }
                } } }
            } }
        }
        section.card aria-labelledby="rel-h" {
            h2 #rel-h { "Versions" }
            div.scroll { table {
                thead { tr { th { "Channel" } th { "Version" } th { "Payload" } th { "Size" } th { "Published" } th { "Instances" } } }
                tbody { @for r in &releases.releases { tr {
                    td { (r.channel) } td { (r.version) } td { (r.name) @if r.crau.is_some() { " (CrAU)" } }
                    td { (r.size) } td { (when(i64::try_from(r.published).unwrap_or(0))) }
                    td { (per_version.get(r.version.as_str()).copied().unwrap_or(0)) }
                } } }
            } }
        }
        section.card aria-labelledby="inst-h" {
            h2 #inst-h { "Instances per version" }
            p.muted { "As the update server saw them (its instances record) and as the fleet reports them." }
            div.scroll { table {
                thead { tr { th { "Version" } th { "Update server" } th { "Fleet" } } }
                tbody {
                    @for v in chart::ordered(per_version.keys().map(|k| (*k).to_string()).chain(fleet.iter().map(|(v, _)| v.clone())).collect::<Vec<_>>().iter()) {
                        tr { td { (v) } td { (per_version.get(v.as_str()).copied().unwrap_or(0)) }
                             td { (fleet.iter().find(|(x, _)| x == v).map_or(0, |(_, n)| *n)) } }
                    }
                }
            } }
        }
    }
}

/// The control forms (outside the live region, so typing is never interrupted).
#[must_use]
pub fn controls(snap: &Snapshot, site: Site) -> Markup {
    if !site.control {
        return html! {};
    }
    let groups: Vec<&String> = snap.groups.iter().map(|g| &g.group).collect();
    let group_field = |id: &str| -> Markup {
        html! {
            @if groups.len() == 1 { input type="hidden" name="group" value=(groups[0]); }
            @else { label for=(id) { "Group" } select id=(id) name="group" { @for g in &groups { option value=(g) { (g) } } } }
        }
    };
    html! {
        section #control aria-labelledby="control-h" {
            div.card.section style="background:#fff;border:1px solid #dadce0;border-radius:6px;padding:1rem" {
                h2 #control-h { "Control" }
                p.muted { "Each action asks for the control token, then for a confirmation, and is logged." }
                form.control method="post" action="/control/rollout-apply" aria-label="Run the rollout" {
                    (group_field("g-apply"))
                    label { "Control token" input type="password" name="token" autocomplete="off" required; }
                    button type="submit" { "Run the rollout…" }
                }
                form.control method="post" action="/control/rollout-abort" aria-label="Abort the rollout" {
                    (group_field("g-abort"))
                    label { "Control token" input type="password" name="token" autocomplete="off" required; }
                    button type="submit" { "Abort the rollout…" }
                }
                form.control method="post" action="/control/release-slot" aria-label="Release a dead holder's reboot slot" {
                    label { "Holder id" input type="text" name="holder" required; }
                    label { "Control token" input type="password" name="token" autocomplete="off" required; }
                    button type="submit" { "Release its slot…" }
                }
            }
        }
    }
}

/// A control action's confirmation page (its fields carried over, `confirm=yes` added).
#[must_use]
pub fn confirm(action: &str, question: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1";
                   title { "Confirm · kindling fleet" } link rel="stylesheet" href="/assets/dashboard.css"; }
            body { main {
                section.card {
                    h1 { "Confirm" }
                    p #question { (question) }
                    form.control method="post" action={"/control/" (action)} aria-label="Confirm the action" {
                        @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
                        input type="hidden" name="confirm" value="yes";
                        button #confirm type="submit" { "Yes, do it" }
                        a href="/" { "No, back to the overview" }
                    }
                }
            } }
        }
    }
}

/// A plain message page (a control action's outcome, a refusal, a page not found).
#[must_use]
pub fn message(title: &str, text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1";
                   title { (title) " · kindling fleet" } link rel="stylesheet" href="/assets/dashboard.css"; }
            body { main { section.card {
                h1 { (title) }
                p #message role="alert" { (text) }
                p { a href="/" { "Back to the overview" } }
            } } }
        }
    }
}

/// Markup that is already HTML (the live region rendered before).
#[must_use]
pub fn raw(html: String) -> Markup {
    PreEscaped(html)
}
