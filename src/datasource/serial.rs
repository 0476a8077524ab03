//! One request and its reply over a serial port (CloudSigma's server context): the port is
//! opened without becoming the controlling terminal and without waiting for a carrier,
//! put in raw mode at the given speed through termios (no echo, no line editing, no
//! character translation: the end-of-reply byte 0x04 is EOF in cooked mode), stale input is
//! discarded, the request is written and the reply read up to a terminator byte.
//!
//! Every step is bounded: one deadline covers the write and the read (each wait is a
//! `poll(2)` with the time left), the reply is capped, and a device that never answers or
//! never sends the terminator ends with a clear error. The exchange blocks, so the async
//! caller runs it on tokio's blocking pool ([`request`]); it ends by itself at the deadline.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::termios::{ControlModes, OptionalActions, QueueSelector};

/// Send `request` on the serial port `path` at `baud` and read the reply up to `end` (not
/// included), at most `limit` bytes, within `budget`; on a blocking thread.
///
/// # Errors
/// A message naming the device: it cannot be opened, is not a terminal, stays silent past
/// the budget, or sends more than `limit` bytes without `end`.
pub async fn request(
    path: &Path,
    baud: u32,
    request: &[u8],
    end: u8,
    limit: usize,
    budget: Duration,
) -> Result<Vec<u8>, String> {
    let path: PathBuf = path.to_path_buf();
    let request = request.to_vec();
    tokio::task::spawn_blocking(move || exchange(&path, baud, &request, end, limit, budget))
        .await
        .map_err(|e| format!("the serial exchange failed: {e}"))?
}

/// [`request`], blocking the calling thread (at most `budget`).
///
/// # Errors
/// As [`request`].
pub fn exchange(
    path: &Path,
    baud: u32,
    request: &[u8],
    end: u8,
    limit: usize,
    budget: Duration,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + budget;
    let dev = path.display();
    let fd = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open the serial port {dev}: {e}"))?;
    let mut tio = rustix::termios::tcgetattr(&fd)
        .map_err(|e| format!("{dev} is not a serial port (termios: {e})"))?;
    tio.make_raw();
    // CLOCAL: no modem control lines to wait for; CREAD: the receiver on.
    tio.control_modes |= ControlModes::CLOCAL | ControlModes::CREAD;
    tio.set_speed(baud)
        .map_err(|e| format!("{dev}: cannot set {baud} baud: {e}"))?;
    rustix::termios::tcsetattr(&fd, OptionalActions::Now, &tio)
        .map_err(|e| format!("{dev}: cannot set raw mode: {e}"))?;
    // Bytes left over from an earlier, interrupted exchange would be read as this reply.
    rustix::termios::tcflush(&fd, QueueSelector::IFlush)
        .map_err(|e| format!("{dev}: cannot flush stale input: {e}"))?;
    let mut port = std::fs::File::from(fd);
    let silent = |got: usize| {
        format!(
            "{dev} did not answer within {:.1} s ({got} byte(s) received, no end-of-reply byte 0x{end:02x})",
            budget.as_secs_f64()
        )
    };
    let mut sent = 0;
    while sent < request.len() {
        if !wait(&port, PollFlags::OUT, deadline).map_err(|e| format!("{dev}: {e}"))? {
            return Err(silent(0));
        }
        match port.write(&request[sent..]) {
            Ok(n) => sent += n,
            Err(e) if retry(&e) => {}
            Err(e) => return Err(format!("cannot write to {dev}: {e}")),
        }
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if !wait(&port, PollFlags::IN, deadline).map_err(|e| format!("{dev}: {e}"))? {
            return Err(silent(reply.len()));
        }
        match port.read(&mut buf) {
            Ok(0) => {
                return Err(format!(
                    "{dev} closed after {} byte(s), before the end of the reply",
                    reply.len()
                ));
            }
            Ok(n) => {
                let chunk = &buf[..n];
                let at = chunk.iter().position(|b| *b == end);
                reply.extend_from_slice(&chunk[..at.unwrap_or(n)]);
                if reply.len() > limit {
                    return Err(too_long(&dev, limit, end));
                }
                if at.is_some() {
                    return Ok(reply);
                }
            }
            Err(e) if retry(&e) => {}
            Err(e) => return Err(format!("cannot read {dev}: {e}")),
        }
    }
}

fn retry(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
    )
}

/// Wait until `port` is ready for `events` or `deadline`; false when the deadline came.
fn wait(port: &std::fs::File, events: PollFlags, deadline: Instant) -> std::io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let timeout = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(port, events)];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) => {}
            // Ready, or an error/hang-up the following read or write reports.
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn too_long(dev: &std::path::Display<'_>, limit: usize, end: u8) -> String {
    format!(
        "{dev} sent more than {} KiB without the end-of-reply byte 0x{end:02x}",
        limit / 1024
    )
}
