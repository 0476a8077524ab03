//! What every harness that starts something shares: a free loopback port, a peer binary,
//! a child process stopped by its own PID when its guard drops, and a loopback TCP server
//! whose acceptor stops and is joined on drop (also when a test fails); and the argument
//! lists of the `kindling update-server` commands the harnesses run.

/// A free loopback port (bound, then released for a child or a server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A peer binary from `../shared/peers`; a missing one fails the test with a clear message.
pub fn peer(name: &str) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/peers")
        .join(name);
    assert!(
        path.is_file(),
        "the peer binary {} is missing: these tests need ../shared/peers/{name} (see ../shared/peers/README.md)",
        path.display()
    );
    path
}

/// A child process killed (by its PID) and reaped on drop, also when a test fails.
pub struct Guard(pub std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Guard {
    /// Stop it with SIGTERM (graceful) and wait, bounded.
    pub fn terminate(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// A loopback TCP server: one thread accepts, and each connection gets a thread of its own
/// running the handler. Dropping it stops accepting (the acceptor is woken and joined);
/// handlers watch [`LoopbackServer::stop`]'s flag to end their waits.
pub struct LoopbackServer {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackServer {
    /// Listen on 127.0.0.1 on a port the kernel picks; `handle(conn, stop)` serves each
    /// connection.
    pub fn start<H>(handle: H) -> Self
    where
        H: Fn(std::net::TcpStream, &std::sync::atomic::AtomicBool) + Send + Sync + 'static,
    {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let acceptor = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let handle = Arc::clone(&handle);
                    let stop = Arc::clone(&stop);
                    std::thread::spawn(move || handle(conn, &stop));
                }
            })
        };
        Self {
            addr,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = std::net::TcpStream::connect_timeout(&self.addr, std::time::Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

/// `kindling update-server publish`: `payload` with `signature` as `version` on `channel`
/// in the store `dir`.
pub fn publish_args<'a>(
    dir: &'a std::path::Path,
    channel: &'a str,
    version: &'a str,
    payload: &'a std::path::Path,
    signature: &'a std::path::Path,
) -> [&'a str; 12] {
    [
        "update-server",
        "publish",
        "--dir",
        dir.to_str().unwrap(),
        "--channel",
        channel,
        "--version",
        version,
        "--payload",
        payload.to_str().unwrap(),
        "--signature",
        signature.to_str().unwrap(),
    ]
}

/// `kindling update-server status --format json` of the store `dir`.
pub fn status_json_args(dir: &std::path::Path) -> [&str; 6] {
    [
        "update-server",
        "status",
        "--dir",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ]
}

/// A thread running `make()`'s future to its end on a current-thread tokio runtime of its own.
pub fn spawn_runtime<M, F>(make: M) -> std::thread::JoinHandle<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: std::future::Future,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(make())
    })
}
