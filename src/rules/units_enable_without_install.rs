//! `kindling::units::enable-without-install`: `enable: true` on a unit that cannot be
//! enabled.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::model::Unit;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::enable-without-install",
    severity: Severity::Warning,
    summary: "enable: true on a unit whose text has no [Install] section",
    help: "add an [Install] section (e.g. WantedBy=multi-user.target), or use command: start",
    explanation: "Enabling a unit creates the links its `[Install]` section asks for (`WantedBy=`, \
`RequiredBy=`, `Alias=`, `Also=`). Without one, `systemctl enable` does nothing and \
coreos-cloudinit does not say so: the unit does not start at boot.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      enable: true\n      content: |\n        [Service]\n        ExecStart=/usr/bin/echo hello\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      enable: true\n      content: |\n        [Service]\n        ExecStart=/usr/bin/echo hello\n\n        [Install]\n        WantedBy=multi-user.target\n",
};

/// Check every enabled unit the config defines.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for doc in cx.units.iter().filter(|d| d.drop_in.is_none()) {
        let u = &doc.unit.value;
        if !Unit::flag(u.enable.as_ref())
            || crate::units::kind(doc.name) == Some(crate::units::UnitKind::Network)
        {
            continue;
        }
        let installs = cx.unit_texts(doc.name).any(|d| {
            ["WantedBy", "RequiredBy", "Alias", "Also"]
                .iter()
                .any(|k| d.text.get("Install", k).any(|v| !v.value.is_empty()))
        });
        if !installs {
            let span = u.enable.as_ref().map_or(doc.unit.span, |e| e.key_span);
            out.push(RULE.at(span, format!("{} has no [Install] section with WantedBy= or RequiredBy=; enabling it does nothing", doc.name)));
        }
    }
}
