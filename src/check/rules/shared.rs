//! What several checks do the same way: the present (non-empty) value of an optional
//! key, the entries missing one, the keys seen a second time, the `write_files` paths as
//! the node reads them, a key of `coreos.update`, and a unit systemd refuses to load.

use std::collections::HashMap;
use std::hash::Hash;

use crate::check::Context;
use crate::check::UnitDoc;
use crate::diagnostic::{Finding, Rule, Span};
use crate::model::{Spanned, Update};
use crate::root::clean;

/// The value, when it is there and not empty.
#[must_use]
pub fn present(value: Option<&Spanned<String>>) -> Option<&Spanned<String>> {
    value.filter(|v| !v.value.is_empty())
}

/// The span of each entry whose `key` is missing or empty.
pub fn missing<'a, T: 'a>(
    entries: impl Iterator<Item = &'a Spanned<T>>,
    key: impl Fn(&'a T) -> Option<&'a Spanned<String>>,
) -> impl Iterator<Item = Span> {
    entries
        .filter(move |e| present(key(&e.value)).is_none())
        .map(|e| e.span)
}

/// Each key that came before, in order: (key, its span, the span it had last time).
pub fn repeated<K: Eq + Hash + Clone>(
    items: impl Iterator<Item = (K, Span)>,
) -> Vec<(K, Span, Span)> {
    let mut seen = HashMap::new();
    items
        .filter_map(|(key, span)| {
            seen.insert(key.clone(), span)
                .map(|before| (key, span, before))
        })
        .collect()
}

/// Each `write_files` path that is set, with the path cleaned as the node reads it.
pub fn file_paths<'a>(cx: &'a Context<'_>) -> impl Iterator<Item = (&'a Spanned<String>, String)> {
    cx.config
        .write_files()
        .filter_map(|f| present(f.value.path.as_ref()))
        .map(|path| (path, clean(&path.value)))
}

/// A key of `coreos.update`, when the section and the key are there.
pub fn update_key<'a, T>(
    cx: &'a Context<'_>,
    key: impl Fn(&'a Update) -> Option<&'a T>,
) -> Option<&'a T> {
    cx.config.update().and_then(|u| key(&u.value))
}

/// A finding at the unit's name: systemd refuses to load it, and `why`.
#[must_use]
pub fn refused(rule: &'static Rule, doc: &UnitDoc<'_>, why: &str) -> Finding {
    rule.at(
        doc.name_span(),
        format!("{} {why}; systemd refuses to load it", doc.name),
    )
}
