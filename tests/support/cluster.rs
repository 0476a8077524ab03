//! A production-shaped etcd for the tests: three members of Debian's etcd (3.4, v2 API on) on
//! free 127.0.0.1 ports, TLS everywhere with a CA, server and client certificates made here
//! by `openssl` (client-certificate authentication on for clients and for peers), a temp
//! data dir per member; and the faults: kill the leader (SIGKILL), freeze members (SIGSTOP,
//! a minority or a majority), restart a member on its ports and data. Every member is
//! stopped by its own PID when the cluster drops (also when a test fails), a frozen one too.
//! A start that fails (a member exits, e.g. a free port taken by another test meanwhile, or
//! no health within 30 s) is started again whole on fresh ports, up to three times; each
//! member's stderr goes to a log file whose last lines a failure shows.
//!
//! [`Pki`] also makes the certificates a client gets wrong: one signed by another CA, one
//! expired (valid for a day in 2020, signed with `openssl ca -startdate/-enddate`).
//!
//! Partitions: a member is cut off from its peers (and, optionally, from clients) by a
//! [`Partition`], which drops its ports' traffic with iptables inside a network namespace
//! the harness creates; the whole cluster then runs in that namespace (`Cluster::start_with` given a `Netns`, and the test runs inside it with `in_netns`),
//! so nothing outside it is touched and all traffic stays on its loopback. Where namespaces
//! cannot be made, [`netns_available`] says so and the callers freeze members instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::lock::{Proc, free_port};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is not installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The certificates of a test cluster, all PEM files in one temp dir.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing the cluster knows.
    pub other_ca: PathBuf,
    /// A client certificate signed by `other_ca` (key: `other_key`).
    pub other_cert: PathBuf,
    pub other_key: PathBuf,
    /// A client certificate signed by the cluster's CA that expired in 2020 (key: `client_key`).
    pub expired_cert: PathBuf,
}

const LEAF_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n";

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for (name, cn) in [("ca", "kindling test CA"), ("other-ca", "some other CA")] {
            let key = format!("{name}.key");
            let pem = format!("{name}.pem");
            let subj = format!("/CN={cn}");
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend([
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                "3",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(dir, &args);
        }
        std::fs::write(dir.join("leaf.ext"), LEAF_EXT).unwrap();
        for (name, ca, cn) in [
            ("server", "ca", "etcd"),
            ("client", "ca", "kindling"),
            ("other", "other-ca", "kindling"),
        ] {
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let subj = format!("/CN={cn}");
            let mut args = vec!["req"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
            openssl(dir, &args);
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &format!("{ca}.pem"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-days",
                    "3",
                    "-extfile",
                    "leaf.ext",
                    "-out",
                    &format!("{name}.pem"),
                ],
            );
        }
        // The expired one: `openssl ca` sets both dates.
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(dir.join("serial"), "1000\n").unwrap();
        std::fs::write(
            dir.join("ca.cnf"),
            "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-in",
                "client.csr",
                "-out",
                "expired.pem",
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200102000000Z",
                "-extfile",
                "leaf.ext",
                "-notext",
            ],
        );
        let p = |n: &str| dir.join(n);
        Pki {
            ca: p("ca.pem"),
            server_cert: p("server.pem"),
            server_key: p("server.key"),
            client_cert: p("client.pem"),
            client_key: p("client.key"),
            other_ca: p("other-ca.pem"),
            other_cert: p("other.pem"),
            other_key: p("other.key"),
            expired_cert: p("expired.pem"),
        }
    }

    /// `kindling lock`/`fleet` flags for the client certificate.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--etcd-cafile".into(),
            self.ca.display().to_string(),
            "--etcd-certfile".into(),
            self.client_cert.display().to_string(),
            "--etcd-keyfile".into(),
            self.client_key.display().to_string(),
        ]
    }
}

/// Whether this machine lets the tests make a network namespace (root, iproute2, iptables).
pub fn netns_available() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        let name = format!("kt-probe-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return false;
        }
        let works = Command::new("ip")
            .args(["netns", "exec", &name, "iptables", "-L", "-n"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        works
    })
}

/// Run `f` on a thread inside the namespace `name`: everything it starts (processes,
/// threads, sockets) is there too.
pub fn in_netns<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let joined = s
            .spawn(|| {
                let file = std::fs::File::open(format!("/var/run/netns/{name}")).unwrap();
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                f()
            })
            .join();
        joined.unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// A network namespace made by the test (loopback up), deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "kt-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let run = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["netns", "add", &name]);
        run(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        Netns { name }
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// iptables inside the namespace.
    pub fn iptables(&self, args: &[&str]) {
        let out = self.command("iptables").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "iptables {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// One member.
pub struct Member {
    pub name: String,
    pub client: u16,
    pub peer: u16,
    data: PathBuf,
    proc: Option<Proc>,
    frozen: bool,
}

impl Member {
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.client)
    }

    /// Where etcd's stderr goes (a file: a pipe nobody reads could block it).
    fn log(&self) -> PathBuf {
        self.data.with_extension("log")
    }

    /// The last lines etcd wrote to its log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(3)..].join(" / ")
    }

    fn pid(&self) -> Option<nix::unistd::Pid> {
        self.proc
            .as_ref()
            .map(|p| nix::unistd::Pid::from_raw(i32::try_from(p.child.id()).unwrap()))
    }
}

/// A three-member TLS cluster.
pub struct Cluster {
    pub pki: Pki,
    pub members: Vec<Member>,
    initial: String,
    token: String,
    /// The namespace everything runs in, when partitions were asked for.
    pub netns: Option<Netns>,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Three members in this network namespace.
    pub fn start() -> Cluster {
        Cluster::start_with(3, None)
    }

    pub fn start_with(n: usize, netns: Option<Netns>) -> Cluster {
        crate::support::agent::need("etcd");
        crate::support::agent::need("etcdctl");
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let pki = Pki::new(&dir.path().join("pki"));
        let mut cluster = Cluster {
            pki,
            members: Vec::new(),
            initial: String::new(),
            token: String::new(),
            netns,
            dir,
        };
        // A free port is only free until someone binds it: another test may take one of the
        // six between `free_port` and etcd's bind, and that member then exits. Such a start is
        // thrown away whole (fresh ports, data and token), at most three times.
        let mut last = String::new();
        for attempt in 0..3 {
            cluster.lay_out(n, attempt);
            for i in 0..n {
                cluster.spawn(i);
            }
            match cluster.settle(Duration::from_secs(30)) {
                Ok(()) => return cluster,
                Err(why) => {
                    last = why;
                    for m in &mut cluster.members {
                        if let Some(mut p) = m.proc.take() {
                            p.kill();
                        }
                    }
                }
            }
        }
        panic!("the etcd cluster did not start after three tries: {last}");
    }

    /// New ports, data dirs, logs and token for the members of start `attempt`.
    fn lay_out(&mut self, n: usize, attempt: usize) {
        let root = self.dir.path().to_path_buf();
        // Ports are free in this namespace; a fresh namespace has them all free.
        self.members = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client: free_port(),
                peer: free_port(),
                data: root.join(format!("try{attempt}-m{i}")),
                proc: None,
                frozen: false,
            })
            .collect();
        self.initial = self
            .members
            .iter()
            .map(|m| format!("{}=https://127.0.0.1:{}", m.name, m.peer))
            .collect::<Vec<_>>()
            .join(",");
        self.token = format!("kt-{}-{}-{attempt}", std::process::id(), free_port());
    }

    /// Wait (bounded) until every member is healthy; a member that exited ends the wait at
    /// once with what it logged.
    fn settle(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            for i in 0..self.members.len() {
                let running = self.members[i].proc.as_mut().is_some_and(Proc::is_running);
                if !running {
                    return Err(format!(
                        "member {} exited: {}",
                        self.members[i].name,
                        self.members[i].log_tail()
                    ));
                }
            }
            if (0..self.members.len()).all(|i| self.member_healthy(i)) {
                return Ok(());
            }
            if start.elapsed() >= limit {
                let tails: Vec<String> = self
                    .members
                    .iter()
                    .map(|m| format!("{}: {}", m.name, m.log_tail()))
                    .collect();
                return Err(format!(
                    "not healthy within {limit:?}; logs: {}",
                    tails.join(" | ")
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A command for a client of the cluster (inside its namespace, if it has one).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.netns {
            Some(ns) => ns.command(program),
            None => Command::new(program),
        }
    }

    fn spawn(&mut self, i: usize) {
        let m = &self.members[i];
        let (url, peer) = (m.url(), format!("https://127.0.0.1:{}", m.peer));
        let p = &self.pki;
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = ns.command("setpriv");
                c.arg(format!("--regid={}", MEMBER_GID + i))
                    .args(["--clear-groups", "etcd"]);
                c
            }
            None => Command::new("etcd"),
        };
        cmd.arg(format!("--name={}", m.name))
            .arg(format!("--data-dir={}", m.data.display()))
            .arg(format!("--listen-client-urls={url}"))
            .arg(format!("--advertise-client-urls={url}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster={}", self.initial))
            .arg(format!("--initial-cluster-token={}", self.token))
            .arg("--initial-cluster-state=new")
            .arg("--enable-v2=true")
            .arg("--log-level=error")
            // Loaded 2-core machine: a leader may be late now and then.
            .arg("--heartbeat-interval=100")
            .arg("--election-timeout=1000")
            .arg("--client-cert-auth=true")
            .arg(format!("--trusted-ca-file={}", p.ca.display()))
            .arg(format!("--cert-file={}", p.server_cert.display()))
            .arg(format!("--key-file={}", p.server_key.display()))
            .arg("--peer-client-cert-auth=true")
            .arg(format!("--peer-trusted-ca-file={}", p.ca.display()))
            .arg(format!("--peer-cert-file={}", p.server_cert.display()))
            .arg(format!("--peer-key-file={}", p.server_key.display()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.log())
            .unwrap();
        let proc = Proc::spawn_logged("etcd", &mut cmd, log);
        let m = &mut self.members[i];
        m.proc = Some(proc);
        m.frozen = false;
    }

    /// Every endpoint, comma-separated (as `--endpoint` and `LOCKSMITHD_ENDPOINT` take them).
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(Member::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// etcdctl (API 3) with the client certificate, against `endpoints`.
    pub fn etcdctl_at(&self, endpoints: &str, args: &[&str]) -> std::process::Output {
        self.command("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={endpoints}"))
            .arg(format!("--cacert={}", self.pki.ca.display()))
            .arg(format!("--cert={}", self.pki.client_cert.display()))
            .arg(format!("--key={}", self.pki.client_key.display()))
            .args(["--dial-timeout=1s", "--command-timeout=3s"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Whether member `i` answers a health check (which needs a quorum).
    pub fn member_healthy(&self, i: usize) -> bool {
        if self.members[i].frozen || self.members[i].proc.is_none() {
            return false;
        }
        self.etcdctl_at(&self.members[i].url(), &["endpoint", "health"])
            .status
            .success()
    }

    /// The index of the member that is leader now, as the members that answer say (bounded:
    /// waits up to `limit` for an election).
    pub fn leader(&self, limit: Duration) -> Option<usize> {
        let start = Instant::now();
        loop {
            for (i, m) in self.members.iter().enumerate() {
                if m.frozen || m.proc.is_none() {
                    continue;
                }
                let out = self.etcdctl_at(&m.url(), &["endpoint", "status", "-w", "json"]);
                if !out.status.success() {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
                let status = &v[0]["Status"];
                let (Some(me), Some(leader)) = (
                    status["header"]["member_id"].as_u64(),
                    status["leader"].as_u64(),
                ) else {
                    continue;
                };
                if me == leader {
                    return Some(i);
                }
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL member `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.members[i].proc.take() {
            p.kill();
        }
        self.members[i].frozen = false;
    }

    /// Start member `i` again on its ports and data dir.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
    }

    /// Kill the leader; returns its index.
    pub fn kill_leader(&mut self) -> Option<usize> {
        let leader = self.leader(Duration::from_secs(5))?;
        self.kill(leader);
        Some(leader)
    }

    /// SIGSTOP (true) or SIGCONT (false) member `i`: its sockets still accept, nothing
    /// answers.
    pub fn freeze(&mut self, i: usize, frozen: bool) {
        let Some(pid) = self.members[i].pid() else {
            return;
        };
        let signal = if frozen {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        };
        nix::sys::signal::kill(pid, signal).unwrap();
        self.members[i].frozen = frozen;
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].proc.is_some()
    }

    /// Cut member `i` off from its peers (both directions) and, when `clients`, from
    /// clients too, by iptables in the cluster's namespace; undone when the guard drops.
    /// Member `i` runs under group id `MEMBER_GID + i` there, so its own dials are matched
    /// by owner (OUTPUT) and the others' dials to it by its ports (INPUT); every address
    /// stays 127.0.0.1.
    pub fn partition(&self, i: usize, clients: bool) -> Partition<'_> {
        let ns = self
            .netns
            .as_ref()
            .expect("partitions need a cluster in a namespace of its own");
        let m = &self.members[i];
        let gid = (MEMBER_GID + i).to_string();
        let mut rules: Vec<Vec<String>> = Vec::new();
        let rule = |r: &[&str]| r.iter().map(ToString::to_string).collect::<Vec<_>>();
        rules.push(rule(&[
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            &m.peer.to_string(),
            "-j",
            "DROP",
        ]));
        for other in self.members.iter().filter(|o| o.name != m.name) {
            rules.push(rule(&[
                "OUTPUT",
                "-m",
                "owner",
                "--gid-owner",
                &gid,
                "-p",
                "tcp",
                "--dport",
                &other.peer.to_string(),
                "-j",
                "DROP",
            ]));
        }
        if clients {
            rules.push(rule(&[
                "INPUT",
                "-p",
                "tcp",
                "--dport",
                &m.client.to_string(),
                "-j",
                "DROP",
            ]));
        }
        for r in &rules {
            let mut args = vec!["-I"];
            args.extend(r.iter().map(String::as_str));
            ns.iptables(&args);
        }
        Partition { ns, rules }
    }
}

/// Member `i` runs under this group id plus `i` in a cluster's own namespace.
const MEMBER_GID: usize = 4200;

/// A partition, healed on drop.
pub struct Partition<'a> {
    ns: &'a Netns,
    rules: Vec<Vec<String>>,
}

impl Drop for Partition<'_> {
    fn drop(&mut self) {
        for rule in &self.rules {
            let mut args = vec!["-D"];
            args.extend(rule.iter().map(String::as_str));
            let _ = self.ns.command("iptables").args(&args).output();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            // A frozen member dies of SIGKILL all the same.
            self.kill(i);
        }
    }
}
