//! The payload step against real parts: a loopback HTTP server with fault knobs, real
//! minisign keys and signatures, real ext4 payloads, a slot region at a nonzero offset of a
//! bigger image file (the bytes around it must never change), and a loopback proxy. Every
//! fault of the download and the verification ends in its own error with the right retry
//! classification, and never in a `Verified`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use kindling::payload::{
    self, ClientOptions, Expected, Fetched, HashPhase, PayloadError, ProxyEnv, Retry, Target,
    Timeouts, TrustedKeys, Verified,
};
use sha2::Digest as _;

use crate::support::payload::{Behaviour, FileServer, Keypair, Proxy, ext4_payload};

/// What surrounds the region in the image file.
const PAD: u8 = 0xA5;
/// The region's offset in the image.
const OFFSET: u64 = 1 << 20;
/// Region bytes beyond the payload's end.
const SLACK: u64 = 256 * 1024;
const PATH: &str = "/stable/usr.ext4";
const SIG_PATH: &str = "/stable/usr.ext4.minisig";

fn b64_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

fn test_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        stall: Duration::from_secs(10),
        low_speed_limit: 0,
        low_speed_window: Duration::from_secs(1),
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A node's slot, a release and the server that offers it.
struct World {
    dir: tempfile::TempDir,
    root: PathBuf,
    key: Keypair,
    payload_path: PathBuf,
    payload: Vec<u8>,
    server: FileServer,
    target: Target,
    expected: Expected,
    timeouts: Timeouts,
    proxy: ProxyEnv,
    /// Names the client answers itself (`ClientOptions::resolve`).
    resolve: Vec<(String, std::net::IpAddr)>,
    /// The last successful fetch, which `verify` needs.
    fetched: std::cell::RefCell<Option<Fetched>>,
    /// Fetch with the signature checked while writing (`fetch_signed`), as the agent does.
    signed: bool,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let key = Keypair::generate(dir.path(), "release");
        key.trust(&root, "etc/kindling/trusted-keys", "release.pub");
        let payload_path = ext4_payload(dir.path(), "1.0.1", 2048);
        let payload = std::fs::read(&payload_path).unwrap();
        let sig = key.sign(&payload_path, false);
        let server = FileServer::start(vec![(PATH, payload.clone()), (SIG_PATH, sig)]);
        let image = dir.path().join("disk.img");
        let len = payload.len() as u64 + SLACK;
        std::fs::write(
            &image,
            vec![PAD; usize::try_from(OFFSET + len + OFFSET).unwrap()],
        )
        .unwrap();
        let expected = Expected {
            url: server.url(PATH),
            size: payload.len() as u64,
            sha256_b64: b64_sha256(&payload),
            signature_url: None,
        };
        Self {
            dir,
            root,
            key,
            payload_path,
            payload,
            server,
            target: Target {
                path: image,
                offset: OFFSET,
                len,
            },
            expected,
            timeouts: test_timeouts(),
            proxy: ProxyEnv::default(),
            resolve: Vec::new(),
            fetched: std::cell::RefCell::new(None),
            signed: false,
        }
    }

    /// The same world, fetching as the agent does (`fetch_signed`).
    fn signed() -> Self {
        Self {
            signed: true,
            ..Self::new()
        }
    }

    fn client(&self) -> reqwest::Client {
        payload::client(&ClientOptions {
            proxy: self.proxy.clone(),
            timeouts: self.timeouts,
            extra_roots: Vec::new(),
            resolve: self.resolve.clone(),
        })
        .unwrap()
    }

    /// Fetch, returning the result and the last progress reported.
    fn fetch(&self, resume_from: u64) -> (Result<Fetched, PayloadError>, u64) {
        let client = self.client();
        let mut last = 0u64;
        let mut calls = Vec::new();
        let check = self.signed.then(|| {
            let keys = TrustedKeys::load(&self.root).unwrap();
            payload::SignatureCheck::new(&keys, &self.signature().unwrap()).unwrap()
        });
        let result = block_on(async {
            let mut progress = |done: u64, total: u64| {
                assert_eq!(total, self.expected.size);
                assert!(done <= total);
                calls.push(done);
            };
            payload::fetch_signed(
                &client,
                &self.expected,
                &self.target,
                resume_from,
                &self.timeouts,
                &mut progress,
                check.as_ref(),
            )
            .await
        });
        if let Some(l) = calls.last() {
            last = *l;
        }
        if let Ok(f) = &result {
            *self.fetched.borrow_mut() = Some(f.clone());
        }
        (result, last)
    }

    fn signature(&self) -> Result<Vec<u8>, PayloadError> {
        let client = self.client();
        block_on(payload::fetch_signature(
            &client,
            &self.expected,
            &self.timeouts,
        ))
    }

    fn verify(&self) -> Result<Verified, PayloadError> {
        let keys = TrustedKeys::load(&self.root)?;
        let sig = self.signature()?;
        let fetched = self
            .fetched
            .borrow()
            .clone()
            .expect("verify before a fetch");
        payload::verify(&self.target, &self.expected, &fetched, &keys, &sig)
    }

    fn image(&self) -> Vec<u8> {
        std::fs::read(&self.target.path).unwrap()
    }

    /// The bytes before the region and after the payload's end are untouched.
    fn assert_outside_untouched(&self) {
        let img = self.image();
        let start = usize::try_from(OFFSET).unwrap();
        let end = start + self.payload.len();
        assert!(
            img[..start].iter().all(|&b| b == PAD),
            "bytes before the region changed"
        );
        assert!(
            img[end..].iter().all(|&b| b == PAD),
            "bytes after the payload changed"
        );
        assert_eq!(
            img.len() as u64,
            OFFSET + self.target.len + OFFSET,
            "image resized"
        );
    }

    fn region_payload(&self) -> Vec<u8> {
        let img = self.image();
        let start = usize::try_from(OFFSET).unwrap();
        img[start..start + self.payload.len()].to_vec()
    }

    /// Flip one byte of the image at payload position `pos`.
    fn corrupt(&self, pos: u64) {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.target.path)
            .unwrap();
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, OFFSET + pos).unwrap();
        f.write_all_at(&[b[0] ^ 0xFF], OFFSET + pos).unwrap();
    }

    /// How every request for the payload is answered (once the script is used up).
    fn serve(&self, b: Behaviour) {
        self.server.set_default(PATH, b);
    }

    /// How the next request for the payload is answered.
    fn script(&self, b: Behaviour) {
        self.server.script(PATH, vec![b]);
    }

    /// The requests for the payload, leaving out the command line's 4-byte format sniff.
    fn payload_requests(&self) -> Vec<Option<String>> {
        self.server
            .seen()
            .into_iter()
            .filter(|s| s.path == PATH && s.range.as_deref() != Some("bytes=0-3"))
            .map(|s| s.range)
            .collect()
    }
}

fn kind<T: std::fmt::Debug>(r: Result<T, PayloadError>) -> PayloadError {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn downloads_verifies_and_touches_only_the_region() {
    let w = World::new();
    let (fetched, last) = w.fetch(0);
    let fetched = fetched.unwrap();
    assert_eq!(fetched.size(), w.payload.len() as u64);
    assert_eq!(last, fetched.size(), "progress ends at the total");
    assert_eq!(w.region_payload(), w.payload);
    w.assert_outside_untouched();
    let v = w.verify().unwrap();
    assert_eq!(v.key_id(), w.key.id);
    assert_eq!(v.size(), w.payload.len() as u64);
    assert_eq!(v.sha256_b64(), w.expected.sha256_b64);
    assert!(
        v.trusted_comment().contains("hashed"),
        "{}",
        v.trusted_comment()
    );
    // The region holds a real file system carrying the release file.
    let copy = w.dir.path().join("slot-copy.ext4");
    std::fs::write(&copy, w.region_payload()).unwrap();
    let out = Command::new(crate::support::payload::tool("debugfs"))
        .args(["-R", "cat /share/coreos/release"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("COREOS_RELEASE_VERSION=1.0.1"));
    assert_eq!(w.payload_requests(), vec![None]);
}

#[test]
fn resumes_after_the_server_died_midway() {
    let w = World::new();
    let cut = 700_000;
    // A server process that dies mid-way: its kernel closes the connection (FIN) after the
    // bytes already sent. (A reset is tested below; it may drop unread bytes.)
    w.script(Behaviour::default().truncating_at(cut));
    let (r, done) = w.fetch(0);
    let e = kind(r);
    assert_eq!(e.kind(), "truncated", "{e:?}");
    assert_eq!(e.retry(), Retry::Resume);
    assert_eq!(done, cut, "every byte received was written and reported");
    // The agent persisted `done`; the next attempt resumes there.
    let (r, _) = w.fetch(done);
    r.unwrap();
    assert_eq!(
        w.payload_requests(),
        vec![None, Some(format!("bytes={done}-"))]
    );
    assert_eq!(w.region_payload(), w.payload);
    w.assert_outside_untouched();
    w.verify().unwrap();
}

#[test]
fn a_corrupted_prefix_is_detected_on_resume_and_the_restart_succeeds() {
    let w = World::new();
    w.script(Behaviour::default().truncating_at(1_000_000));
    let (r, done) = w.fetch(0);
    assert_eq!(kind(r).kind(), "truncated");
    // Something changed the slot between attempts.
    w.corrupt(12_345);
    let (r, _) = w.fetch(done);
    let e = kind(r);
    assert!(
        matches!(
            e,
            PayloadError::HashMismatch {
                phase: HashPhase::Resumed,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.retry(), Retry::Restart);
    let (r, _) = w.fetch(0);
    r.unwrap();
    w.verify().unwrap();
    w.assert_outside_untouched();
}

#[test]
fn a_prefix_corrupted_after_the_download_fails_verification() {
    let w = World::new();
    w.fetch(0).0.unwrap();
    w.corrupt(4096 * 3);
    let e = kind(w.verify());
    assert!(
        matches!(
            e,
            PayloadError::HashMismatch {
                phase: HashPhase::ReadBack,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.retry(), Retry::Restart);
}

#[test]
fn signed_fetch_checks_the_signature_over_the_read_back_while_writing() {
    let w = World::signed();
    let (fetched, last) = w.fetch(0);
    assert_eq!(last, fetched.unwrap().size());
    assert_eq!(w.region_payload(), w.payload);
    w.assert_outside_untouched();
    let v = w.verify().unwrap();
    assert_eq!(v.key_id(), w.key.id);
    assert_eq!(v.sha256_b64(), w.expected.sha256_b64);
    assert!(v.trusted_comment().contains("hashed"));
}

#[test]
fn signed_fetch_resumes_hashing_the_prefix_read_back_with_both_hashes() {
    let w = World::signed();
    w.script(Behaviour::default().truncating_at(1_500_001));
    let (r, done) = w.fetch(0);
    assert_eq!(kind(r).kind(), "truncated");
    let (r, _) = w.fetch(done);
    r.unwrap();
    w.verify().unwrap();
    // A slot corrupted between attempts: the prefix read back fails SHA-256, and the
    // restart from byte 0 gives a clean, signed slot again.
    w.script(Behaviour::default().truncating_at(700_000));
    let (r, done) = w.fetch(0);
    assert_eq!(kind(r).kind(), "truncated");
    w.corrupt(4321);
    let e = kind(w.fetch(done).0);
    assert!(
        matches!(
            e,
            PayloadError::HashMismatch {
                phase: HashPhase::Resumed,
                ..
            }
        ),
        "{e:?}"
    );
    w.fetch(0).0.unwrap();
    w.verify().unwrap();
}

#[test]
fn signed_fetch_restarting_from_zero_restarts_the_prehash() {
    let w = World::signed();
    w.serve(Behaviour::default().without_ranges());
    w.script(
        Behaviour::default()
            .without_ranges()
            .truncating_at(1_200_000),
    );
    let (r, done) = w.fetch(0);
    assert!(kind(r).is_retryable());
    // The server answers the Range request with the whole file: the writer restarts both
    // hashes at byte 0.
    w.fetch(done).0.unwrap();
    assert_eq!(w.region_payload(), w.payload);
    w.verify().unwrap();
}

#[test]
fn signed_fetch_of_a_tampered_payload_with_its_offer_hash_fails_the_signature() {
    let mut w = World::signed();
    let mut tampered = w.payload.clone();
    tampered[1_300_000] ^= 1;
    w.server.set_file(PATH, tampered.clone());
    w.expected.sha256_b64 = b64_sha256(&tampered);
    w.fetch(0).0.unwrap();
    let e = kind(w.verify());
    assert_eq!(e.kind(), "bad-signature", "{e}");
    assert!(!e.is_retryable());
}

#[test]
fn a_server_ignoring_range_restarts_from_zero() {
    let w = World::new();
    w.serve(Behaviour::default().without_ranges());
    w.script(Behaviour::default().without_ranges().truncating_at(500_000));
    let (r, done) = w.fetch(0);
    assert!(kind(r).is_retryable());
    let (r, _) = w.fetch(done);
    r.unwrap();
    assert_eq!(
        w.payload_requests(),
        vec![None, Some(format!("bytes={done}-"))]
    );
    assert_eq!(w.region_payload(), w.payload);
    w.verify().unwrap();
    w.assert_outside_untouched();
}

#[test]
fn a_changed_payload_size_restarts_then_fails_on_size() {
    let w = World::new();
    w.script(Behaviour::default().truncating_at(300_000));
    let (r, done) = w.fetch(0);
    kind(r);
    // The publisher replaced the file with a bigger one; the offer is stale.
    let mut bigger = w.payload.clone();
    bigger.extend_from_slice(&[7u8; 4096]);
    w.server.set_file(PATH, bigger);
    let (r, _) = w.fetch(done);
    let e = kind(r);
    assert_eq!(e.kind(), "size-mismatch", "{e}");
    assert!(!e.is_retryable());
    // The Content-Range total disagreed, so it started over without Range.
    assert_eq!(
        w.payload_requests(),
        vec![None, Some(format!("bytes={done}-")), None]
    );
}

#[test]
fn a_changed_payload_of_the_same_size_is_caught_by_the_hash() {
    let w = World::new();
    w.script(Behaviour::default().truncating_at(300_000));
    let (r, done) = w.fetch(0);
    kind(r);
    let mut other = w.payload.clone();
    other[1_500_000] ^= 1;
    w.server.set_file(PATH, other);
    let e = kind(w.fetch(done).0);
    assert_eq!(e.retry(), Retry::Restart, "{e}");
}

#[test]
fn content_length_disagreeing_with_the_offer_is_refused() {
    let mut w = World::new();
    w.expected.size += 1;
    let e = kind(w.fetch(0).0);
    assert_eq!(e.kind(), "size-mismatch");
    assert!(e.to_string().contains("Content-Length"), "{e}");
    assert!(!e.is_retryable());
    w.assert_outside_untouched_or_prefix();
}

impl World {
    /// Nothing was written at all (the PAD bytes are still in the whole image).
    fn assert_outside_untouched_or_prefix(&self) {
        assert!(
            self.image().iter().all(|&b| b == PAD),
            "the image was written"
        );
    }
}

#[test]
fn a_body_longer_than_the_offer_is_cut_off() {
    let w = World::new();
    let mut longer = w.payload.clone();
    longer.extend_from_slice(&[0x5Au8; 8192]);
    w.serve(
        Behaviour::default()
            .serving(longer)
            .without_content_length(),
    );
    let e = kind(w.fetch(0).0);
    assert_eq!(e.kind(), "size-mismatch", "{e}");
    // Nothing past the payload's end was written, though the region has room.
    w.assert_outside_untouched();
}

#[test]
fn wrong_content_is_a_hash_mismatch() {
    let w = World::new();
    let mut other = w.payload.clone();
    other[100] ^= 0x40;
    w.serve(Behaviour::default().serving(other));
    let e = kind(w.fetch(0).0);
    assert!(
        matches!(
            e,
            PayloadError::HashMismatch {
                phase: HashPhase::Download,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.is_retryable());
}

#[test]
fn a_tampered_payload_with_its_offer_hash_fails_the_signature() {
    // The attacker controls the update server's answer (hash) and the file, not the key.
    let mut w = World::new();
    let mut tampered = w.payload.clone();
    tampered[200_000] ^= 1;
    w.server.set_file(PATH, tampered.clone());
    w.expected.sha256_b64 = b64_sha256(&tampered);
    w.fetch(0).0.unwrap();
    let e = kind(w.verify());
    assert_eq!(e.kind(), "bad-signature", "{e}");
    assert!(!e.is_retryable());
}

#[test]
fn a_signature_by_an_untrusted_key_fails() {
    let w = World::new();
    let other = Keypair::generate(w.dir.path(), "intruder");
    w.server
        .set_file(SIG_PATH, other.sign(&w.payload_path, false));
    w.fetch(0).0.unwrap();
    let e = kind(w.verify());
    assert_eq!(e.kind(), "untrusted-key", "{e}");
    assert!(e.to_string().contains(&other.id), "{e}");
    assert!(e.to_string().contains(&w.key.id), "{e}");
}

#[test]
fn a_missing_signature_is_never_installed() {
    let w = World::new();
    w.server
        .set_default(SIG_PATH, Behaviour::default().answering(404));
    w.fetch(0).0.unwrap();
    let e = kind(w.verify());
    assert_eq!(e.kind(), "signature-missing", "{e}");
    assert!(!e.is_retryable());
}

#[test]
fn a_legacy_signature_is_refused_with_a_hint() {
    let w = World::new();
    w.server
        .set_file(SIG_PATH, w.key.sign(&w.payload_path, true));
    w.fetch(0).0.unwrap();
    let e = kind(w.verify());
    assert_eq!(e.kind(), "legacy-signature", "{e}");
    assert!(e.to_string().contains("without -l"), "{e}");
}

#[test]
fn a_malformed_signature_is_reported() {
    let w = World::new();
    w.server
        .set_file(SIG_PATH, b"<html>not found</html>".to_vec());
    w.fetch(0).0.unwrap();
    assert_eq!(kind(w.verify()).kind(), "malformed-signature");
}

#[test]
fn no_trusted_key_means_no_install() {
    let w = World::new();
    let empty = w.dir.path().join("empty-root");
    let e = kind(TrustedKeys::load(&empty));
    assert_eq!(e.kind(), "no-trusted-keys");
    assert!(e.to_string().contains("trusted-keys"), "{e}");
    // A malformed key alone is reported, and still no key.
    let bad = w.dir.path().join("bad-root");
    std::fs::create_dir_all(bad.join("etc/kindling/trusted-keys")).unwrap();
    std::fs::write(
        bad.join("etc/kindling/trusted-keys/broken.pub"),
        "garbage\n",
    )
    .unwrap();
    let e = kind(TrustedKeys::load(&bad));
    assert!(e.to_string().contains("broken.pub"), "{e}");
}

#[test]
fn key_rotation_several_keys_masking_and_malformed_files() {
    let w = World::new();
    let new = Keypair::generate(w.dir.path(), "release-2027");
    // The old key ships in /usr/share, the new one is added in /etc, beside junk.
    std::fs::remove_file(w.root.join("etc/kindling/trusted-keys/release.pub")).unwrap();
    w.key
        .trust(&w.root, "usr/share/kindling/trusted-keys", "release.pub");
    new.trust(&w.root, "etc/kindling/trusted-keys", "release-2027.pub");
    std::fs::write(
        w.root.join("etc/kindling/trusted-keys/broken.pub"),
        "untrusted comment: x\nnot-a-key\n",
    )
    .unwrap();
    let keys = TrustedKeys::load(&w.root).unwrap();
    assert_eq!(keys.keys().len(), 2);
    assert!(
        keys.skipped.iter().any(|s| s.contains("broken.pub")),
        "{:?}",
        keys.skipped
    );
    w.fetch(0).0.unwrap();
    // Signed by the old key.
    assert_eq!(w.verify().unwrap().key_id(), w.key.id);
    // Signed by the new key.
    w.server
        .set_file(SIG_PATH, new.sign(&w.payload_path, false));
    assert_eq!(w.verify().unwrap().key_id(), new.id);
    // The old key is revoked by an empty file of the same name in /etc.
    std::fs::write(w.root.join("etc/kindling/trusted-keys/release.pub"), "").unwrap();
    w.server
        .set_file(SIG_PATH, w.key.sign(&w.payload_path, false));
    assert_eq!(kind(w.verify()).kind(), "untrusted-key");
}

#[test]
fn a_truncated_body_is_retryable() {
    let w = World::new();
    w.serve(Behaviour::default().truncating_at(1_200_000));
    let (r, done) = w.fetch(0);
    let e = kind(r);
    assert_eq!(e.kind(), "truncated", "{e}");
    assert_eq!(e.retry(), Retry::Resume);
    assert!(done <= 1_200_000);
}

#[test]
fn a_connection_reset_is_retryable() {
    let w = World::new();
    w.serve(Behaviour::default().resetting_at(900_000));
    let e = kind(w.fetch(0).0);
    // A reset may surface as a reset, or (if the kernel already delivered the FIN-less
    // close as EOF) as a truncation; both are transient.
    assert!(
        matches!(e.kind(), "connection-reset" | "truncated"),
        "{e:?}"
    );
    assert_eq!(e.retry(), Retry::Resume);
}

#[test]
fn http_4xx_and_5xx() {
    let w = World::new();
    for (status, kind_name, retryable) in [
        (403, "http-4xx", false),
        (404, "http-4xx", false),
        (500, "http-5xx", true),
        (503, "http-5xx", true),
        (429, "http-5xx", true),
    ] {
        w.script(Behaviour::default().answering(status));
        let e = kind(w.fetch(0).0);
        assert_eq!(e.kind(), kind_name, "{status}: {e}");
        assert_eq!(e.is_retryable(), retryable, "{status}");
        assert!(e.to_string().contains(&status.to_string()), "{e}");
    }
}

#[test]
fn a_stalled_server_times_out() {
    let mut w = World::new();
    w.timeouts.stall = Duration::from_millis(800);
    w.serve(Behaviour::default().stalling_at(400_000));
    let started = std::time::Instant::now();
    let e = kind(w.fetch(0).0);
    assert_eq!(e.kind(), "stalled", "{e}");
    assert!(e.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_slow_server_is_given_up() {
    let mut w = World::new();
    w.timeouts.low_speed_limit = 10_000;
    w.timeouts.low_speed_window = Duration::from_millis(700);
    w.serve(Behaviour::default().trickling(Duration::from_millis(10)));
    let started = std::time::Instant::now();
    let e = kind(w.fetch(0).0);
    assert_eq!(e.kind(), "too-slow", "{e}");
    assert!(e.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_dead_server_is_a_connect_error() {
    let mut w = World::new();
    // A port that was free a moment ago: nothing listens there.
    let port = crate::support::process::free_port();
    w.expected.url = format!("http://127.0.0.1:{port}/x");
    let e = kind(w.fetch(0).0);
    assert_eq!(e.kind(), "connect", "{e}");
    assert!(e.is_retryable());
}

#[test]
fn a_too_small_slot_is_refused_before_downloading() {
    let mut w = World::new();
    w.target.len = w.payload.len() as u64 - 1;
    let e = kind(w.fetch(0).0);
    assert_eq!(e.kind(), "region-too-small", "{e}");
    assert!(!e.is_retryable());
    assert!(w.server.seen().is_empty(), "it downloaded anyway");
    w.assert_outside_untouched_or_prefix();
    // A region reaching past the image's end is refused too, and the image not extended.
    let mut w = World::new();
    w.target.offset = OFFSET * 2 + 1;
    let e = kind(w.fetch(0).0);
    assert_eq!(e.kind(), "region-outside-device", "{e}");
    assert!(w.server.seen().is_empty());
}

/// `w`'s payload and signature at `host` (the loopback server's port).
fn at_host(w: &mut World, host: &str) {
    let port = w
        .expected
        .url
        .split(':')
        .nth(2)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    w.expected.url = format!("http://{host}:{port}{PATH}");
}

#[test]
fn a_name_resolving_to_a_refused_address_is_never_connected_to() {
    let mut w = World::new();
    w.timeouts.connect = Duration::from_secs(2);
    // 0.0.0.0 and :: first: connecting to them reaches this machine's own listeners (the
    // loopback file server on that port), so a resolver that let them through would show
    // here as a request, and nothing could leave the machine.
    for (host, ip, what) in [
        ("unspecified.test", "0.0.0.0", "an unspecified"),
        ("unspecified6.test", "::", "an unspecified"),
    ] {
        w.resolve = vec![(host.to_string(), ip.parse().unwrap())];
        at_host(&mut w, host);
        let before = w.server.seen().len();
        let err = kind(w.fetch(0).0);
        let text = err.to_string();
        assert_eq!(err.kind(), "connect", "{host}: {text}");
        assert!(
            text.contains(&format!("{host} resolves to {ip}, {what} address")),
            "{host}: {text}"
        );
        assert_eq!(w.server.seen().len(), before, "{host} was connected to");
    }
    // Only with that shown: the metadata address, link-local IPv4 and IPv6, multicast.
    for (host, ip, what) in [
        ("metadata.test", "169.254.169.254", "a link-local"),
        ("mapped.test", "::ffff:169.254.169.254", "a link-local"),
        ("fe80.test", "fe80::1", "a link-local"),
        ("multicast.test", "224.0.0.1", "a multicast"),
    ] {
        w.resolve = vec![(host.to_string(), ip.parse().unwrap())];
        at_host(&mut w, host);
        let text = kind(w.fetch(0).0).to_string();
        assert!(
            text.contains(&format!("{host} resolves to {ip}, {what} address"))
                && text.contains("only from routable or loopback addresses"),
            "{host}: {text}"
        );
        // The signature URL is refused the same way.
        let text = w.signature().unwrap_err().to_string();
        assert!(
            text.contains(&format!("{host} resolves to {ip}")),
            "{host}: {text}"
        );
    }
    // A refused address among good ones is dropped, the good one used.
    w.resolve = vec![
        ("mixed.test".to_string(), "0.0.0.0".parse().unwrap()),
        ("mixed.test".to_string(), "127.0.0.1".parse().unwrap()),
    ];
    at_host(&mut w, "mixed.test");
    w.fetch(0).0.unwrap();
}

#[test]
fn names_resolving_to_loopback_are_fetched() {
    let mut w = World::new();
    // The system resolver's answer for localhost, and a pinned name.
    at_host(&mut w, "localhost");
    w.fetch(0).0.unwrap();
    w.verify().unwrap();
    w.resolve = vec![("payload.test".to_string(), "127.0.0.1".parse().unwrap())];
    at_host(&mut w, "payload.test");
    w.fetch(0).0.unwrap();
    w.verify().unwrap();
}

#[test]
fn bad_offers_are_refused() {
    let mut w = World::new();
    w.expected.sha256_b64 = "not base64!".into();
    assert_eq!(kind(w.fetch(0).0).kind(), "bad-offer");
    w.expected.sha256_b64 = "AAAA".into();
    assert_eq!(kind(w.fetch(0).0).kind(), "bad-offer");
}

#[test]
fn all_proxy_http_proxy_and_no_proxy() {
    let mut w = World::new();
    let proxy = Proxy::start();
    // ALL_PROXY carries the payload and the signature.
    w.proxy = ProxyEnv {
        all: Some(proxy.url()),
        ..ProxyEnv::default()
    };
    w.fetch(0).0.unwrap();
    w.verify().unwrap();
    let seen = proxy.seen();
    let payload_line = format!("GET {} HTTP/1.1", w.expected.url);
    assert!(seen.contains(&payload_line), "{seen:?}");
    assert!(
        seen.iter().any(|l| l.contains(SIG_PATH)),
        "the signature bypassed the proxy: {seen:?}"
    );
    // HTTP_PROXY alone.
    let proxy2 = Proxy::start();
    w.proxy = ProxyEnv {
        http: Some(proxy2.url()),
        ..ProxyEnv::default()
    };
    w.fetch(0).0.unwrap();
    assert!(proxy2.seen().contains(&payload_line), "{:?}", proxy2.seen());
    // NO_PROXY=127.0.0.1 bypasses both.
    let proxy3 = Proxy::start();
    w.proxy = ProxyEnv {
        all: Some(proxy3.url()),
        http: Some(proxy3.url()),
        no_proxy: Some("127.0.0.1".into()),
        ..ProxyEnv::default()
    };
    let before = w.server.seen().len();
    w.fetch(0).0.unwrap();
    assert!(proxy3.seen().is_empty(), "{:?}", proxy3.seen());
    assert_eq!(w.server.seen().len(), before + 1);
}

/// The hidden `kindling payload fetch` with the given environment.
fn cli(w: &World, env: &[(&str, String)], prefix: &[&str]) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_kindling");
    let mut cmd = if prefix.is_empty() {
        Command::new(bin)
    } else {
        let mut c = Command::new(prefix[0]);
        c.args(&prefix[1..]).arg(bin);
        c
    };
    for var in [
        "ALL_PROXY",
        "all_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(["payload", "fetch", "--url", &w.expected.url])
        .args(["--size", &w.expected.size.to_string()])
        .args(["--sha256", &w.expected.sha256_b64])
        .arg("--image")
        .arg(&w.target.path)
        .args(["--offset", &w.target.offset.to_string()])
        .args(["--len", &w.target.len.to_string()])
        .arg("--root")
        .arg(&w.root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

#[test]
fn the_cli_honours_all_proxy_from_its_environment() {
    let w = World::new();
    let proxy = Proxy::start();
    let out = cli(&w, &[("ALL_PROXY", proxy.url())], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("key={}", w.key.id)), "{stdout}");
    assert!(
        proxy
            .seen()
            .contains(&format!("GET {} HTTP/1.1", w.expected.url)),
        "{:?}",
        proxy.seen()
    );
    // NO_PROXY in the environment bypasses it.
    let proxy2 = Proxy::start();
    let out = cli(
        &w,
        &[
            ("all_proxy", proxy2.url()),
            ("no_proxy", "127.0.0.1".into()),
        ],
        &[],
    );
    assert!(out.status.success());
    assert!(proxy2.seen().is_empty(), "{:?}", proxy2.seen());
    // A socks proxy is refused clearly rather than silently ignored.
    let out = cli(&w, &[("ALL_PROXY", "socks5://127.0.0.1:1".into())], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ALL_PROXY"));
}

#[test]
fn a_short_write_or_full_disk_is_region_full() {
    // The file size limit (RLIMIT_FSIZE, set by util-linux prlimit with SIGXFSZ ignored by
    // the shell) makes the kernel cut a write short and then fail it with EFBIG, as a
    // full file system does with ENOSPC.
    let w = World::new();
    let limit = OFFSET + 600_000;
    let script = format!("trap '' XFSZ; exec prlimit --fsize={limit} \"$@\"");
    let out = cli(&w, &[], &["/bin/sh", "-c", &script, "sh"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("region-full"), "{stderr}");
    assert!(stderr.contains("no space left"), "{stderr}");
    w.assert_outside_untouched();
}

#[test]
fn https_directly_and_through_a_connect_proxy() {
    let mut w = World::new();
    let sig = w.key.sign(&w.payload_path, false);
    let tls = crate::support::payload::TlsServer::start(
        w.dir.path(),
        vec![(PATH, w.payload.clone()), (SIG_PATH, sig)],
    );
    w.expected.url = tls.url(PATH);
    // Without the server's CA, the TLS handshake fails: nothing is written.
    let e = kind(w.fetch(0).0);
    assert_eq!(e.kind(), "connect", "{e}");
    w.assert_outside_untouched_or_prefix();
    let client_with_ca = |proxy: ProxyEnv| {
        payload::client(&ClientOptions {
            proxy,
            timeouts: w.timeouts,
            extra_roots: vec![tls.ca.clone()],
            resolve: Vec::new(),
        })
        .unwrap()
    };
    let run = |client: reqwest::Client| {
        block_on(async {
            let fetched = payload::fetch(
                &client,
                &w.expected,
                &w.target,
                0,
                &w.timeouts,
                &mut |_, _| {},
            )
            .await?;
            let sig = payload::fetch_signature(&client, &w.expected, &w.timeouts).await?;
            Ok::<_, PayloadError>((sig, fetched))
        })
    };
    let (sig, fetched) = run(client_with_ca(ProxyEnv::default())).unwrap();
    let keys = TrustedKeys::load(&w.root).unwrap();
    payload::verify(&w.target, &w.expected, &fetched, &keys, &sig).unwrap();
    // Through HTTPS_PROXY: the proxy sees only CONNECT, never the path.
    let proxy = Proxy::start();
    w.corrupt(10);
    let (sig, fetched) = run(client_with_ca(ProxyEnv {
        https: Some(proxy.url()),
        ..ProxyEnv::default()
    }))
    .unwrap();
    payload::verify(&w.target, &w.expected, &fetched, &keys, &sig).unwrap();
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "the proxy was bypassed");
    assert!(
        seen.iter().all(|l| l.starts_with("CONNECT 127.0.0.1:")),
        "{seen:?}"
    );
    w.assert_outside_untouched();
}

#[test]
fn an_untrusted_signature_is_found_before_downloading() {
    let w = World::new();
    let other = Keypair::generate(w.dir.path(), "intruder");
    let sig = other.sign(&w.payload_path, false);
    let keys = TrustedKeys::load(&w.root).unwrap();
    assert_eq!(kind(payload::precheck(&keys, &sig)).kind(), "untrusted-key");
    let legacy = w.key.sign(&w.payload_path, true);
    assert_eq!(
        kind(payload::precheck(&keys, &legacy)).kind(),
        "legacy-signature"
    );
    assert_eq!(
        payload::precheck(&keys, &w.signature().unwrap()).unwrap(),
        w.key.id
    );
    // The command line checks the signature first and downloads nothing.
    w.server.set_file(SIG_PATH, sig);
    let out = cli(&w, &[], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("untrusted-key"), "{stderr}");
    assert!(w.payload_requests().is_empty(), "it downloaded the payload");
    w.assert_outside_untouched_or_prefix();
}

#[test]
fn a_failed_resume_keeps_the_resume_point() {
    let w = World::new();
    w.fetch(0).0.unwrap();
    let resume = w.expected.size - 1000;
    w.script(Behaviour::default().answering(503));
    let (r, done) = w.fetch(resume);
    assert_eq!(kind(r).kind(), "http-5xx");
    // Whether or not the prefix re-hash finished, the next attempt may resume there.
    assert_eq!(done, resume);
    w.fetch(done).0.unwrap();
    w.verify().unwrap();
}
