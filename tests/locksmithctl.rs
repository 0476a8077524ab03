//! kindling installed as `locksmithctl` answers help and bad arguments as the real
//! `locksmithctl` (`../shared/peers/locksmithctl`, locksmith 0.6.2) does: both are run with
//! the same arguments and their stdout, stderr and exit status compared byte for byte. The
//! one difference allowed is kindling's mark in the version (`0.6.2+git (kindling)`). None of
//! these command lines reaches an etcd, except those given the test's own etcd.

use std::process::Command;

use crate::support::lock::{Etcd, kindling_as_locksmithctl, peer};

/// (exit status, stdout, stderr).
fn run(program: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(program)
        .args(args)
        .env_remove("LOCKSMITHCTL_ENDPOINT")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const CASES: &[&[&str]] = &[
    &[],
    &["-h"],
    &["--help"],
    &["-help"],
    &["-h=x"],
    &["-h", "status"],
    &["help"],
    &["help", "help"],
    &["help", "lock"],
    &["help", "reboot"],
    &["help", "send-need-reboot"],
    &["help", "set-max"],
    &["help", "status"],
    &["help", "unlock"],
    &["help", "status", "extra"],
    &["help", "bogus"],
    &["help", "-h"],
    &["bogus"],
    &["bogus", "-h"],
    &["-"],
    &["--"],
    &["--bogus"],
    &["-bogus=1"],
    &["---x"],
    &["-=x"],
    &["--endpoint"],
    &["-debug=x"],
    &["-version=x"],
    &["-version"],
    &["--version"],
    &["-version=false"],
    &["-debug=true", "-version"],
    &["-version", "-bogus"],
    &["-debug=0"],
    &["--debug", "--"],
    &["status", "-h"],
    &["status", "--help"],
    &["status", "---x"],
    &["status", "--endpoint=x"],
    &["lock", "-h"],
    &["lock", "--bogus"],
    &["unlock", "--bogus=1"],
    &["set-max"],
    &["set-max", "-h"],
    &["reboot", "-h"],
    &["send-need-reboot", "-h"],
    &["-debug", "status", "-h"],
];

#[test]
fn as_locksmithctl_help_and_bad_arguments_match_the_real_one() {
    let real = peer("locksmithctl");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ours = kindling_as_locksmithctl(dir.path());
    for args in CASES {
        let theirs = run(&real, args);
        let (code, out, err) = run(&ours, args);
        let mine = (
            code,
            out.replace("0.6.2+git (kindling)", "0.6.2+git"),
            err.replace("0.6.2+git (kindling)", "0.6.2+git"),
        );
        assert_eq!(mine, theirs, "locksmithctl {args:?}");
    }
}

#[test]
fn as_locksmithctl_extra_arguments_and_the_end_of_flags_match_on_a_real_etcd() {
    let etcd = Etcd::start();
    let real = peer("locksmithctl");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ours = kindling_as_locksmithctl(dir.path());
    let endpoint = format!("-endpoint={}", etcd.url);
    for args in [
        &["status", "extra"][..],
        &["--", "status"],
        &["-debug", "--", "status", "--", "x"],
        &["set-max", "x"],
        // -endpoint more than once: both are tried (the first one answers nothing).
        &["-endpoint", "http://127.0.0.1:9", "status"],
    ] {
        let args: Vec<&str> = std::iter::once(endpoint.as_str())
            .chain(args.iter().copied())
            .collect();
        assert_eq!(
            run(&ours, &args),
            run(&real, &args),
            "locksmithctl {args:?}"
        );
    }
}
