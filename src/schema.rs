//! The JSON Schema of the input, generated from the model with schemars.
//!
//! schemars describes the Rust structs; this module adds what the YAML dialect allows on
//! top: every key containing `_` may also be written with `-` (both are listed), and the
//! document gets an `$id`, a title and a description. The result is committed as
//! `schema/cloud-config.json` and a test fails when it drifts.

use serde_json::{Map, Value};

use crate::model::{
    CloudConfig, Coreos, DropIn, FieldSpec, HealthCheck, Kind, Locksmith, MaintenanceWindow, Oem,
    RebootHooks, SectionInfo, Unit, Update, User, WriteFile, legacy,
};

/// Where the schema is committed, relative to the repository root.
pub const PATH: &str = "schema/cloud-config.json";

/// The schema as a JSON value.
#[must_use]
pub fn generate() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<CloudConfig>();
    let mut value = schema.to_value();
    add_hyphen_aliases(&mut value);
    if let Value::Object(root) = &mut value {
        root.insert(
            "$id".into(),
            Value::String("urn:kindling:schema:cloud-config".into()),
        );
        root.insert(
            "title".into(),
            Value::String("kindling #cloud-config".into()),
        );
        root.insert(
            "description".into(),
            Value::String(
                "The coreos-cloudinit #cloud-config dialect as kindling reads it. Keys may be written with - or _. Keys marked x-kindling-extension are kindling extensions. A file whose first line is `## template: jinja` is a template: kindling renders it per node (kindling render/validate/compile with --vars, --var or --inventory) and this schema describes what it renders.".into(),
            ),
        );
    }
    value
}

/// The schema as committed: pretty JSON with a trailing newline.
#[must_use]
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&generate()).unwrap_or_default();
    text.push('\n');
    text
}

fn add_hyphen_aliases(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                let mut extended = Map::new();
                for (key, schema) in std::mem::take(props) {
                    if key.contains('_') {
                        extended.insert(key.replace('_', "-"), schema.clone());
                    }
                    extended.insert(key, schema);
                }
                *props = extended;
            }
            for child in map.values_mut() {
                add_hyphen_aliases(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_hyphen_aliases),
        _ => {}
    }
}

/// The sections of the reference, each with what it is written to.
fn reference_sections() -> [(&'static SectionInfo, &'static str); 16] {
    [
        (&CloudConfig::INFO, "The top level of the document."),
        (&Coreos::INFO, "CoreOS-specific settings."),
        (
            &Update::INFO,
            "Written to `/etc/coreos/update.conf` (`GROUP=`, `REBOOT_STRATEGY=`, `SERVER=`, and \
the kindling agent's `KINDLING_*` keys, which update_engine ignores; time spans are written \
in whole seconds). `agent: kindling` writes and enables `kindling-agent.service` and masks \
update-engine and locksmithd; `signing-keys` become `/etc/kindling/trusted-keys/<KEY ID>.pub`. \
See [Compiling a config](compile.md#the-kindling-agent). `agent: reboot-manager` keeps \
update-engine, masks locksmithd and writes and enables `kindling-reboot-manager.service` \
(`kindling agent reboot-manager`, which reads locksmithd's settings unchanged); see \
[The reboot manager](reboot-manager.md).",
        ),
        (
            &MaintenanceWindow::INFO,
            "Kindling extension: the update-window recipe (a timer, a service and a script).",
        ),
        (
            &HealthCheck::INFO,
            "Kindling extension, read by the kindling agent after booting into an update: \
`units` become `KINDLING_HEALTH_UNITS=` (names separated by a blank), `command` becomes \
`KINDLING_HEALTH_COMMAND=` (run with `/bin/sh -c`, healthy on exit 0).",
        ),
        (
            &RebootHooks::INFO,
            "Kindling extension, read by the kindling agent and the reboot manager: `pre-reboot` \
becomes `KINDLING_PRE_REBOOT_COMMAND=`, `post-boot` `KINDLING_POST_BOOT_COMMAND=`, the timeouts \
`KINDLING_PRE_REBOOT_TIMEOUT=` and `KINDLING_POST_BOOT_TIMEOUT=` in whole seconds. See \
[Kubernetes: drain and uncordon](kubernetes.md).",
        ),
        (
            &Locksmith::INFO,
            "Written as `Environment=` lines of a locksmithd drop-in.",
        ),
        (
            &Unit::INFO,
            "One systemd unit: its file, and what to do with it.",
        ),
        (
            &DropIn::INFO,
            "A drop-in of a unit, written to `<unit>.d/<name>`.",
        ),
        (&WriteFile::INFO, "One file to write."),
        (&User::INFO, "One user to create or update."),
        (
            &Oem::INFO,
            "Written to `/etc/oem-release` when `id` is set.",
        ),
        (
            &legacy::Etcd::INFO,
            "Deprecated: etcd v0.4, written as a drop-in for etcd.service.",
        ),
        (
            &legacy::Etcd2::INFO,
            "Deprecated: etcd2, written as a drop-in for etcd2.service.",
        ),
        (
            &legacy::Fleet::INFO,
            "Deprecated: fleet, written as a drop-in for fleet.service.",
        ),
        (
            &legacy::Flannel::INFO,
            "flannel, written to `/run/flannel/options.env`.",
        ),
    ]
}

/// The reference's opening: how the dialect is read.
const REFERENCE_INTRO: &str = "# The cloud-config dialect\n\n\
<!-- Generated from src/model by `UPDATE_GENERATED=1 cargo test --test integration generated`; do not edit. -->\n\n\
kindling reads the `#cloud-config` dialect of coreos-cloudinit v1.14.0:\n\n\
- The first line is exactly `#cloud-config` (trailing blanks allowed). A `#!` first line is a\n  script, JSON with `ignition.version` is Ignition; both are passed over. Gzip'd user-data is\n  unpacked first. A first line `## template: jinja` makes the file a template, rendered per\n  node before any of this applies (see [Templates](templates.md)).\n\
- Keys may be written with `-` or `_`: `reboot-strategy` and `reboot_strategy` are the same key.\n  Keys are otherwise case-sensitive.\n\
- YAML 1.1, as on the node: a **string** key keeps the text as written, so `permissions: 0644`\n  is the octal text `0644` (never decimal 420) and `reboot-strategy: off` is the word `off`.\n  A **bool** key takes `true/false`, `yes/no`, `on/off`, `y/n` unquoted; a quoted `\"true\"`\n  is a string and is refused. Merge keys (`<<: *anchor`) work.\n\
- Unknown keys are ignored by nodes, so kindling warns about them.\n\n\
Types: *string* (any scalar, text kept), *bool*, *int*, *float64* (a number), *[]string*\n\
(a list of strings), *struct* (a mapping), *[]struct* (a list of mappings).\n";

/// The book's config reference (`book/src/reference.md`), generated from the model's key
/// tables so it cannot drift from what kindling reads.
#[must_use]
pub fn reference_page() -> String {
    let mut page = String::from(REFERENCE_INTRO);
    for (info, about) in reference_sections() {
        let title = if info.path.is_empty() {
            "Top level"
        } else {
            info.path
        };
        page.push_str(&format!(
            "\n## `{title}`\n\n{about}\n\n| key | type | notes |\n|---|---|---|\n"
        ));
        for f in info.fields {
            page.push_str(&field_row(f));
        }
    }
    page.push_str("\n`reboot-strategy` also accepts `best-effort`, a kindling extension: reboot through the\netcd lock when etcd is reachable, else reboot at once.\n");
    page.push_str("\n`agent`, `signing-keys`, `health-check`, `check-interval`, `first-check-delay` and\n`check-jitter` configure the kindling agent on the node. The agent has no configuration file\nof its own: it reads only what `compile` writes (update.conf and the trusted keys).\n");
    page
}

/// One key's row of a section's table: key (both spellings), Go type, notes.
fn field_row(f: &FieldSpec) -> String {
    let mut notes = Vec::new();
    if let Some(env) = f.env {
        notes.push(format!("`{env}`"));
    }
    if let Some(rule) = f.valid {
        notes.push(format!(
            "checked: [`{}`]({})",
            rule.rule.code,
            rule.rule.doc_path()
        ));
    }
    if let Some(why) = f.deprecated {
        notes.push(format!("**deprecated**: {why}"));
    }
    if let Some(why) = f.extension {
        notes.push(format!("**kindling extension**: {why}"));
    }
    let key = if f.key.contains('_') {
        format!("`{}` / `{}`", f.key, f.key.replace('_', "-"))
    } else {
        format!("`{}`", f.key)
    };
    let kind = match f.kind {
        Kind::Struct(s) | Kind::StructList(s) => {
            format!("{} (`{}`)", f.kind.go_name(), s.path)
        }
        other => other.go_name().to_string(),
    };
    format!("| {key} | {kind} | {} |\n", notes.join("; "))
}
