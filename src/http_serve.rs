//! Bounded HTTP/1 serving for every kindling server (`update-server`, `lock serve`, and any
//! later one): an axum [`Router`] served on a listener under [`Limits`], so that no client,
//! however slow or numerous, can hold the server's memory, descriptors or other clients.
//!
//! The contract, per connection: its request head must arrive whole within
//! [`Limits::header_read_timeout`] of the connection opening or of the previous response
//! (hyper's own timer; this bounds a keep-alive connection that sends nothing, and a
//! slowloris head), and in at most [`Limits::max_header_bytes`] (hyper answers 431 past
//! it); a body read with [`read_body`] must arrive whole within [`Limits::body_timeout`]
//! and be at most [`Limits::max_body_bytes`] (the handler answers in its protocol's own
//! error shape, from [`BodyError`]); a connection on which no byte moves for
//! [`Limits::idle_timeout`] while no handler runs (a client that stopped reading a
//! response) is closed. Across connections: at most [`Limits::max_connections`] are open
//! (also never more than the descriptor limit allows, which [`serve`] raises to its hard
//! limit); a new connection past the cap closes the open connection that has been quiet the
//! longest and has no request in progress (load shedding that keeps new, normal clients
//! answered), and only when every open connection is busy is the newcomer answered `503`
//! and closed. Running out of descriptors in `accept` sheds the same way instead of
//! spinning.
//!
//! Handlers see the peer as axum's `ConnectInfo<SocketAddr>`. On shutdown the listener is
//! closed and every connection is asked to finish its request in progress; [`serve`]
//! returns when all have closed (callers bound that wait themselves).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{self, header};
use axum::response::Response;
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

/// The bounds a server runs under. [`Limits::default`] is what both servers use unless
/// told otherwise (their `--max-connections`, `--header-timeout`, `--idle-timeout`,
/// `--body-timeout` and `--max-body-bytes` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request head must arrive whole within this, from the connection's start or the
    /// end of the previous response (so it also bounds an idle keep-alive connection).
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves for this long, while no handler runs, is closed.
    pub idle_timeout: Duration,
    /// A body read with [`read_body`] must arrive whole within this.
    pub body_timeout: Duration,
    /// Open connections at most (lowered to what the descriptor limit allows).
    pub max_connections: usize,
    /// The request head (line and headers) at most, in bytes (hyper's buffer; at least 8192).
    pub max_header_bytes: usize,
    /// A body read with [`read_body`] at most, in bytes.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Descriptors kept free for everything but connections (files, etcd, logs).
const SPARE_DESCRIPTORS: u64 = 256;

/// Why a body could not be read whole; the handler answers it in its protocol's shape.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Longer than the limit (announced by `Content-Length`, or counted while reading).
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// Not complete within the body timeout.
    #[error("the request body did not arrive within {}s", .after.as_secs())]
    TimedOut {
        /// The body timeout.
        after: Duration,
    },
    /// The connection failed while reading.
    #[error("the request body could not be read: {0}")]
    Broken(String),
}

/// The body bounds of a request, put into its extensions by [`serve`].
#[derive(Debug, Clone, Copy)]
struct BodyBounds {
    max_bytes: usize,
    timeout: Duration,
}

/// The request's body read whole, under the limits of the server that received it (the
/// defaults when it did not come through [`serve`]), and at most `max_bytes` when given.
///
/// # Errors
/// [`BodyError`]: too large (before anything is read when `Content-Length` says so), not
/// complete in time, or a broken connection.
pub async fn read_body(
    req: Request,
    max_bytes: Option<usize>,
) -> Result<(http::request::Parts, Bytes), BodyError> {
    let (parts, body) = req.into_parts();
    let bounds = parts
        .extensions
        .get::<BodyBounds>()
        .copied()
        .unwrap_or_else(|| {
            let d = Limits::default();
            BodyBounds {
                max_bytes: d.max_body_bytes,
                timeout: d.body_timeout,
            }
        });
    let limit = max_bytes.map_or(bounds.max_bytes, |m| m.min(bounds.max_bytes));
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(bounds.timeout, limited.collect()).await {
        Err(_) => Err(BodyError::TimedOut {
            after: bounds.timeout,
        }),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(BodyError::TooLarge { limit })
        }
        Ok(Err(e)) => Err(BodyError::Broken(e.to_string())),
        Ok(Ok(collected)) => Ok((parts, collected.to_bytes())),
    }
}

/// Raise this process's soft descriptor limit to its hard limit; the soft limit after.
#[must_use]
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current.is_some_and(|soft| soft < hard)
    {
        let raised = rustix::process::Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return hard;
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// One open connection as the tracker sees it.
struct Conn {
    /// Milliseconds since the tracker's start when a byte last moved.
    last_io: AtomicU64,
    /// Requests whose response body has not been dropped yet (busy: never shed).
    in_flight: AtomicUsize,
    /// Handlers running (the idle timeout does not apply).
    handling: AtomicUsize,
    /// Told to close now.
    close: Notify,
}

/// Every open connection, and the clock they are measured by.
struct Tracker {
    start: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    /// Notified when the last connection closes (after shutdown).
    emptied: Notify,
}

impl Tracker {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Close up to `count` connections with no request in progress, the longest quiet
    /// first; how many were closed.
    fn shed(&self, count: usize) -> usize {
        let mut conns = self.conns();
        let mut idle: Vec<(u64, u64)> = conns
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .map(|(id, c)| (c.last_io.load(Ordering::Relaxed), *id))
            .collect();
        let count = count.min(idle.len());
        if count == 0 {
            return 0;
        }
        if count < idle.len() {
            idle.select_nth_unstable(count - 1);
        }
        for (_, id) in &idle[..count] {
            if let Some(conn) = conns.remove(id) {
                conn.close.notify_one();
            }
        }
        count
    }

    /// Close every connection quiet for longer than `idle` while no handler runs.
    fn reap(&self, idle: Duration) {
        let now = self.now_ms();
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        let mut conns = self.conns();
        conns.retain(|_, c| {
            let quiet = now.saturating_sub(c.last_io.load(Ordering::Relaxed)) > idle_ms;
            let keep = !quiet || c.handling.load(Ordering::Acquire) > 0;
            if !keep {
                c.close.notify_one();
            }
            keep
        });
    }

    fn remove(&self, id: u64) {
        let mut conns = self.conns();
        conns.remove(&id);
        if conns.is_empty() {
            self.emptied.notify_waiters();
        }
    }
}

/// A TCP stream that stamps its connection whenever a byte moves.
struct Tracked {
    stream: TcpStream,
    conn: Arc<Conn>,
    tracker: Arc<Tracker>,
}

impl Tracked {
    fn moved(&self) {
        self.conn
            .last_io
            .store(self.tracker.now_ms(), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.moved();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Counts a request in progress until dropped (with the response body, or the handler).
struct InFlight(Arc<Conn>);

impl InFlight {
    fn new(conn: Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a running handler until dropped.
struct Handling(Arc<Conn>);

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in progress until it is dropped.
struct Guarded {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\n\
content-type: text/plain; charset=utf-8\r\ncontent-length: 42\r\n\r\n\
every connection of this server is in use\n";

/// Serve `router` on `listener` under `limits` until `shutdown` resolves; then stop
/// accepting, let every connection finish its request in progress, and return when all
/// have closed.
///
/// # Errors
/// None today: accept errors are reported on stderr and survived (kept for callers that
/// map a listener failure).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let descriptors = raise_descriptor_limit();
    let fits = usize::try_from(descriptors.saturating_sub(SPARE_DESCRIPTORS)).unwrap_or(usize::MAX);
    let cap = limits.max_connections.min(fits).max(1);
    if cap < limits.max_connections {
        eprintln!(
            "kindling: at most {cap} connections (the descriptor limit is {descriptors}), not {}",
            limits.max_connections
        );
    }
    let tracker = Arc::new(Tracker {
        start: Instant::now(),
        conns: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        emptied: Notify::new(),
    });
    let reaper = tokio::spawn(reap_loop(Arc::clone(&tracker), limits.idle_timeout));
    let (stop_tx, stop_rx) = watch::channel(false);
    let busy_replies = Arc::new(tokio::sync::Semaphore::new(64));
    let shed_batch = (cap / 64).max(1);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors (or memory): make room instead of spinning.
                if tracker.shed(shed_batch) == 0 {
                    eprintln!("kindling: cannot accept a connection: {e}");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let full = tracker.conns().len() >= cap;
        if full && tracker.shed(shed_batch) == 0 {
            if let Ok(permit) = Arc::clone(&busy_replies).try_acquire_owned() {
                tokio::spawn(async move {
                    let mut stream = stream;
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
                    drop(permit);
                });
            }
            continue;
        }
        let conn = Arc::new(Conn {
            last_io: AtomicU64::new(tracker.now_ms()),
            in_flight: AtomicUsize::new(0),
            handling: AtomicUsize::new(0),
            close: Notify::new(),
        });
        let id = tracker.next_id.fetch_add(1, Ordering::Relaxed);
        tracker.conns().insert(id, Arc::clone(&conn));
        tokio::spawn(connection(
            Tracked {
                stream,
                conn,
                tracker: Arc::clone(&tracker),
            },
            id,
            peer,
            router.clone(),
            limits,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    loop {
        let emptied = tracker.emptied.notified();
        if tracker.conns().is_empty() {
            break;
        }
        emptied.await;
    }
    reaper.abort();
    Ok(())
}

async fn reap_loop(tracker: Arc<Tracker>, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        tracker.reap(idle);
    }
}

/// One connection served until it ends, is told to close, or the server shuts down.
async fn connection(
    io: Tracked,
    id: u64,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let conn = Arc::clone(&io.conn);
    let tracker = Arc::clone(&io.tracker);
    let bounds = BodyBounds {
        max_bytes: limits.max_body_bytes,
        timeout: limits.body_timeout,
    };
    let service_conn = Arc::clone(&conn);
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let in_flight = InFlight::new(Arc::clone(&service_conn));
        service_conn.handling.fetch_add(1, Ordering::AcqRel);
        let handling = Handling(Arc::clone(&service_conn));
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(bounds);
        let router = router.clone();
        async move {
            let response: Response = match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            drop(handling);
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(Guarded {
                    body,
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    let mut stopping = *stop.borrow();
    if stopping {
        served.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = served.as_mut() => break,
            () = conn.close.notified() => break,
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_err() || *stop.borrow() {
                    served.as_mut().graceful_shutdown();
                }
            }
        }
    }
    tracker.remove(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn body_limits() {
        let req = |len: usize, announce: bool| {
            let mut b = http::Request::builder();
            if announce {
                b = b.header(header::CONTENT_LENGTH, len.to_string());
            }
            b.body(Body::from(vec![b'x'; len])).unwrap_or_default()
        };
        assert!(matches!(
            read_body(req(10, true), Some(5)).await,
            Err(BodyError::TooLarge { limit: 5 })
        ));
        assert!(matches!(
            read_body(req(10, false), Some(5)).await,
            Err(BodyError::TooLarge { limit: 5 })
        ));
        let read = read_body(req(5, true), Some(5)).await.map(|(_, b)| b.len());
        assert_eq!(read.ok(), Some(5));
    }
}
