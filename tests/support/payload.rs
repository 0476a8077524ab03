//! Test support for the payload tests: a loopback HTTP/1.1 file server with fault knobs
//! (ranges on/off, truncate, reset, stall, trickle, status, other content), a loopback
//! forward/CONNECT proxy that records what passed through it, real minisign keys and
//! signatures (Debian's `minisign`), and real ext4 payloads (`mkfs.ext4 -d`).
//!
//! Every server listens on 127.0.0.1 on a port the kernel picked, refuses to forward
//! anywhere but loopback, and is stopped by its guard's `Drop` (also when a test fails).
//! Connection threads wait in bounded steps and end when the guard is dropped.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::process::LoopbackServer;

/// How the server answers one request.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Honour `Range: bytes=N-` with 206 (else 200 with everything).
    pub ranges: bool,
    /// Answer this status with an empty body instead.
    pub status: Option<u16>,
    /// Close the connection cleanly after this byte of the file (Content-Length is full).
    pub truncate_at: Option<u64>,
    /// Reset the connection (RST) after this byte of the file.
    pub reset_at: Option<u64>,
    /// Stop sending after this byte and hold the connection open.
    pub stall_at: Option<u64>,
    /// Send one byte per this interval.
    pub trickle: Option<Duration>,
    /// Serve these bytes instead of the file.
    pub content: Option<Vec<u8>>,
    /// Send no Content-Length (the body ends when the connection closes).
    pub no_content_length: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            ranges: true,
            status: None,
            truncate_at: None,
            reset_at: None,
            stall_at: None,
            trickle: None,
            content: None,
            no_content_length: false,
        }
    }
}

impl Behaviour {
    /// Close the connection cleanly after byte `at`.
    pub fn truncating_at(self, at: u64) -> Self {
        Self {
            truncate_at: Some(at),
            ..self
        }
    }

    /// Reset the connection after byte `at`.
    pub fn resetting_at(self, at: u64) -> Self {
        Self {
            reset_at: Some(at),
            ..self
        }
    }

    /// Stop sending after byte `at` and hold the connection open.
    pub fn stalling_at(self, at: u64) -> Self {
        Self {
            stall_at: Some(at),
            ..self
        }
    }

    /// One byte per `every`.
    pub fn trickling(self, every: Duration) -> Self {
        Self {
            trickle: Some(every),
            ..self
        }
    }

    /// These bytes instead of the file.
    pub fn serving(self, content: Vec<u8>) -> Self {
        Self {
            content: Some(content),
            ..self
        }
    }

    /// This status with an empty body.
    pub fn answering(self, status: u16) -> Self {
        Self {
            status: Some(status),
            ..self
        }
    }

    /// 200 with everything, whatever the Range.
    pub fn without_ranges(self) -> Self {
        Self {
            ranges: false,
            ..self
        }
    }

    /// No Content-Length: the body ends when the connection closes.
    pub fn without_content_length(self) -> Self {
        Self {
            no_content_length: true,
            ..self
        }
    }
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The path.
    pub path: String,
    /// The Range header, if any.
    pub range: Option<String>,
}

#[derive(Default)]
struct ServerState {
    files: HashMap<String, Vec<u8>>,
    default: HashMap<String, Behaviour>,
    script: HashMap<String, VecDeque<Behaviour>>,
    seen: Vec<Seen>,
}

/// The file server; stopped on drop.
pub struct FileServer {
    server: LoopbackServer,
    state: Arc<Mutex<ServerState>>,
}

impl FileServer {
    /// Start serving `files` (path -> bytes) on 127.0.0.1.
    pub fn start(files: Vec<(&str, Vec<u8>)>) -> Self {
        let state = Arc::new(Mutex::new(ServerState {
            files: files.into_iter().map(|(p, b)| (p.to_string(), b)).collect(),
            ..ServerState::default()
        }));
        let served = Arc::clone(&state);
        let server = LoopbackServer::start(move |conn, stop| serve(conn, &served, stop));
        Self { server, state }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    /// Replace (or add) a file.
    pub fn set_file(&self, path: &str, bytes: Vec<u8>) {
        self.state.lock().unwrap().files.insert(path.into(), bytes);
    }

    /// How every request for `path` is answered once the script is used up.
    pub fn set_default(&self, path: &str, b: Behaviour) {
        self.state.lock().unwrap().default.insert(path.into(), b);
    }

    /// How the next requests for `path` are answered, one behaviour each.
    pub fn script(&self, path: &str, bs: Vec<Behaviour>) {
        self.state
            .lock()
            .unwrap()
            .script
            .entry(path.into())
            .or_default()
            .extend(bs);
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// Read a request head (bounded), returning the request line and headers.
fn read_head(conn: &TcpStream) -> Option<(String, Vec<(String, String)>)> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?).take(64 * 1024);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let request = line.trim_end().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Some((request, headers))
}

/// Sleep up to `d`, returning early (false) when the server stops.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(d));
    }
    true
}

fn serve(mut conn: TcpStream, state: &Mutex<ServerState>, stop: &AtomicBool) {
    let Some((request, headers)) = read_head(&conn) else {
        return;
    };
    let path = request.split(' ').nth(1).unwrap_or("/").to_string();
    let range = headers
        .iter()
        .find(|(k, _)| k == "range")
        .map(|(_, v)| v.clone());
    let (file, b) = {
        let mut st = state.lock().unwrap();
        st.seen.push(Seen {
            path: path.clone(),
            range: range.clone(),
        });
        let b = st
            .script
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .or_else(|| st.default.get(&path).cloned())
            .unwrap_or_default();
        (st.files.get(&path).cloned(), b)
    };
    if let Some(status) = b.status {
        let _ = write!(
            conn,
            "HTTP/1.1 {status} Fault\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    let Some(file) = b.content.clone().or(file) else {
        let _ = write!(
            conn,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    };
    let total = file.len() as u64;
    let start = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) if b.ranges => r.trim_end_matches('-').parse::<u64>().unwrap_or(0),
        _ => 0,
    };
    let mut head = if range.is_some() && b.ranges {
        if start >= total {
            let _ = write!(
                conn,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return;
        }
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{total}\r\n",
            total - 1
        )
    } else {
        "HTTP/1.1 200 OK\r\n".to_string()
    };
    if !b.no_content_length {
        head.push_str(&format!("Content-Length: {}\r\n", total - start));
    }
    head.push_str("Connection: close\r\n\r\n");
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut pos = start;
    let stop_at = [b.truncate_at, b.reset_at, b.stall_at]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(total)
        .min(total);
    while pos < stop_at {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let step = if b.trickle.is_some() { 1 } else { 64 * 1024 };
        let end = (pos + step).min(stop_at);
        let slice = &file[usize::try_from(pos).unwrap()..usize::try_from(end).unwrap()];
        if conn.write_all(slice).is_err() {
            return;
        }
        pos = end;
        if let Some(d) = b.trickle
            && !nap(d, stop)
        {
            return;
        }
    }
    if b.reset_at.is_some_and(|r| r <= pos) {
        // SO_LINGER 0: close sends RST instead of FIN.
        let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
        drop(conn);
        return;
    }
    if b.stall_at.is_some_and(|s| s <= pos) {
        let _ = conn.flush();
        nap(Duration::from_secs(30), stop);
        return;
    }
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Write);
}

/// A loopback HTTP proxy: forwards absolute-form requests and tunnels CONNECT, only to
/// 127.0.0.1; records each request line. Stopped on drop.
pub struct Proxy {
    server: LoopbackServer,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// Start the proxy.
    pub fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let server = LoopbackServer::start(move |conn, _| proxy_one(conn, &recorded));
        Self { server, seen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The request lines seen.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn loopback(authority: &str) -> Option<SocketAddr> {
    let addr: SocketAddr = authority.parse().ok()?;
    addr.ip().is_loopback().then_some(addr)
}

fn proxy_one(mut client: TcpStream, seen: &Mutex<Vec<String>>) {
    let Some((request, headers)) = read_head(&client) else {
        return;
    };
    seen.lock().unwrap().push(request.clone());
    let mut parts = request.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let refuse = |mut c: &TcpStream| {
        let _ = c.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    };
    let (upstream_addr, first) = if method == "CONNECT" {
        (loopback(target), None)
    } else if let Some(rest) = target.strip_prefix("http://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        for (k, v) in &headers {
            if k != "proxy-connection" {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        (loopback(authority), Some(head))
    } else {
        (None, None)
    };
    let Some(upstream_addr) = upstream_addr else {
        refuse(&client);
        return;
    };
    let Ok(mut upstream) = TcpStream::connect_timeout(&upstream_addr, Duration::from_secs(5))
    else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    match first {
        None => {
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
        Some(head) => {
            if upstream.write_all(head.as_bytes()).is_err() {
                return;
            }
        }
    }
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = upstream.set_read_timeout(Some(Duration::from_secs(30)));
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

/// A minisign key pair made by Debian's `minisign -G -W` (no password).
pub struct Keypair {
    /// The public key file.
    pub public: PathBuf,
    /// The secret key file.
    pub secret: PathBuf,
    /// The key id minisign prints.
    pub id: String,
}

/// The tool, or a clear failure when it is missing.
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{name} is not installed; scripts/test installs it (Debian package minisign / e2fsprogs)"
    );
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Keypair {
    /// Make a key pair in `dir` named `name`.
    pub fn generate(dir: &Path, name: &str) -> Self {
        let public = dir.join(format!("{name}.pub"));
        let secret = dir.join(format!("{name}.key"));
        run(Command::new(tool("minisign"))
            .args(["-G", "-W", "-p"])
            .arg(&public)
            .arg("-s")
            .arg(&secret));
        let text = std::fs::read_to_string(&public).unwrap();
        let id = text
            .lines()
            .next()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_string();
        Self { public, secret, id }
    }

    /// Sign `file` (`minisign -S`, the default prehashed format; `legacy` adds `-l`) and
    /// return the signature file's bytes.
    pub fn sign(&self, file: &Path, legacy: bool) -> Vec<u8> {
        let sig = file.with_extension(format!("{}.minisig", self.id));
        let mut cmd = Command::new(tool("minisign"));
        cmd.arg("-S");
        if legacy {
            cmd.arg("-l");
        }
        run(cmd
            .arg("-s")
            .arg(&self.secret)
            .arg("-m")
            .arg(file)
            .arg("-x")
            .arg(&sig));
        std::fs::read(&sig).unwrap()
    }

    /// Trust this key below `root` in `dir` (one of the two key directories).
    pub fn trust(&self, root: &Path, dir: &str, file_name: &str) {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(&self.public, d.join(file_name)).unwrap();
    }
}

/// A real payload: an ext4 image (`mkfs.ext4 -d`) of a small `/usr` tree carrying
/// `share/coreos/release` with `version`, plus a file of pseudo-random bytes so the image
/// is not mostly zeros.
pub fn ext4_payload(dir: &Path, version: &str, size_kib: u64) -> PathBuf {
    let tree = dir.join(format!("usr-{version}"));
    std::fs::create_dir_all(tree.join("share/coreos")).unwrap();
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(
        tree.join("share/coreos/release"),
        format!("COREOS_RELEASE_VERSION={version}\nCOREOS_RELEASE_BOARD=amd64-usr\n"),
    )
    .unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ version.len() as u64;
    let noise: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(tree.join("bin/noise"), noise).unwrap();
    let image = dir.join(format!("usr-{version}.ext4"));
    run(Command::new(tool("mkfs.ext4"))
        .args(["-q", "-F", "-b", "4096", "-d"])
        .arg(&tree)
        .arg(&image)
        .arg(format!("{size_kib}K")));
    image
}

/// A loopback HTTPS server (rustls, a certificate for 127.0.0.1 made by `openssl req`)
/// serving whole files; stopped on drop. `ca` is the certificate to trust.
pub struct TlsServer {
    server: LoopbackServer,
    /// The server's self-signed certificate (PEM), to be trusted by the client.
    pub ca: PathBuf,
}

impl TlsServer {
    /// Start serving `files` over HTTPS; the certificate goes into `dir`.
    pub fn start(dir: &Path, files: Vec<(&str, Vec<u8>)>) -> Self {
        use rustls_pki_types::pem::PemObject as _;
        let ca = dir.join("server.pem");
        let key = dir.join("server.key");
        run(Command::new(tool("openssl"))
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            // An end-entity certificate trusted directly (webpki refuses a CA as a leaf).
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&ca));
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(&ca)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let files: HashMap<String, Vec<u8>> =
            files.into_iter().map(|(p, b)| (p.to_string(), b)).collect();
        let server = LoopbackServer::start(move |conn, _| serve_tls(conn, &config, &files));
        Self { server, ca }
    }

    /// `https://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.server.addr())
    }
}

/// Answer one HTTPS request with a whole file (or 404).
fn serve_tls(
    conn: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    files: &HashMap<String, Vec<u8>>,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(tls) = rustls::ServerConnection::new(Arc::clone(config)) else {
        return;
    };
    let mut stream = rustls::StreamOwned::new(tls, conn);
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
    }
    drop(reader);
    let path = line.split(' ').nth(1).unwrap_or("/");
    let _ = match files.get(path) {
        Some(body) => write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .and_then(|()| stream.write_all(body)),
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
    stream.conn.send_close_notify();
    let _ = stream.flush();
}
