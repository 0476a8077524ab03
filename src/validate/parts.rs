//! The parts of a multipart user-data as validation and compile both see them: a part's
//! text as a cloud-config ([`as_cloud_config`]), the map of its spans into the whole file
//! ([`PartMapper`]), and what two parts both write ([`conflicts`]). No I/O.

use std::collections::BTreeMap;

use crate::diagnostic::{Finding, Span};
use crate::plan::{ActionKind, Plan, PlannedFile};
use crate::rules;
use crate::source::SourceFile;
use crate::source::multipart::Part;

/// A part's text as a cloud-config, and how many bytes of it were added in front.
pub fn as_cloud_config(part: &Part) -> (String, usize) {
    let first = part.text.split('\n').next().unwrap_or("").trim_end();
    if first == crate::source::HEADER {
        (part.text.clone(), 0)
    } else {
        let prefix = "#cloud-config\n";
        (format!("{prefix}{}", part.text), prefix.len())
    }
}

/// Moves spans of a part's cloud-config text into the whole file.
pub struct PartMapper<'a> {
    /// The part.
    pub part: &'a Part,
    /// How many bytes `as_cloud_config` added in front of the part's text.
    pub prefix: usize,
}

impl PartMapper<'_> {
    /// A span of the part's cloud-config text, in the whole file.
    pub fn span(&self, span: Span) -> Span {
        match self.part.body_at {
            Some(at) if span.start >= self.prefix => {
                let len = self.part.text.len();
                let start = (span.start - self.prefix).min(len);
                let end = span.end.saturating_sub(self.prefix).clamp(start, len);
                Span::new(at + start, at + end)
            }
            _ => self.part.header,
        }
    }

    /// A finding of the part's text, moved; `local` is the part's own source (for the line
    /// and column a decoded part's message names).
    pub fn finding(&self, mut f: Finding, local: &SourceFile) -> Finding {
        let label = self.part.label();
        if self.part.body_at.is_some() {
            f.message = format!("{label}: {}", f.message);
        } else {
            let p = local.position(f.span.start);
            let line = if self.prefix > 0 {
                p.line.saturating_sub(1).max(1)
            } else {
                p.line
            };
            f.message = format!(
                "{label}, line {line} column {} of its {}-decoded text (a decoded part can only be pointed at by its header): {}",
                p.column,
                self.part.decoded.join("+"),
                f.message
            );
        }
        f.span = self.span(f.span);
        for r in &mut f.related {
            r.span = self.span(r.span);
        }
        f
    }

    /// A plan of the part, its spans in the whole file and its origins naming the part.
    pub fn plan(&self, mut plan: Plan) -> Plan {
        for f in &mut plan.files {
            f.span = self.span(f.span);
            f.origin = format!("part {} {}", self.part.number, f.origin);
        }
        for a in &mut plan.actions {
            a.span = self.span(a.span);
        }
        plan
    }
}

/// Whether `f` is the `/etc/hostname` a `hostname` key plans (origin `hostname`, or
/// `part N hostname` once moved into the whole file).
pub fn from_hostname_key(f: &PlannedFile) -> bool {
    f.path == "/etc/hostname" && (f.origin == "hostname" || f.origin.ends_with(" hostname"))
}

fn unit_of(path: &str) -> Option<&str> {
    ["/etc/systemd/system/", "/run/systemd/system/"]
        .iter()
        .find_map(|d| path.strip_prefix(d))
}

/// What two parts both write (files, units) and hostnames a later part names in vain.
pub fn conflicts(plans: &[(usize, Plan)]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut files: BTreeMap<&str, (usize, &PlannedFile)> = BTreeMap::new();
    let mut hostname: Option<(usize, &str, Span)> = None;
    for (number, plan) in plans {
        for f in &plan.files {
            if from_hostname_key(f) {
                continue;
            }
            if let Some((earlier, g)) = files.get(f.path.as_str())
                && (g.content != f.content || g.mode != f.mode || g.owner != f.owner)
            {
                let what = match unit_of(&f.path) {
                    Some(unit) => format!("defines unit {unit}"),
                    None => format!("writes {}", f.path),
                };
                out.push(
                    rules::source_multipart_conflict::RULE
                        .at(
                            f.span,
                            format!(
                                "part {number} {what}, which part {earlier} also does; part {number}'s wins, as the parts apply in order"
                            ),
                        )
                        .with_related(g.span, format!("part {earlier}'s")),
                );
            }
            files.insert(&f.path, (*number, f));
        }
        for a in &plan.actions {
            if let ActionKind::SetHostname { hostname: h } = &a.kind {
                match hostname {
                    None => hostname = Some((*number, h, a.span)),
                    Some((first, name, span)) if name != h => out.push(
                        rules::source_multipart_conflict::RULE
                            .at(
                                a.span,
                                format!(
                                    "part {number} names hostname {h:?}, but part {first}'s {name:?} wins: the first part that names a hostname does, as in coreos-cloudinit"
                                ),
                            )
                            .with_related(span, format!("part {first}'s hostname")),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
    out
}
