//! The fuzz targets' bodies: one entry point per parser that reads bytes from outside
//! (a client, a server, a datasource, a file an operator hands over), each taking any bytes
//! and checking the parser's contract on them. A parser may refuse its input with an error;
//! it may never panic, hang or break an invariant its callers rely on (an offset inside the
//! text, `first <= last < total` of a range). The cargo-fuzz targets in `fuzz/` call these
//! functions and nothing else, and `tests/fuzz_replay.rs` replays every seed corpus
//! (`fuzz/corpus/NAME/`) and a bounded, seeded mutation pass through the same [`TARGETS`] on
//! stable Rust, so CI runs exactly what the fuzzer runs.
//!
//! Contract: no network, no clock; the only I/O is the config-drive target's own scratch
//! drive (a real drive is a folder), one per thread, removed with it. The functions
//! panic only when a parser breaks its contract, which is what a fuzzer reports.

// A panic is how a fuzz target reports a finding; the scratch drive and the client are the
// harness's own, and a harness that cannot make them cannot run.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::datasource::configdrive::ConfigDrive;
use crate::datasource::http::{Client, Policy};
use crate::datasource::{Datasource, Metadata, netconf, packet, vmware, waagent};
use crate::diagnostic::Finding;
use crate::payload::RsaKeys;
use crate::source::SourceFile;
use crate::template::{InputFile, inventory, vars};

/// A fuzz target: its name (the folder of its corpus, the name of its cargo-fuzz binary)
/// and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    ("omaha_request", omaha_request),
    ("omaha_response", omaha_response),
    ("xml", xml),
    ("fleetlock_body", fleetlock_body),
    ("configdrive", configdrive),
    ("ovf", ovf),
    ("waagent", waagent),
    ("netconf_debian", netconf_debian),
    ("packet", packet),
    ("guestinfo", guestinfo),
    ("minisign", minisign),
    ("content_range", content_range),
    ("inventory", inventory),
    ("vars", vars),
    ("multipart", multipart),
    ("crau", crau),
];

/// The target named `name`.
#[must_use]
pub fn target(name: &str) -> Option<fn(&[u8])> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The update server reads an agent's Omaha request.
pub fn omaha_request(data: &[u8]) {
    if let Ok(request) = crate::omaha::request::parse(data) {
        // What the server records comes from these; formatting them must hold.
        let _ = format!("{request:?}");
    }
}

/// The agent reads the update server's Omaha response (for our app id, and for one taken
/// from the input so the "app by id" path is reached too).
pub fn omaha_response(data: &[u8]) {
    let _ = crate::omaha::response::parse(data, crate::omaha::COREOS_APP_ID);
    let text = String::from_utf8_lossy(data);
    if let Some(at) = text.find("appid=\"") {
        let rest = &text[at + 7..];
        let id = rest.split('"').next().unwrap_or_default();
        let _ = crate::omaha::response::parse(data, id);
    }
}

/// The XML reader under every limit set it is used with.
pub fn xml(data: &[u8]) {
    for limits in [
        &crate::xml::REQUEST_LIMITS,
        &crate::xml::RESPONSE_LIMITS,
        &crate::xml::DATASOURCE_LIMITS,
    ] {
        if let Ok(root) = crate::xml::parse(data, limits) {
            assert!(depth(&root) <= limits.max_depth, "nesting past the limit");
            assert!(
                count(&root) <= limits.max_elements,
                "elements past the limit"
            );
        }
    }
}

fn depth(e: &crate::xml::Element) -> usize {
    1 + e.children.iter().map(depth).max().unwrap_or(0)
}

fn count(e: &crate::xml::Element) -> usize {
    1 + e.children.iter().map(count).sum::<usize>()
}

/// `lock serve` reads a FleetLock client's body (`pre-reboot`, `steady-state`, the admin
/// release).
pub fn fleetlock_body(data: &[u8]) {
    let _ = crate::lock::server::client_params(data);
}

/// A config drive's `meta_data.json`, `ec2/latest/meta-data.json` and the Debian
/// `interfaces` file its `network_config.content_path` names: the input's NUL-separated
/// parts, written to a scratch drive (the `interfaces` file as `openstack/content/0000`).
pub fn configdrive(data: &[u8]) {
    thread_local! {
        static DRIVE: tempfile::TempDir = scratch_drive();
    }
    let mut parts = data.split(|b| *b == 0);
    let meta = parts.next().unwrap_or_default();
    let ec2 = parts.next().unwrap_or_default();
    let interfaces = parts.next().unwrap_or_default();
    let md = DRIVE.with(|drive| {
        let root = drive.path();
        for (rel, bytes) in [
            ("openstack/latest/meta_data.json", meta),
            ("ec2/latest/meta-data.json", ec2),
            ("openstack/content/0000", interfaces),
        ] {
            std::fs::write(root.join(rel), bytes).expect("the scratch drive can be written");
        }
        let drive = ConfigDrive {
            root: root.to_path_buf(),
        };
        ready(drive.fetch_metadata())
    });
    if let Ok(md) = md {
        network(&md, "debian");
    }
}

/// One scratch config drive per thread, removed with the thread; in RAM (`/dev/shm`) when
/// the machine has it, as a file write per case on a busy disk costs milliseconds.
fn scratch_drive() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let drive = tempfile::Builder::new()
        .prefix("kindling-fuzz-configdrive-")
        .tempdir_in(parent)
        .or_else(|_| tempfile::tempdir())
        .expect("a scratch folder can be made");
    for dir in ["openstack/latest", "openstack/content", "ec2/latest"] {
        std::fs::create_dir_all(drive.path().join(dir)).expect("the scratch drive can be made");
    }
    drive
}

/// An OVF environment document (`--from-vmware-ovf-env`): its properties, the metadata and
/// network config they give, and the user-data they carry.
pub fn ovf(data: &[u8]) {
    if let Ok(props) = vmware::properties(&String::from_utf8_lossy(data)) {
        guestinfo_keys(props);
    }
}

/// Azure's `SharedConfig.xml`.
pub fn waagent(data: &[u8]) {
    let _ = waagent::shared_config(&String::from_utf8_lossy(data));
}

/// A Debian `interfaces` file (`--convert-netconf=debian`).
pub fn netconf_debian(data: &[u8]) {
    let config = crate::datasource::NetworkConfig::Debian(data.to_vec());
    if let Ok(units) = netconf::convert("debian", &config) {
        unit_names(&units);
    }
}

/// Packet's metadata document and the network config it carries.
pub fn packet(data: &[u8]) {
    if let Ok(md) = packet::parse(data, "fuzz") {
        network(&md, "packet");
    }
}

/// VMware guestinfo keys (`--from-vmware-guestinfo`), one `KEY=VALUE` a line, as
/// `vmware-rpctool` answers them one by one.
pub fn guestinfo(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let props: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    guestinfo_keys(props);
}

/// What both VMware sources do with a set of keys. `*.url` keys are dropped: a download is
/// the HTTP client's business, and a fuzzer sends no traffic.
fn guestinfo_keys(mut props: BTreeMap<String, String>) {
    props.retain(|k, _| !k.ends_with(".url"));
    if let Ok(md) = vmware::metadata(&props) {
        network(&md, "vmware");
    }
    static CLIENT: OnceLock<Client> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        let policy = Arc::new(Policy::new(std::time::Instant::now()));
        Client::new(policy, &[], false).expect("a client without headers builds")
    });
    let _ = ready(vmware::user_data(&props, client));
}

fn network(md: &Metadata, kind: &str) {
    if let Some(config) = &md.network
        && let Ok(units) = netconf::convert(kind, config)
    {
        unit_names(&units);
    }
}

fn unit_names(units: &[netconf::NetworkUnit]) {
    for u in units {
        // The units are written under /run/systemd/network: a name is one file there.
        assert!(
            !u.name.is_empty()
                && !u.name.contains('/')
                && u.name != "."
                && u.name != ".."
                && !u.name.chars().any(char::is_control),
            "unit name {:?} is not a file name",
            u.name
        );
    }
}

/// A `.minisig` signature file (fetched beside a payload) and a minisign public key file
/// (`update.signing_keys`, the trusted-keys folders): the same text, both readers.
pub fn minisign(data: &[u8]) {
    if let Ok(id) = crate::payload::decode_signature(data) {
        assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(key) = crate::model::minisign::PublicKey::parse(text)
    {
        assert_eq!(
            crate::model::minisign::PublicKey::parse(&key.file_text())
                .map(|k| k.key_id())
                .ok(),
            Some(key.key_id()),
            "a key's own file reads back as the same key"
        );
    }
}

/// A `Content-Range` header of a payload download: a range it accepts must be one whose
/// end can be counted past (`last + 1`) and that lies inside its total.
pub fn content_range(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((first, last, total)) = crate::payload::parse_content_range(text) {
        assert!(first <= last, "{text:?}: first {first} > last {last}");
        let end = last.checked_add(1);
        assert!(end.is_some(), "{text:?}: last + 1 overflows");
        if let Some(total) = total {
            assert!(last < total, "{text:?}: last {last} >= total {total}");
        }
    }
}

/// An inventory (`--inventory`), read as CSV and as YAML.
pub fn inventory(data: &[u8]) {
    for name in ["fuzz.csv", "fuzz.yaml"] {
        let (file, records) = inventory::read(name, data.to_vec());
        input_file(&file);
        if let Some(records) = records {
            for r in &records {
                assert!(!r.name.is_empty(), "a record without a name");
            }
        }
    }
}

/// A `--vars` file, and each of its lines as a `--var NAME=VALUE`.
pub fn vars(data: &[u8]) {
    let (file, _) = vars::read_vars_file("fuzz.yaml", data.to_vec());
    input_file(&file);
    for line in String::from_utf8_lossy(data).lines() {
        if let Ok((name, value)) = vars::parse_var(line) {
            assert!(!name.is_empty() && !value.contains('\n'));
        }
    }
}

/// A multipart MIME user-data: split part by part, and validated as a whole.
pub fn multipart(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match crate::source::multipart::split(&text) {
        Ok(split) => {
            for p in &split.parts {
                assert!(p.header.end <= text.len(), "{:?} past the text", p.header);
                if let Some(at) = p.body_at {
                    assert!(at <= text.len(), "body at {at} past the text");
                }
            }
            spans(&split.findings, text.len());
        }
        Err(f) => spans(std::slice::from_ref(&f), text.len()),
    }
    let v = crate::validate("fuzz", data.to_vec());
    source_spans(&v.source, &v.findings);
}

/// A CrAU payload's header and manifest (the metadata the agent reads before any data),
/// and a signatures message checked against the built-in key.
pub fn crau(data: &[u8]) {
    let _ = crate::payload::check_crau_metadata(data, data.len() as u64 * 4);
    static KEYS: OnceLock<Option<RsaKeys>> = OnceLock::new();
    if let Some(keys) = KEYS.get_or_init(|| RsaKeys::from_files(&[]).ok()) {
        let _ = crate::payload::check_signature(data, &[0; 32], keys);
    }
}

fn input_file(file: &InputFile) {
    source_spans(&file.source, &file.findings);
}

fn source_spans(source: &SourceFile, findings: &[Finding]) {
    spans(findings, source.text.len());
    for f in findings {
        assert!(
            source.text.is_char_boundary(f.span.start) && source.text.is_char_boundary(f.span.end),
            "{} {:?} ({}) splits a character",
            f.rule.code,
            f.span,
            f.message
        );
    }
}

fn spans(findings: &[Finding], len: usize) {
    for f in findings {
        assert!(
            f.span.start <= f.span.end && f.span.end <= len,
            "{} {:?} ({}) is not inside the {len} bytes",
            f.rule.code,
            f.span,
            f.message
        );
    }
}

/// Run a future that must not wait: the datasources' file readers finish on their first
/// poll (they do no I/O through the runtime). One that waits is a bug here, not a hang.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a fuzzed reader waited for I/O it must not do"),
    }
}
