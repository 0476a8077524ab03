//! Which program on the node will read a config (`validate --for`), and what that reader
//! would ignore or reject in it: kindling reads everything it validates; a stock node's
//! coreos-cloudinit drops kindling's extensions without a word and rejects the values only
//! kindling accepts; Ignition reads nothing but Ignition configs.
//!
//! Pure: it looks at a [`Validation`] already made (its source and YAML tree) and adds the
//! reader's findings; no I/O, same input, same findings.

use super::validation::Validation;
use crate::diagnostic::{self, Finding, Span};
use crate::model::{CloudConfig, Kind, SectionInfo, normalize_key};
use crate::rules;
use crate::source::{Node, SourceFile, UserData};

/// The software that reads the config on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// kindling itself (`kindling apply`, `boot-apply`, or a config compiled by kindling).
    Kindling,
    /// The node's own coreos-cloudinit (a stock Flatcar or CoreOS).
    CoreosCloudinit,
    /// Ignition.
    Ignition,
}

impl Reader {
    /// The reader a file declares: Ignition for an Ignition config, kindling otherwise.
    #[must_use]
    pub fn declared(source: &SourceFile) -> Reader {
        if source.kind == UserData::Ignition {
            Reader::Ignition
        } else {
            Reader::Kindling
        }
    }
}

/// Add what `reader` would ignore or reject in `v` to its findings.
pub fn check_for(v: &mut Validation, reader: Reader) {
    let mut found = Vec::new();
    match reader {
        Reader::Kindling => {}
        Reader::CoreosCloudinit => coreos_cloudinit(v, &mut found),
        Reader::Ignition => ignition(&v.source, &mut found),
    }
    if found.is_empty() {
        return;
    }
    v.findings.extend(found);
    diagnostic::sort(&mut v.findings);
}

/// The span of the first line (where a file says what it is).
fn first_line(source: &SourceFile) -> Span {
    let end = source.text.find('\n').unwrap_or(source.text.len());
    Span::new(0, end)
}

fn ignition(source: &SourceFile, out: &mut Vec<Finding>) {
    let what = match source.kind {
        UserData::Ignition | UserData::Empty => return,
        UserData::CloudConfig => "a cloud-config",
        UserData::Template => "a template",
        UserData::Script => "a script",
        UserData::Multipart => "a multipart message",
        UserData::Unrecognized => "this file",
    };
    out.push(rules::reader_not_read::RULE.at(
        first_line(source),
        format!("Ignition does not read {what}: it skips it and applies none of it"),
    ));
}

fn coreos_cloudinit(v: &Validation, out: &mut Vec<Finding>) {
    if v.source.kind == UserData::Template {
        out.push(rules::reader_rejected::RULE.at(
            first_line(&v.source),
            "coreos-cloudinit does not render templates: it skips this file (compile it per node \
             with kindling first)",
        ));
        return;
    }
    let Some(root) = &v.root else {
        return;
    };
    visit(root, &CloudConfig::INFO, "", out);
}

/// Every kindling extension under `node` (one finding at its key; nothing below it), and
/// every value only kindling accepts.
fn visit(node: &Node, info: &SectionInfo, path: &str, out: &mut Vec<Finding>) {
    let Some(entries) = node.as_mapping() else {
        return;
    };
    for entry in entries {
        let Some(raw) = entry.key_text() else {
            continue;
        };
        let key = normalize_key(raw);
        let Some(spec) = info.field(&key) else {
            continue;
        };
        let name = if path.is_empty() {
            raw.to_string()
        } else {
            format!("{path}.{raw}")
        };
        if let Some(why) = spec.extension {
            out.push(rules::reader_ignored::RULE.at(
                entry.key.span,
                format!("coreos-cloudinit ignores `{name}` ({why}): the node boots without it"),
            ));
            continue;
        }
        if key == "reboot_strategy"
            && let Some(value) = entry.value.as_scalar()
            && !["etcd-lock", "reboot", "off"].contains(&value.text.as_str())
            && crate::model::values::STRATEGIES.contains(&value.text.as_str())
        {
            out.push(rules::reader_rejected::RULE.at(
                entry.value.span,
                format!(
                    "coreos-cloudinit rejects `{name}: {}` (it accepts etcd-lock, reboot and off)",
                    value.text
                ),
            ));
        }
        match spec.kind {
            Kind::Struct(inner) => visit(&entry.value, inner, &name, out),
            Kind::StructList(inner) => {
                for item in entry.value.as_sequence().unwrap_or(&[]) {
                    visit(item, inner, &name, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Reader, check_for};

    fn codes(text: &str, reader: Reader) -> Vec<(String, String)> {
        let mut v = crate::validate::validate("c.yaml", text.as_bytes().to_vec());
        let before = v.findings.len();
        check_for(&mut v, reader);
        v.findings
            .iter()
            .filter(|f| f.rule.code.starts_with("kindling::reader::"))
            .map(|f| (f.rule.code.to_string(), f.message.clone()))
            .chain(std::iter::once((String::new(), before.to_string())))
            .collect()
    }

    #[test]
    fn coreos_cloudinit_drops_the_agent_keys_and_rejects_best_effort() {
        let text = "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: best-effort\n    agent: kindling\n    signing-keys:\n      - RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3\n    check-interval: 2h\n";
        let found = codes(text, Reader::CoreosCloudinit);
        let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            found.iter().any(|(c, m)| c == "kindling::reader::rejected"
                && m.contains("rejects `coreos.update.reboot-strategy: best-effort`")),
            "{messages:?}"
        );
        for key in ["agent", "signing-keys", "check-interval"] {
            assert!(
                found.iter().any(|(c, m)| c == "kindling::reader::ignored"
                    && m.contains(&format!("ignores `coreos.update.{key}`"))),
                "{key}: {messages:?}"
            );
        }
        // kindling reads all of it: nothing added.
        assert_eq!(codes(text, Reader::Kindling).len(), 1);
        // Plain values coreos-cloudinit knows: nothing.
        let plain = "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: etcd-lock\n";
        assert_eq!(codes(plain, Reader::CoreosCloudinit).len(), 1);
    }

    #[test]
    fn ignition_reads_no_cloud_config_and_a_template_is_not_rendered_by_coreos_cloudinit() {
        let found = codes("#cloud-config\nhostname: a\n", Reader::Ignition);
        assert_eq!(found[0].0, "kindling::reader::not-read", "{found:?}");
        let ign = codes(
            "{\"ignition\": {\"version\": \"3.3.0\"}}\n",
            Reader::Ignition,
        );
        assert_eq!(ign.len(), 1, "{ign:?}");
        let t = codes(
            "## template: jinja\n#cloud-config\nhostname: {{ name }}\n",
            Reader::CoreosCloudinit,
        );
        assert_eq!(t[0].0, "kindling::reader::rejected", "{t:?}");
    }
}
