//! The CI formats and inline suppressions: SARIF validated against the official SARIF
//! 2.1.0 schema (fetched by scripts/test from the npm package @microsoft/jest-sarif into
//! target/tools/, checked with Python's jsonschema), GitHub workflow commands, and
//! `# kindling-ignore:` comments.

use std::process::Command;

use crate::support::common::{Run, root, validate_text};

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let out = Run::new(&[
        "validate",
        "--format",
        "sarif",
        root().join("examples/mistakes.yaml").to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.status, 1);
    let log: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().unwrap().len(),
        kindling::rules::ALL.len()
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    let first = results
        .iter()
        .find(|r| r["ruleId"] == "kindling::update::reboot-strategy")
        .unwrap();
    assert_eq!(first["level"], "error");
    let region = &first["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(7), Some(22))
    );

    let schema = root().join("target/tools/sarif-2.1.0.json");
    assert!(
        schema.is_file(),
        "{} is missing: run scripts/test once (it fetches the SARIF schema)",
        schema.display()
    );
    let sarif = out.dir.path().join("out.sarif");
    std::fs::write(&sarif, &out.stdout).unwrap();
    let check = Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])), cls=jsonschema.Draft7Validator); print('ok')",
        ])
        .arg(&schema)
        .arg(&sarif)
        .output()
        .expect("python3 with jsonschema");
    assert!(
        check.status.success(),
        "not valid SARIF 2.1.0:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn github_workflow_commands() {
    let out = Run::new(&["validate", "--format", "github", "c.yaml"])
        .file(
            "c.yaml",
            "#cloud-config\ncoreos:\n  update:\n    reboot_strategy: always\nhostnme: a\n",
        )
        .run();
    assert_eq!(out.status, 1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].starts_with(
        "::error file=c.yaml,line=4,col=22,endLine=4,endColumn=28,title=kindling%3A%3Aupdate%3A%3Areboot-strategy::\"always\" is not a reboot strategy"
    ), "{}", lines[0]);
    assert!(
        lines[1].starts_with("::warning file=c.yaml,line=5,col=1,"),
        "{}",
        lines[1]
    );
    for line in lines {
        let (head, message) = line.split_once("::").unwrap().1.split_once("::").unwrap();
        assert!(
            !message.contains('\n') && !head.contains(' ')
                || head.starts_with("error")
                || head.starts_with("warning")
        );
    }
}

#[test]
fn suppression_on_the_line_and_above() {
    let v = validate_text(
        "#cloud-config\ncoreos:\n  update:\n    reboot_strategy: always  # kindling-ignore: update::reboot-strategy\n    # kindling-ignore: kindling::structure::unknown-key\n    gorup: stable\n",
    );
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

#[test]
fn suppression_inside_a_unit_block() {
    let v = validate_text(
        "#cloud-config\ncoreos:\n  units:\n    - name: a.service\n      content: |\n        # kindling-ignore: units::section\n        [unit]\n        Description=x\n        [Service]\n        ExecStart=/bin/true\n",
    );
    assert!(
        v.findings
            .iter()
            .all(|f| f.rule.code != "kindling::units::section"),
        "{:?}",
        v.findings
    );
}

#[test]
fn unused_and_unknown_suppressions_are_reported() {
    let v = validate_text(
        "#cloud-config\nhostname: a  # kindling-ignore: structure::unknown-key, no::such-code\n",
    );
    let messages: Vec<&str> = v
        .findings
        .iter()
        .filter(|f| f.rule.code == "kindling::lint::unused-suppression")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{:?}", v.findings);
    assert!(
        messages[1].contains("not a kindling code") || messages[0].contains("not a kindling code")
    );
}

#[test]
fn misspelled_directive_is_a_warning_at_its_line_with_a_suggestion() {
    let out = Run::new(&["validate", "--format", "json", "c.yaml"])
        .file(
            "c.yaml",
            "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      command: start\n      content: |\n        [Service]\n        Type=oneshot\n        ExecStrat=/usr/bin/echo hello\n",
        )
        .run();
    let findings: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let f = findings
        .iter()
        .find(|f| f["code"] == "kindling::units::unknown-directive")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(f["severity"], "warning");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(9), Some(9))
    );
    assert_eq!(
        f["end_column"].as_u64(),
        Some(18),
        "the span covers `ExecStrat`"
    );
    assert!(f["help"].as_str().unwrap().contains("ExecStart"), "{f}");
}

#[test]
fn invalid_calendar_in_a_timer_is_an_error_at_its_line() {
    let out = Run::new(&["validate", "--format", "json", "c.yaml"])
        .file(
            "c.yaml",
            "#cloud-config\ncoreos:\n  units:\n    - name: nightly.timer\n      command: start\n      content: |\n        [Timer]\n        OnCalendar=*-*-* 25:00:00\n    - name: nightly.service\n      content: |\n        [Service]\n        Type=oneshot\n        ExecStart=/usr/bin/true\n",
        )
        .run();
    assert_eq!(out.status, 1);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let f = findings
        .iter()
        .find(|f| f["code"] == "kindling::units::invalid-value")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(f["severity"], "error");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(8), Some(20))
    );
    assert!(f["message"].as_str().unwrap().contains("hour 25"), "{f}");
}

#[test]
fn suggestions_for_misplaced_and_misspelled_keys() {
    let v = validate_text(
        "#cloud-config\nunits:\n  - name: a.service\ncoreos:\n  units:\n    - name: b.service\n      drop-in:\n        - name: x.conf\n          content: y\nwrite_files:\n  - path: /etc/x\n    permisions: '0644'\n    content: x\n",
    );
    let helps: Vec<String> = v
        .findings
        .iter()
        .filter(|f| f.rule.code == "kindling::structure::unknown-key")
        .map(|f| f.help_text().to_string())
        .collect();
    assert!(
        helps
            .iter()
            .any(|h| h.contains("belongs under coreos.units")),
        "{helps:?}"
    );
    assert!(helps.iter().any(|h| h.contains("drop-ins")), "{helps:?}");
    assert!(helps.iter().any(|h| h.contains("permissions")), "{helps:?}");
}
