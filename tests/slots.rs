//! `kindling slots` and `kindling::slots` against the real tools: disks made by kindling and
//! independently by sgdisk, every attribute change read back with Debian's cgpt (`show -i N
//! -P/-T/-S/-u`, `show -v` for both headers and CRCs), cgpt's own changes read back by
//! kindling, `prioritize` compared with real `cgpt prioritize` on twin images, slots filled
//! from real `mkfs.ext4 -d` images, and hostile disks.

use std::path::{Path, PathBuf};
use std::process::Command;

use kindling::slots::{self, Disk, SlotsError, USR_A_PARTUUID as A, USR_B_PARTUUID as B};

const USR_TYPE: &str = "5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6";
const KERNEL_TYPE: &str = "fe3a2a5d-4f32-41a7-b725-accc3285a309";

/// Runs a tool; a missing tool fails the test with the package to install.
fn tool(name: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} cannot run ({e}); install Debian's cgpt, gdisk, e2fsprogs and squashfs-tools (scripts/test does)")
    });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tool_ok(name: &str, args: &[&str]) -> String {
    let (ok, stdout, stderr) = tool(name, args);
    assert!(ok, "{name} {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

fn kindling(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(args)
        .output()
        .unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn kindling_ok(args: &[&str]) -> String {
    let out = kindling(args);
    assert_eq!(
        out.status, 0,
        "kindling {args:?}: {}{}",
        out.stdout, out.stderr
    );
    out.stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `cgpt show -i N -<field> IMG`, trimmed.
fn cgpt_field(img: &Path, n: u32, field: char) -> String {
    tool_ok(
        "cgpt",
        &["show", "-i", &n.to_string(), &format!("-{field}"), s(img)],
    )
    .trim()
    .to_string()
}

/// (priority, tries, successful) as cgpt reads them.
fn cgpt_attrs(img: &Path, n: u32) -> (u8, u8, u8) {
    (
        cgpt_field(img, n, 'P').parse().unwrap(),
        cgpt_field(img, n, 'T').parse().unwrap(),
        cgpt_field(img, n, 'S').parse().unwrap(),
    )
}

/// Both GPT copies valid and consistent: `cgpt show -v` lists both headers with no INVALID
/// and no warning, `sgdisk -v` finds no problem, and `cgpt repair` changes no byte of either
/// table.
fn assert_clean(img: &Path) {
    let (ok, stdout, stderr) = tool("cgpt", &["show", "-v", s(img)]);
    assert!(ok, "cgpt show -v failed: {stderr}");
    assert!(!stdout.contains("INVALID"), "cgpt show -v:\n{stdout}");
    assert!(!stderr.contains("WARNING"), "cgpt show -v: {stderr}");
    assert!(stdout.contains("Pri GPT header") && stdout.contains("Sec GPT header"));
    let verify = tool_ok("sgdisk", &["-v", s(img)]);
    assert!(verify.contains("No problems found"), "sgdisk -v:\n{verify}");
    let copy = img.with_extension("repaired");
    std::fs::copy(img, &copy).unwrap();
    tool_ok("cgpt", &["repair", s(&copy)]);
    let (a, b) = (std::fs::read(img).unwrap(), std::fs::read(&copy).unwrap());
    let n = a.len();
    assert_eq!(
        a[..34 * 512],
        b[..34 * 512],
        "cgpt repair changed the primary table"
    );
    assert_eq!(
        a[n - 33 * 512..],
        b[n - 33 * 512..],
        "cgpt repair changed the backup table"
    );
    std::fs::remove_file(copy).unwrap();
}

fn init_disk(dir: &Path, extra: &[&str]) -> PathBuf {
    let img = dir.join("disk.img");
    kindling_ok(&init_args(&img, extra));
    img
}

/// `slots init --disk IMG --slot-size 8M EXTRA...`.
fn init_args<'a>(img: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["slots", "init", "--disk", s(img), "--slot-size", "8M"];
    args.extend_from_slice(extra);
    args
}

/// A file of `len` zero bytes (sparse) at `path`.
fn blank_file(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// A CoreOS-like disk made by sgdisk alone, USR-A's attributes set by sgdisk's own bit
/// editor (priority 1 = bit 48, successful = bit 56).
fn sgdisk_disk(dir: &Path) -> PathBuf {
    let img = dir.join("sgdisk.img");
    blank_file(&img, 48 * 1024 * 1024);
    tool_ok(
        "sgdisk",
        &[
            "-o",
            "-n",
            "1:2048:+8M",
            "-c",
            "1:EFI-SYSTEM",
            "-t",
            "1:ef00",
            "-n",
            "3:0:+8M",
            "-c",
            "3:USR-A",
            "-t",
            &format!("3:{USR_TYPE}"),
            "-u",
            &format!("3:{A}"),
            "-n",
            "4:0:+8M",
            "-c",
            "4:USR-B",
            "-t",
            &format!("4:{USR_TYPE}"),
            "-u",
            &format!("4:{B}"),
            "-n",
            "9:0:0",
            "-c",
            "9:ROOT",
            "-A",
            "3:set:48",
            "-A",
            "3:set:56",
            s(&img),
        ],
    );
    img
}

#[derive(serde::Deserialize, Debug)]
struct ShowJson {
    booted: Option<String>,
    next: Option<String>,
    tables: serde_json::Value,
    slots: Vec<SlotJson>,
}

#[derive(serde::Deserialize, Debug)]
struct SlotJson {
    number: u32,
    label: String,
    partuuid: String,
    priority: u8,
    tries: u8,
    successful: bool,
    version: Option<String>,
    booted: bool,
}

fn show(img: &Path) -> ShowJson {
    serde_json::from_str(&kindling_ok(&[
        "slots",
        "show",
        "--disk",
        s(img),
        "--format",
        "json",
    ]))
    .unwrap()
}

#[test]
fn init_makes_a_coreos_layout_that_cgpt_reads() {
    let dir = tempfile::tempdir().unwrap();
    let img = init_disk(dir.path(), &[]);
    assert_clean(&img);
    assert_eq!(cgpt_attrs(&img, 3), (1, 0, 1));
    assert_eq!(cgpt_attrs(&img, 4), (0, 0, 0));
    assert_eq!(cgpt_field(&img, 3, 'u').to_lowercase(), A);
    assert_eq!(cgpt_field(&img, 4, 'u').to_lowercase(), B);
    assert_eq!(cgpt_field(&img, 3, 't').to_lowercase(), USR_TYPE);
    for (n, label) in [(1, "EFI-SYSTEM"), (3, "USR-A"), (4, "USR-B"), (9, "ROOT")] {
        assert_eq!(cgpt_field(&img, n, 'l'), label);
    }
    // 8M slots, in 512-byte sectors.
    assert_eq!(cgpt_field(&img, 3, 's'), "16384");
    let shown = show(&img);
    assert_eq!(shown.slots.len(), 2);
    assert_eq!(
        (shown.slots[0].number, shown.slots[0].label.as_str()),
        (3, "USR-A")
    );
    assert_eq!(shown.next.as_deref(), Some(A));
    assert_eq!(shown.tables["primary"]["state"], "ok");
    // A second init refuses to overwrite.
    let again = kindling(&init_args(&img, &[]));
    assert_eq!(again.status, 2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
}

#[test]
fn every_change_is_what_cgpt_reads() {
    let dir = tempfile::tempdir().unwrap();
    let img = init_disk(dir.path(), &[]);
    let disk = Disk::open(&img).unwrap();

    // The update: the passive slot is made unbootable, written, then given one trial.
    let passive = disk.passive_of(A).unwrap();
    assert_eq!(passive.partuuid, B);
    disk.make_unbootable(B).unwrap();
    assert_eq!(cgpt_attrs(&img, 4), (0, 0, 0));
    assert_clean(&img);
    let trial = disk.prioritize_for_trial(&B.to_uppercase()).unwrap();
    assert_eq!(
        (trial.priority, trial.tries, trial.successful),
        (2, 1, false)
    );
    assert_eq!(cgpt_attrs(&img, 4), (2, 1, 0));
    assert_eq!(cgpt_attrs(&img, 3), (1, 0, 1));
    assert_clean(&img);

    // The reboot: the firmware uses B's only try.
    let next = disk.next_boot().unwrap();
    assert_eq!(next.slot.partuuid, B);
    assert!(next.used_try);
    assert_eq!(cgpt_attrs(&img, 4), (2, 0, 0));
    assert_clean(&img);

    // B boots well and is marked good, as coreos-setgoodroot does.
    disk.mark_good(B).unwrap();
    assert_eq!(cgpt_attrs(&img, 4), (2, 0, 1));
    assert_eq!(cgpt_attrs(&img, 3), (1, 0, 1));
    assert_clean(&img);
    assert_eq!(kindling_ok(&["slots", "next", "--disk", s(&img)]).trim(), B);
    assert_eq!(
        cgpt_attrs(&img, 4),
        (2, 0, 1),
        "a good slot's boot uses no try"
    );

    // The next update goes to A, the other way round.
    assert_eq!(disk.passive_of(B).unwrap().partuuid, A);
    kindling_ok(&[
        "slots",
        "set-unbootable",
        "--disk",
        s(&img),
        "--partuuid",
        A,
    ]);
    assert_eq!(cgpt_attrs(&img, 3), (0, 0, 0));
    kindling_ok(&["slots", "set-trial", "--disk", s(&img), "--partuuid", A]);
    assert_eq!(cgpt_attrs(&img, 3), (2, 1, 0));
    assert_eq!(cgpt_attrs(&img, 4), (1, 0, 1));
    assert_clean(&img);
}

#[test]
fn a_failed_trial_boot_falls_back_to_the_good_slot() {
    let dir = tempfile::tempdir().unwrap();
    let img = init_disk(dir.path(), &[]);
    kindling_ok(&["slots", "set-trial", "--disk", s(&img), "--partuuid", B]);
    // First boot: the trial slot, once.
    assert_eq!(kindling_ok(&["slots", "next", "--disk", s(&img)]).trim(), B);
    assert_eq!(cgpt_attrs(&img, 4), (2, 0, 0));
    // It never got marked good: the next boot returns to the old slot, and stays there.
    for _ in 0..3 {
        assert_eq!(kindling_ok(&["slots", "next", "--disk", s(&img)]).trim(), A);
        assert_eq!(cgpt_attrs(&img, 3), (1, 0, 1));
        assert_eq!(cgpt_attrs(&img, 4), (2, 0, 0));
    }
    assert_clean(&img);
    let shown = show(&img);
    assert_eq!(shown.next.as_deref(), Some(A));

    // Nothing bootable at all: a clear error and exit 1, and nothing written.
    kindling_ok(&[
        "slots",
        "set-unbootable",
        "--disk",
        s(&img),
        "--partuuid",
        A,
    ]);
    let before = std::fs::read(&img).unwrap();
    let out = kindling(&["slots", "next", "--disk", s(&img)]);
    assert_eq!(out.status, 1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("nothing on") && out.stderr.contains("set-good"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&img).unwrap(), before);
    assert!(matches!(
        Disk::open(&img).unwrap().next_boot(),
        Err(SlotsError::NothingBootable { .. })
    ));
}

#[test]
fn cgpt_made_changes_are_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let img = init_disk(dir.path(), &[]);
    tool_ok(
        "cgpt",
        &["add", "-i", "4", "-P", "2", "-T", "1", "-S", "0", s(&img)],
    );
    let shown = show(&img);
    let b = &shown.slots[1];
    assert_eq!(
        (b.partuuid.as_str(), b.priority, b.tries, b.successful),
        (B, 2, 1, false)
    );
    assert_eq!(shown.next.as_deref(), Some(B));
    tool_ok(
        "cgpt",
        &["add", "-i", "3", "-P", "15", "-T", "15", "-S", "0", s(&img)],
    );
    let a = Disk::open(&img).unwrap().slot_by_partuuid(A).unwrap();
    assert_eq!((a.priority, a.tries, a.successful), (15, 15, false));
    // cgpt's raw attribute word, and a legacy-bootable bit kindling must keep.
    tool_ok("cgpt", &["add", "-i", "3", "-B", "1", s(&img)]);
    Disk::open(&img).unwrap().mark_good(A).unwrap();
    assert_eq!(
        cgpt_field(&img, 3, 'B'),
        "1",
        "kindling dropped the legacy-boot bit"
    );
    assert_eq!(cgpt_attrs(&img, 3), (2, 0, 1));
    assert_eq!(cgpt_attrs(&img, 4), (1, 1, 0));
    assert_clean(&img);
}

#[test]
fn an_sgdisk_disk_is_read_and_changed() {
    let dir = tempfile::tempdir().unwrap();
    let img = sgdisk_disk(dir.path());
    assert_eq!(cgpt_attrs(&img, 3), (1, 0, 1));
    let shown = show(&img);
    assert_eq!(shown.slots.len(), 2);
    assert_eq!(
        (shown.slots[0].priority, shown.slots[0].successful),
        (1, true)
    );
    assert_eq!(
        (shown.slots[1].priority, shown.slots[1].successful),
        (0, false)
    );
    kindling_ok(&["slots", "set-trial", "--disk", s(&img), "--partuuid", B]);
    assert_eq!(cgpt_attrs(&img, 4), (2, 1, 0));
    assert_clean(&img);
    // sgdisk reads the bits kindling set: bits 48..=51 = 2, 52..=55 = 1.
    let info = tool_ok("sgdisk", &["-i", "4", s(&img)]);
    assert!(info.contains("0012000000000000"), "sgdisk -i 4:\n{info}");
}

#[test]
fn writes_touch_only_attribute_and_crc_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let img = init_disk(dir.path(), &[]);
    let before = std::fs::read(&img).unwrap();
    kindling_ok(&["slots", "set-trial", "--disk", s(&img), "--partuuid", B]);
    let after = std::fs::read(&img).unwrap();
    assert_eq!(before.len(), after.len());
    let last = before.len() - 512;
    let array_backup = last - 32 * 512;
    let mut allowed = Vec::new();
    for header in [512, last] {
        allowed.extend(header + 16..header + 20); // header CRC
        allowed.extend(header + 88..header + 92); // entry array CRC
    }
    for array in [1024, array_backup] {
        for entry in [2, 3] {
            // USR-A (entry 3) may be renumbered, USR-B (entry 4) is the target.
            let at = array + entry * 128 + 48;
            allowed.extend(at..at + 8);
        }
    }
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    assert!(!changed.is_empty());
    for i in &changed {
        assert!(
            allowed.contains(i),
            "byte {i} changed outside attributes/CRCs"
        );
    }
}

/// Priorities of partitions 1..=n after `cgpt prioritize -i chosen` on a disk whose
/// partitions are ChromeOS kernels (the only type Debian's cgpt prioritizes), and after
/// kindling's `prioritize_for_trial` on a twin disk whose partitions are coreos-usr.
fn twin_prioritize(dir: &Path, before: &[u8], chosen: u32) -> (Vec<u8>, Vec<u8>) {
    let mut results = Vec::new();
    for (name, type_guid) in [("kernel.img", KERNEL_TYPE), ("usr.img", USR_TYPE)] {
        let img = dir.join(name);
        let _ = std::fs::remove_file(&img);
        blank_file(&img, 4 * 1024 * 1024);
        let mut args = vec!["-o".to_string()];
        for n in 1..=before.len() {
            args.extend([
                "-n".into(),
                format!("{n}:0:+64K"),
                "-t".into(),
                format!("{n}:{type_guid}"),
            ]);
        }
        args.push(s(&img).to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tool_ok("sgdisk", &args);
        for (i, p) in before.iter().enumerate() {
            let n = (i + 1).to_string();
            tool_ok("cgpt", &["add", "-i", &n, "-P", &p.to_string(), s(&img)]);
        }
        if type_guid == KERNEL_TYPE {
            tool_ok("cgpt", &["prioritize", "-i", &chosen.to_string(), s(&img)]);
        } else {
            let disk = Disk::open(&img).unwrap();
            let partuuid = cgpt_field(&img, chosen, 'u');
            disk.prioritize_for_trial(&partuuid).unwrap();
            assert_clean(&img);
        }
        results.push(
            (1..=before.len() as u32)
                .map(|n| cgpt_field(&img, n, 'P').parse().unwrap())
                .collect(),
        );
    }
    let usr = results.pop().unwrap();
    (results.pop().unwrap(), usr)
}

#[test]
fn prioritize_matches_real_cgpt_prioritize() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[u8], u32)] = &[
        (&[1, 0], 2),
        (&[15, 15], 2),
        (&[15, 0], 2),
        (&[2, 1], 2),
        (&[0, 0, 5], 1),
        (&[3, 3, 1], 3),
        (&[15, 14, 13, 0], 4),
        (&[7, 0, 7, 2, 0], 2),
    ];
    for (before, chosen) in cases {
        let (cgpt, ours) = twin_prioritize(dir.path(), before, *chosen);
        assert_eq!(ours, cgpt, "prioritize -i {chosen} of {before:?}");
    }
}

#[test]
fn prioritize_algorithm_matches_cgpt_past_fifteen_groups() {
    // Sixteen distinct priorities plus the chosen one: cgpt merges the lowest groups at 1.
    // Checked on the pure function against real cgpt, so one image serves every case.
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("k.img");
    blank_file(&img, 4 * 1024 * 1024);
    let mut args = vec!["-o".to_string()];
    for n in 1..=17 {
        args.extend([
            "-n".into(),
            format!("{n}:0:+32K"),
            "-t".into(),
            format!("{n}:{KERNEL_TYPE}"),
        ]);
    }
    args.push(s(&img).to_string());
    tool_ok(
        "sgdisk",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let scenarios: Vec<(Vec<u8>, u32)> = vec![
        ((0..=15).chain([15]).collect(), 1),
        ((0..=15).rev().chain([0]).collect(), 17),
        ((0..17).map(|i| (i * 7 % 16) as u8).collect(), 9),
        ((0..17).map(|i| (i % 3) as u8).collect(), 5),
    ];
    for (before, chosen) in scenarios {
        for (i, p) in before.iter().enumerate() {
            tool_ok(
                "cgpt",
                &[
                    "add",
                    "-i",
                    &(i + 1).to_string(),
                    "-P",
                    &p.to_string(),
                    s(&img),
                ],
            );
        }
        tool_ok("cgpt", &["prioritize", "-i", &chosen.to_string(), s(&img)]);
        let cgpt: Vec<u8> = (1..=17)
            .map(|n| cgpt_field(&img, n, 'P').parse().unwrap())
            .collect();
        let parts: Vec<(u32, u8)> = (1..=17).zip(before.iter().copied()).collect();
        let ours: Vec<u8> = slots::prioritize(&parts, Some(chosen))
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(ours, cgpt, "prioritize -i {chosen} of {before:?}");
    }
}

fn ext4_image(dir: &Path, name: &str, release: &str) -> PathBuf {
    let tree = dir.join(format!("{name}-tree"));
    std::fs::create_dir_all(tree.join("share/coreos")).unwrap();
    std::fs::write(tree.join("share/coreos/release"), release).unwrap();
    let img = dir.join(format!("{name}.ext4"));
    blank_file(&img, 4 * 1024 * 1024);
    tool_ok("mkfs.ext4", &["-q", "-F", "-d", s(&tree), s(&img)]);
    img
}

#[test]
fn a_slot_filled_from_an_ext4_image_shows_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let a = ext4_image(
        dir.path(),
        "a",
        "COREOS_RELEASE_VERSION=1068.2.0\nCOREOS_RELEASE_BOARD=amd64-usr\n",
    );
    let b = ext4_image(dir.path(), "b", "FLATCAR_RELEASE_VERSION=3815.2.1\n");
    let img = init_disk(dir.path(), &["--usr-a", s(&a), "--usr-b", s(&b)]);
    assert_clean(&img);
    let shown = show(&img);
    assert_eq!(shown.slots[0].version.as_deref(), Some("1068.2.0"));
    assert_eq!(shown.slots[1].version.as_deref(), Some("3815.2.1"));
    let disk = Disk::open(&img).unwrap();
    let slot = disk.slot_by_partuuid(A).unwrap();
    let release = slots::read_release(&disk, &slot).unwrap().unwrap();
    assert_eq!(release.board.as_deref(), Some("amd64-usr"));
    // The slot's bytes are the image's bytes.
    let bytes = std::fs::read(&img).unwrap();
    let fs = std::fs::read(&a).unwrap();
    let start = usize::try_from(slot.first_byte).unwrap();
    assert_eq!(&bytes[start..start + fs.len()], &fs[..]);
    // A squashfs slot is recognised but not read (see the book): no version, no error.
    let tree = dir.path().join("a-tree");
    let squash = dir.path().join("usr.squashfs");
    tool_ok("mksquashfs", &[s(&tree), s(&squash), "-quiet", "-noappend"]);
    kindling_ok(&init_args(&img, &["--usr-a", s(&squash), "--force"]));
    assert_eq!(show(&img).slots[0].version, None);
    // An empty slot has no version, and that is not an error.
    kindling_ok(&init_args(&dir.path().join("e.img"), &[]));
    let empty = Disk::open(&dir.path().join("e.img")).unwrap();
    let slot = empty.slot_by_partuuid(B).unwrap();
    assert_eq!(slot.version, None);
    assert_eq!(slots::read_release(&empty, &slot).unwrap(), None);
}

#[test]
fn an_image_larger_than_its_slot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.img");
    blank_file(&big, 9 * 1024 * 1024);
    let img = dir.path().join("disk.img");
    let out = kindling(&init_args(&img, &["--usr-b", s(&big)]));
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("USR-B") && out.stderr.contains("--slot-size"),
        "{}",
        out.stderr
    );
    assert!(!img.exists(), "a refused init left a disk behind");
    let bad = kindling(&["slots", "init", "--disk", s(&img), "--slot-size", "8Q"]);
    assert_eq!(bad.status, 2);
    assert!(bad.stderr.contains("unknown size unit"), "{}", bad.stderr);
}

fn expect_error(img: &Path, status: i32, words: &[&str]) {
    for args in [
        vec!["slots", "show", "--disk", s(img)],
        vec!["slots", "next", "--disk", s(img)],
        vec!["slots", "set-good", "--disk", s(img), "--partuuid", A],
    ] {
        let out = kindling(&args);
        assert_eq!(out.status, status, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        for w in words {
            assert!(
                out.stderr.contains(w),
                "{args:?}: {w:?} not in {}",
                out.stderr
            );
        }
    }
}

#[test]
fn hostile_disks_end_in_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Not GPT: zeros, an ext4 filesystem, nothing at all.
    let zeros = d.join("zeros.img");
    blank_file(&zeros, 1024 * 1024);
    expect_error(&zeros, 1, &["no GPT partition table"]);
    let fs = ext4_image(d, "plain", "COREOS_RELEASE_VERSION=1\n");
    expect_error(&fs, 1, &["no GPT partition table"]);
    std::fs::write(d.join("empty.img"), b"").unwrap();
    expect_error(&d.join("empty.img"), 1, &["no GPT partition table"]);
    expect_error(&d.join("missing.img"), 2, &["cannot open"]);
    expect_error(d, 2, &["is a directory"]);

    // Truncated: the table describes a bigger disk.
    let img = init_disk(d, &[]);
    let cut = d.join("cut.img");
    std::fs::copy(&img, &cut).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(20 * 1024 * 1024)
        .unwrap();
    expect_error(&cut, 1, &["truncated"]);

    // No coreos-usr partitions.
    let plain = d.join("plain.img");
    blank_file(&plain, 8 * 1024 * 1024);
    tool_ok("sgdisk", &["-o", "-n", "1:0:+1M", "-n", "2:0:0", s(&plain)]);
    expect_error(&plain, 1, &["no /usr slots", USR_TYPE]);

    // Both copies damaged.
    let both = d.join("both.img");
    std::fs::copy(&img, &both).unwrap();
    let mut bytes = std::fs::read(&both).unwrap();
    let n = bytes.len();
    bytes[512 + 20] ^= 0xFF;
    bytes[n - 512 + 20] ^= 0xFF;
    std::fs::write(&both, &bytes).unwrap();
    expect_error(&both, 1, &["both GPT tables", "header CRC32 mismatch"]);

    // A header with a valid CRC but an entry size gptman cannot parse (and cgpt refuses).
    let odd = d.join("odd.img");
    std::fs::copy(&img, &odd).unwrap();
    let mut bytes = std::fs::read(&odd).unwrap();
    for at in [512, n - 512] {
        let mut h =
            gptman::GPTHeader::read_from(&mut std::io::Cursor::new(&bytes[at..at + 512])).unwrap();
        h.size_of_partition_entry = 64;
        let crc = h.generate_crc32_checksum();
        bytes[at + 84..at + 88].copy_from_slice(&64u32.to_le_bytes());
        bytes[at + 16..at + 20].copy_from_slice(&crc.to_le_bytes());
    }
    std::fs::write(&odd, &bytes).unwrap();
    expect_error(&odd, 1, &["both GPT tables", "entry size 64"]);

    // Overlapping partitions with valid CRCs (cgpt's CheckEntries refuses them too).
    let overlap = d.join("overlap.img");
    std::fs::copy(&img, &overlap).unwrap();
    tamper(&overlap, |_, entries| entries[3].starting_lba -= 8);
    let (cgpt_ok, _, cgpt_err) = tool("cgpt", &["show", "-v", s(&overlap)]);
    assert!(
        !cgpt_ok && cgpt_err.contains("GPT_ERROR_INVALID_ENTRIES"),
        "{cgpt_err}"
    );
    expect_error(
        &overlap,
        1,
        &["both GPT tables", "partitions 3 and 4 overlap"],
    );

    // An entry count that would make gptman allocate gigabytes.
    let huge = d.join("huge.img");
    std::fs::copy(&img, &huge).unwrap();
    let mut bytes = std::fs::read(&huge).unwrap();
    for at in [512, n - 512] {
        let mut h =
            gptman::GPTHeader::read_from(&mut std::io::Cursor::new(&bytes[at..at + 512])).unwrap();
        h.number_of_partition_entries = u32::MAX;
        let crc = h.generate_crc32_checksum();
        bytes[at + 80..at + 84].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes[at + 16..at + 20].copy_from_slice(&crc.to_le_bytes());
    }
    std::fs::write(&huge, &bytes).unwrap();
    expect_error(&huge, 1, &["both GPT tables", "partition entries"]);
}

/// Rewrites both table copies of `img` after `edit`, with valid CRCs (gptman computes them).
fn tamper(img: &Path, edit: impl Fn(&mut gptman::GPTHeader, &mut Vec<gptman::GPTPartitionEntry>)) {
    use std::io::{Seek, SeekFrom};
    let mut bytes = std::fs::read(img).unwrap();
    let n = bytes.len() as u64;
    let mut cursor = std::io::Cursor::new(&mut bytes);
    for at in [512, n - 512] {
        cursor.seek(SeekFrom::Start(at)).unwrap();
        let mut h = gptman::GPTHeader::read_from(&mut cursor).unwrap();
        let mut entries = h.read_partitions(&mut cursor, 512).unwrap();
        edit(&mut h, &mut entries);
        h.write_into(&mut cursor, 512, &entries).unwrap();
    }
    std::fs::write(img, bytes).unwrap();
}

#[test]
fn a_damaged_primary_is_read_from_the_backup_and_repaired_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let img = init_disk(dir.path(), &[]);
    kindling_ok(&["slots", "set-trial", "--disk", s(&img), "--partuuid", B]);
    // Smash the primary header's CRC and one byte of the primary array.
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[512 + 16] ^= 0xFF;
    bytes[1024 + 2 * 128 + 40] ^= 0xFF;
    std::fs::write(&img, &bytes).unwrap();
    let (_, stdout, stderr) = tool("cgpt", &["show", "-v", s(&img)]);
    assert!(stdout.contains("INVALID") && stderr.contains("Primary GPT header is invalid"));

    // Reading works, from the backup, and says so.
    let shown = show(&img);
    assert_eq!(shown.tables["primary"]["state"], "damaged");
    assert_eq!(shown.tables["backup"]["state"], "ok");
    assert_eq!((shown.slots[1].priority, shown.slots[1].tries), (2, 1));
    let human = kindling_ok(&["slots", "show", "--disk", s(&img)]);
    assert!(
        human.contains("primary table damaged (header CRC32 mismatch)"),
        "{human}"
    );

    // The next change writes both copies: cgpt sees a clean disk again.
    assert_eq!(kindling_ok(&["slots", "next", "--disk", s(&img)]).trim(), B);
    assert_clean(&img);
    assert_eq!(cgpt_attrs(&img, 4), (2, 0, 0));
    assert_eq!(cgpt_attrs(&img, 3), (1, 0, 1));
    assert_eq!(show(&img).tables["primary"]["state"], "ok");

    // A damaged backup is reported and repaired the same way.
    let mut bytes = std::fs::read(&img).unwrap();
    let n = bytes.len();
    bytes[n - 512 + 16] ^= 0xFF;
    std::fs::write(&img, &bytes).unwrap();
    assert_eq!(show(&img).tables["backup"]["state"], "damaged");
    kindling_ok(&["slots", "set-good", "--disk", s(&img), "--partuuid", B]);
    assert_clean(&img);
}

/// A fake node root: `/proc/cmdline` naming `booted`, udev's by-partuuid link (when `udev`)
/// and sysfs for disk `sda` with partitions 3 and 4, `/dev/sda` being the image.
fn fake_root(dir: &Path, img: &Path, booted: &str, udev: bool) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::write(
        root.join("proc/cmdline"),
        format!(
            "BOOT_IMAGE=/coreos/vmlinuz-a mount.usr=PARTUUID={} rootflags=rw\n",
            booted.to_uppercase()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("dev/disk/by-partuuid")).unwrap();
    std::fs::rename(img, root.join("dev/sda")).unwrap();
    if udev {
        for (n, uuid) in [(3, A), (4, B)] {
            std::os::unix::fs::symlink(
                format!("../../sda{n}"),
                root.join("dev/disk/by-partuuid").join(uuid),
            )
            .unwrap();
        }
    }
    let devices = root.join("sys/devices/pci0000:00/ata1/block/sda");
    for n in [3, 4] {
        std::fs::create_dir_all(devices.join(format!("sda{n}"))).unwrap();
        std::fs::write(devices.join(format!("sda{n}/partition")), format!("{n}\n")).unwrap();
    }
    std::fs::create_dir_all(root.join("sys/class/block")).unwrap();
    std::os::unix::fs::symlink(
        "../../devices/pci0000:00/ata1/block/sda",
        root.join("sys/class/block/sda"),
    )
    .unwrap();
    for n in [3, 4] {
        std::os::unix::fs::symlink(
            format!("../../devices/pci0000:00/ata1/block/sda/sda{n}"),
            root.join(format!("sys/class/block/sda{n}")),
        )
        .unwrap();
    }
    root
}

#[test]
fn on_a_node_the_booted_slot_and_its_disk_come_from_the_root() {
    for udev in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let img = init_disk(dir.path(), &[]);
        let root = fake_root(dir.path(), &img, A, udev);
        let disk = slots::find_disk(&root, &A.to_uppercase()).unwrap();
        assert_eq!(disk, root.join("dev/sda"), "udev link: {udev}");
        let missing = slots::find_disk(&root, "00000000-0000-0000-0000-000000000001");
        assert!(
            matches!(missing, Err(SlotsError::DiskNotFound { .. })),
            "{missing:?}"
        );

        // show without --disk: the disk and the booted slot come from the root.
        let json: ShowJson = serde_json::from_str(&kindling_ok(&[
            "slots",
            "show",
            "--root",
            s(&root),
            "--format",
            "json",
        ]))
        .unwrap();
        assert_eq!(json.booted.as_deref(), Some(A));
        assert!(json.slots[0].booted && !json.slots[1].booted);
        let human = kindling_ok(&["slots", "show", "--root", s(&root)]);
        assert!(
            human
                .lines()
                .any(|l| l.contains("USR-A") && l.ends_with("(booted)")),
            "{human}"
        );

        // set-good without --partuuid marks the booted slot, as coreos-setgoodroot.
        let sda = root.join("dev/sda");
        tool_ok("cgpt", &["add", "-i", "3", "-T", "1", "-S", "0", s(&sda)]);
        kindling_ok(&["slots", "set-good", "--root", s(&root)]);
        assert_eq!(cgpt_attrs(&sda, 3), (1, 0, 1));
        assert_clean(&sda);
    }
    // A command line naming no /usr partition is a clear error.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("proc")).unwrap();
    std::fs::write(dir.path().join("proc/cmdline"), "root=/dev/sda9 quiet\n").unwrap();
    let out = kindling(&["slots", "show", "--root", s(dir.path())]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("names no booted /usr partition"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_library_names_slots_and_refuses_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let img = init_disk(dir.path(), &[]);
    let disk = Disk::open(&img).unwrap();
    let slots = disk.usr_slots().unwrap();
    assert_eq!(slots.len(), 2);
    assert_eq!(slots[0].partuuid, A);
    assert_eq!(slots[0].first_byte, 10 * 1024 * 1024);
    assert_eq!(slots[0].size_bytes, 8 * 1024 * 1024);
    assert_eq!(
        disk.slot_by_partuuid(&B.to_uppercase()).unwrap().label,
        "USR-B"
    );
    let stranger = disk.make_unbootable("11111111-2222-3333-4444-555555555555");
    match stranger {
        Err(SlotsError::UnknownSlot { known, .. }) => {
            assert!(known.contains(A) && known.contains(B))
        }
        other => panic!("{other:?}"),
    }
    // The EFI partition is on the disk but is no slot.
    let efi = cgpt_field(&img, 1, 'u');
    assert!(disk.has_partuuid(&efi).unwrap());
    assert!(matches!(
        disk.mark_good(&efi),
        Err(SlotsError::UnknownSlot { .. })
    ));
    let out = kindling(&["slots", "set-trial", "--disk", s(&img), "--partuuid", &efi]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("is not a /usr slot"), "{}", out.stderr);
    let out = kindling(&["slots", "set-trial", "--disk", s(&img)]);
    assert_eq!(out.status, 2);
}

/// The options named in `text` (`--disk`, `--partuuid`), in order of appearance.
fn options_named(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("--") {
        let name: String = rest[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if !name.is_empty() {
            found.push(format!("--{name}"));
        }
        rest = &rest[at + 2 + name.len()..];
    }
    found
}

/// On a machine whose kernel command line names no /usr slot, each `slots` command says
/// what to pass instead, and every option it suggests is one that command has (`slots show`
/// once suggested `--partuuid`, which only `slots set-*` take).
#[test]
fn slots_suggest_only_their_own_options() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::write(root.join("proc/cmdline"), "console=ttyS0 root=LABEL=ROOT\n").unwrap();
    let img = dir.path().join("disk.img");
    kindling_ok(&["slots", "init", "--disk", s(&img), "--slot-size", "1M"]);
    let cases: [&[&str]; 4] = [
        &["slots", "show", "--root", s(&root)],
        &["slots", "show", "--root", s(&root), "--disk", s(&img)],
        &["slots", "set-good", "--root", s(&root)],
        &["slots", "set-good", "--root", s(&root), "--disk", s(&img)],
    ];
    for args in cases {
        let out = kindling(args);
        assert_ne!(out.status, 0, "{args:?} succeeded: {}", out.stdout);
        assert!(
            out.stderr.contains("names no booted /usr partition"),
            "{args:?}: {}",
            out.stderr
        );
        let suggested = options_named(&out.stderr);
        assert!(
            !suggested.is_empty(),
            "{args:?} suggests nothing: {}",
            out.stderr
        );
        let help = kindling_ok(&[args[0], args[1], "--help"]);
        for option in &suggested {
            assert!(
                help.contains(&format!("{option} ")),
                "{args:?} suggests {option}, which `{} {}` does not take: {}",
                args[0],
                args[1],
                out.stderr
            );
        }
    }
}
