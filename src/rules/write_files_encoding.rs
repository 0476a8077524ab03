//! `kindling::write-files::encoding`: `write_files[].encoding` values.

use crate::diagnostic::{Rule, Severity};
use crate::encoding::ENCODINGS;
use crate::model::ValueRule;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::encoding",
    severity: Severity::Error,
    summary: "an unknown content encoding",
    help: "use base64, b64, gz, gzip, gz+base64, gzip+base64, gz+b64 or gzip+b64",
    explanation: "`encoding` says how `content` is encoded. `gz`/`gzip` expect raw gzip bytes, \
which in YAML means `content: !!binary ...`; base64 text of gzip data is `gzip+base64`.",
    example: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    encoding: base-64\n    content: aGkK\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    encoding: base64\n    content: aGkK\n",
};

/// The value check.
pub static VALUE: ValueRule = ValueRule { rule: &RULE, check };

fn check(text: &str) -> Result<(), String> {
    if ENCODINGS.contains(&text) {
        return Ok(());
    }
    let squashed = text.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let hint = ENCODINGS
        .iter()
        .find(|e| **e == squashed || e.replace('+', "") == squashed)
        .map(|e| format!("; did you mean {e}?"))
        .unwrap_or_default();
    Err(format!("{text:?} is not an encoding{hint}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn values() {
        for ok in crate::encoding::ENCODINGS {
            assert!(super::check(ok).is_ok());
        }
        for bad in ["gzzzzbase64", "gzipppbase64", "unknown", "custom"] {
            assert!(super::check(bad).is_err());
        }
        assert!(super::check("Base64").unwrap_err().contains("base64"));
    }
}
