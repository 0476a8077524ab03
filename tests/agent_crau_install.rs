//! The agent's install phase with update_engine (CrAU) payloads, end to end on a simulated
//! node: mantle's generator (`flatcar-update-gen`, developer key) makes a payload of an ext4
//! `/usr` with a `/postinst` and a kernel, `kindling update-server publish --trusted-key`
//! serves it, and one agent run with the developer key trusted applies it into USR-B, puts
//! the kernel at `/boot/flatcar/vmlinuz-b`, runs the postinst with update_engine's
//! arguments (it records them inside the test's root) and only then stages the slot. A
//! postinst that exits 1 is update_engine's error 5 and nothing new is bootable.

use std::path::{Path, PathBuf};

use crate::support::agent::{Node, Server, kindling, run};
use crate::support::process::peer;

/// An 8 MiB ext4 `/usr` for `version` whose `/postinst` is `script`.
fn usr_with_postinst(dir: &Path, version: &str, script: &str) -> PathBuf {
    let tree = dir.join(format!("usr-{version}"));
    std::fs::create_dir_all(tree.join("share/coreos")).unwrap();
    std::fs::write(
        tree.join("share/coreos/release"),
        format!("COREOS_RELEASE_VERSION={version}\nCOREOS_RELEASE_BOARD=amd64-usr\n"),
    )
    .unwrap();
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("bin/flatcar-postinst"), script).unwrap();
    run(
        "chmod",
        &["755", tree.join("bin/flatcar-postinst").to_str().unwrap()],
    );
    std::os::unix::fs::symlink("bin/flatcar-postinst", tree.join("postinst")).unwrap();
    let image = dir.join(format!("usr-{version}.ext4"));
    let out = run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            tree.to_str().unwrap(),
            image.to_str().unwrap(),
            "8M",
        ],
    );
    assert_eq!(out.code, 0, "mkfs.ext4: {}", out.stderr);
    image
}

/// A signed payload of `image` with a 10000-byte kernel; (payload, padded kernel bytes).
fn payload(dir: &Path, image: &Path) -> (PathBuf, Vec<u8>) {
    let kernel: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let kernel_path = dir.join("vmlinuz");
    std::fs::write(&kernel_path, &kernel).unwrap();
    let out_path = dir.join("flatcar_production_update.gz");
    let out = std::process::Command::new(peer("flatcar-update-gen"))
        .arg("-usr")
        .arg(image)
        .arg("-kernel")
        .arg(&kernel_path)
        .arg("-out")
        .arg(&out_path)
        .env("TMPDIR", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut padded = kernel;
    padded.resize(12_288, 0);
    (out_path, padded)
}

/// A node running 1.0.0 that trusts the developer key, and a server offering 1.0.1.
fn node_and_server(dir: &Path, script: &str) -> (Node, Server, PathBuf, Vec<u8>) {
    let v100 = usr_with_postinst(dir, "1.0.0", "#!/bin/sh\nexit 0\n");
    let v101 = usr_with_postinst(dir, "1.0.1", script);
    let (payload, kernel) = payload(dir, &v101);
    let server = Server::start(&dir.join("server"));
    let key = peer("flatcar-update-tools/developer-key.pub.pem");
    let out = kindling(&[
        "update-server",
        "publish",
        "--dir",
        server.dir.to_str().unwrap(),
        "--channel",
        "stable",
        "--version",
        "1.0.1",
        "--payload",
        payload.to_str().unwrap(),
        "--trusted-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "publish: {}{}", out.stdout, out.stderr);
    let node = Node::checking(dir, &v100, &server.url, "off", &[]);
    std::fs::copy(
        &key,
        node.root.join("etc/kindling/trusted-keys/developer.pem"),
    )
    .unwrap();
    (node, server, v101, kernel)
}

#[test]
fn a_crau_payload_is_applied_its_kernel_installed_and_its_postinst_run_before_it_may_boot() {
    let dir = tempfile::tempdir().unwrap();
    // Records its arguments in its working directory: the node's root.
    let script = "#!/bin/sh\nprintf '%s\\n' \"$@\" > postinst-ran\n";
    let (node, _server, v101, kernel) = node_and_server(dir.path(), script);
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("update_engine (CrAU)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("developer.pem"), "{}", out.stderr);
    let status = node.status();
    assert!(
        status.contains("UPDATE_STATUS_UPDATED_NEED_REBOOT"),
        "{status}"
    );
    let image = std::fs::read(&v101).unwrap();
    assert_eq!(&node.slot_bytes("USR-B")[..image.len()], image.as_slice());
    assert_eq!(
        std::fs::read(node.root.join("boot/flatcar/vmlinuz-b")).unwrap(),
        kernel
    );
    assert!(
        !node
            .root
            .join("boot/flatcar/.vmlinuz-b.kindling-partial")
            .exists()
    );
    assert_eq!(
        std::fs::read_to_string(node.root.join("postinst-ran")).unwrap(),
        format!("{}\nKERNEL=/boot/flatcar/vmlinuz-b\n", node.disk.display())
    );
    let (pa, _, _) = node.attrs("USR-A");
    let (pb, tb, sb) = node.attrs("USR-B");
    assert!(
        pb > pa && tb == 1 && sb == 0,
        "USR-B P{pb} T{tb} S{sb}, USR-A P{pa}"
    );
}

#[test]
fn a_failing_postinst_is_error_5_and_nothing_new_boots() {
    let dir = tempfile::tempdir().unwrap();
    let script = "#!/bin/sh\necho cannot finish the install >&2\nexit 1\n";
    let (node, _server, _, _) = node_and_server(dir.path(), script);
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let json = node.status_json();
    assert_eq!(json["record"]["last_error"]["code"], 5, "{json}");
    let message = json["record"]["last_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("cannot finish the install"), "{message}");
    assert_eq!(node.attrs("USR-B").0, 0, "USR-B must stay unbootable");
    assert_eq!(node.attrs("USR-A"), (1, 0, 1));
}
