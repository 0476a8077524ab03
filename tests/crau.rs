//! update_engine (`CrAU`) payloads, against the peers: real payloads from mantle's
//! generator (`flatcar-update-gen`, signed with mantle's developer key) served by the
//! fault-injecting loopback server, applied by `payload::fetch_crau` into a region of an
//! image file, compared byte for byte with what `flatcar-update-apply` writes for the same
//! payload; corrupted, truncated, resumed, delta-like (a manifest built here with prost) and
//! untrusted payloads refused with the right error and nothing verified.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use kindling::payload::{
    self, CrauInstall, CrauResume, CrauVerified, DeltaArchiveManifest, Expected, Extent, Format,
    InstallInfo, InstallOperation, OperationType, PayloadError, Retry, RsaKeys, Target, Timeouts,
};
use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::support::payload::{Behaviour, FileServer};
use crate::support::process::peer;

const PATH: &str = "/update.gz";
/// The slot's offset in the image (bytes before it must stay untouched).
const OFFSET: u64 = 1 << 20;
const SLOT: u64 = 16 << 20;

/// A generated payload and the node it goes to.
struct World {
    dir: tempfile::TempDir,
    usr: Vec<u8>,
    kernel: Option<Vec<u8>>,
    payload: Vec<u8>,
    metadata_size: u64,
    image: PathBuf,
    root: PathBuf,
    server: FileServer,
}

/// 8 MiB of random data then 8 MiB of zeros: REPLACE and REPLACE_BZ operations.
fn usr_image() -> Vec<u8> {
    let mut usr = vec![0u8; SLOT as usize];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for chunk in usr[..(8 << 20)].chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    usr
}

impl World {
    fn new(kernel: Option<Vec<u8>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let usr = usr_image();
        std::fs::write(dir.path().join("usr.img"), &usr).unwrap();
        let mut cmd = Command::new(peer("flatcar-update-gen"));
        cmd.current_dir(dir.path()).env("TMPDIR", dir.path()).args([
            "-usr",
            "usr.img",
            "-out",
            "payload.bin",
        ]);
        if let Some(k) = &kernel {
            std::fs::write(dir.path().join("vmlinuz"), k).unwrap();
            cmd.args(["-kernel", "vmlinuz"]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in {stdout}"))
                .to_string()
        };
        let payload = std::fs::read(dir.path().join("payload.bin")).unwrap();
        assert_eq!(field("SIZE"), payload.len().to_string());
        let metadata_size: u64 = field("METADATA_SIZE").parse().unwrap();
        let image = dir.path().join("disk.img");
        std::fs::write(&image, vec![0x5Au8; (OFFSET * 2 + SLOT) as usize]).unwrap();
        let root = dir.path().join("root");
        trust_developer_key(&root);
        let server = FileServer::start(vec![(PATH, payload.clone())]);
        Self {
            dir,
            usr,
            kernel,
            payload,
            metadata_size,
            image,
            root,
            server,
        }
    }

    fn expected(&self) -> Expected {
        Expected {
            url: self.server.url(PATH),
            size: self.payload.len() as u64,
            sha256_b64: b64(&Sha256::digest(&self.payload)),
            signature_url: None,
        }
    }

    fn install(&self) -> CrauInstall {
        CrauInstall {
            expected: self.expected(),
            target: Target {
                path: self.image.clone(),
                offset: OFFSET,
                len: SLOT,
            },
            kernel: self
                .kernel
                .as_ref()
                .map(|_| self.dir.path().join("vmlinuz.new")),
        }
    }

    /// Serve other bytes as the payload (the offer follows them, as a server that
    /// publishes a corrupt file would announce it).
    fn serve(&mut self, payload: Vec<u8>) {
        self.payload = payload;
        self.server.set_file(PATH, self.payload.clone());
    }

    fn fetch(
        &self,
        keys: &RsaKeys,
        resume: Option<&CrauResume>,
    ) -> (Result<CrauVerified, PayloadError>, Option<CrauResume>) {
        fetch_with(&self.install(), keys, resume)
    }

    fn slot(&self) -> Vec<u8> {
        let image = std::fs::read(&self.image).unwrap();
        image[OFFSET as usize..(OFFSET + SLOT) as usize].to_vec()
    }

    /// The bytes around the slot are as they were.
    fn assert_outside_untouched(&self) {
        let image = std::fs::read(&self.image).unwrap();
        assert_eq!(
            image.len() as u64,
            OFFSET * 2 + SLOT,
            "the image changed size"
        );
        assert!(image[..OFFSET as usize].iter().all(|&b| b == 0x5A));
        assert!(image[(OFFSET + SLOT) as usize..].iter().all(|&b| b == 0x5A));
    }

    /// Nothing was written into the slot.
    fn assert_slot_untouched(&self) {
        assert!(
            self.slot().iter().all(|&b| b == 0x5A),
            "the slot was written"
        );
        self.assert_outside_untouched();
    }

    /// What `flatcar-update-apply` writes for the current payload.
    fn peer_apply(&self) -> Vec<u8> {
        let dir = self.dir.path().join("peer");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(self.dir.path().join("served.bin"), &self.payload).unwrap();
        let out = Command::new(peer("flatcar-update-apply"))
            .current_dir(&dir)
            .arg("../served.bin")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "flatcar-update-apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(dir.join("out")).unwrap()
    }
}

fn fetch_with(
    install: &CrauInstall,
    keys: &RsaKeys,
    resume: Option<&CrauResume>,
) -> (Result<CrauVerified, PayloadError>, Option<CrauResume>) {
    let client = payload::client(&payload::ClientOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut last = None;
    let mut progress = |done: u64, total: u64, point: Option<&CrauResume>| {
        assert!(done <= total);
        if let Some(p) = point {
            last = Some(p.clone());
        }
    };
    let timeouts = Timeouts {
        stall: std::time::Duration::from_secs(10),
        ..Timeouts::default()
    };
    let result = runtime.block_on(payload::fetch_crau(
        &client,
        install,
        keys,
        resume,
        &timeouts,
        &mut progress,
    ));
    (result, last)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn developer_key() -> PathBuf {
    peer("flatcar-update-tools/developer-key.pub.pem")
}

/// Trust mantle's developer key the way a Flatcar developer image does.
fn trust_developer_key(root: &Path) {
    let dir = root.join("usr/share/update_engine");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(developer_key(), dir.join("update-payload-key.pub.pem")).unwrap();
}

fn err(r: Result<CrauVerified, PayloadError>) -> PayloadError {
    match r {
        Ok(v) => panic!("verified: {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_slot_holds_exactly_what_flatcar_update_apply_writes() {
    let w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let (verified, last) = w.fetch(&keys, None);
    let v = verified.unwrap();
    assert_eq!(w.slot(), w.peer_apply());
    assert_eq!(w.slot(), w.usr);
    w.assert_outside_untouched();
    assert_eq!(v.size(), w.payload.len() as u64);
    assert_eq!(v.partition_size(), SLOT);
    assert_eq!(
        v.partition_sha256(),
        <[u8; 32]>::from(Sha256::digest(&w.usr))
    );
    assert_eq!(v.operations(), 16);
    assert!(v.kernel().is_none());
    assert!(!v.resumed());
    assert!(
        v.key()
            .contains("update_engine/update-payload-key.pub.pem (fingerprint "),
        "{}",
        v.key()
    );
    // The last resume point is the signatures: all 16 operations are done.
    let last = last.unwrap();
    assert_eq!(last.next_operation(), 16);
    assert_eq!(last.offset(), w.payload.len() as u64 - 264);
}

#[test]
fn the_kernel_procedure_lands_in_the_kernel_file() {
    let kernel: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let w = World::new(Some(kernel.clone()));
    let keys = RsaKeys::load(&w.root);
    let v = w.fetch(&keys, None).0.unwrap();
    assert_eq!(w.slot(), w.usr);
    let k = v.kernel().unwrap();
    // mantle's generator pads the kernel to whole blocks and describes the padded data.
    let mut padded = kernel;
    padded.resize(12288, 0);
    assert_eq!(std::fs::read(k.path()).unwrap(), padded);
    assert_eq!(k.size(), 12288);
    assert_eq!(k.sha256(), <[u8; 32]>::from(Sha256::digest(&padded)));
    assert_eq!(v.operations(), 17);
}

#[test]
fn a_flipped_byte_in_an_operations_data_is_refused_at_that_operation() {
    let mut w = World::new(None);
    let mut bad = w.payload.clone();
    // Operation 1's data starts 1 MiB after operation 0's (both REPLACE, 1 MiB each).
    bad[(w.metadata_size + (1 << 20) + 100) as usize] ^= 1;
    w.serve(bad);
    let keys = RsaKeys::load(&w.root);
    let e = err(w.fetch(&keys, None).0);
    assert_eq!(e.kind(), "crau-operation-hash", "{e}");
    assert!(e.to_string().starts_with("operation 1: "), "{e}");
    assert_eq!(e.crau_code(), Some(29));
    assert_eq!(e.retry(), Retry::Never);
    w.assert_outside_untouched();
}

#[test]
fn a_flipped_byte_in_the_manifest_or_the_signature_is_refused() {
    let mut w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let original = w.payload.clone();
    // A byte of new_partition_info's hash (inside the manifest, so the manifest still
    // decodes): the signature covers it.
    let usr_hash = Sha256::digest(&w.usr);
    let at = original
        .windows(32)
        .position(|win| win == usr_hash.as_slice())
        .unwrap();
    assert!((at as u64) < w.metadata_size);
    let mut bad = original.clone();
    bad[at + 5] ^= 0x40;
    w.serve(bad);
    let e = err(w.fetch(&keys, None).0);
    assert_eq!(e.kind(), "crau-bad-signature", "{e}");
    assert_eq!(e.crau_code(), Some(18));
    // The last byte of the RSA signature.
    let mut bad = original.clone();
    *bad.last_mut().unwrap() ^= 1;
    w.serve(bad);
    let e = err(w.fetch(&keys, None).0);
    assert_eq!(e.kind(), "crau-bad-signature", "{e}");
    assert!(e.to_string().contains("(fingerprint "), "{e}");
    // A byte of the signatures message's framing: it no longer decodes.
    let mut bad = original;
    let sig_start = bad.len() - 264;
    bad[sig_start] = 0xFF;
    w.serve(bad);
    let e = err(w.fetch(&keys, None).0);
    assert!(
        matches!(e.kind(), "crau-unsigned" | "crau-bad-signature"),
        "{e}"
    );
}

#[test]
fn only_flatcars_official_key_trusted_refuses_a_developer_payload() {
    let w = World::new(None);
    let empty = w.dir.path().join("empty-root");
    std::fs::create_dir_all(&empty).unwrap();
    let keys = RsaKeys::load(&empty);
    assert_eq!(keys.keys().len(), 1);
    let e = err(w.fetch(&keys, None).0);
    assert_eq!(e.kind(), "crau-bad-signature", "{e}");
    assert!(
        e.to_string()
            .contains("Flatcar official key (built in) (fingerprint a5880fbca6a5c51c)"),
        "{e}"
    );
    assert_eq!(e.retry(), Retry::Never);
    // The same key as a *.pem in kindling's trusted-key directory verifies it, and an
    // empty file of the same name in /etc masks it again.
    let usr = empty.join("usr/share/kindling/trusted-keys");
    std::fs::create_dir_all(&usr).unwrap();
    std::fs::copy(developer_key(), usr.join("dev.pem")).unwrap();
    let v = w.fetch(&RsaKeys::load(&empty), None).0.unwrap();
    assert!(v.key().contains("trusted-keys/dev.pem"), "{}", v.key());
    let etc = empty.join("etc/kindling/trusted-keys");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("dev.pem"), "").unwrap();
    let e = err(w.fetch(&RsaKeys::load(&empty), None).0);
    assert_eq!(e.kind(), "crau-bad-signature", "{e}");
}

#[test]
fn a_cut_download_resumes_at_the_last_checkpoint_and_verifies_the_same() {
    let w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let cut = w.metadata_size + (5 << 20) + 12_345;
    w.server
        .script(PATH, vec![Behaviour::default().truncating_at(cut)]);
    let (result, point) = w.fetch(&keys, None);
    let e = err(result);
    assert_eq!(e.kind(), "truncated", "{e}");
    assert_eq!(e.retry(), Retry::Resume);
    let point = point.expect("a checkpoint before the cut");
    assert!(
        point.offset() < cut && point.next_operation() > 0,
        "{point:?}"
    );
    // The point survives the agent's state file.
    let point: CrauResume = serde_json::from_str(&serde_json::to_string(&point).unwrap()).unwrap();
    let before = w.server.seen().len();
    let v = w.fetch(&keys, Some(&point)).0.unwrap();
    assert!(v.resumed());
    assert_eq!(w.slot(), w.usr);
    let seen = w.server.seen()[before..].to_vec();
    assert_eq!(
        seen.last().unwrap().range.as_deref(),
        Some(format!("bytes={}-", point.offset()).as_str()),
        "{seen:?}"
    );
    // A resume point of another payload is ignored: it starts over.
    let mut other = w.install();
    other.expected.sha256_b64 = b64(&Sha256::digest(b"another payload"));
    let e = err(fetch_with(&other, &keys, Some(&point)).0);
    assert_eq!(e.kind(), "hash-mismatch", "{e}");
}

#[test]
fn a_resume_over_a_changed_slot_is_caught_by_new_partition_info() {
    let w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let cut = w.metadata_size + (6 << 20);
    w.server
        .script(PATH, vec![Behaviour::default().truncating_at(cut)]);
    let (_, point) = w.fetch(&keys, None);
    let point = point.unwrap();
    // Something scribbles over the slot's first block while the node waits.
    let image = std::fs::OpenOptions::new()
        .write(true)
        .open(&w.image)
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&image, &[0u8; 4096], OFFSET).unwrap();
    let e = err(w.fetch(&keys, Some(&point)).0);
    assert_eq!(e.kind(), "crau-result-mismatch", "{e}");
    assert_eq!(e.retry(), Retry::Restart);
    assert_eq!(e.crau_code(), Some(15));
    // Starting over repairs it.
    w.fetch(&keys, None).0.unwrap();
    assert_eq!(w.slot(), w.usr);
}

#[test]
fn a_server_that_ignores_range_restarts_from_byte_zero() {
    let w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let cut = w.metadata_size + (5 << 20);
    w.server
        .script(PATH, vec![Behaviour::default().truncating_at(cut)]);
    let point = w.fetch(&keys, None).1.unwrap();
    w.server
        .set_default(PATH, Behaviour::default().without_ranges());
    let v = w.fetch(&keys, Some(&point)).0.unwrap();
    assert!(!v.resumed());
    assert_eq!(w.slot(), w.usr);
}

/// A payload around a hand-made manifest (data and signature blob are filler).
fn hand_made(manifest: &DeltaArchiveManifest, data: usize) -> Vec<u8> {
    let bytes = manifest.encode_to_vec();
    let mut p = b"CrAU".to_vec();
    p.extend_from_slice(&1u64.to_be_bytes());
    p.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    p.extend_from_slice(&bytes);
    p.extend(std::iter::repeat_n(7u8, data + 264));
    p
}

fn replace_op(offset: u32, data: &[u8], block: u64) -> InstallOperation {
    InstallOperation {
        r#type: OperationType::Replace as i32,
        data_offset: Some(offset),
        data_length: Some(data.len() as u32),
        dst_extents: vec![Extent {
            start_block: Some(block),
            num_blocks: Some(1),
        }],
        data_sha256_hash: Some(Sha256::digest(data).to_vec()),
        ..InstallOperation::default()
    }
}

fn full_manifest(ops: Vec<InstallOperation>, data: u64) -> DeltaArchiveManifest {
    DeltaArchiveManifest {
        partition_operations: ops,
        signatures_offset: Some(data),
        signatures_size: Some(264),
        new_partition_info: Some(InstallInfo {
            size: Some(4096),
            hash: Some(vec![0; 32]),
        }),
        ..DeltaArchiveManifest::default()
    }
}

#[test]
fn delta_payloads_are_refused_before_anything_is_written() {
    let mut w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let block = vec![7u8; 4096];
    // A MOVE operation, after a valid REPLACE: nothing is written, not even the REPLACE.
    let mut mv = replace_op(0, &[], 2);
    mv.r#type = OperationType::Move as i32;
    mv.data_length = None;
    mv.data_sha256_hash = None;
    mv.src_extents = vec![Extent {
        start_block: Some(0),
        num_blocks: Some(1),
    }];
    let m = full_manifest(vec![replace_op(0, &block, 0), mv], 4096);
    w.serve(hand_made(&m, 4096));
    let e = err(w.fetch(&keys, None).0);
    assert_eq!(e.kind(), "crau-unsupported-operation", "{e}");
    assert!(e.to_string().contains("operation 1 is MOVE"), "{e}");
    assert_eq!(e.crau_code(), Some(28));
    w.assert_slot_untouched();
    // BSDIFF.
    let mut m2 = m.clone();
    m2.partition_operations[1].r#type = OperationType::Bsdiff as i32;
    w.serve(hand_made(&m2, 4096));
    let e = err(w.fetch(&keys, None).0);
    assert!(e.to_string().contains("operation 1 is BSDIFF"), "{e}");
    w.assert_slot_untouched();
    // old_partition_info alone makes it a delta.
    let mut m3 = full_manifest(vec![replace_op(0, &block, 0)], 4096);
    m3.old_partition_info = Some(InstallInfo {
        size: Some(4096),
        hash: Some(vec![1; 32]),
    });
    w.serve(hand_made(&m3, 4096));
    let e = err(w.fetch(&keys, None).0);
    assert_eq!(e.kind(), "crau-delta", "{e}");
    assert!(e.to_string().contains("old_partition_info"), "{e}");
    w.assert_slot_untouched();
}

#[test]
fn malformed_manifests_are_refused_before_anything_is_written() {
    let mut w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let block = vec![7u8; 4096];
    let cases: Vec<(DeltaArchiveManifest, usize, &str, &str)> = vec![
        // An extent past the slot's end.
        (
            full_manifest(vec![replace_op(0, &block, SLOT / 4096)], 4096),
            4096,
            "crau-operation",
            "lies outside its destination",
        ),
        // Data out of order (the second operation skips ahead).
        (
            full_manifest(
                vec![replace_op(0, &block, 0), replace_op(8192, &block, 1)],
                12288,
            ),
            12288,
            "crau-operation",
            "contiguous",
        ),
        // Two operations writing one block.
        (
            full_manifest(
                vec![replace_op(0, &block, 3), replace_op(4096, &block, 3)],
                8192,
            ),
            8192,
            "crau-operation",
            "overlap",
        ),
        // An operation hash missing.
        (
            {
                let mut op = replace_op(0, &block, 0);
                op.data_sha256_hash = None;
                full_manifest(vec![op], 4096)
            },
            4096,
            "crau-operation-hash-missing",
            "no data_sha256_hash",
        ),
        // No signatures.
        (
            {
                let mut m = full_manifest(vec![replace_op(0, &block, 0)], 4096);
                m.signatures_offset = None;
                m
            },
            4096,
            "crau-unsigned",
            "signatures_offset",
        ),
        // Extents sum overflowing.
        (
            {
                let mut op = replace_op(0, &block, 0);
                op.dst_extents[0].num_blocks = Some(u64::MAX / 2);
                full_manifest(vec![op], 4096)
            },
            4096,
            "crau-operation",
            "",
        ),
    ];
    for (m, data, kind, text) in cases {
        w.serve(hand_made(&m, data));
        let e = err(w.fetch(&keys, None).0);
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains(text), "{e}");
        w.assert_slot_untouched();
    }
    // Not a payload at all; a manifest size beyond the limit; garbage instead of a manifest.
    let mut huge = b"CrAU".to_vec();
    huge.extend_from_slice(&1u64.to_be_bytes());
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    huge.extend_from_slice(&[0; 100]);
    let mut garbage = b"CrAU".to_vec();
    garbage.extend_from_slice(&1u64.to_be_bytes());
    garbage.extend_from_slice(&50u64.to_be_bytes());
    garbage.extend_from_slice(&[0xFF; 400]);
    let mut empty = b"CrAU".to_vec();
    empty.extend_from_slice(&1u64.to_be_bytes());
    empty.extend_from_slice(&0u64.to_be_bytes());
    empty.extend_from_slice(&[0; 300]);
    for (bytes, kind) in [
        (b"CrAX0000000000000000".to_vec(), "crau-magic"),
        (empty, "crau-no-new-info"),
        (huge, "crau-manifest-size"),
        (garbage, "crau-manifest"),
    ] {
        w.serve(bytes);
        let e = err(w.fetch(&keys, None).0);
        assert_eq!(e.kind(), kind, "{e}");
        w.assert_slot_untouched();
    }
}

#[test]
fn a_wrong_offer_or_a_truncated_payload_is_never_verified() {
    let w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    // The offer's hash is not the payload's.
    let mut install = w.install();
    install.expected.sha256_b64 = b64(&Sha256::digest(b"x"));
    let e = err(fetch_with(&install, &keys, None).0);
    assert_eq!(e.kind(), "hash-mismatch", "{e}");
    // The offer's size is not the manifest's: refused before writing.
    let mut install = w.install();
    install.expected.size -= 1;
    let e = err(fetch_with(&install, &keys, None).0);
    assert!(matches!(e.kind(), "crau-size" | "size-mismatch"), "{e}");
    // The server serves a payload missing its signature.
    let cut = w.payload.len() as u64 - 100;
    w.server.script(
        PATH,
        vec![Behaviour::default().truncating_at(cut).without_ranges()],
    );
    let e = err(w.fetch(&keys, None).0);
    assert_eq!(e.kind(), "truncated", "{e}");
}

#[test]
fn sniff_tells_the_formats_apart() {
    let w = World::new(None);
    w.server.set_file("/raw.img", w.usr.clone());
    let client = payload::client(&payload::ClientOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Timeouts::default();
    let crau = runtime.block_on(payload::sniff(&client, &w.server.url(PATH), &t));
    assert_eq!(crau.unwrap(), Format::Crau);
    let raw = runtime.block_on(payload::sniff(&client, &w.server.url("/raw.img"), &t));
    assert_eq!(raw.unwrap(), Format::Kindling);
}

/// `kindling payload fetch` for the world's payload with trusted keys below `root`.
fn cli(w: &World, root: &Path, extra: &[&std::ffi::OsStr]) -> std::process::Output {
    let e = w.expected();
    Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["payload", "fetch", "--url", &e.url])
        .args(["--size", &e.size.to_string(), "--sha256", &e.sha256_b64])
        .arg("--image")
        .arg(&w.image)
        .args(["--offset", &OFFSET.to_string(), "--len", &SLOT.to_string()])
        .arg("--root")
        .arg(root)
        .args(extra)
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .unwrap()
}

#[test]
fn payload_fetch_says_which_format_and_key_verified_it() {
    let w = World::new(Some(vec![1u8; 5000]));
    let state = w.dir.path().join("resume.json");
    let kernel = w.dir.path().join("vmlinuz-b.tmp");
    let out = cli(
        &w,
        &w.root,
        &[
            "--kernel".as_ref(),
            kernel.as_os_str(),
            "--resume-state".as_ref(),
            state.as_os_str(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("verified format=crau "), "{stdout}");
    let sha = w.expected().sha256_b64;
    assert!(stdout.contains(&format!("sha256={sha}")), "{stdout}");
    assert!(stdout.contains("kernel-size=8192"), "{stdout}");
    assert!(
        stdout.contains("key=") && stdout.contains("update-payload-key.pub.pem (fingerprint "),
        "{stdout}"
    );
    assert_eq!(w.slot(), w.usr);
    assert!(state.is_file());
    assert_eq!(&std::fs::read(&kernel).unwrap()[..5000], &[1u8; 5000][..]);
    // Without the developer key: refused, exit 1, the key tried named.
    let out = cli(&w, w.dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Flatcar official key (built in)"),
        "{stderr}"
    );
}

#[test]
fn a_payload_file_is_checked_without_applying_it() {
    let kernel = vec![9u8; 3000];
    let w = World::new(Some(kernel));
    let path = w.dir.path().join("payload.bin");
    let f = payload::inspect_crau_file(&path, &RsaKeys::load(&w.root)).unwrap();
    assert_eq!(f.size, w.payload.len() as u64);
    assert_eq!(f.sha256, <[u8; 32]>::from(Sha256::digest(&w.payload)));
    assert_eq!(f.partition_size, SLOT);
    assert_eq!(f.kernel.unwrap().0, 4096);
    assert!(f.key.contains("update-payload-key.pub.pem"), "{}", f.key);
    // Only the official key: refused. A flipped data byte: that operation. Trailing bytes:
    // the sizes do not add up.
    let empty = w.dir.path().join("nothing");
    let e = payload::inspect_crau_file(&path, &RsaKeys::load(&empty)).unwrap_err();
    assert_eq!(e.kind(), "crau-bad-signature", "{e}");
    let mut bad = w.payload.clone();
    bad[w.metadata_size as usize + 10] ^= 4;
    std::fs::write(&path, &bad).unwrap();
    let e = payload::inspect_crau_file(&path, &RsaKeys::load(&w.root)).unwrap_err();
    assert!(e.to_string().starts_with("operation 0: "), "{e}");
    let mut long = w.payload.clone();
    long.push(0);
    std::fs::write(&path, &long).unwrap();
    let e = payload::inspect_crau_file(&path, &RsaKeys::load(&w.root)).unwrap_err();
    assert_eq!(e.kind(), "crau-size", "{e}");
}

#[test]
fn a_tampered_resume_point_never_verifies_a_wrong_result() {
    let w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let cut = w.metadata_size + (4 << 20) + 7;
    w.server
        .script(PATH, vec![Behaviour::default().truncating_at(cut)]);
    let point = w.fetch(&keys, None).1.unwrap();
    let json = serde_json::to_value(&point).unwrap();
    // An offset that is not where its operation starts: ignored, the download starts over.
    let mut moved = json.clone();
    moved["offset"] = serde_json::json!(point.offset() + 1);
    let moved: CrauResume = serde_json::from_value(moved).unwrap();
    let v = w.fetch(&keys, Some(&moved)).0.unwrap();
    assert!(!v.resumed());
    // A hash state that decodes but is not the prefix's: the whole payload's hash (and the
    // signature over the prefix) cannot match; the agent starts over.
    let mut forged = json;
    let fresh = sha2::digest::common::hazmat::SerializableState::serialize(&Sha256::new());
    forged["sha256_state"] = serde_json::json!(b64(fresh.as_slice()));
    let forged: CrauResume = serde_json::from_value(forged).unwrap();
    let e = err(w.fetch(&keys, Some(&forged)).0);
    assert_eq!(e.kind(), "hash-mismatch", "{e}");
    assert_eq!(e.retry(), Retry::Restart);
    // A state that does not decode: starts over.
    let mut junk = serde_json::to_value(&point).unwrap();
    junk["sha256_state"] = serde_json::json!("not base64!");
    let junk: CrauResume = serde_json::from_value(junk).unwrap();
    assert!(!w.fetch(&keys, Some(&junk)).0.unwrap().resumed());
    assert_eq!(w.slot(), w.usr);
}

#[test]
fn output_is_zero_padded_to_a_block_and_holes_are_skipped_as_update_engine_does() {
    let mut w = World::new(None);
    let keys = RsaKeys::load(&w.root);
    let short = vec![0xABu8; 100];
    let two: Vec<u8> = (0..8192u32).map(|i| (i % 253) as u8).collect();
    let mut holed = replace_op(100, &two, 0);
    holed.dst_extents = vec![
        Extent {
            start_block: Some(u64::MAX),
            num_blocks: Some(1),
        },
        Extent {
            start_block: Some(5),
            num_blocks: Some(1),
        },
    ];
    let m = full_manifest(vec![replace_op(0, &short, 2), holed], 8292);
    let mut bytes = hand_made(&m, 0);
    // The data, then 264 filler bytes for the (missing) signature.
    let metadata = bytes.len() - 264;
    bytes.truncate(metadata);
    bytes.extend_from_slice(&short);
    bytes.extend_from_slice(&two);
    bytes.extend(std::iter::repeat_n(7u8, 264));
    w.serve(bytes);
    // Never verified (no valid signature), but the operations were applied as they came.
    let e = err(w.fetch(&keys, None).0);
    assert!(
        matches!(e.kind(), "crau-unsigned" | "crau-bad-signature"),
        "{e}"
    );
    let slot = w.slot();
    let block = |n: usize| &slot[n * 4096..(n + 1) * 4096];
    assert_eq!(&block(2)[..100], &short[..]);
    assert!(block(2)[100..].iter().all(|&b| b == 0), "not zero-padded");
    assert_eq!(block(5), &two[4096..]);
    for n in [0, 1, 3, 4, 6] {
        assert!(block(n).iter().all(|&b| b == 0x5A), "block {n} was written");
    }
    w.assert_outside_untouched();
}
