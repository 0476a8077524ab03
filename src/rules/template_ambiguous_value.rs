//! `kindling::template::ambiguous-value`: a variable written as a YAML 1.1 boolean word.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::template::ambiguous-value",
    severity: Severity::Warning,
    summary: "a variable written as yes/no/on/off/y/n, which kindling reads as text",
    help: "quote it (\"off\") to keep the word, or write true/false for a boolean",
    explanation: "Variables files are read with YAML 1.2's core types: only `true` and `false` \
are booleans, so `reboot_strategy: off` is the word `off` and renders as `off`. cloud-init's \
PyYAML (YAML 1.1) would read it as the boolean False and render `False`, and \
`{% if enabled %}` is true for the word `no`. Either reading surprises someone, so kindling \
asks for quotes or `true`/`false`.",
    example: "$ cat vars.yaml\nstrategy: off\n$ kindling render cloud-config.tmpl --vars vars.yaml\n  ⚠ `off` is the text \"off\" here, not a boolean\n",
    fixed: "$ cat vars.yaml\nstrategy: \"off\"\n$ kindling render cloud-config.tmpl --vars vars.yaml\n#cloud-config\n",
};
