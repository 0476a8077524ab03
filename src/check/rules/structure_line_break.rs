//! `kindling::structure::line-break`: a value that becomes one line of a file contains a
//! line break.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::structure_line_break`].

use crate::check::Context;
use crate::diagnostic::{Finding, Span};
use crate::model::EnvValue;
use crate::rules::structure_line_break::RULE;

/// A section's name, its key's span, and the values that become lines.
type Lines<'a> = (&'static str, Span, Vec<(&'static str, EnvValue<'a>)>);

/// Check every key that becomes a line.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(coreos) = &cx.config.coreos else {
        return;
    };
    let c = &coreos.value;
    let mut sections: Vec<Lines<'_>> = Vec::new();
    if let Some(s) = &c.update {
        let mut values = s.value.env_values();
        if let Some(p) = &s.value.proxy {
            values.push(("ALL_PROXY", EnvValue::Text(&p.value)));
        }
        sections.push(("coreos.update", s.key_span, values));
    }
    if let Some(s) = &c.locksmith {
        sections.push(("coreos.locksmith", s.key_span, s.value.env_values()));
    }
    if let Some(s) = &c.etcd {
        sections.push(("coreos.etcd", s.key_span, s.value.env_values()));
    }
    if let Some(s) = &c.etcd2 {
        sections.push(("coreos.etcd2", s.key_span, s.value.env_values()));
    }
    if let Some(s) = &c.fleet {
        sections.push(("coreos.fleet", s.key_span, s.value.env_values()));
    }
    if let Some(s) = &c.flannel {
        sections.push(("coreos.flannel", s.key_span, s.value.env_values()));
    }
    for (section, span, values) in sections {
        for (env, value) in values {
            if let EnvValue::Text(text) = value
                && text.trim_end_matches('\n').contains(['\n', '\r'])
            {
                out.push(RULE.at(
                    span,
                    format!("the {section} value for {env} spans several lines"),
                ));
            }
        }
    }
}
