//! The HTTP side of `kindling update-server`: axum routes for Omaha (`POST /v1/update/`,
//! and `/v1/update` as Nebraska spells it) and for payloads and signatures
//! (`GET|HEAD /packages/CHANNEL/VERSION/NAME[.minisig]`, streamed by tower-http's
//! `ServeFile` with single-range support), the shared state behind one mutex, the settings
//! and release files re-read when their `stat` changes, and the flusher that writes the
//! instance records at most once per interval.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use thiserror::Error;
use tower_http::services::ServeFile;

use super::answer::{self, Books};
use super::directory::DirectoryError;
use super::directory::{self, CHANNELS_FILE, INSTANCES_FILE, RELEASES_FILE};
use super::instances::{self, Instances};
use super::releases::{self, Releases};
use super::settings::{self, Settings};
use crate::http_serve::{self, BodyError, Limits};
use crate::omaha::request;
use crate::omaha::response;
use crate::xml::REQUEST_LIMITS;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory (releases, settings, instances).
    pub dir: PathBuf,
    /// Where to listen (port 0 picks a free port; the address is printed).
    pub listen: SocketAddr,
    /// The app id served (others get `error-unknownApplication`).
    pub app_id: String,
    /// Scheme and authority for payload URLs (default: `http://` + the request's Host).
    pub base_url: Option<String>,
    /// How often instance records are written when they changed.
    pub flush_interval: Duration,
    /// How long shutdown waits for requests in progress (downloads).
    pub shutdown_grace: Duration,
    /// Timeouts, the connection cap and the request size limit (an Omaha request is never
    /// read past [`REQUEST_LIMITS`]'s size, whatever `max_body_bytes` says).
    pub limits: Limits,
}

/// Why the server could not run.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The directory's files could not be read.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("the server failed: {0}")]
    Serve(#[source] std::io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        ino: m.ino(),
    })
}

#[derive(Debug)]
struct Live {
    settings: Settings,
    settings_stamp: Option<Stamp>,
    releases: Releases,
    releases_stamp: Option<Stamp>,
    instances: Instances,
    dirty: bool,
}

/// `file` of `dir` read again with `load` when its stamp changed; `None` when it did not,
/// or when it does not parse (reported, so the previous `what` is kept).
fn reload<T>(
    dir: &Path,
    file: &str,
    stamp_seen: &mut Option<Stamp>,
    what: &str,
    load: impl FnOnce(&Path) -> Result<T, DirectoryError>,
) -> Option<T> {
    let now = stamp(&dir.join(file));
    if now == *stamp_seen {
        return None;
    }
    *stamp_seen = now;
    load(dir)
        .map_err(|e| eprintln!("kindling update-server: keeping the previous {what}: {e}"))
        .ok()
}

impl Live {
    /// Re-read the settings and the release index if they changed on disk. A file that
    /// does not parse keeps the previous values (and is reported once).
    fn refresh(&mut self, dir: &Path) {
        if let Some(settings) = reload(
            dir,
            CHANNELS_FILE,
            &mut self.settings_stamp,
            "settings",
            settings::load,
        ) {
            self.settings = settings;
        }
        if let Some(releases) = reload(
            dir,
            RELEASES_FILE,
            &mut self.releases_stamp,
            "releases",
            releases::load_releases,
        ) {
            self.releases = releases;
        }
    }
}

struct Shared {
    config: Config,
    books: Mutex<Live>,
}

impl Shared {
    fn books(&self) -> MutexGuard<'_, Live> {
        // A panic while holding the lock cannot leave the books half-updated in a way
        // that matters more than losing the server, so a poisoned lock is used as is.
        self.books
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Run the server until `shutdown` resolves; then wait up to the grace period for
/// requests in progress and write the instance records a last time. `ready` is called
/// with the bound address.
///
/// # Errors
/// [`ServeError`].
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let dir = config.dir.clone();
    std::fs::create_dir_all(&dir).map_err(|e| directory::io_at(&dir, e))?;
    let books = Live {
        settings: settings::load(&dir)?,
        settings_stamp: stamp(&dir.join(CHANNELS_FILE)),
        releases: releases::load_releases(&dir)?,
        releases_stamp: stamp(&dir.join(RELEASES_FILE)),
        instances: instances::load(&dir)?,
        dirty: false,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let grace = config.shutdown_grace;
    let flush_every = config.flush_interval;
    let shared = Arc::new(Shared {
        config,
        books: Mutex::new(books),
    });
    let app = Router::new()
        .route("/v1/update/", post(omaha))
        .route("/v1/update", post(omaha))
        .route("/packages/{channel}/{version}/{file}", get(package))
        // The Omaha handler applies its own limit (REQUEST_LIMITS) to the body it reads.
        .layer(DefaultBodyLimit::disable())
        .with_state(Arc::clone(&shared));
    let flusher = tokio::spawn(flush_loop(Arc::clone(&shared), flush_every));
    ready(addr);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let limits = shared.config.limits;
    let server = http_serve::serve(listener, app, limits, async move {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|stop| *stop).await;
    });
    let server = tokio::spawn(server);
    shutdown.await;
    let _ = stop_tx.send(true);
    // Downloads in progress get the grace period, then the process goes on to exit.
    let result = match tokio::time::timeout(grace, server).await {
        Ok(Ok(r)) => r.map_err(ServeError::Serve),
        Ok(Err(join)) => Err(ServeError::Serve(std::io::Error::other(join))),
        Err(_) => Ok(()),
    };
    flusher.abort();
    flush(&shared).await;
    result
}

async fn flush_loop(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        flush(&shared).await;
    }
}

async fn flush(shared: &Arc<Shared>) {
    let bytes = {
        let mut books = shared.books();
        if !books.dirty {
            return;
        }
        books.dirty = false;
        instances::to_bytes(&books.instances)
    };
    let path = shared.config.dir.join(INSTANCES_FILE);
    let written = match bytes {
        Ok(bytes) => tokio::task::spawn_blocking(move || directory::atomic_write(&path, &bytes))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string())),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = written {
        eprintln!("kindling update-server: cannot write the instance records (will retry): {e}");
        shared.books().dirty = true;
    }
}

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

/// A request refused before it was parsed, answered as Omaha answers: a `<response>` whose
/// `<app>` (the served app id) has an `error-…` status, so an Omaha client reports it as the
/// server's answer.
fn omaha_error(config: &Config, status: StatusCode, app_status: &str, why: &str) -> Response {
    eprintln!("kindling update-server: refused a request: {why}");
    let app = response::AppAnswer {
        app_id: config.app_id.clone(),
        status: app_status.into(),
        ping: false,
        update_check: None,
        events: 0,
    };
    let body = response::write("kindling", directory::now_secs() % 86_400, &[app]);
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn body_refused(config: &Config, e: &BodyError) -> Response {
    let (status, app_status) = match e {
        BodyError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "error-requestTooLarge"),
        BodyError::TimedOut { .. } => (StatusCode::REQUEST_TIMEOUT, "error-requestTimeout"),
        BodyError::Broken(_) => (StatusCode::BAD_REQUEST, "error-badRequest"),
    };
    omaha_error(config, status, app_status, &e.to_string())
}

/// go-omaha's rule: no Content-Type, `text/xml` or `application/xml`, UTF-8 if a charset.
fn content_type_ok(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    if !mime.is_empty() && mime != "text/xml" && mime != "application/xml" {
        return false;
    }
    parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    })
}

/// `http://` + the Host header when it is a plain host[:port]; else the listen address.
fn base_url(config: &Config, headers: &HeaderMap) -> String {
    if let Some(base) = &config.base_url {
        return base.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        });
    match host {
        Some(h) => format!("http://{h}"),
        None => format!("http://{}", config.listen),
    }
}

async fn omaha(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    // A body announced larger than the limit is refused before any of it is read.
    let (parts, body): (_, Bytes) =
        match http_serve::read_body(req, Some(REQUEST_LIMITS.max_bytes)).await {
            Ok(read) => read,
            Err(e) => return body_refused(&shared.config, &e),
        };
    let headers = parts.headers;
    if !content_type_ok(&headers) {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "an Omaha request is XML: send Content-Type text/xml or application/xml (UTF-8)\n"
                .into(),
        );
    }
    let req = match request::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kindling update-server: refused a request: {e}");
            return text(StatusCode::BAD_REQUEST, format!("bad Omaha request: {e}\n"));
        }
    };
    let base = base_url(&shared.config, &headers);
    let now = directory::now_secs();
    let outcome = {
        let mut guard = shared.books();
        let b = &mut *guard;
        b.refresh(&shared.config.dir);
        let mut books = Books {
            settings: &b.settings,
            releases: &b.releases,
            instances: &mut b.instances,
        };
        let outcome = answer::answer(&req, &shared.config.app_id, &base, &mut books, now);
        if outcome.changed {
            b.dirty = true;
        }
        // Halts are rare (a failure in safe mode): written here, under the lock, so the
        // next request already sees them.
        for (channel, halt) in &outcome.halts {
            let written = settings::update(&shared.config.dir, channel, |c| {
                if c.halted.as_ref().is_none_or(|h| h.version != halt.version) {
                    c.halted = Some(halt.clone());
                }
            });
            if let Err(e) = written {
                eprintln!("kindling update-server: cannot record the halt on {channel}: {e}");
            }
        }
        if !outcome.halts.is_empty() {
            b.refresh(&shared.config.dir);
        }
        outcome
    };
    for line in &outcome.log {
        eprintln!("kindling update-server: {line}");
    }
    let ok = outcome.apps.iter().any(|a| a.status == "ok");
    let body = response::write("kindling", now % 86_400, &outcome.apps);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn package(
    State(shared): State<Arc<Shared>>,
    UrlPath((channel, version, file)): UrlPath<(String, String, String)>,
    req: Request,
) -> Response {
    let path = {
        let mut books = shared.books();
        books.refresh(&shared.config.dir);
        books.releases.find(&channel, &version).and_then(|r| {
            if file == r.name {
                Some(r.payload_path(&shared.config.dir))
            } else if file == format!("{}.minisig", r.name) {
                r.signature_path(&shared.config.dir)
            } else {
                None
            }
        })
    };
    let Some(path) = path else {
        return text(
            StatusCode::NOT_FOUND,
            format!("no published file /packages/{channel}/{version}/{file}\n"),
        );
    };
    match ServeFile::new(path).try_call(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the file: {e}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(content_type_ok(&h));
        for (value, ok) in [
            ("text/xml", true),
            ("text/xml; charset=utf-8", true),
            ("application/xml; charset=\"UTF-8\"", true),
            ("application/x-www-form-urlencoded", false),
            ("text/xml; charset=latin1", false),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(content_type_ok(&h), ok, "{value}");
        }
    }
}
