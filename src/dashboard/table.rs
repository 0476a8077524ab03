//! The nodes table's query: filtering, sorting and paging done on the server over the rows
//! `fleet status` builds (`crate::fleet::view::Row`), so a browser is never sent 10,000
//! rows. Pure: the same rows and query give the same page. A query string that names an
//! unknown sort key, state or a page past the end is read leniently (the default, the last
//! page), never refused: it comes from a link or a form.

use serde::Deserialize;

use crate::fleet::view::Row;

/// The most rows on one page.
pub const MAX_PER_PAGE: usize = 500;
/// Rows on a page unless asked otherwise.
pub const DEFAULT_PER_PAGE: usize = 100;

/// The columns a table can be sorted by.
pub const SORT_KEYS: [(&str, &str); 7] = [
    ("host", "Hostname"),
    ("address", "Address"),
    ("version", "Version"),
    ("generation", "Generation"),
    ("state", "State"),
    ("reboot", "Reboot required"),
    ("seen", "Last seen"),
];

/// The query of `/nodes` (every field optional).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Query {
    /// The group (the first served group when empty).
    pub group: String,
    /// A substring of the hostname, address or machine id (case-insensitive).
    pub q: String,
    /// Only nodes in this state (`applied`, `failed`, `unreachable`, ...).
    pub state: String,
    /// Only nodes running this version.
    pub version: String,
    /// The sort key (one of [`SORT_KEYS`]; hostname otherwise).
    pub sort: String,
    /// `desc` for descending.
    pub order: String,
    /// The page, from 1.
    pub page: usize,
    /// Rows per page (at most [`MAX_PER_PAGE`]).
    pub per: usize,
}

impl Query {
    /// Rows per page as served.
    #[must_use]
    pub fn per_page(&self) -> usize {
        match self.per {
            0 => DEFAULT_PER_PAGE,
            n => n.min(MAX_PER_PAGE),
        }
    }

    /// The query string of this query on page `page` (for the pager's links).
    #[must_use]
    pub fn with_page(&self, page: usize) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("group", self.group.as_str()),
            ("q", self.q.as_str()),
            ("state", self.state.as_str()),
            ("version", self.version.as_str()),
            ("sort", self.sort.as_str()),
            ("order", self.order.as_str()),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", crate::lock::query_escape(v)));
            }
        }
        if self.per != 0 {
            parts.push(format!("per={}", self.per_page()));
        }
        parts.push(format!("page={page}"));
        parts.join("&")
    }
}

/// One page of the table.
#[derive(Debug)]
pub struct Page<'a> {
    /// The rows of this page.
    pub rows: Vec<&'a Row>,
    /// Rows that matched the filter.
    pub matched: usize,
    /// This page (from 1).
    pub page: usize,
    /// Pages in all (at least 1).
    pub pages: usize,
}

fn matches(row: &Row, query: &Query, needle: &str) -> bool {
    (query.state.is_empty() || row.state == query.state)
        && (query.version.is_empty() || row.version == query.version)
        && (needle.is_empty()
            || row.host.to_lowercase().contains(needle)
            || row.address.to_lowercase().contains(needle)
            || row.id.to_lowercase().contains(needle))
}

/// Filter, sort and cut out the page `query` asks for.
#[must_use]
pub fn page<'a>(rows: &'a [Row], query: &Query) -> Page<'a> {
    let needle = query.q.trim().to_lowercase();
    let mut hits: Vec<&Row> = rows.iter().filter(|r| matches(r, query, &needle)).collect();
    let by_host = |a: &&Row, b: &&Row| a.host.cmp(&b.host).then_with(|| a.id.cmp(&b.id));
    match query.sort.as_str() {
        "address" => hits.sort_by(|a, b| a.address.cmp(&b.address).then_with(|| by_host(a, b))),
        "version" => hits.sort_by(|a, b| {
            let (va, vb) = (
                semver::Version::parse(&a.version).ok(),
                semver::Version::parse(&b.version).ok(),
            );
            va.cmp(&vb)
                .then_with(|| a.version.cmp(&b.version))
                .then_with(|| by_host(a, b))
        }),
        "generation" => {
            hits.sort_by(|a, b| a.generation.cmp(&b.generation).then_with(|| by_host(a, b)));
        }
        "state" => hits.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| by_host(a, b))),
        "reboot" => hits.sort_by(|a, b| {
            a.reboot_required
                .cmp(&b.reboot_required)
                .then_with(|| by_host(a, b))
        }),
        "seen" => hits.sort_by(|a, b| a.last_seen.cmp(&b.last_seen).then_with(|| by_host(a, b))),
        // The rows come sorted by hostname already (`view::build`).
        _ => {}
    }
    if query.order == "desc" {
        hits.reverse();
    }
    let per = query.per_page();
    let matched = hits.len();
    let pages = matched.div_ceil(per).max(1);
    let page = query.page.clamp(1, pages);
    let rows = hits.into_iter().skip((page - 1) * per).take(per).collect();
    Page {
        rows,
        matched,
        page,
        pages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::listing::tests::node;
    use crate::fleet::record::NodeState;

    fn rows(n: usize) -> Vec<Row> {
        let nodes: Vec<_> = (0..n)
            .map(|i| {
                let state = if i % 3 == 0 {
                    NodeState::Failed("boom".into())
                } else {
                    NodeState::Applied
                };
                let mut l = node(&format!("{i:04}"), (i % 4) as u64, state, i % 5 != 0);
                if let Ok(r) = &mut l.record {
                    r.agent.running_version = if i % 2 == 0 { "1.10.0" } else { "1.9.0" }.into();
                }
                l
            })
            .collect();
        crate::fleet::view::build("g", 3, &nodes).nodes
    }

    #[test]
    fn filters_sort_and_pages_are_done_here() {
        let rows = rows(250);
        let all = page(&rows, &Query::default());
        assert_eq!((all.matched, all.pages, all.rows.len()), (250, 3, 100));
        assert_eq!(all.rows[0].host, "host-0000");
        let failed = page(
            &rows,
            &Query {
                state: "failed".into(),
                ..Query::default()
            },
        );
        // Every third node failed, but every fifth is unreachable whatever it reported.
        let expect = (0..250).filter(|i| i % 3 == 0 && i % 5 != 0).count();
        assert_eq!(failed.matched, expect);
        assert!(failed.rows.iter().all(|r| r.state == "failed"));
        let q = page(
            &rows,
            &Query {
                q: "HOST-012".into(),
                ..Query::default()
            },
        );
        assert_eq!(q.matched, 10);
        // Versions sort as versions: 1.9.0 before 1.10.0.
        let v = page(
            &rows,
            &Query {
                sort: "version".into(),
                order: "desc".into(),
                per: 1000,
                ..Query::default()
            },
        );
        assert_eq!(v.rows.len(), MAX_PER_PAGE.min(250));
        assert_eq!(v.rows[0].version, "1.10.0");
        assert_eq!(v.rows[249].version, "1.9.0");
        // A page past the end is the last page.
        let last = page(
            &rows,
            &Query {
                page: 99,
                ..Query::default()
            },
        );
        assert_eq!((last.page, last.rows.len()), (3, 50));
        assert_eq!(
            Query {
                q: "a b&c".into(),
                ..Query::default()
            }
            .with_page(2),
            "q=a+b%26c&page=2"
        );
    }
}
