//! What the payload benchmarks share: a tiny loopback file server that sends each file with
//! `std::io::copy` (sendfile, so it costs the client little CPU on the 2 cores), whole-process
//! timing with `/usr/bin/time`'s peak RSS and CPU seconds, medians, and a slot region of an
//! allocated, synced image file.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const GIB: u64 = 1 << 30;
/// The slot region's offset in the image.
pub const OFFSET: u64 = 1 << 20;

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn median_f(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Serve `files` (URL path -> file) on 127.0.0.1, one request per connection.
pub fn serve(files: Vec<(String, PathBuf)>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let files = files.clone();
            std::thread::spawn(move || answer(conn, &files));
        }
    });
    addr
}

fn answer(mut conn: TcpStream, files: &[(String, PathBuf)]) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
    }
    let Some((_, file)) = files.iter().find(|(p, _)| *p == path) else {
        let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let mut f = std::fs::File::open(file).unwrap();
    let len = f.metadata().unwrap().len();
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    // std specialises File -> TcpStream copies to sendfile.
    let _ = std::io::copy(&mut f, &mut conn);
}

/// One whole process under `/usr/bin/time`: wall time, peak RSS (KiB), CPU seconds (user +
/// system), its standard error. Panics when it fails.
pub fn measured(cmd: &mut Command) -> (Duration, u64, f64, String) {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "maxrss_kib=%M\ncpu=%U %S"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let start = Instant::now();
    let out = timed
        .output()
        .expect("/usr/bin/time is missing (apt-get install time)");
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?}: {stderr}");
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .and_then(|v| v.trim().parse().ok())
        .expect("no RSS from /usr/bin/time");
    let cpu = stderr
        .lines()
        .find_map(|l| l.strip_prefix("cpu="))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|x| x.parse::<f64>().ok())
                .sum()
        })
        .expect("no CPU time from /usr/bin/time");
    (took, rss, cpu, stderr)
}

/// An image file holding a slot region of `len` bytes at [`OFFSET`], written with zeros and
/// synced before timing, as a real partition is.
pub fn slot_image(path: &Path, len: u64) {
    let f = std::fs::File::create(path).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut w = std::io::BufWriter::new(&f);
    for _ in 0..(OFFSET + len + OFFSET) / (1 << 20) {
        w.write_all(&zeros).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    f.sync_all().unwrap();
}

/// `kindling payload fetch` (the release binary) of `url` (`size` bytes, base64 `sha256`)
/// into the slot of `image` (a [`slot_image`] of `GIB + OFFSET` bytes), trusting `root`'s
/// keys, with no proxy.
pub fn payload_fetch(url: &str, size: &str, sha256: &str, image: &Path, root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kindling"));
    cmd.args(["payload", "fetch"])
        .args(["--url", url])
        .args(["--size", size])
        .args(["--sha256", sha256])
        .arg("--image")
        .arg(image)
        .args(["--offset", &OFFSET.to_string()])
        .args(["--len", &(GIB + OFFSET).to_string()])
        .arg("--root")
        .arg(root)
        .env_remove("ALL_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy");
    cmd
}
