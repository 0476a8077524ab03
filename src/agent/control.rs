//! The agent's control socket: `/run/kindling/agent.sock` in the root, where the running
//! daemon takes requests (`check` and `reset`, one line each, answered with one line) and
//! commands (`kindling agent check`, `update_engine_client`) send them.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt as _, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::error::Error;
use crate::root::Root;

/// The control socket's path in the root.
pub const SOCKET: &str = "/run/kindling/agent.sock";

/// A request on the control socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Check for an update now.
    Check,
    /// UPDATED_NEED_REBOOT → IDLE, and the staged slot made unbootable again.
    Reset,
}

impl Request {
    fn word(self) -> &'static str {
        match self {
            Request::Check => "check",
            Request::Reset => "reset",
        }
    }
}

/// Send a request to the agent running on `root`. `Ok(false)` when no agent listens.
///
/// # Errors
/// When an agent listens but does not answer sensibly.
pub async fn send(root: &Root, request: Request) -> Result<bool, Error> {
    let path = root.resolve(SOCKET)?;
    let Ok(mut stream) = UnixStream::connect(&path).await else {
        return Ok(false);
    };
    let exchange = async {
        stream
            .write_all(format!("{}\n", request.word()).as_bytes())
            .await?;
        let mut line = String::new();
        BufReader::new(&mut stream).read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line)
    };
    match tokio::time::timeout(Duration::from_secs(10), exchange).await {
        Ok(Ok(line)) if line.trim() == "ok" => Ok(true),
        Ok(Ok(line)) => Err(Error::StrangeAnswer(line.trim().to_string())),
        Ok(Err(source)) => Err(Error::Socket {
            socket: path,
            source,
        }),
        Err(_) => Err(Error::NoAnswer { socket: path }),
    }
}

/// Listen on the control socket (the caller holds the agent lock).
pub(super) fn listen(root: &Root) -> Result<UnixListener, Error> {
    let path = root.resolve(SOCKET)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    // We hold the agent lock, so a socket file left here is a dead agent's.
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(&path).map_err(|source| Error::Listen {
        socket: path,
        source,
    })
}

/// Answer requests on the socket, handing them to the daemon's loop.
pub(super) async fn serve(listener: UnixListener, tx: mpsc::Sender<Request>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let read = tokio::time::timeout(
                Duration::from_secs(5),
                BufReader::new(read.take(256)).read_line(&mut line),
            )
            .await;
            let answer = match (read, line.trim()) {
                (Ok(Ok(_)), "check") => tx.send(Request::Check).await.map_or("busy", |()| "ok"),
                (Ok(Ok(_)), "reset") => tx.send(Request::Reset).await.map_or("busy", |()| "ok"),
                _ => "unknown request (check, reset)",
            };
            let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
        });
    }
}
