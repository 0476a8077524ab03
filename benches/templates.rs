//! `cargo bench --bench templates`: a 100-line fleet template for 10,000 inventory records
//! (issue 11's figures): `kindling validate` of every node's render, the same with a
//! mistake on every node (each finding mapped back into the template), and `kindling
//! compile --target ignition` writing 10,000 configs. Whole processes, release build.
//! `-- --write DIR` writes the template, variables and inventory instead.

// A panic is how a benchmark reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

const NODES: usize = 10_000;

/// A 100-line template in the shape of a real fleet config: update and locksmith settings,
/// etcd and a kubelet unit with drop-ins built in loops, files with per-node content
/// (one base64-encoded), users and keys.
fn template(typo: bool) -> String {
    let mut t = String::from(
        "## template: jinja\n#cloud-config\n# The fleet's config: one render per node.\nhostname: {{ name }}\n",
    );
    t.push_str("coreos:\n  update:\n    group: {{ channel }}\n    reboot_strategy: {{ strategy | toyaml }}\n");
    t.push_str("  locksmith:\n    window_start: {{ window | default(\"Sun 04:00\") | toyaml }}\n    window_length: 1h\n");
    t.push_str("  units:\n    - name: etcd-member.service\n      command: start\n      drop_ins:\n        - name: 20-cluster.conf\n          content: |\n            [Service]\n");
    t.push_str("            Environment=\"ETCD_NAME={{ name }}\"\n            Environment=\"ETCD_INITIAL_CLUSTER={% for p in peers %}{{ p }}=https://{{ p }}.{{ domain }}:2380{{ \",\" if not loop.last }}{% endfor %}\"\n");
    t.push_str("            Environment=\"ETCD_ADVERTISE_CLIENT_URLS=https://{{ ip }}:2379\"\n            Environment=\"ETCD_LISTEN_CLIENT_URLS=https://0.0.0.0:2379\"\n");
    if typo {
        t.push_str("    - name: kubelet.service\n      enable: true\n      comand: start\n");
    } else {
        t.push_str("    - name: kubelet.service\n      enable: true\n      command: start\n");
    }
    t.push_str("      content: |\n        [Unit]\n        Description=Kubelet on {{ name }}\n        After=etcd-member.service\n        Requires=etcd-member.service\n\n        [Service]\n");
    t.push_str("        Environment=NODE_IP={{ ip }}\n        ExecStartPre=/usr/bin/mkdir -p /var/lib/kubelet\n        ExecStart=/opt/bin/kubelet --hostname-override={{ name }} --node-ip={{ ip }} --node-labels=role={{ role }}\n        Restart=always\n        RestartSec=10\n\n        [Install]\n        WantedBy=multi-user.target\n");
    t.push_str("{% for mount in mounts %}\n    - name: {{ mount | replace(\"/\", \"-\") | trim(\"-\") }}.mount\n      command: start\n      content: |\n        [Mount]\n        What=/dev/disk/by-label/{{ mount | replace(\"/\", \"\") }}\n        Where={{ mount }}\n        Type=ext4\n{% endfor %}\n");
    t.push_str("    - name: node-exporter.service\n      command: start\n      content: |\n        [Service]\n        ExecStart=/opt/bin/node_exporter --web.listen-address={{ ip }}:9100\n        Restart=always\n\n        [Install]\n        WantedBy=multi-user.target\n");
    t.push_str("    - name: logrotate.timer\n      enable: true\n      command: start\n      content: |\n        [Unit]\n        Description=Rotate logs on {{ name }}\n\n        [Timer]\n        OnCalendar=*-*-* 0{{ rack[1:] | int % 6 }}:15:00\n        Persistent=true\n\n        [Install]\n        WantedBy=timers.target\n");
    t.push_str("write_files:\n  - path: /etc/motd\n    content: |\n      {{ name }} ({{ role }}, rack {{ rack }}) in {{ domain }}\n  - path: /etc/kindling/node.json\n    encoding: b64\n    content: {{ {\"name\": name, \"role\": role, \"rack\": rack} | tojson | b64encode }}\n");
    t.push_str("  - path: /etc/hosts\n    permissions: \"0644\"\n    content: |\n      127.0.0.1 localhost\n      {{ ip }} {{ name }}.{{ domain }} {{ name }}\n{% for p in peers %}\n      {{ loop.index }}.0.0.{{ loop.index }} {{ p }}.{{ domain }}\n{% endfor %}\n");
    t.push_str("  - path: /etc/environment\n    content: |\n      NODE_NAME={{ name }}\n      NODE_ROLE={{ role }}\n      NODE_RACK={{ rack }}\n");
    t.push_str("users:\n  - name: ops\n    groups: [sudo, docker]\n    ssh_authorized_keys:\n{% for key in keys %}\n      - {{ key | toyaml }}\n{% endfor %}\nssh_authorized_keys:\n{% for key in keys %}\n  - {{ key | toyaml }}\n{% endfor %}\n");
    t
}

const VARS: &str = "domain: fleet.example.internal\nchannel: stable\nstrategy: etcd-lock\npeers: [etcd-01, etcd-02, etcd-03, etcd-04, etcd-05]\nmounts: [/var/lib/docker, /var/lib/etcd, /srv/data]\nkeys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx7ZxXhR9cA7bzmWl0WbUxTjTYL1Cc5g5o3Zk2xV0Jm ops@example\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBh0Zk2xV0JmDx7ZxXhR9cA7bzmWl0WbUxTjTYL1Cc5 ci@example\n";

fn inventory() -> String {
    let mut s = String::from("name,role,ip,rack,window\n");
    for i in 0..NODES {
        let role = if i % 10 == 0 { "control" } else { "worker" };
        let window = if i % 7 == 0 { "Sat 03:00" } else { "" };
        s.push_str(&format!(
            "node-{i:05},{role},10.{}.{}.{},r{},{window}\n",
            i / 65536,
            (i / 256) % 256,
            i % 256,
            i % 40
        ));
    }
    s
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn run(exe: &str, args: &[&std::ffi::OsStr]) -> (Duration, std::process::Output) {
    let start = Instant::now();
    let out = Command::new(exe).args(args).output().unwrap();
    (start.elapsed(), out)
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let base = std::env::var("KINDLING_BENCH_DIR")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string());
    let keep;
    let dir = if let Some(i) = args.iter().position(|a| a == "--write") {
        let d = std::path::PathBuf::from(args.get(i + 1).map_or("bench-out", String::as_str));
        std::fs::create_dir_all(&d).unwrap();
        d
    } else {
        keep = tempfile::tempdir_in(&base).unwrap();
        keep.path().to_path_buf()
    };
    let tmpl = dir.join("fleet.yaml.j2");
    let typo = dir.join("fleet-typo.yaml.j2");
    let vars = dir.join("vars.yaml");
    let inv = dir.join("fleet.csv");
    std::fs::write(&tmpl, template(false)).unwrap();
    std::fs::write(&typo, template(true)).unwrap();
    std::fs::write(&vars, VARS).unwrap();
    std::fs::write(&inv, inventory()).unwrap();
    println!(
        "template: {} lines; inventory: {NODES} records",
        template(false).lines().count()
    );
    if args.iter().any(|a| a == "--write") {
        println!("wrote {}", dir.display());
        return;
    }
    println!("working in {base}");
    let exe = env!("CARGO_BIN_EXE_kindling");
    let os = |s: &str| std::ffi::OsString::from(s);
    let validate = |t: &std::path::Path| {
        vec![
            os("validate"),
            t.as_os_str().to_owned(),
            os("--vars"),
            vars.as_os_str().to_owned(),
            os("--inventory"),
            inv.as_os_str().to_owned(),
            os("--format"),
            os("json"),
        ]
    };
    let argv = validate(&tmpl);
    let argv: Vec<&std::ffi::OsStr> = argv.iter().map(|a| a.as_os_str()).collect();
    let mut samples = Vec::new();
    for i in 0..6 {
        let (took, out) = run(exe, &argv);
        assert!(
            out.status.success(),
            "the bench template must validate clean: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        if i > 0 {
            samples.push(took);
        }
    }
    println!(
        "kindling validate TEMPLATE --vars --inventory ({NODES} nodes, clean): median {:.0} ms over 5 runs (goal <= 2000 ms)",
        median(samples).as_secs_f64() * 1e3
    );
    let argv = validate(&typo);
    let argv: Vec<&std::ffi::OsStr> = argv.iter().map(|a| a.as_os_str()).collect();
    let mut samples = Vec::new();
    for i in 0..4 {
        let (took, out) = run(exe, &argv);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("\"nodes_total\": 10000"), "{text}");
        if i > 0 {
            samples.push(took);
        }
    }
    println!(
        "  the same with a typo on every node (10,000 findings mapped into the template, reported once): median {:.0} ms",
        median(samples).as_secs_f64() * 1e3
    );
    let out_dir = dir.join("ign");
    let argv = vec![
        os("compile"),
        tmpl.as_os_str().to_owned(),
        os("--vars"),
        vars.as_os_str().to_owned(),
        os("--inventory"),
        inv.as_os_str().to_owned(),
        os("--target"),
        os("ignition"),
        os("--out"),
        out_dir.as_os_str().to_owned(),
    ];
    let argv: Vec<&std::ffi::OsStr> = argv.iter().map(|a| a.as_os_str()).collect();
    let mut samples = Vec::new();
    for i in 0..4 {
        if i < 3 {
            // A fresh directory (the first run creates every directory and file).
            let _ = std::fs::remove_dir_all(&out_dir);
        }
        let (took, out) = run(exe, &argv);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        samples.push(took);
    }
    let rewrite = samples.pop().unwrap();
    println!(
        "kindling compile TEMPLATE --inventory --target ignition ({NODES} configs into new directories): median {:.0} ms over 3 runs (goal <= 4000 ms); over the existing ones: {:.0} ms",
        median(samples).as_secs_f64() * 1e3,
        rewrite.as_secs_f64() * 1e3
    );
    let count = std::fs::read_dir(&out_dir).unwrap().count();
    assert_eq!(count, NODES);

    // In process: what one node costs, by stage.
    let (source, _) = kindling::source::load("fleet.yaml.j2", template(false).into_bytes());
    let t = kindling::template::Template::new(source, None).unwrap();
    let (_, common) =
        kindling::template::vars::read_vars_file("vars.yaml", VARS.as_bytes().to_vec());
    let (_, records) = kindling::template::inventory::read("fleet.csv", inventory().into_bytes());
    let nodes: Vec<_> = records
        .unwrap()
        .iter()
        .take(2000)
        .map(|r| {
            kindling::template::NodeVars::new(kindling::template::vars::merge(
                std::slice::from_ref(common.as_ref().unwrap()),
                Some(&r.vars),
                &[],
            ))
        })
        .collect();
    let start = Instant::now();
    let rendered: Vec<String> = nodes
        .iter()
        .map(|n| t.render(&n.context(), &n.keys()).unwrap())
        .collect();
    let render = start.elapsed() / 2000;
    let start = Instant::now();
    for r in &rendered {
        let v = kindling::validate_rendered("x", r.clone().into_bytes());
        assert!(v.findings.is_empty(), "{:?}", v.findings);
    }
    let check = start.elapsed() / 2000;
    let start = Instant::now();
    for n in nodes.iter().take(200) {
        let _ = t.source_map(&n.context()).unwrap();
    }
    let map = start.elapsed() / 200;
    println!(
        "  per node, one thread: render {:.1} µs, validate the render {:.1} µs, source map (only for nodes with findings) {:.1} µs",
        render.as_secs_f64() * 1e6,
        check.as_secs_f64() * 1e6,
        map.as_secs_f64() * 1e6
    );
}
