//! The two datasources that talk to the hypervisor instead of a network service:
//! `--from-vmware-guestinfo` (through open-vm-tools' `vmware-rpctool`) and
//! `--from-cloudsigma-metadata` (CloudSigma's server context over a serial port).
//!
//! This machine is not a VM on VMware or CloudSigma, so the hypervisor side is emulated:
//! - VMware: a small shell script the test writes, named with `--vmware-rpctool`, answers
//!   `info-get guestinfo.KEY` from the file KEY in a directory (value plus newline, exit 0)
//!   and otherwise prints vmware-rpctool's real `No value found` on stderr and exits 1, as
//!   the real tool does when the hypervisor has no such key. The REAL `vmware-rpctool` is
//!   also run (installed by scripts/test from Debian's open-vm-tools), against a root whose
//!   DMI says VMware, to check the "not running on VMware" diagnostic.
//! - CloudSigma: a pseudo-terminal pair; kindling opens the terminal side as its serial port
//!   (`--cloudsigma-serial`), and a thread on the other side plays CloudSigma's server
//!   context with the real protocol (request `<\nKEY\n>`, JSON reply ended by EOT 0x04).
//!
//! Everything else is real: the binary, its root, the loopback HTTP server for
//! `coreos.config.url`. Every wait is bounded and every test asserts its time.

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::datasource::{Emulator, Out, Seen, node_root, text};

/// kindling, run as every datasource test runs it; never a panic, whatever the source says.
fn kindling(args: &[&str]) -> Out {
    let out = crate::support::datasource::kindling(args);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

/// A node root with a `core` user and DMI strings.
fn node(sys_vendor: &str, product_name: &str) -> tempfile::TempDir {
    let dir = node_root();
    let p = dir.path();
    let dmi = p.join("sys/class/dmi/id");
    std::fs::create_dir_all(&dmi).unwrap();
    std::fs::write(dmi.join("sys_vendor"), format!("{sys_vendor}\n")).unwrap();
    std::fs::write(dmi.join("product_name"), format!("{product_name}\n")).unwrap();
    dir
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every regular file below `dir`, with its bytes (to prove nothing was written).
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------
// VMware guestinfo

/// The hypervisor side of `vmware-rpctool`, emulated (this machine is not on VMware): a
/// script answering `info-get guestinfo.KEY` from `dir/KEY`. `KEY.hang` makes the call hang,
/// `KEY.endless` makes it print forever; every asked key is appended to `dir/.asked`.
struct Guestinfo {
    dir: tempfile::TempDir,
    tool: PathBuf,
}

impl Guestinfo {
    fn new(keys: &[(&str, &str)]) -> Guestinfo {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("vmware-rpctool");
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir(&keys_dir).unwrap();
        std::fs::write(
            &tool,
            format!(
                r#"#!/bin/sh
# Emulates open-vm-tools' vmware-rpctool for tests (no VMware hypervisor here).
dir='{}'
case "$1" in
  "info-get guestinfo."*) key="${{1#info-get guestinfo.}}" ;;
  *) echo "Unknown command" >&2; exit 1 ;;
esac
echo "$key" >> "$dir/.asked"
[ -e "$dir/$key.hang" ] && exec sleep 30
[ -e "$dir/$key.endless" ] && exec yes guestinfo
if [ -f "$dir/$key" ]; then cat "$dir/$key"; echo; exit 0; fi
echo "No value found" >&2
exit 1
"#,
                keys_dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let g = Guestinfo { dir, tool };
        for (k, v) in keys {
            g.set(k, v);
        }
        g
    }

    fn set(&self, key: &str, value: &str) {
        std::fs::write(self.dir.path().join("keys").join(key), value).unwrap();
    }

    fn asked(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("keys/.asked"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn apply(&self, root: &Path, extra: &[&str]) -> Out {
        let mut args = vec![
            "apply",
            "--oem",
            "vmware",
            "--vmware-rpctool",
            self.tool.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        kindling(&args)
    }
}

const VM_USER_DATA: &str = "#cloud-config\nwrite_files:\n- path: /etc/ips\n  content: \"$private_ipv4 $public_ipv4 $public_ipv6\"\n";

const NETWORK: [(&str, &str); 8] = [
    ("hostname", "vm-node"),
    ("dns.server.0", "10.20.0.53"),
    ("interface.0.name", "ens192"),
    ("interface.0.role", "private"),
    ("interface.0.ip.0.address", "10.20.0.5/24"),
    ("interface.1.mac", "00:50:56:00:00:02"),
    ("interface.1.role", "public"),
    ("interface.1.ip.0.address", "203.0.113.5/24"),
];

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn vmware_guestinfo_user_data_encodings_metadata_and_network() {
    use base64::Engine as _;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    for (encoding, data) in [
        ("", VM_USER_DATA.to_string()),
        ("base64", b64(VM_USER_DATA.as_bytes())),
        ("gzip+base64", b64(&gzip(VM_USER_DATA.as_bytes()))),
    ] {
        let g = Guestinfo::new(&NETWORK);
        g.set("coreos.config.data", &data);
        if !encoding.is_empty() {
            g.set("coreos.config.data.encoding", encoding);
        }
        let root = node("VMware, Inc.", "VMware7,1");
        let r = root.path();
        let out = g.apply(r, &[]);
        assert_eq!(out.status, 0, "{encoding}: {}", out.stderr);
        assert_eq!(read(r, "etc/ips"), "10.20.0.5 203.0.113.5 ", "{encoding}");
        assert_eq!(read(r, "etc/hostname"), "vm-node\n");
        // --oem vmware converts the network (the preset's --convert-netconf vmware).
        assert_eq!(
            read(r, "run/systemd/network/00-ens192.network"),
            "[Match]\nName=ens192\n\n[Network]\nDNS=10.20.0.53\n\n[Address]\nAddress=10.20.0.5/24\n"
        );
        assert!(
            read(r, "run/systemd/network/00-00:50:56:00:00:02.network")
                .contains("Address=203.0.113.5/24\n")
        );
        let asked = g.asked();
        assert_eq!(asked[0], "ovfenv", "the probe asks for ovfenv first");
        assert_eq!(asked[1], "ovfenv", "the read starts with ovfenv");
        // Flatcar's order: ignition.config.* before coreos.config.*.
        let pos = |k: &str| asked.iter().position(|a| a == k).unwrap();
        assert!(pos("ignition.config.data") < pos("coreos.config.data"));
        // The interface loop stops at the first empty index.
        assert!(asked.contains(&"interface.2.name".to_string()));
        assert!(
            !asked.contains(&"interface.3.name".to_string()),
            "{asked:?}"
        );

        // Every boot, convergent: the same guestinfo writes nothing the second time.
        let before = files(r);
        let again = g.apply(r, &[]);
        assert_eq!(again.status, 0, "{}", again.stderr);
        assert_eq!(files(r), before);
    }
}

#[test]
fn vmware_guestinfo_url_ovfenv_and_ignition() {
    let svc = Emulator::start(|s: &Seen, _| match s.path.as_str() {
        "/user-data" => text(VM_USER_DATA),
        _ => crate::support::datasource::Reply::Status(404),
    });
    let g = Guestinfo::new(&NETWORK);
    g.set("coreos.config.url", &format!("{}user-data", svc.url));
    let root = node("VMware, Inc.", "VMware Virtual Platform");
    let out = g.apply(root.path(), &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/ips"), "10.20.0.5 203.0.113.5 ");
    assert_eq!(
        svc.requests()
            .iter()
            .filter(|r| r.path == "/user-data")
            .count(),
        1
    );

    // A non-empty guestinfo.ovfenv is the OVF environment: its properties are the keys,
    // and no other key is asked for.
    let ovf = format!(
        r#"<?xml version="1.0"?><Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"><PropertySection>
<Property oe:key="guestinfo.hostname" oe:value="ovf-node"/>
<Property oe:key="guestinfo.coreos.config.data" oe:value="{}"/>
</PropertySection></Environment>"#,
        "#cloud-config&#10;write_files:&#10;- path: /etc/from-ovf&#10;  content: yes&#10;"
    );
    let g = Guestinfo::new(&[("ovfenv", &ovf), ("hostname", "not-this")]);
    let root = node("VMware, Inc.", "VMware7,1");
    let out = g.apply(root.path(), &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/hostname"), "ovf-node\n");
    assert_eq!(read(root.path(), "etc/from-ovf"), "yes");
    assert_eq!(g.asked(), ["ovfenv", "ovfenv"]);

    // ignition.config.data wins over coreos.config.data; an Ignition config is left to
    // Ignition (nothing applied, exit 0).
    let g = Guestinfo::new(&[
        (
            "ignition.config.data",
            r#"{"ignition":{"version":"3.3.0"}}"#,
        ),
        ("coreos.config.data", VM_USER_DATA),
    ]);
    let root = node("VMware, Inc.", "VMware7,1");
    let before = files(root.path());
    let out = g.apply(root.path(), &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Ignition"), "{}", out.stderr);
    assert_eq!(files(root.path()), before);
}

#[test]
fn vmware_guestinfo_absent_keys_hangs_huge_values_and_bad_values() {
    // No user-data key at all: the metadata is applied, the run succeeds.
    let g = Guestinfo::new(&[("hostname", "bare-node")]);
    let root = node("VMware, Inc.", "VMware7,1");
    let out = g.apply(root.path(), &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/hostname"), "bare-node\n");

    // A tool that hangs: the run ends at its deadline, nothing applied.
    let g = Guestinfo::new(&NETWORK);
    g.set("hostname.hang", "");
    let root = node("VMware, Inc.", "VMware7,1");
    let before = files(root.path());
    let out = g.apply(root.path(), &["--timeout", "2"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("did not answer within"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(6), "{:?}", out.elapsed);
    assert_eq!(files(root.path()), before);

    // A value that never ends: cut at the limit, nothing applied.
    let g = Guestinfo::new(&NETWORK);
    g.set("hostname.endless", "");
    let root = node("VMware, Inc.", "VMware7,1");
    let out = g.apply(root.path(), &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("larger than 1024 KiB"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    assert_eq!(files(root.path()), before);

    // An address that is not CIDR is an error naming the key.
    let g = Guestinfo::new(&[
        ("interface.0.name", "e"),
        ("interface.0.ip.0.address", "10.0.0.1"),
    ]);
    let out = g.apply(root.path(), &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("interface.0.ip.0.address"),
        "{}",
        out.stderr
    );

    // A user-data encoding that does not decode: the metadata is still applied, exit 1.
    let g = Guestinfo::new(&[
        ("hostname", "still-named"),
        ("coreos.config.data", "!!!"),
        ("coreos.config.data.encoding", "base64"),
    ]);
    let root = node("VMware, Inc.", "VMware7,1");
    let out = g.apply(root.path(), &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("coreos.config.data"), "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/hostname"), "still-named\n");
}

#[test]
fn vmware_guestinfo_needs_vmware_and_the_tool() {
    // The root's DMI says another vendor: never available, at once, the tool never run.
    let g = Guestinfo::new(&NETWORK);
    let root = node("QEMU", "Standard PC (Q35 + ICH9, 2009)");
    let out = g.apply(root.path(), &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("not running on VMware") && out.stderr.contains("\"QEMU\""),
        "{}",
        out.stderr
    );
    assert!(g.asked().is_empty());
    assert!(out.elapsed < Duration::from_secs(2));

    // No such tool: an install hint.
    let root = node("VMware, Inc.", "VMware7,1");
    let out = kindling(&[
        "apply",
        "--from-vmware-guestinfo",
        "--vmware-rpctool",
        "/nonexistent/vmware-rpctool",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("install open-vm-tools"),
        "{}",
        out.stderr
    );
}

/// Installed as `coreos-cloudinit`, the Go spellings of the new flags work too.
#[test]
fn vmware_guestinfo_as_coreos_cloudinit() {
    let bin = tempfile::tempdir().unwrap();
    let link = bin.path().join("coreos-cloudinit");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kindling"), &link).unwrap();
    let g = Guestinfo::new(&NETWORK);
    g.set("coreos.config.data", VM_USER_DATA);
    let root = node("VMware, Inc.", "VMware7,1");
    let out = Command::new(&link)
        .args([
            "-from-vmware-guestinfo=true",
            &format!("-vmware-rpctool={}", g.tool.display()),
            "-convert-netconf=vmware",
            &format!("-root={}", root.path().display()),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(root.path(), "etc/ips"), "10.20.0.5 203.0.113.5 ");
    assert!(
        root.path()
            .join("run/systemd/network/00-ens192.network")
            .is_file()
    );
}

/// The REAL vmware-rpctool (Debian's open-vm-tools) on this machine, which is not a VMware
/// VM, with a root whose DMI says VMware: a clear "not running on VMware" with the tool's
/// own words, exit 1, no panic, nothing written.
#[test]
fn real_vmware_rpctool_off_vmware() {
    let tool = which("vmware-rpctool")
        .expect("vmware-rpctool is missing: install Debian's open-vm-tools (scripts/test does)");
    let root = node("VMware, Inc.", "VMware7,1");
    let before = files(root.path());
    let out = kindling(&[
        "apply",
        "--from-vmware-guestinfo",
        "--vmware-rpctool",
        tool.to_str().unwrap(),
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("not running on VMware (")
            && (out.stderr.contains("must be run inside a virtual machine")
                || out.stderr.contains("Failed sending message to VMware")),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    assert_eq!(files(root.path()), before);
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

// ---------------------------------------------------------------------------------------
// CloudSigma

/// CloudSigma's side of the server context, emulated on a pseudo-terminal (there is no
/// CloudSigma hypervisor here). kindling opens `path`, the terminal side; this thread reads
/// requests `<\nKEY\n>` on the other side and writes what `reply(KEY)` returns. Dropping it
/// stops and joins the thread.
struct ServerContext {
    path: PathBuf,
    keys: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Held open so the terminal side stays valid between kindling's opens.
    _slave: OwnedFd,
}

enum Answer {
    /// These bytes (a reply plus EOT, or anything else).
    Bytes(Vec<u8>),
    /// Nothing at all.
    Silence,
    /// JSON-looking bytes forever, never an EOT.
    Endless,
}

impl ServerContext {
    fn start(reply: impl Fn(&str) -> Answer + Send + 'static) -> ServerContext {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let pty = nix::pty::openpty(None, None).unwrap();
        let path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd())).unwrap();
        let master = pty.master;
        let flags = nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(
                nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK,
            ),
        )
        .unwrap();
        let keys: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (keys2, stop2) = (Arc::clone(&keys), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut file = std::fs::File::from(master);
            let mut pending: Vec<u8> = Vec::new();
            let mut out: Vec<u8> = Vec::new();
            let mut endless = false;
            // Bounded: the test drops the emulator (stop) or 60 s pass.
            let until = Instant::now() + Duration::from_secs(60);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < until {
                if endless && out.len() < 4096 {
                    out.extend_from_slice(b"{\"padding\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", ");
                }
                let mut events = PollFlags::POLLIN;
                if !out.is_empty() {
                    events |= PollFlags::POLLOUT;
                }
                let mut fds = [PollFd::new(file.as_fd(), events)];
                if poll(&mut fds, PollTimeout::from(20u16)).unwrap_or(0) == 0 {
                    continue;
                }
                let ready = fds[0].revents().unwrap_or(PollFlags::empty());
                if ready.contains(PollFlags::POLLIN) {
                    let mut buf = [0u8; 4096];
                    if let Ok(n) = std::io::Read::read(&mut file, &mut buf) {
                        pending.extend_from_slice(&buf[..n]);
                    }
                }
                // A complete request: "<\nKEY\n>".
                while let Some(start) = pending.windows(2).position(|w| w == b"<\n") {
                    let Some(len) = pending[start + 2..].windows(2).position(|w| w == b"\n>")
                    else {
                        break;
                    };
                    let key =
                        String::from_utf8_lossy(&pending[start + 2..start + 2 + len]).into_owned();
                    pending.drain(..start + 2 + len + 2);
                    keys2.lock().unwrap().push(key.clone());
                    match reply(&key) {
                        Answer::Bytes(b) => out.extend_from_slice(&b),
                        Answer::Silence => {}
                        Answer::Endless => endless = true,
                    }
                }
                if !out.is_empty()
                    && ready.contains(PollFlags::POLLOUT)
                    && let Ok(n) = file.write(&out)
                {
                    out.drain(..n);
                }
            }
        });
        ServerContext {
            path,
            keys,
            stop,
            thread: Some(thread),
            _slave: pty.slave,
        }
    }

    fn keys(&self) -> Vec<String> {
        self.keys.lock().unwrap().clone()
    }
}

impl Drop for ServerContext {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn eot(json: &serde_json::Value) -> Answer {
    let mut b = serde_json::to_vec(json).unwrap();
    b.push(0x04);
    Answer::Bytes(b)
}

/// A CloudSigma node root: DMI, a networkd lease for ifindex 3, and NIC `eth1` with the
/// private VLAN's MAC at ifindex 3.
fn cloudsigma_node() -> tempfile::TempDir {
    let root = node("CloudSigma", "CloudSigma");
    let p = root.path();
    std::fs::create_dir_all(p.join("run/systemd/netif/leases")).unwrap();
    std::fs::write(
        p.join("run/systemd/netif/leases/3"),
        "# This is private data. Do not parse.\nADDRESS=10.0.7.9\nNETMASK=255.255.255.0\n",
    )
    .unwrap();
    for (nic, mac, index) in [
        ("eth0", "22:aa:00:00:00:01", "2"),
        ("eth1", "22:aa:00:00:00:02", "3"),
    ] {
        let d = p.join("sys/class/net").join(nic);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("address"), format!("{mac}\n")).unwrap();
        std::fs::write(d.join("ifindex"), format!("{index}\n")).unwrap();
    }
    root
}

const CS_USER_DATA: &str =
    "#cloud-config\nwrite_files:\n- path: /etc/ips\n  content: \"$public_ipv4 $private_ipv4\"\n";

fn context(name: &str, meta: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "uuid": "65b2fb23-8c03-4187-a3ba-8b7c919e8890",
        "meta": meta,
        "nics": [
            {"mac": "22:AA:00:00:00:01", "ip_v4_conf": {"conf": "dhcp", "ip": {"uuid": "185.12.6.7"}}, "vlan": null},
            {"mac": "22:aa:00:00:00:02", "ip_v4_conf": null, "vlan": {"uuid": "6a3f1a9a-vlan"}}
        ]
    })
}

fn cs_apply(sc: &ServerContext, root: &Path, extra: &[&str]) -> Out {
    let mut args = vec![
        "apply",
        "--oem",
        "cloudsigma",
        "--cloudsigma-serial",
        sc.path.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    kindling(&args)
}

#[test]
fn cloudsigma_server_context_applies_metadata_and_user_data() {
    use base64::Engine as _;
    let meta = serde_json::json!({
        "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIcs user@laptop",
        "cloudinit-user-data": base64::engine::general_purpose::STANDARD.encode(CS_USER_DATA),
        "base64_fields": "cloudinit-user-data"
    });
    let (ctx, m) = (context("cs-node", meta.clone()), meta);
    let sc = ServerContext::start(move |key| match key {
        "" => eot(&ctx),
        "/meta/" => eot(&m),
        _ => eot(&serde_json::json!(null)),
    });
    let root = cloudsigma_node();
    let r = root.path();
    let out = cs_apply(&sc, r, &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(r, "etc/ips"), "185.12.6.7 10.0.7.9");
    assert_eq!(read(r, "etc/hostname"), "cs-node\n");
    assert!(
        read(r, "home/core/.ssh/authorized_keys.d/coreos-cloudinit")
            .contains("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIcs user@laptop")
    );
    let mut keys = sc.keys();
    keys.sort();
    assert_eq!(keys, ["", "/meta/"]);
}

#[test]
fn cloudsigma_uuid_hostname_and_plain_user_data() {
    let meta = serde_json::json!({"cloudinit-user-data": CS_USER_DATA});
    let (ctx, m) = (context("", meta.clone()), meta);
    let sc = ServerContext::start(move |key| match key {
        "" => eot(&ctx),
        _ => eot(&m),
    });
    // No lease for the private NIC: $private_ipv4 is unset, with a warning.
    let root = cloudsigma_node();
    let r = root.path();
    std::fs::write(r.join("sys/class/net/eth1/ifindex"), "4\n").unwrap();
    let out = cs_apply(&sc, r, &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        read(r, "etc/hostname"),
        "65b2fb23-8c03-4187-a3ba-8b7c919e8890\n"
    );
    assert_eq!(read(r, "etc/ips"), "185.12.6.7 ");
    assert!(out.stderr.contains("private_ipv4"), "{}", out.stderr);
}

#[test]
fn cloudsigma_bad_base64_is_an_error_but_metadata_applies() {
    let meta = serde_json::json!({
        "cloudinit-user-data": "#cloud-config is not base64",
        "base64_fields": "cloudinit-user-data"
    });
    let (ctx, m) = (context("cs-node", meta.clone()), meta);
    let sc = ServerContext::start(move |key| match key {
        "" => eot(&ctx),
        _ => eot(&m),
    });
    let root = cloudsigma_node();
    let out = cs_apply(&sc, root.path(), &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("not base64"), "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/hostname"), "cs-node\n");
}

#[test]
fn cloudsigma_hostile_device_ends_bounded_with_nothing_applied() {
    // Silent: the deadline ends it.
    let sc = ServerContext::start(|_| Answer::Silence);
    let root = cloudsigma_node();
    let before = files(root.path());
    let out = cs_apply(&sc, root.path(), &["--timeout", "2"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("did not answer within"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(6), "{:?}", out.elapsed);
    assert_eq!(files(root.path()), before);
    drop(sc);

    // A reply without EOT that never ends: the size cap ends it.
    let sc = ServerContext::start(|_| Answer::Endless);
    let out = cs_apply(&sc, root.path(), &["--timeout", "60"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("more than 1024 KiB without the end-of-reply byte"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(20), "{:?}", out.elapsed);
    assert_eq!(files(root.path()), before);
    drop(sc);

    // Malformed JSON.
    let sc = ServerContext::start(|_| Answer::Bytes(b"{\"name\": \x04".to_vec()));
    let out = cs_apply(&sc, root.path(), &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("not JSON"), "{}", out.stderr);
    assert_eq!(files(root.path()), before);
    drop(sc);

    // Not CloudSigma hardware: never available, at once, the port never opened.
    let sc = ServerContext::start(|_| Answer::Silence);
    let other = node("QEMU", "Standard PC");
    let out = cs_apply(&sc, other.path(), &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("not running on CloudSigma"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(2));
    assert!(sc.keys().is_empty());
}
