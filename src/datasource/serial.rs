//! One request and its reply over a serial port (CloudSigma's server context): the port is
//! opened without becoming the controlling terminal and without waiting for a carrier,
//! put in raw mode at the given speed through termios (no echo, no line editing, no
//! character translation: the end-of-reply byte 0x04 is EOF in cooked mode), stale input is
//! discarded, the request is written and the reply read up to a terminator byte.
//!
//! Every step is bounded: one deadline covers the write and the read (each wait is a
//! `poll(2)` with the time left), the reply is capped, and a device that never answers or
//! never sends the terminator ends with a clear error. The exchange blocks, so the async
//! caller runs it on tokio's blocking pool ([`request`]); every failure is an [`Error`] naming the device; it ends by itself at the deadline.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::termios::{ControlModes, OptionalActions, QueueSelector};

/// One exchange: what to send, and how to read the reply.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The line speed.
    pub baud: u32,
    /// The bytes to send.
    pub request: Vec<u8>,
    /// The byte that ends the reply (not included in it).
    pub end: u8,
    /// The most bytes the reply may have.
    pub limit: usize,
    /// How long the write and the read may take together.
    pub budget: Duration,
}

/// Why an exchange failed; each message names the device.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The device cannot be opened.
    #[error("cannot open the serial port {dev}: {source}")]
    Open {
        /// The device.
        dev: String,
        /// Why.
        source: Errno,
    },
    /// The device is not a terminal.
    #[error("{dev} is not a serial port (termios: {source})")]
    NotSerial {
        /// The device.
        dev: String,
        /// Why.
        source: Errno,
    },
    /// The line cannot be set up (speed, raw mode, flush).
    #[error("{dev}: cannot {what}: {source}")]
    Setup {
        /// The device.
        dev: String,
        /// What was being set up (`set 115200 baud`, `set raw mode`, ...).
        what: String,
        /// Why.
        source: Errno,
    },
    /// Waiting for the device failed.
    #[error("{dev}: {source}")]
    Wait {
        /// The device.
        dev: String,
        /// Why.
        source: std::io::Error,
    },
    /// The budget ended before the reply did.
    #[error(
        "{dev} did not answer within {seconds:.1} s ({got} byte(s) received, no end-of-reply byte 0x{end:02x})"
    )]
    Silent {
        /// The device.
        dev: String,
        /// The budget, in seconds.
        seconds: f64,
        /// Bytes of the reply received.
        got: usize,
        /// The end-of-reply byte.
        end: u8,
    },
    /// Writing the request failed.
    #[error("cannot write to {dev}: {source}")]
    Write {
        /// The device.
        dev: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading the reply failed.
    #[error("cannot read {dev}: {source}")]
    Read {
        /// The device.
        dev: String,
        /// Why.
        source: std::io::Error,
    },
    /// The device closed before the end of the reply.
    #[error("{dev} closed after {got} byte(s), before the end of the reply")]
    Closed {
        /// The device.
        dev: String,
        /// Bytes of the reply received.
        got: usize,
    },
    /// The reply is longer than the limit.
    #[error("{dev} sent more than {kib} KiB without the end-of-reply byte 0x{end:02x}")]
    TooLong {
        /// The device.
        dev: String,
        /// The limit, in KiB.
        kib: usize,
        /// The end-of-reply byte.
        end: u8,
    },
    /// The blocking task did not finish.
    #[error("the serial exchange failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Send the exchange's request on the serial port `path` and read the reply up to its end
/// byte (not included), within its limit and budget; on a blocking thread.
///
/// # Errors
/// An [`Error`] naming the device: it cannot be opened, is not a terminal, stays silent
/// past the budget, or sends more than the limit without the end byte.
pub async fn request(path: &Path, exchange: Exchange) -> Result<Vec<u8>, Error> {
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || run(&path, &exchange)).await?
}

/// [`request`], blocking the calling thread (at most the budget).
///
/// # Errors
/// As [`request`].
pub fn run(path: &Path, x: &Exchange) -> Result<Vec<u8>, Error> {
    let deadline = Instant::now() + x.budget;
    let dev = path.display().to_string();
    let port = open_raw(path, &dev, x.baud)?;
    let silent = |got: usize| Error::Silent {
        dev: dev.clone(),
        seconds: x.budget.as_secs_f64(),
        got,
        end: x.end,
    };
    let waited = |e| Error::Wait {
        dev: dev.clone(),
        source: e,
    };
    let mut sent = 0;
    while sent < x.request.len() {
        if !wait(&port, PollFlags::OUT, deadline).map_err(waited)? {
            return Err(silent(0));
        }
        match (&port).write(&x.request[sent..]) {
            Ok(n) => sent += n,
            Err(e) if retry(&e) => {}
            Err(source) => return Err(Error::Write { dev, source }),
        }
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if !wait(&port, PollFlags::IN, deadline).map_err(waited)? {
            return Err(silent(reply.len()));
        }
        match (&port).read(&mut buf) {
            Ok(0) => {
                return Err(Error::Closed {
                    dev,
                    got: reply.len(),
                });
            }
            Ok(n) => {
                let chunk = &buf[..n];
                let at = chunk.iter().position(|b| *b == x.end);
                reply.extend_from_slice(&chunk[..at.unwrap_or(n)]);
                if reply.len() > x.limit {
                    return Err(Error::TooLong {
                        dev,
                        kib: x.limit / 1024,
                        end: x.end,
                    });
                }
                if at.is_some() {
                    return Ok(reply);
                }
            }
            Err(e) if retry(&e) => {}
            Err(source) => return Err(Error::Read { dev, source }),
        }
    }
}

/// Open the port without becoming its controlling terminal, in raw mode at `baud`, with
/// stale input discarded.
fn open_raw(path: &Path, dev: &str, baud: u32) -> Result<std::fs::File, Error> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| Error::Open {
        dev: dev.to_string(),
        source,
    })?;
    let mut tio = rustix::termios::tcgetattr(&fd).map_err(|source| Error::NotSerial {
        dev: dev.to_string(),
        source,
    })?;
    let setup = |what: String| {
        move |source| Error::Setup {
            dev: dev.to_string(),
            what,
            source,
        }
    };
    tio.make_raw();
    // CLOCAL: no modem control lines to wait for; CREAD: the receiver on.
    tio.control_modes |= ControlModes::CLOCAL | ControlModes::CREAD;
    tio.set_speed(baud)
        .map_err(setup(format!("set {baud} baud")))?;
    rustix::termios::tcsetattr(&fd, OptionalActions::Now, &tio)
        .map_err(setup("set raw mode".into()))?;
    // Bytes left over from an earlier, interrupted exchange would be read as this reply.
    rustix::termios::tcflush(&fd, QueueSelector::IFlush)
        .map_err(setup("flush stale input".into()))?;
    Ok(std::fs::File::from(fd))
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
