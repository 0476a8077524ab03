//! coreos-cloudinit's `$public_ipv4`-style substitution: which variables there are, where a
//! text uses them, the substituted text, and the map ([`SubstitutionMap`]) that moves a
//! span of the substituted text back onto the text as written.

use std::collections::BTreeMap;

use crate::diagnostic::{Finding, Span};
use crate::plan::Plan;

pub use crate::model::VARIABLES;

/// Each `$name` occurrence (not escaped) in `text`: (byte offset, variable).
pub(super) fn occurrences(text: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('$') {
        if i > 0 && text.as_bytes()[i - 1] == b'\\' {
            continue;
        }
        if let Some(var) = VARIABLES.iter().find(|v| text[i + 1..].starts_with(**v)) {
            out.push((i, *var));
        }
    }
    out
}

/// The variables `text` uses (each unescaped `$name`), for callers that must find every
/// value before compiling (a fleet node, `fleet diff`).
#[must_use]
pub fn variables_used(text: &str) -> std::collections::BTreeSet<&'static str> {
    occurrences(text).into_iter().map(|(_, v)| v).collect()
}

/// Substitute the variables as coreos-cloudinit does: `$name` -> value, `\$name` -> `$name`.
#[must_use]
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    substitute_mapped(text, vars).0
}

/// One range the substitution replaced: the `$name` (or `\$name`) token in the text as
/// written, and what took its place in the substituted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Replaced {
    written: Span,
    substituted: Span,
}

/// Where the substituted text came from: every replaced range, in order, so that a span
/// into the substituted text can be moved back into the text as written (the text the
/// user edits, and the one findings and plans are reported against).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubstitutionMap {
    replaced: Vec<Replaced>,
}

impl SubstitutionMap {
    /// Whether nothing was replaced (the two texts are the same).
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.replaced.is_empty()
    }

    /// The start of a span of the substituted text, in the text as written: inside a
    /// substituted value (or, for a zero-width span, `take_empty`, at the place of an empty
    /// one) it is the start of the token the value replaced; elsewhere it moves by the
    /// length differences of the replacements before it.
    fn start(&self, at: usize, take_empty: bool) -> usize {
        let mut mapped = at;
        for r in &self.replaced {
            if r.substituted.start > at {
                break;
            }
            mapped = if at < r.substituted.end || (at == r.substituted.start && take_empty) {
                r.written.start
            } else {
                at - r.substituted.end + r.written.end
            };
        }
        mapped
    }

    /// The end of a span of the substituted text, in the text as written: inside (or at the
    /// end of) a substituted value it is the end of the token the value replaced. A span
    /// that ends right before a value does not take the value's token in, except a
    /// zero-width span at the place of an empty value (`take_empty`), which has nothing
    /// else to point at.
    fn end(&self, at: usize, take_empty: bool) -> usize {
        let mut mapped = at;
        for r in &self.replaced {
            let empty = r.substituted.start == r.substituted.end;
            if r.substituted.start > at || (r.substituted.start == at && !(empty && take_empty)) {
                break;
            }
            mapped = if at <= r.substituted.end {
                r.written.end
            } else {
                at - r.substituted.end + r.written.end
            };
        }
        mapped
    }

    /// A span of the substituted text as a span of the text as written. A span that falls
    /// inside a substituted value covers the whole `$name` token it came from.
    #[must_use]
    pub fn span(&self, span: Span) -> Span {
        let zero_width = span.start == span.end;
        let start = self.start(span.start, zero_width);
        let end = self.end(span.end, zero_width);
        Span::new(start, end.max(start))
    }

    /// A finding about the substituted text, moved onto the text as written (its related
    /// places too).
    #[must_use]
    pub fn finding(&self, mut finding: Finding) -> Finding {
        finding.span = self.span(finding.span);
        for r in &mut finding.related {
            r.span = self.span(r.span);
        }
        finding
    }

    /// A plan of the substituted text, its spans moved onto the text as written.
    #[must_use]
    pub fn plan(&self, mut plan: Plan) -> Plan {
        for f in &mut plan.files {
            f.span = self.span(f.span);
        }
        for a in &mut plan.actions {
            a.span = self.span(a.span);
        }
        plan
    }
}

/// [`substitute`], and the map from the substituted text back to `text`.
#[must_use]
pub fn substitute_mapped(text: &str, vars: &BTreeMap<String, String>) -> (String, SubstitutionMap) {
    let mut out = String::with_capacity(text.len());
    let mut map = SubstitutionMap::default();
    let mut rest = text;
    // Where `rest` starts in `text`.
    let mut offset = 0;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        let var = VARIABLES.iter().find(|v| after.starts_with(**v));
        let consumed = match var {
            Some(var) if i > 0 && rest.as_bytes()[i - 1] == b'\\' => {
                out.push_str(&rest[..i - 1]);
                let at = out.len();
                out.push('$');
                out.push_str(var);
                map.replaced.push(Replaced {
                    written: Span::new(offset + i - 1, offset + i + 1 + var.len()),
                    substituted: Span::new(at, out.len()),
                });
                i + 1 + var.len()
            }
            Some(var) => {
                out.push_str(&rest[..i]);
                let at = out.len();
                out.push_str(vars.get(*var).map_or("", String::as_str));
                map.replaced.push(Replaced {
                    written: Span::new(offset + i, offset + i + 1 + var.len()),
                    substituted: Span::new(at, out.len()),
                });
                i + 1 + var.len()
            }
            None => {
                out.push_str(&rest[..=i]);
                i + 1
            }
        };
        rest = &rest[consumed..];
        offset += consumed;
    }
    out.push_str(rest);
    (out, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_as_coreos_cloudinit() {
        let mut vars = BTreeMap::new();
        vars.insert("private_ipv4".to_string(), "10.0.0.2".to_string());
        assert_eq!(
            substitute("a $private_ipv4:4001 b", &vars),
            "a 10.0.0.2:4001 b"
        );
        assert_eq!(
            substitute("\\$private_ipv4 $HOME $", &vars),
            "$private_ipv4 $HOME $"
        );
        assert_eq!(substitute("$public_ipv4", &vars), "");
        assert_eq!(
            occurrences("x \\$public_ipv4 $public_ipv4 $private_ipv6"),
            vec![(16, "public_ipv4"), (29, "private_ipv6")]
        );
    }

    #[test]
    fn the_map_moves_spans_back_onto_the_text_as_written() {
        // Replacements that shorten (`$private_ipv4` -> 10.0.0.2), lengthen (`$public_ipv6`),
        // empty (`$public_ipv4`) and unescape (`\$private_ipv6`), all on one line.
        let text = "a $private_ipv4 b $public_ipv6 c $public_ipv4 d \\$private_ipv6 e";
        let vars: BTreeMap<String, String> = [
            ("private_ipv4", "10.0.0.2"),
            ("public_ipv6", "2001:db8:0:0:0:0:0:10"),
            ("public_ipv4", ""),
        ]
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .into();
        let (out, map) = substitute_mapped(text, &vars);
        assert_eq!(out, substitute(text, &vars));
        assert_eq!(
            out,
            "a 10.0.0.2 b 2001:db8:0:0:0:0:0:10 c  d $private_ipv6 e"
        );
        let back = |sub: &str| {
            let start = out.find(sub).unwrap();
            let span = map.span(Span::new(start, start + sub.len()));
            &text[span.start..span.end]
        };
        // Text outside the values moves by the length differences before it.
        assert_eq!(back("a "), "a ");
        assert_eq!(back(" b "), " b ");
        assert_eq!(back(" c "), " c ");
        assert_eq!(back("c  d"), "c $public_ipv4 d");
        assert_eq!(back(" d "), " d ");
        assert_eq!(back(" e"), " e");
        // A span inside a value, or over it, covers the whole token.
        assert_eq!(back("10.0.0.2"), "$private_ipv4");
        assert_eq!(back("0.0"), "$private_ipv4");
        assert_eq!(back("db8"), "$public_ipv6");
        assert_eq!(back("b 2001"), "b $public_ipv6");
        assert_eq!(back("$private_ipv6"), "\\$private_ipv6");
        // A zero-width span at the place of an empty value takes in its token; one at a
        // non-empty value's start stays zero-width at the token's start.
        let empty = out.find(" d ").unwrap() - 1;
        let s = map.span(Span::new(empty + 1, empty + 1));
        assert_eq!(&text[s.start..s.end], "$public_ipv4");
        let s = map.span(Span::new(2, 2));
        assert_eq!(s, Span::new(2, 2));
        // The end of the text maps to the end of the text.
        assert_eq!(map.span(Span::new(out.len(), out.len())).start, text.len());
        // Nothing replaced: the identity.
        let (same, none) = substitute_mapped("x $HOME $", &vars);
        assert_eq!(same, "x $HOME $");
        assert!(none.is_identity());
        assert_eq!(none.span(Span::new(2, 7)), Span::new(2, 7));
    }
}
