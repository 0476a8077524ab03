//! What kind of user-data a text is, decided exactly as coreos-cloudinit's validator does.
//!
//! Order: empty, `#!` script, Ignition JSON, a `## template:` header (kindling's templates,
//! recognised exactly as cloud-init does: `##`, optional blanks, `template:` in any case),
//! `#cloud-config`, a `Content-Type: multipart/...` MIME message (as Flatcar's
//! coreos-cloudinit, whose validator passes it unchecked), else an error on line 1.
//! The header must be the whole first line, case-sensitive, with only trailing white
//! space (a CR included) allowed. Where the first line is a near miss (a BOM, leading
//! blanks, other case, a trailing comment, a Butane file, a MIME message that is not
//! multipart) the help says
//! exactly what to change.

pub use super::markers::HEADER;
pub(super) use super::markers::is_ignition;
use crate::diagnostic::{Finding, Span};
use crate::rules;

/// The kinds of user-data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserData {
    /// Zero bytes: nothing to do.
    Empty,
    /// First line starts with `#!`: run as a script on the node, not validated.
    Script,
    /// A JSON Ignition config.
    Ignition,
    /// A `#cloud-config`.
    CloudConfig,
    /// A template: a `## template: <renderer>` first line, rendered per node before it
    /// is a cloud-config (see `crate::template`).
    Template,
    /// A `Content-Type: multipart/...` MIME message (Flatcar's coreos-cloudinit reads its
    /// parts; see `source::multipart`).
    Multipart,
    /// None of the above.
    Unrecognized,
}

/// A kind kindling does not validate, with the `source::skipped` finding saying so.
fn skipped(kind: UserData, span: Span, message: &str, help: &str) -> (UserData, Option<Finding>) {
    let finding = rules::source_skipped::RULE
        .at(span, message)
        .with_help(help);
    (kind, Some(finding))
}

/// Classify `text`; the finding says what was found when it is not a cloud-config.
#[must_use]
pub fn classify(text: &str) -> (UserData, Option<Finding>) {
    if text.is_empty() {
        return (
            UserData::Empty,
            Some(rules::source_skipped::RULE.at(
                Span::point(0),
                "the user-data is empty: there is nothing to apply",
            )),
        );
    }
    let first = text.split('\n').next().unwrap_or("");
    let first_span = Span::new(0, first.len());
    if first.starts_with("#!") {
        return skipped(
            UserData::Script,
            first_span,
            "this user-data is a script: coreos-cloudinit runs it with /bin/bash; it is not validated",
            "nothing to check here; a node runs the script whatever its #! line names",
        );
    }
    if is_ignition(text) {
        return skipped(
            UserData::Ignition,
            first_span,
            "this user-data is an Ignition config, not a cloud-config; kindling does not validate it",
            "check it with `ignition-validate`; nodes with Ignition apply it on first boot",
        );
    }
    if first.trim_end() == HEADER {
        return (UserData::CloudConfig, None);
    }
    if super::multipart::is_multipart(text) {
        return (
            UserData::Multipart,
            Some(rules::source_multipart::RULE.at(
                first_span,
                "this user-data is multipart MIME: Flatcar's coreos-cloudinit applies it part by part; CoreOS Container Linux's rejects it",
            )),
        );
    }
    if template_renderer(first).is_some() {
        return (UserData::Template, None);
    }
    let help = near_miss_help(text, first);
    (
        UserData::Unrecognized,
        Some(
            rules::source_not_cloud_config::RULE
                .at(
                    first_span,
                    "the user-data must start with the line \"#cloud-config\" or with \"#!\"",
                )
                .with_help(help),
        ),
    )
}

/// The renderer a template header names (`jinja` for `## template: jinja`), lower-cased,
/// when `first_line` is a template header as cloud-init reads it (`##\s*template:(.*)`,
/// case-insensitive, anchored at the start of the line).
#[must_use]
pub fn template_renderer(first_line: &str) -> Option<String> {
    let rest = first_line.strip_prefix("##")?.trim_start();
    let keyword = rest.get(..9)?;
    if !keyword.eq_ignore_ascii_case("template:") {
        return None;
    }
    Some(rest[9..].trim().to_ascii_lowercase())
}

fn near_miss_help(text: &str, first: &str) -> String {
    let trimmed = first.trim_end();
    if let Some(rest) = trimmed.strip_prefix('\u{feff}')
        && rest.trim_end() == HEADER
    {
        return "remove the UTF-8 byte order mark before #cloud-config; nodes compare the first line byte for byte".into();
    }
    if trimmed.trim_start() == HEADER {
        return "remove the blanks before #cloud-config; it must start the first line".into();
    }
    if trimmed.eq_ignore_ascii_case(HEADER) {
        return "the header is case-sensitive: write it as #cloud-config".into();
    }
    if trimmed.starts_with(HEADER) {
        return "nothing may follow #cloud-config on the first line; move the comment to the next line".into();
    }
    if trimmed.starts_with("Content-Type: multipart") || trimmed.starts_with("MIME-Version") {
        return "a MIME user-data must be multipart/mixed (as `cloud-init devel make-mime` writes it), with a text/cloud-config part; or send the #cloud-config on its own".into();
    }
    let lines: Vec<&str> = text.lines().take(40).collect();
    if lines.iter().any(|l| l.starts_with("variant:")) {
        return "this looks like a Butane config (it has `variant:`); compile it with butane to Ignition instead".into();
    }
    if lines.iter().any(|l| l.trim() == HEADER) {
        return "#cloud-config must be the very first line; move it to the top".into();
    }
    if lines.iter().any(|l| {
        [
            "coreos:",
            "write_files:",
            "write-files:",
            "users:",
            "ssh_authorized_keys:",
            "hostname:",
        ]
        .iter()
        .any(|k| l.starts_with(k))
    }) {
        return "add the line #cloud-config at the top; without it nodes ignore the whole file"
            .into();
    }
    "start a cloud-config with the line #cloud-config, or a script with #!".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> UserData {
        classify(text).0
    }

    #[test]
    fn header_rules_match_coreos_cloudinit() {
        assert_eq!(kind("#cloud-config\n"), UserData::CloudConfig);
        assert_eq!(kind("#cloud-config  \r\nx: 1"), UserData::CloudConfig);
        assert_eq!(kind("#cloud-config"), UserData::CloudConfig);
        assert_eq!(kind(" #cloud-config\n"), UserData::Unrecognized);
        assert_eq!(kind("#cloud-config # c\n"), UserData::Unrecognized);
        assert_eq!(kind("\u{feff}#cloud-config\n"), UserData::Unrecognized);
        assert_eq!(kind("#Cloud-Config\n"), UserData::Unrecognized);
        assert_eq!(kind("#!/bin/bash\necho"), UserData::Script);
        assert_eq!(kind("#!bin/bash\r\n"), UserData::Script);
        assert_eq!(kind(""), UserData::Empty);
        assert_eq!(kind("{\"ignitionVersion\":1}"), UserData::Ignition);
        assert_eq!(
            kind("{\"ignition\":{\"version\":\"3.3.0\"}}"),
            UserData::Ignition
        );
        assert_eq!(kind("{}"), UserData::Unrecognized);
        assert_eq!(
            kind("## template: jinja\n#cloud-config\n"),
            UserData::Template
        );
        assert_eq!(kind("##template:JINJA\r\n"), UserData::Template);
        assert_eq!(kind("## Template: basic\n"), UserData::Template);
        assert_eq!(kind("# template: jinja\n"), UserData::Unrecognized);
        assert_eq!(
            template_renderer("##  template:  Jinja "),
            Some("jinja".into())
        );
        assert_eq!(
            kind("{\"ignition\":{\"version\":3}}"),
            UserData::Unrecognized
        );
    }

    #[test]
    fn near_misses_get_specific_help() {
        let help = |t: &str| classify(t).1.unwrap().help.unwrap();
        assert!(help("  #cloud-config\n").contains("remove the blanks"));
        assert!(help("\u{feff}#cloud-config\n").contains("byte order mark"));
        assert!(help("#CLOUD-CONFIG\n").contains("case-sensitive"));
        assert!(help("coreos:\n  units: []\n").contains("add the line"));
        assert!(help("variant: flatcar\nversion: 1.0.0\n").contains("Butane"));
    }
}
