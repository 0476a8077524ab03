//! `fleet status`: one row per node in the shape of StarlingX's `sw-patch query-hosts`
//! (host, address, version, config generation, config current, reboot required, state,
//! last seen) and a summary line. A node whose post-boot hook failed is shown as not back in
//! service, and one whose pre-reboot hook failed with its reboot held back, with the hook's
//! message in its state. A node whose lease expired is shown as `unreachable` with
//! what it last reported; a record that cannot be used (another group's, oversized, not
//! JSON) is shown as `invalid` with the reason. No node is ever dropped from the view.

use serde::Serialize;

use super::listing::Listed;
use super::record::{NodeRecord, now_secs};

/// One row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The node id (machine id).
    pub id: String,
    /// Its hostname.
    pub host: String,
    /// Its address.
    pub address: String,
    /// The running release.
    pub version: String,
    /// The staged release, if any.
    pub staged_version: Option<String>,
    /// Where its reboot into the staged release stands with a release rollout (`waiting for
    /// admission to 1.0.1`, `admitted to 1.0.1`).
    pub admission: Option<String>,
    /// The answer to the last rollback request (restored, or refused and why).
    pub rollback: Option<String>,
    /// The config generation applied.
    pub generation: u64,
    /// Whether it is the published one.
    pub current: bool,
    /// Whether a reboot is required (a staged release, or a config's reboot-required part).
    pub reboot_required: bool,
    /// `pending`, `applying`, `applied`, `awaiting-reboot`, `failed`, `rolled-back`,
    /// `unreachable` or `invalid`.
    pub state: String,
    /// Why, for failed, rolled-back, awaiting-reboot, unreachable and invalid.
    pub reason: Option<String>,
    /// The agent's update state.
    pub agent: String,
    /// The reboot lock it holds.
    pub lock_held: Option<String>,
    /// Why it is not back in service after its reboot (its post-boot hook failed).
    pub not_back: Option<String>,
    /// Why its last reboot was held back (its pre-reboot hook failed).
    pub reboot_held_back: Option<String>,
    /// Unix seconds of its last record change (0: unknown).
    pub last_seen: i64,
}

/// The whole view.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    /// The group.
    pub group: String,
    /// The published generation (0: none).
    pub generation: u64,
    /// The summary line.
    pub summary: String,
    /// The rows, sorted by host.
    pub nodes: Vec<Row>,
}

fn row(listed: &Listed, published: u64) -> Row {
    match &listed.record {
        Err(why) => Row {
            id: listed.id.clone(),
            host: listed.id.clone(),
            address: String::new(),
            version: String::new(),
            staged_version: None,
            admission: None,
            rollback: None,
            generation: 0,
            current: false,
            reboot_required: false,
            state: "invalid".into(),
            reason: Some(why.to_string()),
            agent: String::new(),
            lock_held: None,
            not_back: None,
            reboot_held_back: None,
            last_seen: 0,
        },
        Ok(r) => {
            let NodeRecord {
                hostname,
                address,
                agent,
                generation,
                state,
                reboot_required,
                last_seen,
                ..
            } = r;
            let (state_name, reason) = if listed.alive {
                (state.name().to_string(), state.reason().map(str::to_string))
            } else {
                (
                    "unreachable".to_string(),
                    Some(format!(
                        "its lease expired; it last reported {}",
                        state.name()
                    )),
                )
            };
            Row {
                id: listed.id.clone(),
                host: hostname.clone(),
                address: address.clone(),
                version: agent.running_version.clone(),
                staged_version: agent.staged_version.clone(),
                admission: agent.admission.clone(),
                rollback: r.rollback.as_ref().map(|a| a.message.clone()),
                generation: *generation,
                current: published > 0 && *generation == published,
                reboot_required: !reboot_required.is_empty() || agent.staged_version.is_some(),
                state: state_name,
                reason,
                agent: agent.status.clone(),
                lock_held: agent.lock_held.clone(),
                not_back: agent.not_back.clone(),
                reboot_held_back: agent.reboot_held_back.clone(),
                last_seen: *last_seen,
            }
        }
    }
}

/// Build the view of `nodes` against the published generation.
#[must_use]
pub fn build(group: &str, published: u64, nodes: &[Listed]) -> View {
    let mut rows: Vec<Row> = nodes.iter().map(|l| row(l, published)).collect();
    rows.sort_by(|a, b| a.host.cmp(&b.host).then_with(|| a.id.cmp(&b.id)));
    let count = |s: &str| rows.iter().filter(|r| r.state == s).count();
    let total = rows.len();
    let applied = rows
        .iter()
        .filter(|r| r.current && (r.state == "applied" || r.state == "awaiting-reboot"))
        .count();
    let mut summary = if published == 0 {
        format!("{total} node(s), no config published")
    } else {
        format!("generation {published} applied on {applied}/{total}")
    };
    for (state, words) in [
        ("awaiting-reboot", "waiting for a reboot"),
        ("pending", "pending"),
        ("applying", "applying"),
        ("failed", "failed"),
        ("rolled-back", "rolled back"),
        ("unreachable", "unreachable"),
        ("invalid", "with an invalid record"),
    ] {
        let n = count(state);
        if n > 0 {
            summary.push_str(&format!(", {n} {words}"));
        }
    }
    let waiting = rows
        .iter()
        .filter(|r| {
            r.state != "unreachable"
                && r.staged_version.is_some()
                && r.admission
                    .as_deref()
                    .is_some_and(|a| a.starts_with("waiting for admission"))
        })
        .count();
    if waiting > 0 {
        summary.push_str(&format!(", {waiting} waiting for admission to reboot"));
    }
    let not_back = rows
        .iter()
        .filter(|r| r.state != "unreachable" && r.not_back.is_some())
        .count();
    if not_back > 0 {
        summary.push_str(&format!(
            ", {not_back} not back in service after a reboot (post-boot hook)"
        ));
    }
    let held_back = rows
        .iter()
        .filter(|r| r.state != "unreachable" && r.reboot_held_back.is_some())
        .count();
    if held_back > 0 {
        summary.push_str(&format!(
            ", {held_back} with a reboot held back (pre-reboot hook)"
        ));
    }
    let mut versions: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in rows.iter().filter(|r| !r.version.is_empty()) {
        *versions.entry(r.version.as_str()).or_default() += 1;
    }
    if !versions.is_empty() {
        let list: Vec<String> = versions
            .iter()
            .map(|(v, n)| format!("{n} on {v}"))
            .collect();
        summary.push_str(&format!("; releases: {}", list.join(", ")));
    }
    View {
        group: group.to_string(),
        generation: published,
        summary,
        nodes: rows,
    }
}

fn ago(last_seen: i64, now: i64) -> String {
    if last_seen <= 0 {
        return "-".into();
    }
    let s = (now - last_seen).max(0);
    match s {
        0..=119 => format!("{s}s ago"),
        120..=7199 => format!("{}m ago", s / 60),
        _ => format!("{}h ago", s / 3600),
    }
}

/// The table and summary line, for people.
#[must_use]
pub fn render(view: &View) -> String {
    let now = now_secs();
    let head = [
        "Hostname",
        "Address",
        "Version",
        "Generation",
        "Current",
        "Reboot Required",
        "State",
        "Last Seen",
    ];
    let rows: Vec<[String; 8]> = view
        .nodes
        .iter()
        .map(|r| {
            let version = match (&r.staged_version, &r.admission) {
                (Some(s), Some(a)) if a.starts_with("waiting") => {
                    format!("{} (staged {s}, waiting for admission)", r.version)
                }
                (Some(s), Some(a)) if a.starts_with("admitted") => {
                    format!("{} (staged {s}, admitted)", r.version)
                }
                (Some(s), _) => format!("{} (staged {s})", r.version),
                (None, _) => r.version.clone(),
            };
            let mut state = match &r.reason {
                Some(why) if r.state != "awaiting-reboot" => format!("{} ({why})", r.state),
                _ => r.state.clone(),
            };
            // What a reboot hook says about the node (not for one whose lease expired: what
            // it last said may be stale).
            if r.state != "unreachable" {
                for why in [&r.not_back, &r.reboot_held_back].into_iter().flatten() {
                    state.push_str(&format!("; {why}"));
                }
            }
            [
                r.host.clone(),
                r.address.clone(),
                version,
                r.generation.to_string(),
                if r.current { "Yes" } else { "No" }.into(),
                if r.reboot_required { "Yes" } else { "No" }.into(),
                state,
                ago(r.last_seen, now),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::with_capacity(rows.len() * 100 + 200);
    let line = |cells: &[&str], out: &mut String| {
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(c);
                for _ in c.chars().count()..w + 2 {
                    out.push(' ');
                }
            }
        }
        out.push('\n');
    };
    line(&head, &mut out);
    let rule: Vec<String> = width.iter().map(|w| "=".repeat(*w)).collect();
    line(
        &rule.iter().map(String::as_str).collect::<Vec<_>>(),
        &mut out,
    );
    for r in &rows {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>(), &mut out);
    }
    out.push('\n');
    out.push_str(&view.summary);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::listing::tests::node;
    use crate::fleet::record::NodeState;

    #[test]
    fn summary_counts_every_node_and_never_drops_the_unreachable() {
        let nodes = vec![
            node("a", 2, NodeState::Applied, true),
            node("b", 2, NodeState::AwaitingReboot("sysctl".into()), true),
            node("c", 1, NodeState::Applied, false),
            Listed {
                id: "d".into(),
                alive: true,
                record: Err(crate::fleet::listing::Unusable(
                    "the record says group \"x\"".into(),
                )),
            },
        ];
        let v = build("g", 2, &nodes);
        assert_eq!(
            v.summary,
            "generation 2 applied on 2/4, 1 waiting for a reboot, 1 unreachable, 1 with an invalid record"
        );
        let text = render(&v);
        assert!(text.starts_with("Hostname"), "{text}");
        assert!(text.contains("unreachable (its lease expired"), "{text}");
        assert_eq!(text.lines().count(), 2 + 4 + 2);
    }

    #[test]
    fn a_node_not_back_after_its_reboot_is_shown_and_counted() {
        let mut back = node("a", 1, NodeState::Applied, true);
        let mut held = node("b", 1, NodeState::Applied, true);
        let mut gone = node("c", 1, NodeState::Applied, false);
        for (n, why) in [
            (&mut back, None),
            (&mut held, Some("held")),
            (&mut gone, None),
        ] {
            if let Ok(r) = &mut n.record {
                r.agent.not_back = Some("not back in service: the post-boot hook failed".into());
                r.agent.reboot_held_back = why.map(|w| format!("no reboot: {w}"));
            }
        }
        let v = build("g", 1, &[back, held, gone]);
        assert!(
            v.summary.contains(", 2 not back in service after a reboot (post-boot hook), 1 with a reboot held back (pre-reboot hook)"),
            "{}",
            v.summary
        );
        let text = render(&v);
        let line = |host: &str| {
            text.lines()
                .find(|l| l.starts_with(host))
                .unwrap()
                .to_string()
        };
        assert!(
            line("host-b").contains(
                "applied; not back in service: the post-boot hook failed; no reboot: held"
            ),
            "{text}"
        );
        // What an unreachable node last said may be stale: not shown.
        assert!(!line("host-c").contains("not back"), "{text}");
    }
}
