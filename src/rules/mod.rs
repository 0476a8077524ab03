//! The rule catalogue, data only: one file per rule, each holding just its `RULE` (code,
//! severity, summary, help, book text, failing and fixed example); [`ALL`] lists them,
//! [`find`] looks one up by code, [`book_page`] and [`codes_page`] render the book.
//!
//! The catalogue depends on nothing but `diagnostic`, so every stage above it (source,
//! model, check, compile, template, ...) may name a rule's `RULE` to report under it. What
//! looks for a rule's findings lives elsewhere: the checks over a whole config in
//! `check::rules` (one file per rule, listed in `check::rules::CHECKS`), a key's value
//! check in `model::values` (named by the key's `@valid` in its `section!` table).
//!
//! Adding a rule means adding its file, a `mod` line and a line in [`ALL`], then its check
//! (a file in `check/rules/` and a line in `CHECKS`, or a value rule). A test renders every
//! rule's book page and fails when `book/src/codes/` is out of date, and runs every
//! example and fixed example.

use crate::diagnostic::Rule;

pub mod compile_ignition;
pub mod compile_unset_variable;
pub mod compile_unsupported_input;
pub mod etcd2_proxy;
pub mod etcd_discovery_url;
pub mod hostname_invalid;
pub mod lint_unused_suppression;
pub mod locksmith_window_ignored;
pub mod locksmith_window_length;
pub mod locksmith_window_pair;
pub mod locksmith_window_start;
pub mod manage_etc_hosts;
pub mod portability_hyphen_keys;
pub mod reader_ignored;
pub mod reader_not_read;
pub mod reader_rejected;
pub mod source_gzip;
pub mod source_multipart;
pub mod source_multipart_conflict;
pub mod source_multipart_malformed;
pub mod source_multipart_skipped;
pub mod source_not_cloud_config;
pub mod source_skipped;
pub mod source_utf8;
pub mod structure_deprecated_key;
pub mod structure_empty_value;
pub mod structure_incorrect_type;
pub mod structure_line_break;
pub mod structure_root;
pub mod structure_unknown_key;
pub mod substitution_variable;
pub mod template_ambiguous_value;
pub mod template_header;
pub mod template_limits;
pub mod template_render;
pub mod template_syntax;
pub mod template_undefined;
pub mod template_vars;
pub mod units_command;
pub mod units_drop_in_incomplete;
pub mod units_drop_in_name;
pub mod units_duplicate_name;
pub mod units_enable_without_install;
pub mod units_exec_not_executable;
pub mod units_invalid_value;
pub mod units_missing_exec_start;
pub mod units_missing_name;
pub mod units_name;
pub mod units_network_command;
pub mod units_section;
pub mod units_service_refused;
pub mod units_timer_never_started;
pub mod units_timer_target;
pub mod units_unknown_directive;
pub mod update_agent;
pub mod update_agent_setting_ignored;
pub mod update_check_timing;
pub mod update_duplicate_signing_key;
pub mod update_etcd_lock_without_etcd;
pub mod update_health_check;
pub mod update_insecure_server;
pub mod update_maintenance_window;
pub mod update_no_signing_keys;
pub mod update_proxy;
pub mod update_reboot_hooks;
pub mod update_reboot_manager;
pub mod update_reboot_strategy;
pub mod update_signing_key;
pub mod users_missing_name;
pub mod write_files_duplicate_path;
pub mod write_files_encoding;
pub mod write_files_generated_conflict;
pub mod write_files_missing_content;
pub mod write_files_missing_path;
pub mod write_files_permissions;
pub mod write_files_read_only;
pub mod write_files_special_bits;
pub mod write_files_undecodable;
pub mod write_files_under_coreos;
pub mod yaml_duplicate_key;
pub mod yaml_limits;
pub mod yaml_multiple_documents;
pub mod yaml_syntax;

/// Every rule, in the order the book lists them.
pub static ALL: &[&Rule] = &[
    &source_not_cloud_config::RULE,
    &source_skipped::RULE,
    &source_gzip::RULE,
    &source_utf8::RULE,
    &source_multipart::RULE,
    &source_multipart_malformed::RULE,
    &source_multipart_skipped::RULE,
    &source_multipart_conflict::RULE,
    &yaml_syntax::RULE,
    &yaml_limits::RULE,
    &yaml_duplicate_key::RULE,
    &yaml_multiple_documents::RULE,
    &structure_root::RULE,
    &structure_unknown_key::RULE,
    &structure_deprecated_key::RULE,
    &structure_incorrect_type::RULE,
    &structure_empty_value::RULE,
    &structure_line_break::RULE,
    &update_reboot_strategy::RULE,
    &update_proxy::RULE,
    &update_maintenance_window::RULE,
    &update_agent::RULE,
    &update_signing_key::RULE,
    &update_duplicate_signing_key::RULE,
    &update_no_signing_keys::RULE,
    &update_health_check::RULE,
    &update_check_timing::RULE,
    &update_agent_setting_ignored::RULE,
    &update_reboot_manager::RULE,
    &update_reboot_hooks::RULE,
    &locksmith_window_start::RULE,
    &locksmith_window_length::RULE,
    &locksmith_window_pair::RULE,
    &units_missing_name::RULE,
    &units_duplicate_name::RULE,
    &units_command::RULE,
    &units_drop_in_incomplete::RULE,
    &units_section::RULE,
    &units_name::RULE,
    &units_unknown_directive::RULE,
    &units_invalid_value::RULE,
    &units_missing_exec_start::RULE,
    &units_service_refused::RULE,
    &units_enable_without_install::RULE,
    &units_network_command::RULE,
    &units_drop_in_name::RULE,
    &units_timer_target::RULE,
    &units_timer_never_started::RULE,
    &write_files_missing_path::RULE,
    &write_files_missing_content::RULE,
    &write_files_duplicate_path::RULE,
    &write_files_permissions::RULE,
    &write_files_special_bits::RULE,
    &write_files_encoding::RULE,
    &write_files_undecodable::RULE,
    &write_files_read_only::RULE,
    &write_files_under_coreos::RULE,
    &users_missing_name::RULE,
    &manage_etc_hosts::RULE,
    &hostname_invalid::RULE,
    &etcd_discovery_url::RULE,
    &etcd2_proxy::RULE,
    &units_exec_not_executable::RULE,
    &update_etcd_lock_without_etcd::RULE,
    &update_insecure_server::RULE,
    &substitution_variable::RULE,
    &write_files_generated_conflict::RULE,
    &locksmith_window_ignored::RULE,
    &portability_hyphen_keys::RULE,
    &reader_ignored::RULE,
    &reader_rejected::RULE,
    &reader_not_read::RULE,
    &lint_unused_suppression::RULE,
    &compile_unset_variable::RULE,
    &compile_unsupported_input::RULE,
    &compile_ignition::RULE,
    &template_header::RULE,
    &template_syntax::RULE,
    &template_undefined::RULE,
    &template_render::RULE,
    &template_limits::RULE,
    &template_vars::RULE,
    &template_ambiguous_value::RULE,
];

/// The rule with this code (with or without the `kindling::` prefix).
#[must_use]
pub fn find(code: &str) -> Option<&'static Rule> {
    let full = if code.starts_with(crate::diagnostic::CODE_PREFIX) {
        code.to_string()
    } else {
        format!("{}{code}", crate::diagnostic::CODE_PREFIX)
    };
    ALL.iter()
        .copied()
        .find(|r| r.code == full || r.slug() == code)
}

/// The rule's page for the book (`book/src/codes/<slug>.md`), also printed by
/// `kindling explain`.
#[must_use]
pub fn book_page(rule: &Rule) -> String {
    let mut page = format!(
        "# `{}`\n\n**Severity:** {} · {}\n\n{}\n\n**Help:** {}\n",
        rule.code, rule.severity, rule.summary, rule.explanation, rule.help
    );
    // Examples are configs, or (for what no config text can show) console transcripts.
    let lang = if rule.example.starts_with("$ ") {
        "console"
    } else {
        "yaml"
    };
    page.push_str(&format!(
        "\n## Example\n\n```{lang}\n{}```\n\n## Fixed\n\n```{lang}\n{}```\n",
        rule.example, rule.fixed
    ));
    page
}

/// The book's index of codes (`book/src/codes.md`).
#[must_use]
pub fn codes_page() -> String {
    let mut page = String::from(
        "# Diagnostic codes\n\n<!-- Generated from src/rules; do not edit. -->\n\n\
Every finding has a stable code. `kindling explain CODE` prints the same page as the book.\n\
Errors fail `kindling validate`; warnings fail it under `--strict`; infos never do.\n\n\
| code | severity | summary |\n|---|---|---|\n",
    );
    for rule in ALL {
        page.push_str(&format!(
            "| [`{}`]({}) | {} | {} |\n",
            rule.code,
            rule.doc_path(),
            rule.severity,
            rule.summary
        ));
    }
    page
}
