//! Templates (`## template: jinja`): corpus templates ported to the header, findings of
//! rendered configs mapped back into templates (literal text, expressions, filter output,
//! loop bodies, includes), strict undefined, inventories of 1 and 1,000 nodes, hostile
//! templates, and the commands that take templates (validate, render, compile, diff).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kindling::Validation;
use kindling::template::{Includes, NodeVars as Node, Template};

use crate::support::common::{Run, corpus, root};

const HEADER: &str = "## template: jinja\n";

/// Variables from YAML text.
fn vars(yaml: &str) -> BTreeMap<String, minijinja::Value> {
    let (v, vars) = kindling::template::vars::read_vars_file("vars.yaml", yaml.as_bytes().to_vec());
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    vars.unwrap()
}

fn node(name: &str, yaml: &str) -> Node {
    let mut vars = vars(yaml);
    vars.insert("name".into(), name.into());
    Node::new(vars)
}

fn includes(files: &[(&str, &str)]) -> Includes {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
        .collect();
    Arc::new(move |name: &str| {
        Ok(files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(n, t)| (format!("inc/{n}"), t.clone())))
    })
}

fn template(text: &str, inc: Option<Includes>) -> Template {
    let (source, findings) = kindling::source::load("t.yaml.j2", text.as_bytes().to_vec());
    assert!(findings.is_empty(), "{findings:?}");
    Template::new(source, inc).unwrap_or_else(|f| panic!("{f:?}"))
}

/// One finding: file, line, column, code, rendered value, nodes.
type Found = (
    String,
    usize,
    usize,
    &'static str,
    Option<String>,
    Vec<String>,
);

fn found(validations: &[Validation]) -> Vec<Found> {
    let mut out = Vec::new();
    for v in validations {
        for f in &v.findings {
            let p = v.source.position(f.span.start);
            let nodes = f.nodes.as_ref().unwrap();
            out.push((
                v.source.name.clone(),
                p.line,
                p.column,
                f.rule.code,
                nodes.rendered.clone(),
                nodes.names.clone(),
            ));
        }
    }
    out
}

fn spanned<'a>(v: &'a Validation, code: &str) -> &'a str {
    let f = v.findings.iter().find(|f| f.rule.code == code).unwrap();
    &v.source.text[f.span.start..f.span.end]
}

#[test]
fn findings_point_into_the_template() {
    let text = format!(
        "{HEADER}#cloud-config\nhostname: {{{{ name }}}}\ncoreos:\n  update:\n    reboot-strategy: {{{{ strategy | lower }}}}\n  unitz: []\n  units:\n{{% for u in units %}}\n    - name: {{{{ u }}}}.service\n      commnd: start\n{{% endfor %}}\n{{% include \"files.yaml\" %}}\n"
    );
    let inc = includes(&[(
        "files.yaml",
        "write_files:\n  - path: /etc/x\n    permisions: '0644'\n",
    )]);
    let t = template(&text, Some(inc));
    let nodes = [
        node("a", "strategy: OFFF\nunits: [x1, y1]\n"),
        node("b", "strategy: reboot\nunits: [z]\n"),
        node("c", "strategy: reboot\nunits: []\n"),
    ];
    let v = kindling::validate::validate_fleet(&t, &nodes);
    let got = found(&v);
    let want: Vec<Found> = vec![
        // An expression: at the `{{ … }}`, with what it rendered (filter output) and the node.
        (
            "t.yaml.j2".into(),
            6,
            22,
            "kindling::update::reboot-strategy",
            Some("offf".into()),
            vec!["a".into()],
        ),
        // Literal text: its own line and column, on every node.
        (
            "t.yaml.j2".into(),
            7,
            3,
            "kindling::structure::unknown-key",
            None,
            vec!["a".into(), "b".into(), "c".into()],
        ),
        // A key whose loop rendered nothing on one node.
        (
            "t.yaml.j2".into(),
            8,
            3,
            "kindling::structure::empty-value",
            None,
            vec!["c".into()],
        ),
        // A loop body: once, whatever the number of iterations, with the nodes that ran it.
        (
            "t.yaml.j2".into(),
            11,
            7,
            "kindling::structure::unknown-key",
            None,
            vec!["a".into(), "b".into()],
        ),
        // An included file: in that file.
        (
            "inc/files.yaml".into(),
            2,
            5,
            "kindling::write-files::missing-content",
            None,
            vec!["a".into(), "b".into(), "c".into()],
        ),
        (
            "inc/files.yaml".into(),
            3,
            5,
            "kindling::structure::unknown-key",
            None,
            vec!["a".into(), "b".into(), "c".into()],
        ),
    ];
    let interesting: Vec<Found> = got
        .into_iter()
        .filter(|f| f.3 != "kindling::portability::hyphen-keys")
        .collect();
    assert_eq!(interesting, want);
    assert_eq!(
        spanned(&v[0], "kindling::update::reboot-strategy"),
        "{{ strategy | lower }}"
    );
    let f = &v[0]
        .findings
        .iter()
        .find(|f| f.rule.code == "kindling::update::reboot-strategy")
        .unwrap();
    assert_eq!(
        f.full_message(),
        "\"offf\" is not a reboot strategy (rendered \"offf\"; on 1 of 3 nodes: a)"
    );
    let unknown = v[0]
        .findings
        .iter()
        .find(|f| f.message.contains("unitz"))
        .unwrap();
    assert!(
        unknown
            .full_message()
            .ends_with("(on 3 of 3 nodes: a, b, c)"),
        "{}",
        unknown.full_message()
    );
}

#[test]
fn block_scalars_and_units_map_line_by_line() {
    // A finding inside a unit's text, written literally in the template and after a
    // substituted line, points at its own line.
    let text = format!(
        "{HEADER}#cloud-config\ncoreos:\n  units:\n    - name: app.service\n      content: |\n        [Service]\n        Environment=NAME={{{{ name }}}}\n        ExecStrat=/usr/bin/app\n"
    );
    let t = template(&text, None);
    let v = kindling::validate::validate_fleet(&t, &[node("n1", "name: web\n")]);
    let f = v[0]
        .findings
        .iter()
        .find(|f| f.rule.code == "kindling::units::unknown-directive")
        .unwrap();
    let p = v[0].source.position(f.span.start);
    assert_eq!((p.line, p.column), (9, 9));
    assert_eq!(
        spanned(&v[0], "kindling::units::unknown-directive"),
        "ExecStrat"
    );
}

#[test]
fn macro_output_maps_to_the_call() {
    let text = format!(
        "{HEADER}#cloud-config\n{{% macro unit(n) %}}\n- name: {{{{ n }}}}\n  comand: start\n{{% endmacro %}}\ncoreos:\n  units:\n{{{{ unit(\"a.service\") | indent(4, true) }}}}\n"
    );
    let t = template(&text, None);
    let v = kindling::validate::validate_fleet(&t, &[node("n1", "{}\n")]);
    assert_eq!(
        spanned(&v[0], "kindling::structure::unknown-key"),
        "{{ unit(\"a.service\") | indent(4, true) }}"
    );
}

#[test]
fn strict_undefined_names_variable_node_and_position() {
    let text = format!("{HEADER}#cloud-config\nhostname: {{{{ hostnmae }}}}\n");
    let t = template(&text, None);
    let nodes = [
        node("web-01", "hostname: a\n"),
        node("web-02", "hostname: b\n"),
    ];
    let v = kindling::validate::validate_fleet(&t, &nodes);
    assert_eq!(v[0].findings.len(), 1, "{:?}", v[0].findings);
    let f = &v[0].findings[0];
    assert_eq!(f.rule.code, "kindling::template::undefined");
    assert_eq!(
        f.full_message(),
        "`hostnmae` is undefined (on 2 of 2 nodes: web-01, web-02)"
    );
    assert!(f.help_text().starts_with("did you mean `hostname`?"));
    let p = v[0].source.position(f.span.start);
    assert_eq!((p.line, p.column), (3, 14));
    // An attribute of a defined variable.
    let text = format!("{HEADER}#cloud-config\nhostname: {{{{ node.fqdn }}}}\n");
    let v = kindling::validate::validate_fleet(
        &template(&text, None),
        &[node("x", "node: {name: a}\n")],
    );
    assert!(v[0].findings[0].help_text().contains("has no `fqdn`"));
    // Tests and defaults do not fail.
    let text = format!(
        "{HEADER}#cloud-config\nhostname: {{{{ name | default(\"x\") }}}}\n{{% if role is defined %}}\n# {{{{ role }}}}\n{{% endif %}}\n"
    );
    let v = kindling::validate::validate_fleet(&template(&text, None), &[node("x", "{}\n")]);
    assert!(v[0].findings.is_empty(), "{:?}", v[0].findings);
}

#[test]
fn syntax_errors_are_at_their_line_and_column() {
    let (source, _) = kindling::source::load(
        "t.yaml.j2",
        format!("{HEADER}#cloud-config\nhostname: {{{{ name }}\n").into_bytes(),
    );
    let errors = Template::new(source.clone(), None).unwrap_err();
    assert_eq!(errors[0].rule.code, "kindling::template::syntax");
    let p = source.position(errors[0].span.start);
    assert_eq!((p.line, p.column), (3, 19));
    assert!(
        errors[0].message.contains("unexpected `}`"),
        "{}",
        errors[0].message
    );
    // `## template: basic` is cloud-init's other renderer.
    let (source, _) = kindling::source::load("t", b"## template: basic\n#cloud-config\n".to_vec());
    assert_eq!(
        Template::new(source, None).unwrap_err()[0].rule.code,
        "kindling::template::header"
    );
}

/// A corpus file ported to the header: `## template: jinja` above its `#cloud-config`.
fn ported(rel: &str) -> String {
    let text = std::fs::read_to_string(corpus(rel)).unwrap();
    assert!(text.starts_with("#cloud-config"), "{rel}");
    format!("{HEADER}{text}")
}

#[test]
fn corpus_placeholder_templates_render_once_ported() {
    // `{{NAME}}` sed placeholders: invalid YAML as written (a flow mapping as a key), a
    // valid Jinja template once the header is added.
    for (rel, yaml) in [
        (
            "cloud-config/006-coreos-coreos-kubernetes-etcd-cloud-config.yaml",
            "ETCD_NODE_NAME: etcd-01\nETCD_INITIAL_CLUSTER: etcd-01=http://10.0.0.1:2380\n",
        ),
        (
            "cloud-config/102-ARSnova-cloud-dev-environment-etcd-cloud-config.yaml",
            "ETCD_NODE_NAME: etcd-01\nETCD_INITIAL_CLUSTER: etcd-01=http://10.0.0.1:2380\n",
        ),
        (
            "cloud-config/098-arkadijs-cf-docker-broker-cloud-config.yaml",
            "cluster_token: https://discovery.etcd.io/0123456789abcdef\n",
        ),
        (
            "cloud-config/053-s-urbaniak-k8sdo-user-data-worker.tpl.yaml",
            "ETCD_IP: 10.0.0.1\nMASTER_IP: 10.0.0.2\n",
        ),
    ] {
        let raw = crate::support::common::validate_file(&corpus(rel));
        let t = template(&ported(rel), None);
        let v = kindling::validate::validate_fleet(&t, &[node("n1", yaml)]);
        let errors: Vec<_> = v
            .iter()
            .flat_map(|v| &v.findings)
            .filter(|f| f.severity == kindling::diagnostic::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{rel}: {errors:?}");
        if !rel.contains("053") {
            assert!(
                raw.has(kindling::diagnostic::Severity::Error),
                "{rel} was valid as written"
            );
        }
        // Without values every placeholder is an undefined variable, once, at its line.
        let v = kindling::validate::validate_fleet(&t, &[node("n1", "{}\n")]);
        assert_eq!(v[0].findings.len(), 1, "{rel}");
        assert_eq!(v[0].findings[0].rule.code, "kindling::template::undefined");
    }
    // 006 renders the etcd2 name where the placeholder was (line 8, plus the header).
    let t = template(
        &ported("cloud-config/006-coreos-coreos-kubernetes-etcd-cloud-config.yaml"),
        None,
    );
    let n = node("n1", "ETCD_NODE_NAME: etcd-01\nETCD_INITIAL_CLUSTER: x\n");
    let text = t.render(&n.context(), &n.keys()).unwrap();
    assert_eq!(text.lines().nth(7), Some("    name: etcd-01"));
}

#[test]
fn corpus_go_templates_are_not_jinja() {
    // aliem/units puts docker's Go template `{{ .State.Pid }}` in a script: with the header
    // that is a syntax error at its own line and column, and `{% raw %}` fixes it.
    let rel = "cloud-config/089-aliem-units-user-data.yaml";
    let text = ported(rel);
    let (source, _) = kindling::source::load("089.yaml.j2", text.clone().into_bytes());
    let errors = Template::new(source.clone(), None).unwrap_err();
    assert_eq!(errors[0].rule.code, "kindling::template::syntax");
    let p = source.position(errors[0].span.start);
    assert_eq!((p.line, p.column), (32, 93), "{}", errors[0].message);
    let fixed = text.replace(
        "\"{{ .State.Pid }}\"",
        "\"{% raw %}{{ .State.Pid }}{% endraw %}\"",
    );
    let t = template(&fixed, None);
    let n = node("n1", "{}\n");
    let rendered = t.render(&n.context(), &n.keys()).unwrap();
    assert!(rendered.contains("--format=\"{{ .State.Pid }}\" $1"));
    // What it renders is the original file, byte for byte.
    let original = std::fs::read_to_string(corpus(rel)).unwrap();
    assert_eq!(rendered, original);
    // A Helm template (Go templates again) fails on its first tag.
    let helm = std::fs::read_to_string(corpus(
        "cloud-config/109-gardener-gardener-_cloud-config.tpl.yaml",
    ))
    .unwrap();
    let (source, _) = kindling::source::load("109", format!("{HEADER}{helm}").into_bytes());
    let errors = Template::new(source.clone(), None).unwrap_err();
    assert_eq!(errors[0].rule.code, "kindling::template::syntax");
    assert_eq!(source.position(errors[0].span.start).line, 2);
}

/// Run the binary with a time limit; returns the output and how long it took.
fn timed(run: Run) -> (crate::support::common::Output, Duration) {
    let start = Instant::now();
    let out = run.run();
    (out, start.elapsed())
}

#[test]
fn hostile_templates_stop_with_a_clear_error() {
    let cases: [(&str, String, &str); 6] = [
        (
            "infinite recursion",
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}\n".into(),
            "nest deeper than 100 levels",
        ),
        (
            "self include",
            "{% include \"t.yaml.j2\" %}\n".into(),
            "nest deeper than 100 levels",
        ),
        (
            "huge loop",
            "{% for i in range(100000) %}{% for j in range(100000) %}# {{ i }}\n{% endfor %}{% endfor %}".into(),
            "ran out of fuel",
        ),
        (
            "one gigabyte",
            "# {{ \"x\" * 1000000000 }}\n".into(),
            "ran out of fuel",
        ),
        (
            "gigabyte of literal text",
            format!(
                "{{% for i in range(100000) %}}{{% for j in range(10000) %}}# {}\n{{% endfor %}}{{% endfor %}}",
                "y".repeat(1000)
            ),
            "larger than 16 MiB",
        ),
        (
            "deep nesting",
            format!("{}x{}", "{% if true %}".repeat(5000), "{% endif %}".repeat(5000)),
            "recursion",
        ),
    ];
    for (what, body, expect) in cases {
        let text = format!("{HEADER}#cloud-config\n{body}");
        let (out, took) =
            timed(Run::new(&["validate", "--format", "json", "t.yaml.j2"]).file("t.yaml.j2", text));
        assert_eq!(out.status, 1, "{what}: {}{}", out.stdout, out.stderr);
        assert!(took < Duration::from_secs(20), "{what} took {took:?}");
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let f = &json[0];
        assert!(
            f["message"].as_str().unwrap().contains(expect),
            "{what}: {f}"
        );
        assert!(
            matches!(
                f["code"].as_str().unwrap(),
                "kindling::template::limits" | "kindling::template::syntax"
            ),
            "{what}: {f}"
        );
    }
    // The largest process any test ran (every child of this test binary) stayed small: the
    // gigabyte renders were stopped long before a gigabyte.
    let rss_kib = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss();
    assert!(rss_kib < 1024 * 1024, "a child used {rss_kib} KiB");
}

#[test]
fn output_is_capped_even_within_fuel() {
    // 17 MiB of literal text in one piece costs little fuel; the writer stops it.
    let big = "#".repeat(17 * 1024 * 1024);
    let t = template(&format!("{HEADER}#cloud-config\n{big}\n"), None);
    let n = node("n", "{}\n");
    let err = t.render(&n.context(), &n.keys()).unwrap_err();
    assert_eq!(err.finding.rule.code, "kindling::template::limits");
    assert!(
        err.finding.message.contains("larger than 16 MiB"),
        "{}",
        err.finding.message
    );
}

const FLEET: &str = "## template: jinja\n#cloud-config\nhostname: {{ name }}\ncoreos:\n  update:\n    group: {{ channel }}\n    reboot_strategy: {{ strategy }}\n  unitz: []\n";

fn inventory(n: usize, bad_every: usize) -> String {
    let mut s = String::from("name,channel,strategy\n");
    for i in 0..n {
        let strategy = if bad_every > 0 && i % bad_every == 0 {
            "offf"
        } else {
            "reboot"
        };
        s.push_str(&format!("node-{i:04},stable,{strategy}\n"));
    }
    s
}

#[test]
fn inventory_of_one_node() {
    let out = Run::new(&[
        "validate",
        "t.yaml.j2",
        "--inventory",
        "fleet.csv",
        "--color",
        "never",
    ])
    .file("t.yaml.j2", FLEET)
    .file("fleet.csv", inventory(1, 0))
    .run();
    assert_eq!(out.status, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("unknown key \"unitz\" in coreos; the node ignores it (on node node-0000)"),
        "{}",
        out.stdout
    );
}

#[test]
fn inventory_of_a_thousand_nodes_reports_each_mistake_once() {
    let out = Run::new(&[
        "validate",
        "t.yaml.j2",
        "--inventory",
        "fleet.csv",
        "--format",
        "json",
    ])
    .file("t.yaml.j2", FLEET)
    .file("fleet.csv", inventory(1000, 40))
    .run();
    assert_eq!(out.status, 1, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let findings = json.as_array().unwrap();
    let codes: Vec<&str> = findings
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "kindling::update::reboot-strategy",
            "kindling::structure::unknown-key"
        ]
    );
    let bad = &findings[0];
    assert_eq!(bad["line"], 7);
    assert_eq!(bad["rendered"], "offf");
    assert_eq!(bad["nodes_total"], 1000);
    assert_eq!(bad["nodes"].as_array().unwrap().len(), 25);
    assert_eq!(bad["nodes"][1], "node-0040");
    assert_eq!(findings[1]["nodes"].as_array().unwrap().len(), 1000);
    // The other formats carry the node list too.
    let out = Run::new(&[
        "validate",
        "t.yaml.j2",
        "--inventory",
        "fleet.csv",
        "--format",
        "github",
    ])
    .file("t.yaml.j2", FLEET)
    .file("fleet.csv", inventory(1000, 40))
    .run();
    assert!(
        out.stdout
            .contains("(rendered \"offf\"%3B on 25 of 1000 nodes: node-0000, node-0040,")
            || out
                .stdout
                .contains("(rendered \"offf\"; on 25 of 1000 nodes: node-0000, node-0040,"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 2);
    let out = Run::new(&[
        "validate",
        "t.yaml.j2",
        "--inventory",
        "fleet.csv",
        "--format",
        "sarif",
    ])
    .file("t.yaml.j2", FLEET)
    .file("fleet.csv", inventory(1000, 40))
    .run();
    // Valid SARIF 2.1.0, node list and all (the schema scripts/test fetches).
    let schema = root().join("target/tools/sarif-2.1.0.json");
    assert!(
        schema.is_file(),
        "{} is missing: run scripts/test once",
        schema.display()
    );
    let file = out.dir.path().join("out.sarif");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])), cls=jsonschema.Draft7Validator)",
        ])
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("python3 with jsonschema");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let sarif: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["properties"]["nodesTotal"], 1000);
    assert!(
        results[0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("on 25 of 1000 nodes: node-0000, node-0040, node-0080")
    );
    let out = Run::new(&[
        "validate",
        "t.yaml.j2",
        "--inventory",
        "fleet.csv",
        "--color",
        "never",
    ])
    .file("t.yaml.j2", FLEET)
    .file("fleet.csv", inventory(1000, 40))
    .run();
    assert!(
        out.stdout
            .contains("on 25 of 1000 nodes: node-0000, node-0040"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(17 more)"), "{}", out.stdout);
}

#[test]
fn variable_files_have_positions() {
    let out = Run::new(&[
        "validate",
        "t.yaml.j2",
        "--inventory",
        "fleet.yaml",
        "--format",
        "json",
    ])
    .file("t.yaml.j2", FLEET)
    .file(
        "fleet.yaml",
        "- name: a\n  channel: stable\n  strategy: reboot\n- channel: beta\n- name: a\n  channel: off\n",
    )
    .run();
    assert_eq!(out.status, 1, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let got: Vec<(String, i64, String)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_i64().unwrap(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("fleet.yaml".into(), 4, "kindling::template::vars".into()),
            ("fleet.yaml".into(), 5, "kindling::template::vars".into()),
            (
                "fleet.yaml".into(),
                6,
                "kindling::template::ambiguous-value".into()
            ),
        ]
    );
    let out = Run::new(&["render", "t.yaml.j2", "--vars", "v.json"])
        .file("t.yaml.j2", FLEET)
        .file("v.json", "{\"name\": \"a\",\n \"channel\": [1,\n}\n")
        .run();
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("kindling::yaml::syntax"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("v.json:3:1"), "{}", out.stderr);
}

#[test]
fn render_prints_one_node() {
    let out = Run::new(&[
        "render",
        "t.yaml.j2",
        "--vars",
        "v.yaml",
        "--var",
        "name=web-09",
    ])
    .file("t.yaml.j2", FLEET)
    .file("v.yaml", "name: ignored\nchannel: beta\nstrategy: reboot\n")
    .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "#cloud-config\nhostname: web-09\ncoreos:\n  update:\n    group: beta\n    reboot_strategy: reboot\n  unitz: []\n"
    );
    let out = Run::new(&[
        "render",
        "t.yaml.j2",
        "--inventory",
        "f.csv",
        "--node",
        "node-0002",
    ])
    .file("t.yaml.j2", FLEET)
    .file("f.csv", inventory(3, 0))
    .run();
    assert!(out.stdout.contains("hostname: node-0002"), "{}", out.stderr);
    // Undefined: exit 1 with the position, the variable and the node.
    let out = Run::new(&[
        "render",
        "t.yaml.j2",
        "--var",
        "name=web-09",
        "--color",
        "never",
    ])
    .file("t.yaml.j2", FLEET)
    .run();
    assert_eq!(out.status, 1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("`channel` is undefined (on node web-09)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("t.yaml.j2:6:15"), "{}", out.stderr);
    // A plain config is printed unchanged.
    let out = Run::new(&["render", "c.yaml"])
        .file("c.yaml", "#cloud-config\nhostname: a\n")
        .run();
    assert_eq!(out.stdout, "#cloud-config\nhostname: a\n");
}

#[test]
fn compile_writes_one_config_per_node_or_nothing() {
    let tmpl = "## template: jinja\n#cloud-config\nhostname: {{ name }}\ncoreos:\n  update:\n    reboot_strategy: {{ strategy }}\n  fleet:\n    public-ip: $private_ipv4\n";
    let good = "name,strategy,private_ipv4\nn1,reboot,10.0.0.1\nn2,off,10.0.0.2\n";
    let out = Run::new(&[
        "compile",
        "t.yaml.j2",
        "--inventory",
        "f.csv",
        "--out",
        "out",
        "--target",
        "ignition",
    ])
    .file("t.yaml.j2", tmpl)
    .file("f.csv", good)
    .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    for (n, ip) in [("n1", "10.0.0.1"), ("n2", "10.0.0.2")] {
        let path = out.dir.path().join("out").join(n).join("config.ign");
        let config = std::fs::read_to_string(&path).unwrap();
        assert!(config.contains(&format!("data:,{n}%0A")), "{config}");
        assert!(
            config.contains(&format!("FLEET_PUBLIC_IP={ip}")),
            "{config}"
        );
        let check = std::process::Command::new("ignition-validate")
            .arg(&path)
            .output()
            .expect(
                "ignition-validate is needed (Debian package ignition; scripts/test installs it)",
            );
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let out = Run::new(&[
        "compile",
        "t.yaml.j2",
        "--inventory",
        "f.csv",
        "--out",
        "out",
    ])
    .file("t.yaml.j2", tmpl)
    .file("f.csv", good)
    .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(out.dir.path().join("out/n2/etc/hostname")).unwrap(),
        "n2\n"
    );
    assert!(out.dir.path().join("out/n1/kindling-plan.json").is_file());
    // One bad node: nothing is written for any node.
    let out = Run::new(&[
        "compile",
        "t.yaml.j2",
        "--inventory",
        "f.csv",
        "--out",
        "out",
    ])
    .file("t.yaml.j2", tmpl)
    .file(
        "f.csv",
        "name,strategy,private_ipv4\nn1,reboot,10.0.0.1\nn2,sometimes,10.0.0.2\n",
    )
    .run();
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("on 1 of 2 nodes: n2"), "{}", out.stderr);
    assert!(!out.dir.path().join("out").exists());
    // Template-only variables are refused for a plain config.
    let out = Run::new(&["compile", "c.yaml", "--out", "out", "--var", "role=web"])
        .file("c.yaml", "#cloud-config\nhostname: a\n")
        .run();
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("not a template"), "{}", out.stderr);
}

#[test]
fn diff_renders_templates_on_either_side() {
    let tmpl = "## template: jinja\n#cloud-config\nhostname: {{ name }}\n";
    let out = Run::new(&[
        "diff",
        "old.yaml",
        "t.yaml.j2",
        "--vars",
        "v.yaml",
        "--color",
        "never",
    ])
    .file("old.yaml", "#cloud-config\nhostname: old\n")
    .file("t.yaml.j2", tmpl)
    .file("v.yaml", "name: new\n")
    .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("-old"), "{}", out.stdout);
    assert!(out.stdout.contains("+new"), "{}", out.stdout);
    let out = Run::new(&["diff", "t.yaml.j2", "--root", ".", "--var", "name=x"])
        .file("t.yaml.j2", tmpl)
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("etc/hostname"), "{}", out.stdout);
}

#[test]
fn validate_without_variables_reports_what_is_missing() {
    let out = Run::new(&["validate", "t.yaml.j2", "--color", "never"])
        .file("t.yaml.j2", FLEET)
        .run();
    assert_eq!(out.status, 1);
    assert!(out.stdout.contains("`name` is undefined"), "{}", out.stdout);
    // The example template checks clean for its whole fleet.
    let dir = root().join("examples/templates");
    let out = Run::new(&[
        "validate",
        dir.join("cloud-config.yaml.j2").to_str().unwrap(),
        "--vars",
        dir.join("vars.yaml").to_str().unwrap(),
        "--inventory",
        dir.join("fleet.csv").to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.status, 0, "{}", out.stdout);
    assert!(
        out.stdout.ends_with("0 errors, 0 warnings, 0 infos\n"),
        "{}",
        out.stdout
    );
}

const NODE_TEMPLATE: &str = "## template: jinja\n#cloud-config\nhostname: {{ name }}\ncoreos:\n  update:\n    group: {{ channel }}\n  units:\n    - name: app.service\n      content: |\n        [Service]\n        ExecStart=/opt/bin/app --listen $private_ipv4 --role {{ role }}\n";
const NODE_INVENTORY: &str =
    "name,role,channel,private_ipv4\nweb-01,web,stable,10.0.0.1\ndb-01,db,beta,10.0.0.2\n";

/// `diff OLD TEMPLATE --inventory --node`: both sides for that node, the plain side's
/// `$private_ipv4` from the node's record too (no warning, no error), and `apply` the same.
#[test]
fn diff_and_apply_plan_a_template_for_one_inventory_node() {
    let render = Run::new(&[
        "render",
        "t.yaml.j2",
        "--inventory",
        "fleet.csv",
        "--node",
        "db-01",
    ])
    .file("t.yaml.j2", NODE_TEMPLATE)
    .file("fleet.csv", NODE_INVENTORY)
    .run();
    assert_eq!(render.status, 0, "{}", render.stderr);
    let diff = |node: &str, extra: &[&str]| {
        let mut args = vec![
            "diff",
            "old.yaml",
            "t.yaml.j2",
            "--inventory",
            "fleet.csv",
            "--node",
            node,
        ];
        args.extend_from_slice(extra);
        Run::new(&args)
            .file("old.yaml", render.stdout.clone())
            .file("t.yaml.j2", NODE_TEMPLATE)
            .file("fleet.csv", NODE_INVENTORY)
            .run()
    };
    let same = diff("db-01", &[]);
    assert_eq!(same.status, 0, "{}", same.stderr);
    assert_eq!(same.stdout, "no changes\n");
    assert_eq!(
        same.stderr, "",
        "the plain side's $private_ipv4 has the node's value"
    );
    let other = diff("web-01", &["--exit-code"]);
    assert_eq!(other.status, 1, "{}", other.stderr);
    assert!(other.stdout.contains("-hostname") || other.stdout.contains("set-hostname web-01"));
    assert!(
        other.stdout.contains("--listen 10.0.0.1 --role web"),
        "{}",
        other.stdout
    );
    let missing = diff("web-99", &[]);
    assert_eq!(missing.status, 2);
    assert!(
        missing
            .stderr
            .contains("the inventory has no node named \"web-99\""),
        "{}",
        missing.stderr
    );
    // --node needs --inventory and the other way round (usage, exit 2).
    let alone = Run::new(&["diff", "old.yaml", "t.yaml.j2", "--node", "db-01"]).run();
    assert_eq!(alone.status, 2, "{}", alone.stderr);
    // apply converges a root to that node's render.
    let apply = Run::new(&[
        "apply",
        "t.yaml.j2",
        "--inventory",
        "fleet.csv",
        "--node",
        "web-01",
        "--root",
        "node",
    ])
    .file("t.yaml.j2", NODE_TEMPLATE)
    .file("fleet.csv", NODE_INVENTORY);
    std::fs::create_dir(apply.dir.path().join("node")).unwrap();
    let out = apply.run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let unit = std::fs::read_to_string(out.dir.path().join("node/etc/systemd/system/app.service"))
        .unwrap();
    assert!(unit.contains("--listen 10.0.0.1 --role web"), "{unit}");
    // A plain config refuses an inventory (it has no use there).
    let plain = Run::new(&[
        "apply",
        "old.yaml",
        "--inventory",
        "fleet.csv",
        "--node",
        "web-01",
        "--root",
        ".",
    ])
    .file("old.yaml", render.stdout.clone())
    .file("fleet.csv", NODE_INVENTORY)
    .run();
    assert_eq!(plain.status, 2, "{}", plain.stderr);
    assert!(
        plain.stderr.contains("is not a template"),
        "{}",
        plain.stderr
    );
}
