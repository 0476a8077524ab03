//! kindling's unit-file checks against the real systemd 252 tools on generated good and
//! bad units: services with good and bad `Type=`, `Restart=`, time spans, booleans,
//! `WantedBy=`, misspelled directives, directives in the wrong section, sections in the
//! wrong unit type, missing `ExecStart=`; timers with good and bad `OnCalendar=`. Each case
//! is judged by the tool that reads what it tests: `systemd-analyze verify` for loading the
//! unit, `systemctl --root=DIR enable` for its `[Install]` section (verify never reads it).
//! Agreement must be at least 99%; every known disagreement is listed with its reason.

use std::collections::BTreeMap;
use std::process::Command;

use crate::support::common::validate_text;

/// Known disagreements: (case text fragment, why). None are known today.
const KNOWN: &[(&str, &str)] = &[];

/// The unit-file rules that correspond to what `systemd-analyze verify` reports.
const UNIT_RULES: &[&str] = &[
    "kindling::units::unknown-directive",
    "kindling::units::invalid-value",
    "kindling::units::missing-exec-start",
    "kindling::units::service-refused",
    "kindling::units::section",
];

struct Rng(u64);

/// Every other case (the odd ones) carries one of `faults`, in turn.
fn fault_for(
    i: usize,
    faults: &[(&'static str, &'static str)],
) -> Option<(&'static str, &'static str)> {
    (i % 2 == 1).then(|| faults[(i / 2) % faults.len()])
}

/// The fault's bad value when the fault is in `field`, else a value picked from `good`.
fn pick_or_fault(
    rng: &mut Rng,
    fault: Option<(&str, &str)>,
    field: &str,
    good: &[&'static str],
) -> String {
    match fault {
        Some((f, bad)) if f == field => bad.to_string(),
        _ => rng.pick(good).to_string(),
    }
}

impl Rng {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        items[(self.0 % items.len() as u64) as usize]
    }
}

fn cases() -> Vec<(String, String)> {
    let mut rng = Rng(0x0DDB_1A5E_5BAD_5EED);
    // Good values, and the faults a case may carry (one at most, half of the cases).
    let types = [
        "simple", "oneshot", "notify", "exec", "forking", "idle", "dbus",
    ];
    let restarts = [
        "no",
        "always",
        "on-failure",
        "on-abnormal",
        "on-abort",
        "on-watchdog",
    ];
    let spans = [
        "30s", "5min", "infinity", "1h 30min", ".5s", "90", "3 weeks", "1min 30s", "2h",
    ];
    let bools = ["yes", "no", "true", "0", "on", "false", "1"];
    let extras = [
        "",
        "Nice=5",
        "PrivateTmp=yes",
        "Environment=A=1",
        "ExecStartPre=-/bin/true",
        "WorkingDirectory=/",
        "User=root",
        "KillMode=mixed",
        "NotifyAccess=all",
    ];
    let unit_extras = [
        "",
        "After=network.target",
        "Wants=network-online.target",
        "DefaultDependencies=no",
        "Documentation=man:true(1)",
    ];
    let wanted = ["multi-user.target", "default.target timers.target"];
    let calendars = [
        "daily",
        "weekly",
        "Mon..Fri 03:00",
        "*-*-* 05,06:00,30:00",
        "*:0/15",
        "Sun *-*-1..7 4:00",
        "2026-02-29",
        "00/2:00",
        "minutely UTC",
    ];
    let service_faults = [
        ("Type", "simpel"),
        ("Type", "daemon"),
        ("Restart", "sometimes"),
        ("Restart", "on-falure"),
        ("TimeoutStartSec", "5x"),
        ("TimeoutStartSec", "1e3"),
        ("TimeoutStartSec", "5.s"),
        ("RemainAfterExit", "maybe"),
        ("RemainAfterExit", "2"),
        ("extra", "ExecStrat=/bin/true"),
        ("extra", "Nicee=5"),
        ("extra", "Restrat=always"),
        ("extra", "KillMode=group"),
        ("extra", "NotifyAccess=some"),
        ("unit", "Requies=x.service"),
        ("unit", "Restart=always"),
        ("unit", "DefaultDependencies=perhaps"),
        ("wanted", "multi-user"),
        ("section", "service"),
        ("section", "Timer"),
        ("exec", "none"),
        ("exec", "stop-only"),
    ];
    let timer_faults = [
        ("cal", "*-*-* 25:00:00"),
        ("cal", "Sat..Mon"),
        ("cal", "12:00:60"),
        ("cal", "*/2:0"),
        ("cal", "hourly 1:00"),
        ("bool", "perhaps"),
        ("span", "soon"),
        ("extra", "OnCalender=daily"),
    ];
    let mut out = Vec::new();
    for i in 0..170 {
        let fault = fault_for(i, &service_faults);
        let pick = |rng: &mut Rng, field: &str, good: &[&'static str]| {
            pick_or_fault(rng, fault, field, good)
        };
        let ty = pick(&mut rng, "Type", &types);
        let exec = match fault {
            Some(("exec", "none")) => String::new(),
            Some(("exec", "stop-only")) => "ExecStop=/bin/true\n".into(),
            _ => "ExecStart=/bin/true\n".into(),
        };
        let section = pick(&mut rng, "section", &["Service"]);
        let text = format!(
            "[Unit]\nDescription=case {i}\n{}\n\n[{section}]\nType={ty}\n{exec}Restart={}\nTimeoutStartSec={}\nRemainAfterExit={}\n{}\n\n[Install]\nWantedBy={}\n",
            pick(&mut rng, "unit", &unit_extras),
            pick(&mut rng, "Restart", &restarts),
            pick(&mut rng, "TimeoutStartSec", &spans),
            pick(&mut rng, "RemainAfterExit", &bools),
            pick(&mut rng, "extra", &extras),
            pick(&mut rng, "wanted", &wanted),
        );
        out.push((format!("case{i:03}.service"), text));
    }
    for i in 0..60 {
        let fault = fault_for(i, &timer_faults);
        let pick = |rng: &mut Rng, field: &str, good: &[&'static str]| {
            pick_or_fault(rng, fault, field, good)
        };
        let text = format!(
            "[Unit]\nDescription=timer {i}\n\n[Timer]\nOnCalendar={}\nPersistent={}\nRandomizedDelaySec={}\nUnit=target.service\n{}\n\n[Install]\nWantedBy=timers.target\n",
            pick(&mut rng, "cal", &calendars),
            pick(&mut rng, "bool", &bools),
            pick(&mut rng, "span", &spans),
            pick(&mut rng, "extra", &[""]),
        );
        out.push((format!("tick{i:03}.timer"), text));
    }
    out
}

fn yaml_for(name: &str, text: &str) -> String {
    let mut yaml =
        format!("#cloud-config\ncoreos:\n  units:\n    - name: {name}\n      content: |\n");
    for line in text.lines() {
        if line.is_empty() {
            yaml.push('\n');
        } else {
            yaml.push_str("        ");
            yaml.push_str(line);
            yaml.push('\n');
        }
    }
    yaml.push_str("    - name: target.service\n      content: |\n        [Service]\n        ExecStart=/bin/true\n");
    yaml
}

#[test]
fn unit_checks_agree_with_systemd_analyze_verify() {
    let cases = cases();
    assert!(cases.len() >= 200);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("target.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    for (name, text) in &cases {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let names: Vec<&str> = cases.iter().map(|(n, _)| n.as_str()).collect();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&names)
        .current_dir(&dir)
        .output()
        .expect("systemd-analyze must be installed (Debian package systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut systemd: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for line in stderr.lines() {
        if let Some(name) = names.iter().find(|n| line.contains(*n)) {
            systemd.entry(name).or_default().push(line.to_string());
        }
    }
    for name in &names {
        let enable = Command::new("systemctl")
            .arg(format!("--root={}", root.path().display()))
            .args(["enable", name])
            .output()
            .expect("systemctl");
        if !enable.status.success() {
            systemd.entry(name).or_default().push(format!(
                "systemctl enable: {}",
                String::from_utf8_lossy(&enable.stderr).trim()
            ));
        }
    }
    let (mut good, mut bad, mut agree) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for (name, text) in &cases {
        let systemd_problem = systemd.contains_key(name.as_str());
        let v = validate_text(&yaml_for(name, text));
        let ours: Vec<&str> = v
            .findings
            .iter()
            .filter(|f| UNIT_RULES.contains(&f.rule.code))
            .map(|f| f.message.as_str())
            .collect();
        if systemd_problem {
            bad += 1;
        } else {
            good += 1;
        }
        if systemd_problem != ours.is_empty() {
            agree += 1;
        } else if !KNOWN.iter().any(|(frag, _)| text.contains(frag)) {
            disagreements.push(format!(
                "{name}: systemd {:?}\n  kindling {ours:?}\n{text}",
                systemd.get(name.as_str())
            ));
        }
    }
    let total = cases.len();
    println!("systemd agreement: {agree}/{total} ({good} clean, {bad} with problems)");
    assert!(
        good >= 40 && bad >= 40,
        "cases must cover both sides: {good} clean, {bad} with problems"
    );
    let rate = agree as f64 / total as f64;
    assert!(
        rate >= 0.99,
        "agreement {agree}/{total} ({:.1}%) is below 99%:\n{}",
        rate * 100.0,
        disagreements.join("\n")
    );
    assert!(
        disagreements.is_empty(),
        "unlisted disagreements ({agree}/{total} agree):\n{}",
        disagreements.join("\n")
    );
}
