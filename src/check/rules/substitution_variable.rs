//! `kindling::substitution::variable`: `$private_ipv4`-style variables.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::substitution_variable`].

use crate::check::Context;
use crate::diagnostic::{Finding, Span};
use crate::rules::substitution_variable::RULE;

/// Report each variable once, at its first use.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let text = &cx.source.text;
    for var in crate::model::VARIABLES {
        let needle = format!("${var}");
        let uses: Vec<usize> = text
            .match_indices(&needle)
            .map(|(i, _)| i)
            .filter(|&i| i == 0 || text.as_bytes()[i - 1] != b'\\')
            .collect();
        if let Some(&first) = uses.first() {
            let times = if uses.len() == 1 {
                String::new()
            } else {
                format!(" (used {} times)", uses.len())
            };
            out.push(RULE.at(
                Span::new(first, first + needle.len()),
                format!("{needle} is empty on nodes whose metadata has no {var}{times}"),
            ));
        }
    }
}
