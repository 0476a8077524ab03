//! A node you can run on a laptop: a root directory plus a GPT disk image, payloads that are
//! real ext4 images of a `/usr` carrying `share/coreos/release`, signed with Debian's
//! `minisign`, served by `kindling update-server` on 127.0.0.1. A simulated reboot is
//! `kindling slots next` plus what the firmware and kernel would change in the root: the
//! kernel command line, the boot id, and the running `/usr`'s release file (read from the
//! chosen slot with e2fsprogs' `debugfs`, independently of kindling).
//!
//! Everything it starts is stopped by its own PID when dropped, also when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use super::process::{Guard, free_port};
use super::process::{publish_args, status_json_args};

/// The kindling binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kindling")
}

/// A finished command.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run a program to the end, with a bound on its time.
pub fn run(program: &str, args: &[&str]) -> Out {
    run_env(program, args, &[])
}

/// `run` with extra environment.
pub fn run_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program}: {e} (is it installed? scripts/test installs it)")
        });
    // Read both pipes while the child runs: a child that writes more than a pipe holds
    // (64 KiB) would otherwise block on its write and never exit.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            // Stop what the test started before failing it.
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} ran for more than 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
    }
}

/// Run kindling.
pub fn kindling(args: &[&str]) -> Out {
    run(bin(), args)
}

/// Run kindling, which must succeed (`what` names it in the failure), and parse its JSON.
fn kindling_json(args: &[&str], what: &str) -> serde_json::Value {
    let out = kindling(args);
    assert_eq!(out.code, 0, "{what}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// Fail clearly when a tool the test needs is missing.
pub fn need(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed; scripts/test installs it (Debian package)"
    );
}

/// Wait until something accepts connections on 127.0.0.1:port.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A minisign key pair made by Debian's minisign (no password).
pub struct Keys {
    pub public: PathBuf,
    pub secret: PathBuf,
}

impl Keys {
    pub fn new(dir: &Path, name: &str) -> Keys {
        need("minisign");
        let public = dir.join(format!("{name}.pub"));
        let secret = dir.join(format!("{name}.key"));
        let out = run(
            "minisign",
            &[
                "-G",
                "-W",
                "-f",
                "-p",
                public.to_str().unwrap(),
                "-s",
                secret.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 0, "minisign -G: {}", out.stderr);
        Keys { public, secret }
    }

    /// Sign a file; returns FILE.minisig.
    pub fn sign(&self, file: &Path) -> PathBuf {
        let out = run(
            "minisign",
            &[
                "-S",
                "-s",
                self.secret.to_str().unwrap(),
                "-m",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 0, "minisign -S: {}", out.stderr);
        PathBuf::from(format!("{}.minisig", file.display()))
    }
}

/// A real ext4 image of a `/usr` whose `share/coreos/release` says `version`.
pub fn usr_image(dir: &Path, version: &str, size_mib: u32) -> PathBuf {
    need("mkfs.ext4");
    let tree = dir.join(format!("usr-{version}"));
    std::fs::create_dir_all(tree.join("share/coreos")).unwrap();
    std::fs::write(
        tree.join("share/coreos/release"),
        format!("COREOS_RELEASE_VERSION={version}\nCOREOS_RELEASE_BOARD=amd64-usr\n"),
    )
    .unwrap();
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    // Some bulk, so a download takes long enough to be interrupted.
    let bulk: Vec<u8> = (0..(size_mib as usize * 512 * 1024))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(tree.join("bin/bulk"), &bulk).unwrap();
    let image = dir.join(format!("usr-{version}.ext4"));
    mkfs_ext4(&tree, &image, size_mib);
    image
}

/// An ext4 image of `size_mib` MiB at `image` holding `tree` (`mkfs.ext4 -d`, owned by root).
pub fn mkfs_ext4(tree: &Path, image: &Path, size_mib: u32) {
    need("mkfs.ext4");
    let out = run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            "root_owner=0:0",
            "-d",
            tree.to_str().unwrap(),
            image.to_str().unwrap(),
            &format!("{size_mib}M"),
        ],
    );
    assert_eq!(out.code, 0, "mkfs.ext4: {}", out.stderr);
}

/// `kindling update-server` on a free loopback port, stopped on drop.
pub struct Server {
    pub dir: PathBuf,
    pub url: String,
    _child: Guard,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// With more flags (e.g. `--base-url` to have payloads fetched from another server).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let child = Command::new(bin())
            .args([
                "update-server",
                "--dir",
                dir.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let guard = Guard(child);
        wait_for_port(port);
        Server {
            dir: dir.to_path_buf(),
            url: format!("http://127.0.0.1:{port}/v1/update/"),
            _child: guard,
        }
    }

    pub fn publish(&self, channel: &str, version: &str, payload: &Path, signature: &Path) {
        let out = kindling(&publish_args(
            &self.dir, channel, version, payload, signature,
        ));
        assert_eq!(out.code, 0, "publish: {}{}", out.stdout, out.stderr);
    }

    /// The server's record of one machine, once it shows `pred` (the server writes its
    /// records at most once a second, so this waits a bounded while).
    pub fn instance_where(
        &self,
        machine_id: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.status_json();
            let found = status["instances"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["machine_id"] == machine_id))
                .cloned();
            match found {
                Some(i) if pred(&i) => return i,
                other => assert!(
                    Instant::now() < deadline,
                    "the server's record of {machine_id} never matched: {other:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn status_json(&self) -> serde_json::Value {
        kindling_json(&status_json_args(&self.dir), "status")
    }
}

/// The usual release: keys named `release`, a 1.0.0 image for the node, and a 1.0.1 image
/// signed with the keys and published on stable by a fresh `kindling update-server` in
/// `dir/server`.
pub struct Release {
    pub keys: Keys,
    pub v100: PathBuf,
    pub v101: PathBuf,
    pub server: Server,
}

impl Release {
    /// Make the images (`size_mib` each), sign 1.0.1, start the server and publish it.
    pub fn publish(dir: &Path, size_mib: u32) -> Release {
        Release::builder(dir).size_mib(size_mib).publish()
    }

    /// A release to shape: images of 4 MiB, signed by keys named `release`.
    pub fn builder(dir: &Path) -> ReleaseBuilder {
        ReleaseBuilder {
            dir: dir.to_path_buf(),
            size_mib: 4,
            payload_mib: None,
            signer: "release",
        }
    }

    /// A node in `dir/node` running 1.0.0 with `update_conf`, trusting the release keys.
    pub fn node(&self, dir: &Path, update_conf: &str) -> Node {
        self.node_at(&dir.join("node"), update_conf)
    }

    /// The same in the directory `node` itself.
    pub fn node_at(&self, node: &Path, update_conf: &str) -> Node {
        Node::new(node, &self.v100, update_conf, &[&self.keys])
    }
}

/// How a [`Release`] is made.
pub struct ReleaseBuilder {
    dir: PathBuf,
    size_mib: u32,
    payload_mib: Option<u32>,
    signer: &'static str,
}

impl ReleaseBuilder {
    /// Both images this large.
    pub fn size_mib(self, size_mib: u32) -> Self {
        Self { size_mib, ..self }
    }

    /// The 1.0.1 payload this large (the 1.0.0 image keeps `size_mib`).
    pub fn payload_mib(self, mib: u32) -> Self {
        Self {
            payload_mib: Some(mib),
            ..self
        }
    }

    /// Signed by keys of this name (which the node need not trust).
    pub fn signed_by(self, signer: &'static str) -> Self {
        Self { signer, ..self }
    }

    /// Make the keys and images, sign 1.0.1, start the server and publish it.
    pub fn publish(self) -> Release {
        let dir = &self.dir;
        let keys = Keys::new(dir, self.signer);
        let v100 = usr_image(dir, "1.0.0", self.size_mib);
        let v101 = usr_image(dir, "1.0.1", self.payload_mib.unwrap_or(self.size_mib));
        let sig = keys.sign(&v101);
        let server = Server::start(&dir.join("server"));
        server.publish("stable", "1.0.1", &v101, &sig);
        Release {
            keys,
            v100,
            v101,
            server,
        }
    }
}

/// A simulated node: a root directory and a GPT disk image.
pub struct Node {
    pub root: PathBuf,
    pub disk: PathBuf,
    pub dir: PathBuf,
    boots: u32,
    /// Partition numbers of USR-A and USR-B (read with cgpt once).
    indices: [u32; 2],
}

/// `cgpt show -i N FLAG IMG`, trimmed.
pub fn cgpt(disk: &Path, index: u32, flag: &str) -> String {
    let out = run(
        "cgpt",
        &[
            "show",
            "-i",
            &index.to_string(),
            flag,
            disk.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "cgpt show -i {index} {flag}: {}", out.stderr);
    out.stdout.trim().to_string()
}

impl Node {
    /// A node booted from USR-A running `image` (its release), with `update_conf` as
    /// /etc/coreos/update.conf and `keys` trusted.
    pub fn new(dir: &Path, image: &Path, update_conf: &str, keys: &[&Keys]) -> Node {
        need("cgpt");
        need("debugfs");
        let root = dir.join("root");
        let disk = dir.join("disk.img");
        std::fs::create_dir_all(root.join("etc/coreos")).unwrap();
        std::fs::create_dir_all(root.join("etc/kindling/trusted-keys")).unwrap();
        std::fs::create_dir_all(root.join("proc/sys/kernel/random")).unwrap();
        std::fs::create_dir_all(root.join("usr/share/coreos")).unwrap();
        std::fs::write(root.join("etc/machine-id"), machine_id(dir)).unwrap();
        std::fs::write(root.join("etc/coreos/update.conf"), update_conf).unwrap();
        for (i, k) in keys.iter().enumerate() {
            std::fs::copy(
                &k.public,
                root.join(format!("etc/kindling/trusted-keys/key{i}.pub")),
            )
            .unwrap();
        }
        let out = kindling(&[
            "slots",
            "init",
            "--disk",
            disk.to_str().unwrap(),
            "--slot-size",
            "24M",
            "--usr-a",
            image.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "slots init: {}{}", out.stdout, out.stderr);
        let mut node = Node {
            root,
            disk,
            dir: dir.to_path_buf(),
            boots: 0,
            indices: [0, 0],
        };
        node.indices = [node.find_index("USR-A"), node.find_index("USR-B")];
        node.boot();
        node
    }

    /// A node in `dir/node` running `image`, checking `url` with `strategy` (no other
    /// update.conf lines), trusting `keys`.
    pub fn checking(dir: &Path, image: &Path, url: &str, strategy: &str, keys: &[&Keys]) -> Node {
        Node::new(
            &dir.join("node"),
            image,
            &update_conf(url, strategy, ""),
            keys,
        )
    }

    /// The partition number of USR-A or USR-B.
    pub fn index(&self, label: &str) -> u32 {
        match label {
            "USR-A" => self.indices[0],
            "USR-B" => self.indices[1],
            other => self.find_index(other),
        }
    }

    /// The partition number of a label, read with cgpt.
    fn find_index(&self, label: &str) -> u32 {
        (1..=16)
            .find(|i| {
                let out = run(
                    "cgpt",
                    &[
                        "show",
                        "-i",
                        &i.to_string(),
                        "-l",
                        self.disk.to_str().unwrap(),
                    ],
                );
                out.code == 0 && out.stdout.trim() == label
            })
            .unwrap_or_else(|| panic!("no {label} on {}", self.disk.display()))
    }

    /// (priority, tries, successful) of a slot, read with cgpt.
    pub fn attrs(&self, label: &str) -> (u32, u32, u32) {
        let i = self.index(label);
        (
            cgpt(&self.disk, i, "-P").parse().unwrap(),
            cgpt(&self.disk, i, "-T").parse().unwrap(),
            cgpt(&self.disk, i, "-S").parse().unwrap(),
        )
    }

    pub fn partuuid(&self, label: &str) -> String {
        cgpt(&self.disk, self.index(label), "-u").to_lowercase()
    }

    /// `cgpt show -v` finds valid primary and backup headers and tables.
    pub fn assert_gpt_clean(&self) {
        let out = run("cgpt", &["show", "-v", self.disk.to_str().unwrap()]);
        assert_eq!(out.code, 0, "cgpt show -v: {}{}", out.stdout, out.stderr);
        let text = format!("{}{}", out.stdout, out.stderr).to_lowercase();
        for bad in ["invalid", "mismatch", "error", "corrupt"] {
            assert!(!text.contains(bad), "cgpt show -v reports {bad}:\n{text}");
        }
    }

    /// Whether each GPT copy is whole, as `cgpt show -v` reports them: (primary, secondary).
    pub fn gpt_copies(&self) -> (bool, bool) {
        let out = run("cgpt", &["show", "-v", self.disk.to_str().unwrap()]);
        assert_eq!(out.code, 0, "cgpt show -v: {}{}", out.stdout, out.stderr);
        let (mut primary, mut secondary) = (true, true);
        let mut section = "";
        for line in out.stdout.lines() {
            if line.contains("Pri GPT") {
                section = "pri";
            } else if line.contains("Sec GPT") {
                section = "sec";
            } else if line.contains("Label:") || line.contains("PMBR") {
                section = "";
            }
            if line.contains("INVALID") {
                match section {
                    "pri" => primary = false,
                    "sec" => secondary = false,
                    _ => panic!("cgpt show -v reports an invalid entry:\n{}", out.stdout),
                }
            }
        }
        (primary, secondary)
    }

    /// The bytes of a slot, cut out of the image with the offsets cgpt reports.
    pub fn slot_bytes(&self, label: &str) -> Vec<u8> {
        let i = self.index(label);
        let start: u64 = cgpt(&self.disk, i, "-b").parse().unwrap();
        let size: u64 = cgpt(&self.disk, i, "-s").parse().unwrap();
        let bytes = std::fs::read(&self.disk).unwrap();
        bytes[(start * 512) as usize..((start + size) * 512) as usize].to_vec()
    }

    /// The release in a slot's filesystem, read with debugfs (None: no readable ext4) at the
    /// slot's offset in the image (e2fsprogs' `IMAGE?offset=BYTES`), without copying it out.
    pub fn slot_release(&self, label: &str) -> Option<String> {
        let start: u64 = cgpt(&self.disk, self.index(label), "-b").parse().unwrap();
        let image = format!("{}?offset={}", self.disk.display(), start * 512);
        let out = run("debugfs", &["-R", "cat /share/coreos/release", &image]);
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("COREOS_RELEASE_VERSION="))
            .map(str::to_string)
    }

    /// Play the firmware and the kernel: `kindling slots next`, then the root's command
    /// line, boot id and running release follow the chosen slot. Returns the version booted.
    pub fn boot(&mut self) -> String {
        let out = kindling(&["slots", "next", "--disk", self.disk.to_str().unwrap()]);
        assert_eq!(out.code, 0, "slots next: {}", out.stderr);
        let chosen = out.stdout.trim().to_lowercase();
        let label = ["USR-A", "USR-B"]
            .into_iter()
            .find(|l| self.partuuid(l) == chosen)
            .unwrap_or_else(|| panic!("slots next chose {chosen}, not a USR slot"));
        let version = self
            .slot_release(label)
            .unwrap_or_else(|| panic!("the firmware chose {label}, which holds no release"));
        self.boots += 1;
        std::fs::write(
            self.root.join("proc/cmdline"),
            format!("BOOT_IMAGE=/coreos/vmlinuz-a mount.usr=PARTUUID={chosen} rootflags=rw\n"),
        )
        .unwrap();
        std::fs::write(
            self.root.join("proc/sys/kernel/random/boot_id"),
            format!("00000000-0000-4000-8000-{:012x}\n", self.boots),
        )
        .unwrap();
        std::fs::write(
            self.root.join("usr/share/coreos/release"),
            format!("COREOS_RELEASE_VERSION={version}\nCOREOS_RELEASE_BOARD=amd64-usr\n"),
        )
        .unwrap();
        version
    }

    /// The running release.
    pub fn running(&self) -> String {
        std::fs::read_to_string(self.root.join("usr/share/coreos/release"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("COREOS_RELEASE_VERSION="))
            .unwrap()
            .to_string()
    }

    /// `kindling agent run --once` on this node; a reboot touches `rebooted` in the node dir.
    pub fn agent_once(&self) -> Out {
        kindling(&self.agent_args())
    }

    pub fn agent_args(&self) -> Vec<&str> {
        vec![
            "agent",
            "run",
            "--once",
            "--root",
            self.root.to_str().unwrap(),
            "--disk",
            self.disk.to_str().unwrap(),
            "--reboot-command",
            self.reboot_command(),
            "--health-timeout",
            "20",
        ]
    }

    /// `kindling agent run --once` on this node in the background (standard error piped).
    pub fn spawn_agent(&self, stdout: Stdio) -> Guard {
        Guard(
            Command::new(bin())
                .args(self.agent_args())
                .stdout(stdout)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    fn reboot_command(&self) -> &'static str {
        "touch \"$KINDLING_ROOT/../rebooted\""
    }

    pub fn rebooted(&self) -> bool {
        self.dir.join("rebooted").exists()
    }

    pub fn clear_rebooted(&self) {
        let _ = std::fs::remove_file(self.dir.join("rebooted"));
    }

    pub fn status(&self) -> String {
        let out = kindling(&["agent", "status", "--root", self.root.to_str().unwrap()]);
        assert_eq!(out.code, 0, "agent status: {}", out.stderr);
        out.stdout
    }

    pub fn status_json(&self) -> serde_json::Value {
        let root = self.root.to_str().unwrap();
        kindling_json(
            &["agent", "status", "--root", root, "--format", "json"],
            "agent status",
        )
    }

    pub fn machine_id(&self) -> String {
        std::fs::read_to_string(self.root.join("etc/machine-id"))
            .unwrap()
            .trim()
            .to_string()
    }
}

/// A machine id unique to the test directory.
fn machine_id(dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    format!("{:016x}{:016x}", h.finish(), h.finish().rotate_left(17))
}

/// update.conf for a node of `server`.
pub fn update_conf(server: &str, strategy: &str, extra: &str) -> String {
    format!("GROUP=stable\nSERVER={server}\nREBOOT_STRATEGY={strategy}\n{extra}")
}

/// go-omaha's `omaha-trivial-server` (a server kindling did not write) serving one payload
/// with its signature, on a free loopback port; stopped on drop.
pub struct PeerServer {
    pub url: String,
    _child: Guard,
}

impl PeerServer {
    pub fn start(payload: &Path, version: &str, signature: &Path) -> PeerServer {
        let peer = crate::support::common::root().join("../shared/peers/omaha-trivial-server");
        assert!(
            peer.is_file(),
            "{} is missing (the peer tools live in ../shared/peers)",
            peer.display()
        );
        let port = free_port();
        let child = Command::new(&peer)
            .args([
                "-addr",
                &format!("127.0.0.1:{port}"),
                "-payload",
                payload.to_str().unwrap(),
                "-version",
                version,
                "-signature",
                signature.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let guard = Guard(child);
        wait_for_port(port);
        PeerServer {
            url: format!("http://127.0.0.1:{port}/v1/update/"),
            _child: guard,
        }
    }
}

impl Node {
    /// A copy of this node in `dir` (its root and its disk image, holes kept) with its own
    /// machine id: a fleet in the same state as this node without running the agent on each.
    pub fn copy_to(&self, dir: &Path, machine_id: &str) -> Node {
        std::fs::create_dir_all(dir).unwrap();
        for (from, name) in [(&self.root, "root"), (&self.disk, "disk.img")] {
            let out = run(
                "cp",
                &[
                    "-a",
                    "--sparse=always",
                    from.to_str().unwrap(),
                    dir.join(name).to_str().unwrap(),
                ],
            );
            assert_eq!(out.code, 0, "cp {}: {}", from.display(), out.stderr);
        }
        let root = dir.join("root");
        std::fs::write(root.join("etc/machine-id"), format!("{machine_id}\n")).unwrap();
        Node {
            disk: dir.join("disk.img"),
            root,
            dir: dir.to_path_buf(),
            boots: self.boots,
            indices: self.indices,
        }
    }
}

/// `HH:MM` in UTC, `hours` from now (the simulated root has no /etc/localtime: UTC).
pub fn utc_clock(hours: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let minute_of_day = (now + hours * 3600).rem_euclid(86_400) / 60;
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}
