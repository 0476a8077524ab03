//! The real `kindling` binary on temporary files and standard input: exit statuses,
//! output formats, and every example under `examples/`.

use std::io::Write;
use std::path::PathBuf;

use crate::support::common::{Output, Run, root};

fn json(out: &Output) -> Vec<serde_json::Value> {
    serde_json::from_str::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout))
}

const REBOOT_ALWAYS: &str =
    "#cloud-config\n# a comment\ncoreos:\n  update:\n    reboot-strategy: always\n";

#[test]
fn reboot_strategy_always_is_an_error_at_its_value() {
    let out = Run::new(&["validate", "--format", "json", "c.yaml"])
        .file("c.yaml", REBOOT_ALWAYS)
        .run();
    assert_eq!(out.status, 1, "{}", out.stderr);
    let findings = json(&out);
    let errors: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{findings:?}");
    // The only other finding: the portability note about `reboot-strategy`'s '-'.
    assert!(
        findings
            .iter()
            .all(|f| f["severity"] == "error" || f["code"] == "kindling::portability::hyphen-keys")
    );
    let f = errors[0];
    assert_eq!(f["file"], "c.yaml");
    assert_eq!(f["line"], 5);
    assert_eq!(f["column"], 22, "the column of `always`");
    assert_eq!(f["end_line"], 5);
    assert_eq!(f["end_column"], 28);
    assert_eq!(f["severity"], "error");
    assert_eq!(f["code"], "kindling::update::reboot-strategy");
    assert!(f["message"].as_str().unwrap().contains("always"));
    assert!(f["help"].as_str().unwrap().contains("etcd-lock"));
    let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 9, "exactly the documented fields: {keys:?}");
}

#[test]
fn human_output_shows_the_code_the_place_and_help() {
    let out = Run::new(&["validate", "c.yaml"])
        .file("c.yaml", REBOOT_ALWAYS)
        .run();
    assert_eq!(out.status, 1);
    assert!(
        out.stdout.contains("kindling::update::reboot-strategy"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("[c.yaml:5:22]"), "{}", out.stdout);
    assert!(out.stdout.contains("reboot-strategy: always"));
    assert!(out.stdout.contains("help: use reboot, etcd-lock"));
    assert!(
        out.stdout
            .ends_with("1 file: 1 error, 0 warnings, 1 info\n"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn colour_can_be_forced() {
    let out = Run::new(&["validate", "--color", "always", "c.yaml"])
        .file("c.yaml", REBOOT_ALWAYS)
        .run();
    assert!(out.stdout.contains('\u{1b}'));
}

#[test]
fn exit_statuses() {
    let clean = "#cloud-config\nhostname: node1\n";
    let warning = "#cloud-config\nhostnme: node1\n";
    assert_eq!(
        Run::new(&["validate", "a.yaml"])
            .file("a.yaml", clean)
            .run()
            .status,
        0
    );
    assert_eq!(
        Run::new(&["validate", "a.yaml"])
            .file("a.yaml", warning)
            .run()
            .status,
        0
    );
    assert_eq!(
        Run::new(&["validate", "--strict", "a.yaml"])
            .file("a.yaml", warning)
            .run()
            .status,
        1
    );
    let missing = Run::new(&["validate", "nope.yaml"]).run();
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.contains("cannot read nope.yaml"),
        "{}",
        missing.stderr
    );
    assert_eq!(
        Run::new(&["validate", "--format", "xml", "a.yaml"])
            .run()
            .status,
        2
    );
    assert_eq!(Run::new(&["validate"]).run().status, 2);
    assert_eq!(Run::new(&["frobnicate"]).run().status, 2);
    assert_eq!(Run::new(&["--version"]).run().status, 0);
}

#[test]
fn io_error_on_one_file_still_reports_the_others() {
    let out = Run::new(&["validate", "--format", "json", "a.yaml", "missing.yaml"])
        .file("a.yaml", REBOOT_ALWAYS)
        .run();
    assert_eq!(out.status, 2);
    assert!(
        json(&out)
            .iter()
            .any(|f| f["code"] == "kindling::update::reboot-strategy")
    );
}

#[test]
fn standard_input() {
    let out = Run::new(&["validate", "--format", "json", "-"])
        .stdin(REBOOT_ALWAYS)
        .run();
    assert_eq!(out.status, 1);
    assert_eq!(json(&out)[0]["file"], "-");
}

#[test]
fn scripts_ignition_and_empty_input_pass_with_an_info() {
    for (text, word) in [
        ("#!/bin/bash\necho hi\n", "script"),
        ("{\"ignition\": {\"version\": \"3.3.0\"}}", "Ignition"),
        ("", "empty"),
    ] {
        let out = Run::new(&["validate", "--format", "json", "-"])
            .stdin(text)
            .run();
        assert_eq!(out.status, 0, "{text:?}");
        let f = json(&out);
        assert_eq!(f[0]["severity"], "info");
        assert!(f[0]["message"].as_str().unwrap().contains(word));
    }
}

#[test]
fn unrecognised_user_data_is_an_error_on_line_one() {
    let out = Run::new(&["validate", "--format", "json", "-"])
        .stdin(" #cloud-config\nhostname: x\n")
        .run();
    assert_eq!(out.status, 1);
    let f = &json(&out)[0];
    assert_eq!(f["line"], 1);
    assert_eq!(f["code"], "kindling::source::not-cloud-config");
    assert!(f["help"].as_str().unwrap().contains("remove the blanks"));
}

#[test]
fn gzipped_user_data_is_unpacked() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(REBOOT_ALWAYS.as_bytes()).unwrap();
    let out = Run::new(&["validate", "--format", "json", "c.gz"])
        .file("c.gz", enc.finish().unwrap())
        .run();
    assert_eq!(out.status, 1);
    assert_eq!(json(&out)[0]["line"], 5);
}

#[test]
fn many_files_one_summary() {
    let out = Run::new(&["validate", "a.yaml", "b.yaml"])
        .file("a.yaml", REBOOT_ALWAYS)
        .file("b.yaml", "#cloud-config\nhostnme: x\n")
        .run();
    assert!(
        out.stdout
            .ends_with("2 files: 1 error, 1 warning, 1 info\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = Run::new(&["schema"]).run();
    assert_eq!(out.status, 0);
    let committed = std::fs::read_to_string(root().join("schema/cloud-config.json")).unwrap();
    assert!(
        out.stdout == committed,
        "`kindling schema` differs from schema/cloud-config.json"
    );
}

#[test]
fn explain_prints_a_rule_page() {
    let out = Run::new(&["explain", "structure::unknown-key"]).run();
    assert_eq!(out.status, 0);
    assert!(
        out.stdout
            .starts_with("# `kindling::structure::unknown-key`")
    );
    assert!(out.stdout.contains("## Fixed"));
    let all = Run::new(&["explain"]).run();
    assert_eq!(all.stdout.lines().count(), kindling::rules::ALL.len());
    assert_eq!(Run::new(&["explain", "nope"]).run().status, 2);
}

fn examples() -> Vec<PathBuf> {
    crate::support::common::yaml_files(&root().join("examples"))
}

#[test]
fn examples_are_clean_except_the_mistakes() {
    let files = examples();
    assert!(files.len() >= 4);
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let out = Run::new(&[
            "validate",
            "--strict",
            "--format",
            "json",
            path.to_str().unwrap(),
        ])
        .run();
        let findings = json(&out);
        if name == "mistakes.yaml" {
            assert_eq!(out.status, 1);
            let codes: Vec<&str> = findings
                .iter()
                .map(|f| f["code"].as_str().unwrap())
                .collect();
            for code in [
                "kindling::update::reboot-strategy",
                "kindling::locksmith::window-pair",
                "kindling::structure::incorrect-type",
                "kindling::units::section",
                "kindling::units::timer-never-started",
                "kindling::write-files::read-only",
                "kindling::structure::unknown-key",
                "kindling::write-files::undecodable",
                "kindling::manage-etc-hosts::unsupported",
            ] {
                assert!(
                    codes.contains(&code),
                    "mistakes.yaml lacks {code}: {codes:?}"
                );
            }
        } else {
            assert_eq!(out.status, 0, "{name}: {findings:?}");
            let not_info: Vec<_> = findings
                .iter()
                .filter(|f| f["severity"] != "info")
                .collect();
            assert!(not_info.is_empty(), "{name}: {not_info:?}");
        }
    }
}

#[test]
fn quickstart_output_is_true() {
    let out = Run::new(&[
        "validate",
        "--color",
        "never",
        root().join("examples/mistakes.yaml").to_str().unwrap(),
    ])
    .run();
    let summary = out.stdout.lines().last().unwrap().to_string();
    let page = std::fs::read_to_string(root().join("book/src/quickstart.md")).unwrap();
    assert!(
        page.contains(&summary),
        "quickstart.md should show {summary:?}"
    );
    let block = "   ·                      ──────\n 8 │   locksmith:";
    assert!(
        out.stdout.contains(block) && page.contains(block),
        "{}",
        out.stdout
    );
}

/// `--format human` is described by what each command prints: only `diff` and `apply`
/// print a unified diff (the fleet's help once said "A unified diff" for `status` too).
#[test]
fn format_help_names_a_diff_only_where_there_is_one() {
    for args in [
        &["fleet", "--help"][..],
        &["slots", "show", "--help"],
        &["agent", "status", "--help"],
        &["diff", "--help"],
    ] {
        let out = Run::new(args).run();
        assert_eq!(out.status, 0, "{args:?}: {}", out.stderr);
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("- human:"))
            .unwrap_or_else(|| panic!("{args:?} has no human format: {}", out.stdout));
        if line.contains("unified diff") {
            assert!(
                line.contains("(diff, apply)") && line.contains("table"),
                "{args:?}: {line}"
            );
        }
    }
}

/// A directory named as an input is refused by name with what to do (it once said "Is a
/// directory (os error 21)"); the files named with it are still checked.
#[test]
fn a_directory_as_input_is_refused_with_what_to_do() {
    let out = Run::new(&["validate", "--format", "json", "configs/", "c.yaml"])
        .file("c.yaml", "#cloud-config\nhostname: a\n")
        .dir("configs")
        .run();
    assert_eq!(out.status, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "configs is a directory, not a file: name the files in it (e.g. configs/*.yaml)"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("os error"), "{}", out.stderr);
    for command in [
        &["compile", "configs", "--out", "out"][..],
        &["diff", "configs", "c.yaml"],
    ] {
        let out = Run::new(command)
            .file("c.yaml", "#cloud-config\nhostname: a\n")
            .dir("configs")
            .run();
        assert_eq!(out.status, 2, "{command:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("configs is a directory, not a file"),
            "{command:?}: {}",
            out.stderr
        );
    }
}

/// `validate --for`: the node's coreos-cloudinit drops the agent keys and rejects
/// `best-effort` (reported, exit 1), kindling reads them (the default for a cloud-config:
/// nothing reported), Ignition reads no cloud-config; an Ignition config declares Ignition.
#[test]
fn validate_for_names_what_the_reader_ignores_or_rejects() {
    let node = "#cloud-config\ncoreos:\n  update:\n    reboot_strategy: best-effort\n    agent: kindling\n    check_interval: 2h\n";
    let codes = |out: &crate::support::common::Output| -> Vec<String> {
        json(out)
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .filter(|c| c.starts_with("kindling::reader::"))
            .collect()
    };
    let run = |args: &[&str]| {
        let mut all = vec!["validate", "--format", "json"];
        all.extend_from_slice(args);
        all.push("node.yaml");
        Run::new(&all).file("node.yaml", node).run()
    };
    let out = run(&["--for", "coreos-cloudinit"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        codes(&out),
        [
            "kindling::reader::rejected",
            "kindling::reader::ignored",
            "kindling::reader::ignored"
        ],
        "{}",
        out.stdout
    );
    for args in [&[][..], &["--for", "kindling"]] {
        let out = run(args);
        assert_eq!(out.status, 0, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(codes(&out).is_empty(), "{args:?}: {}", out.stdout);
    }
    let out = run(&["--for", "ignition"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(codes(&out), ["kindling::reader::not-read"]);
    // An Ignition config declares its reader: nothing to say by default.
    let out = Run::new(&["validate", "--format", "json", "c.ign"])
        .file("c.ign", "{\"ignition\": {\"version\": \"3.3.0\"}}\n")
        .run();
    assert_eq!(out.status, 0, "{}", out.stdout);
    assert!(codes(&out).is_empty(), "{}", out.stdout);
}

/// The summary counts the config files checked, not the variables file, the inventory and
/// the partials they use, and says for how many nodes a template was checked (one template
/// over the example's 5 nodes once said "3 files").
#[test]
fn summary_counts_config_files_and_nodes() {
    let dir = root().join("examples/templates");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kindling"))
        .current_dir(&dir)
        .args([
            "validate",
            "--color",
            "never",
            "cloud-config.yaml.j2",
            "--vars",
            "vars.yaml",
            "--inventory",
            "fleet.csv",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("1 file for 5 nodes: 0 errors, 0 warnings, 0 infos"),
        "{stdout}"
    );
    // Without an inventory: one file, no nodes named.
    let out = Run::new(&["validate", "--color", "never", "a.yaml", "b.yaml"])
        .file("a.yaml", "#cloud-config\nhostname: a\n")
        .file("b.yaml", "#cloud-config\nhostname: b\n")
        .run();
    assert_eq!(out.stdout, "2 files: 0 errors, 0 warnings, 0 infos\n");
}

/// `compile TEMPLATE --inventory ... --out DIR` names the folders of DIR that no node of
/// the inventory wrote (a node dropped since an earlier run) and leaves them as they were
/// (it once said nothing).
#[test]
fn compile_over_an_inventory_names_stale_node_folders() {
    let examples = root().join("examples/templates");
    let out = tempfile::tempdir().unwrap();
    let old = out.path().join("web-99");
    std::fs::create_dir_all(old.join("etc")).unwrap();
    std::fs::write(old.join("etc/hostname"), "web-99\n").unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kindling"))
        .current_dir(&examples)
        .args([
            "compile",
            "cloud-config.yaml.j2",
            "--vars",
            "vars.yaml",
            "--inventory",
            "fleet.csv",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.starts_with("wrote 5 trees to "), "{stdout}");
    let line = format!(
        "left as it was: {}/ (no node of this inventory is named web-99; from an earlier run?)",
        old.display()
    );
    assert!(stdout.lines().any(|l| l == line), "{stdout}");
    assert_eq!(
        stdout.lines().count(),
        2,
        "only the stale folder is named: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(old.join("etc/hostname")).unwrap(),
        "web-99\n"
    );
}
