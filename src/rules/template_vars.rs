//! `kindling::template::vars`: a variables file or inventory that kindling cannot use.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::template::vars",
    severity: Severity::Error,
    summary: "a --vars file or --inventory that is not what a template needs",
    help: "a --vars file is a mapping of names to values; an inventory is a list of such mappings (or a CSV file), each with a unique `name`",
    explanation: "Variables files (`--vars`, YAML or JSON) and inventories (`--inventory`: a \
YAML/JSON list of records, or CSV with a header row) are read with the same spanned YAML \
reader as configs, so their mistakes point at their own line and column: a file that is not a \
mapping, a record without a `name`, two records with the same name, a name that cannot be a \
directory under `compile --out`, a key written twice.",
    example: "$ cat fleet.yaml\n- name: web-01\n- role: web\n$ kindling validate cloud-config.tmpl --inventory fleet.yaml\n  × this inventory record has no `name`\n   ╭─[fleet.yaml:2:3]\n",
    fixed: "$ cat fleet.yaml\n- name: web-01\n- name: web-02\n  role: web\n$ kindling validate cloud-config.tmpl --inventory fleet.yaml\n1 file: 0 errors, 0 warnings, 0 infos\n",
};
