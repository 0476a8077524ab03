//! Flatcar's own payloads (update_engine's "CrAU" format) on simulated nodes (`--root DIR
//! --disk IMG`, real cgpt): payloads made by mantle's generator (`flatcar-update-gen`, signed
//! with mantle's developer key) from real ext4 `/usr` images with a recording `/postinst`,
//! served by go-omaha's `omaha-trivial-server`, compared byte for byte with what mantle's
//! `flatcar-update-apply` writes for the same payload. First the harness's own faults are
//! proven to be faults by mantle's `flatcar-update-dump`; then the agent must stage a good
//! payload exactly as update_engine would (the slot, the kernel, the postinst, cgpt's
//! attributes) and refuse every bad one with nothing bootable but the old slot, also when
//! killed at random points of the install.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::agent::{Node, kindling};
use crate::support::crau::{self, GoOmaha, Payload, Spec, developer_key, peer};

/// `flatcar-update-dump PAYLOAD`: (exit code, stderr).
fn dump(payload: &Path) -> (i32, String) {
    let out = Command::new(peer("flatcar-update-dump"))
        .arg(payload)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The harness itself: mantle's generator and applier agree with the image, the kernel is
/// in the payload, and each altered payload is one mantle's own dump refuses.
#[test]
fn mantle_payloads_and_their_faults_are_what_the_tests_claim() {
    let dir = tempfile::tempdir().unwrap();
    let p = Payload::generate(dir.path(), &Spec::new("1.0.1"));
    assert_eq!(
        p.printed("SIZE").parse::<u64>().unwrap(),
        std::fs::metadata(&p.path).unwrap().len()
    );
    assert_eq!(p.printed("KERNEL_SIZE"), "12288", "{:?}", p.printed);
    assert_eq!(
        p.printed("METADATA_SIZE").parse::<u64>().unwrap(),
        p.data_start()
    );
    let reference = p.reference_usr(dir.path());
    assert_eq!(
        reference,
        std::fs::read(&p.usr).unwrap(),
        "flatcar-update-apply writes the image"
    );
    let (code, err) = dump(&p.path);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Good v2 signature"), "{err}");
    for (what, bad) in [
        ("flipped data", p.with_flipped_data(dir.path())),
        ("flipped manifest", p.with_flipped_manifest(dir.path())),
        ("flipped signature", p.with_flipped_signature(dir.path())),
        ("truncated", p.truncated(dir.path(), 1000)),
        ("delta", p.as_delta(dir.path())),
    ] {
        let (code, err) = dump(&bad);
        assert_ne!(code, 0, "{what}: flatcar-update-dump accepted it: {err}");
    }
}

/// USR-B is not bootable and USR-A is what boots, untouched.
fn assert_old_slot_still_boots(node: &Node) {
    let (pb, tb, sb) = node.attrs("USR-B");
    assert!(
        pb == 0 || (tb == 0 && sb == 0),
        "USR-B is bootable: P={pb} T={tb} S={sb}"
    );
    assert_eq!(node.attrs("USR-A"), (1, 0, 1), "USR-A changed");
    let out = kindling(&["slots", "next", "--disk", node.disk.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&node.partuuid("USR-A")),
        "the firmware would not boot USR-A: {}",
        out.stdout
    );
}

/// The kernel file update_engine would write: the kernel, zero-padded to 4 KiB blocks as
/// the generator padded it (or exactly the kernel).
fn assert_kernel_in_place(node: &Node, p: &Payload) {
    let written = std::fs::read(node.root.join("boot/flatcar/vmlinuz-b"))
        .expect("no /boot/flatcar/vmlinuz-b under the node's root");
    let kernel = std::fs::read(p.kernel.as_ref().unwrap()).unwrap();
    assert!(written.len() >= kernel.len(), "the kernel file is short");
    assert_eq!(&written[..kernel.len()], &kernel[..], "the kernel's bytes");
    assert!(
        written[kernel.len()..].iter().all(|&b| b == 0) && written.len().is_multiple_of(4096)
            || written.len() == kernel.len(),
        "the kernel file has {} bytes after the kernel",
        written.len() - kernel.len()
    );
}

/// The whole update from go-omaha: USR-B holds exactly flatcar-update-apply's output, the
/// kernel is in place, the postinst ran with update_engine's arguments from the new slot, and
/// cgpt shows USR-B above USR-A with one try, not yet successful.
#[test]
fn a_flatcar_node_stages_a_mantle_payload_from_go_omaha() {
    let dir = tempfile::tempdir().unwrap();
    let p = Payload::generate(dir.path(), &Spec::new("1.0.1"));
    let reference = p.reference_usr(dir.path());
    let server = GoOmaha::start(&p.path, "1.0.1");
    let key = developer_key();
    let node = crau::node(dir.path(), &server.url, &[&key]);
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let status = node.status();
    assert!(
        status.contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT"),
        "{status}\n{}",
        out.stderr
    );
    assert!(status.contains("NEW_VERSION=1.0.1"), "{status}");
    let slot = node.slot_bytes("USR-B");
    assert_eq!(
        &slot[..reference.len()],
        &reference[..],
        "USR-B is not flatcar-update-apply's output"
    );
    assert_eq!(node.slot_release("USR-B").as_deref(), Some("1.0.1"));
    assert_kernel_in_place(&node, &p);
    let (argv, env, _cwd, runs) = crau::postinst_record(&p.record);
    assert_eq!(runs, 1, "the postinst ran once");
    assert!(
        argv.first().is_some_and(|a| a.ends_with("postinst")),
        "{argv:?}"
    );
    assert_eq!(
        argv.get(2).map(String::as_str),
        Some("KERNEL=/boot/flatcar/vmlinuz-b"),
        "update_engine's arguments: the install device, then KERNEL=: {argv:?}"
    );
    assert!(
        argv.get(1).is_some_and(|d| !d.is_empty()),
        "no install device: {argv:?}"
    );
    assert!(env.iter().any(|l| l.starts_with("PATH=")), "{env:?}");
    let (pb, tb, sb) = node.attrs("USR-B");
    let (pa, _, _) = node.attrs("USR-A");
    assert!(pb > pa, "USR-B P={pb} not above USR-A P={pa}");
    assert_eq!((tb, sb), (1, 0), "USR-B T=1 S=0");
    node.assert_gpt_clean();
}

/// With only Flatcar's official key trusted (what kindling ships), mantle's developer-signed
/// payload is refused and nothing becomes bootable.
#[test]
fn a_payload_no_trusted_key_signed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = Payload::generate(dir.path(), &Spec::new("1.0.1"));
    let server = GoOmaha::start(&p.path, "1.0.1");
    let node = crau::node(dir.path(), &server.url, &[]);
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.to_lowercase().contains("key") || out.stderr.contains("signature"),
        "{}",
        out.stderr
    );
    assert_refused(&node, &p, &out.stderr);
}

/// After a refusal: an error code recorded, the old slot still booting, no postinst run.
fn assert_refused(node: &Node, p: &Payload, stderr: &str) {
    assert_old_slot_still_boots(node);
    let json = node.status_json();
    let code = json["record"]["last_error"]["code"].as_u64().unwrap_or(0);
    assert_ne!(code, 0, "no error code recorded: {json}\n{stderr}");
    let (_, _, _, runs) = crau::postinst_record(&p.record);
    assert_eq!(runs, 0, "the postinst of a refused payload ran");
    assert!(
        !node.status().contains("UPDATED_NEED_REBOOT"),
        "{}",
        node.status()
    );
}

/// One altered payload served by go-omaha to a fresh node trusting the developer key:
/// refused, with `words` (any of them) in the message; returns the error code.
fn refused(dir: &Path, p: &Payload, bad: &Path, words: &[&str]) -> u64 {
    let server = GoOmaha::start(bad, "1.0.1");
    let key = developer_key();
    let node = crau::node(dir, &server.url, &[&key]);
    let out = node.agent_once();
    assert_eq!(
        out.code,
        1,
        "{} was not refused: {}\n{}",
        bad.display(),
        out.stdout,
        out.stderr
    );
    let lower = out.stderr.to_lowercase();
    assert!(
        words.iter().any(|w| lower.contains(&w.to_lowercase())),
        "{}: the message names none of {words:?}: {}",
        bad.display(),
        out.stderr
    );
    assert_refused(&node, p, &out.stderr);
    node.status_json()["record"]["last_error"]["code"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn flipped_bytes_truncation_and_delta_payloads_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = Payload::generate(dir.path(), &Spec::new("1.0.1"));
    // update_engine's codes: 29 operation hash mismatch, 18 payload signature (public key)
    // verification, 11 payload size mismatch, 28 operation execution error.
    let cases: [(&str, std::path::PathBuf, &[&str], u64); 5] = [
        (
            "data",
            p.with_flipped_data(dir.path()),
            &["hash", "operation"],
            29,
        ),
        (
            "manifest",
            p.with_flipped_manifest(dir.path()),
            &["signature", "manifest", "hash"],
            18,
        ),
        (
            "signature",
            p.with_flipped_signature(dir.path()),
            &["signature"],
            18,
        ),
        (
            "truncated",
            p.truncated(dir.path(), 1000),
            &["truncat", "size", "short", "hash"],
            11,
        ),
        ("delta", p.as_delta(dir.path()), &["MOVE", "delta"], 28),
    ];
    for (name, bad, words, want) in cases {
        let code = refused(&dir.path().join(name), &p, &bad, words);
        assert_eq!(code, want, "{name}: error code");
    }
}

#[test]
fn a_postinst_exiting_1_is_error_5_and_nothing_boots() {
    let dir = tempfile::tempdir().unwrap();
    let p = Payload::generate(
        dir.path(),
        &Spec {
            postinst_exit: 1,
            ..Spec::new("1.0.1")
        },
    );
    let server = GoOmaha::start(&p.path, "1.0.1");
    let key = developer_key();
    let node = crau::node(dir.path(), &server.url, &[&key]);
    let out = node.agent_once();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("postinst"), "{}", out.stderr);
    assert_old_slot_still_boots(&node);
    let json = node.status_json();
    assert_eq!(json["record"]["last_error"]["code"], 5, "{json}");
    let (_, _, _, runs) = crau::postinst_record(&p.record);
    assert_eq!(runs, 1, "the postinst ran (and failed)");
}

/// SIGKILL the agent at 100 random moments of a CrAU install (download, operations,
/// signature, kernel, postinst, the table write), chained as the kindling-format test does:
/// after every kill USR-B is unbootable or holds exactly flatcar-update-apply's output, USR-A
/// keeps its attributes, one GPT copy is whole; every tenth kill is followed by a run left
/// to finish, which must converge. A 4 MiB `/usr` keeps a cycle short.
#[test]
fn sigkill_during_a_crau_install_never_makes_an_unverified_slot_bootable() {
    let dir = tempfile::tempdir().unwrap();
    let p = Payload::generate(
        dir.path(),
        &Spec {
            usr_mib: 4,
            ..Spec::new("1.0.1")
        },
    );
    let reference = p.reference_usr(dir.path());
    let server = GoOmaha::start(&p.path, "1.0.1");
    let key = developer_key();
    let node = crau::node(dir.path(), &server.url, &[&key]);
    let record = node.root.join("var/lib/kindling/agent.json");
    let usr_b = node.partuuid("USR-B");
    let reset = || {
        let _ = std::fs::remove_file(&record);
        let out = kindling(&[
            "slots",
            "set-unbootable",
            "--disk",
            node.disk.to_str().unwrap(),
            "--partuuid",
            &usr_b,
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    let converged = |why: &str| {
        assert!(
            node.status()
                .contains("CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT"),
            "{why}: {}",
            node.status()
        );
        assert_eq!(
            &node.slot_bytes("USR-B")[..reference.len()],
            &reference[..],
            "{why}"
        );
        assert_eq!(node.attrs("USR-B").1, 1, "{why}: one try");
    };
    let started = Instant::now();
    let out = node.agent_once();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let full = started.elapsed();
    converged("the first run");
    reset();
    let args: Vec<String> = node.agent_args().iter().map(|s| (*s).to_string()).collect();
    let mut landed = 0;
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let deadline = Instant::now() + Duration::from_secs(420);
    while landed < 100 {
        assert!(
            Instant::now() < deadline,
            "only {landed} kills landed in 420 s (a full cycle takes {full:?})"
        );
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let at = full.mul_f64((rng % 1000) as f64 / 1000.0);
        let mut child = Command::new(crate::support::agent::bin())
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_some() {
            converged("a run that finished before its kill");
            reset();
            continue;
        }
        let _ = child.kill();
        let _ = child.wait();
        landed += 1;
        let (pb, tb, sb) = node.attrs("USR-B");
        if pb > 0 && (tb > 0 || sb == 1) {
            assert_eq!(
                &node.slot_bytes("USR-B")[..reference.len()],
                &reference[..],
                "kill {landed}: USR-B bootable with bytes that are not the payload's"
            );
        }
        assert_eq!(node.attrs("USR-A"), (1, 0, 1), "kill {landed}");
        assert!(
            node.gpt_copies() != (false, false),
            "kill {landed}: both GPT copies torn"
        );
        if landed % 10 == 0 {
            let out = node.agent_once();
            assert_eq!(out.code, 0, "after kill {landed}: {}", out.stderr);
            converged(&format!("the run after kill {landed}"));
            node.assert_gpt_clean();
            reset();
        }
    }
}
