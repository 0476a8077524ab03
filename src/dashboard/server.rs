//! `kindling fleet serve`: the dashboard's HTTP server (axum). Read-only unless started
//! with control on: GET pages (`/`, `/nodes`, `/node`, `/releases` when the update server's
//! directory is given), the assets compiled in (`/assets/…`), and `/events?path=P`, a
//! server-sent event stream that sends page P's live region again each time the watched
//! fleet changes it (never by polling etcd: the state is [`Live`]'s). Control (`POST
//! /control/ACTION`) answers 403 unless control is on, 401 without the bearer token (the
//! `Authorization: Bearer` header, or the form's `token` field for a browser without
//! JavaScript), shows a confirmation page unless `confirm=yes`, and logs every attempt.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use maud::Markup;
use sha2::{Digest as _, Sha256};

use super::live::{Live, Snapshot};
use super::pages::{self, Site};
use super::table;
use crate::fleet::record::now_secs;
use crate::fleet::{FleetEtcd, controller};
use crate::lock::{Etcd3Lock, LockConfig, RebootLock, Released};

/// At most this many live pages at once (each holds one event stream open).
pub const MAX_STREAMS: usize = 256;

/// How the dashboard runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// etcd (endpoints, TLS) for the fleet.
    pub etcd: LockConfig,
    /// The groups shown (at least one).
    pub groups: Vec<String>,
    /// The reboot lock's etcd and group.
    pub lock: LockConfig,
    /// The update server's directory, for the releases page.
    pub update_dir: Option<PathBuf>,
    /// The control token: control is on when set.
    pub control_token: Option<String>,
    /// A rollout run from the dashboard waits this long for one wave.
    pub node_timeout: Duration,
    /// The bounds every kindling server runs under (timeouts, connection cap).
    pub limits: crate::http_serve::Limits,
}

/// Why the dashboard could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// etcd could not be reached at start.
    #[error("cannot reach etcd: {0}")]
    Etcd(#[from] crate::fleet::Error),
    /// The listener failed.
    #[error("the dashboard stopped: {0}")]
    Io(#[from] std::io::Error),
}

struct App {
    live: Live,
    stores: Vec<FleetEtcd>,
    options: Options,
    site: Site,
    streams: AtomicUsize,
    running: tokio::sync::Mutex<std::collections::HashSet<String>>,
    /// Becomes true at shutdown: the event streams end (a graceful shutdown waits for
    /// every connection, and a stream would never end by itself).
    closing: tokio::sync::watch::Receiver<bool>,
}

type Shared = Arc<App>;

impl App {
    fn store(&self, group: &str) -> Option<&FleetEtcd> {
        if group.is_empty() {
            return self.stores.first();
        }
        self.stores.iter().find(|s| s.group() == group)
    }
}

fn html(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        // A page is framed by nobody, and runs only its own script.
        [
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(m.into_string()),
    )
        .into_response()
}

/// A page's live region, its title and its navigation entry, for `path` (with its query).
async fn render(
    app: &App,
    snap: &Snapshot,
    path: &str,
) -> Result<(String, &'static str, Markup), (StatusCode, String)> {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let now = now_secs();
    match route {
        "/" => Ok(("Overview".into(), "/", pages::overview(snap, now))),
        "/nodes" => {
            let q: table::Query = serde_urlencoded_query(query)?;
            let g = group_of(snap, &q.group)?;
            let names: Vec<String> = snap.groups.iter().map(|g| g.group.clone()).collect();
            Ok((
                format!("Nodes of {}", g.group),
                "/nodes",
                pages::nodes(g, &names, &q, now),
            ))
        }
        "/node" => {
            let q: NodeQuery = serde_urlencoded_query(query)?;
            let g = group_of(snap, &q.group)?;
            let store = app
                .store(&g.group)
                .ok_or((StatusCode::NOT_FOUND, "no such group".into()))?;
            let history = super::node::read(store, &q.id)
                .await
                .map_err(|e| (StatusCode::BAD_GATEWAY, format!("etcd: {e}")))?;
            let holds = snap
                .lock
                .status
                .as_ref()
                .is_some_and(|s| s.holders.iter().any(|h| h.id == q.id));
            let title = g
                .view
                .nodes
                .iter()
                .find(|r| r.id == q.id)
                .map_or_else(|| q.id.clone(), |r| r.host.clone());
            Ok((title, "/nodes", pages::node(g, &q.id, &history, holds, now)))
        }
        "/releases" => {
            let Some(dir) = app.options.update_dir.clone() else {
                return Err((
                    StatusCode::NOT_FOUND,
                    "no update server directory was given (--update-dir)".into(),
                ));
            };
            let read = tokio::task::spawn_blocking(move || {
                let releases = crate::update_server::releases::load_releases(&dir)?;
                let settings = crate::update_server::settings::load(&dir)?;
                let instances = crate::update_server::record_log::load(&dir)?.instances;
                let report = crate::update_server::status::report(&releases, &settings, instances);
                Ok::<_, crate::update_server::DirectoryError>((report, releases))
            })
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(|e| {
                (
                    StatusCode::BAD_GATEWAY,
                    format!("the update server's directory: {e}"),
                )
            })?;
            let mut fleet: std::collections::BTreeMap<String, usize> =
                std::collections::BTreeMap::new();
            for g in &snap.groups {
                if let Some(s) = g.history.last() {
                    for (v, n) in &s.versions {
                        *fleet.entry(v.clone()).or_default() += n;
                    }
                }
            }
            let fleet: Vec<(String, usize)> = fleet.into_iter().collect();
            Ok((
                "Releases".into(),
                "/releases",
                pages::releases(&read.0, &read.1, &fleet),
            ))
        }
        _ => Err((StatusCode::NOT_FOUND, format!("no page {route}"))),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct NodeQuery {
    group: String,
    id: String,
}

fn serde_urlencoded_query<T: serde::de::DeserializeOwned + Default>(
    query: &str,
) -> Result<T, (StatusCode, String)> {
    if query.is_empty() {
        return Ok(T::default());
    }
    axum::extract::Query::<T>::try_from_uri(&format!("/?{query}").parse().map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "a query that is not a URL query".to_string(),
        )
    })?)
    .map(|q| q.0)
    .map_err(|e| (StatusCode::BAD_REQUEST, e.body_text()))
}

fn group_of<'a>(
    snap: &'a Snapshot,
    name: &str,
) -> Result<&'a Arc<super::live::GroupSnap>, (StatusCode, String)> {
    if name.is_empty() {
        return snap
            .groups
            .first()
            .ok_or((StatusCode::NOT_FOUND, "no group".into()));
    }
    snap.group(name).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            format!("group {name:?} is not served here"),
        )
    })
}

async fn page(State(app): State<Shared>, uri: axum::http::Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    app.live.loaded(Duration::from_secs(5)).await;
    let snap = app.live.now();
    match render(&app, &snap, &path).await {
        Ok((title, active, main)) => html(
            StatusCode::OK,
            pages::frame(
                &title,
                active,
                app.site,
                main,
                pages::controls(&snap, app.site),
            ),
        ),
        Err((status, text)) => html(status, pages::message("Not shown", &text)),
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        super::assets::CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        super::assets::JS,
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
struct EventsQuery {
    path: String,
}

/// Counts an open stream until dropped.
struct StreamSlot(Shared);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn events(State(app): State<Shared>, Query(q): Query<EventsQuery>) -> Response {
    if !q.path.starts_with('/') || q.path.starts_with("/events") || q.path.starts_with("/control") {
        return (StatusCode::BAD_REQUEST, "path: a page of this dashboard").into_response();
    }
    if app.streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        app.streams.fetch_sub(1, Ordering::SeqCst);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live pages open; the pages refresh instead",
        )
            .into_response();
    }
    let slot = StreamSlot(app.clone());
    let rx = app.live.subscribe();
    // The first event is the region as of now: a change between the page's load and the
    // stream's start is not lost.
    let state = (slot, rx, app.closing.clone(), q.path, String::new(), None);
    let stream = futures_util::stream::unfold(state, |state| async move {
        let (slot, mut rx, mut closing, path, mut last, mut seen) = state;
        let mut first = seen.is_none();
        loop {
            if *closing.borrow() {
                return None;
            }
            if !first {
                tokio::select! {
                    r = rx.changed() => if r.is_err() { return None },
                    _ = closing.changed() => return None,
                }
            }
            first = false;
            let snap = rx.borrow_and_update().clone();
            // A node's page reads the node's history from etcd: only when what the page
            // shows of the node changed, not at every change of the fleet.
            let key = watched(&snap, &path);
            if key.is_some() && seen.as_ref() == Some(&key) {
                continue;
            }
            seen = Some(key);
            let Ok((_, _, main)) = render(&slot.0, &snap, &path).await else {
                continue;
            };
            let text = main.into_string();
            if text == last {
                continue;
            }
            let event = Event::default().event("main").json_data(&text);
            last = text;
            if let Ok(e) = event {
                let next = (slot, rx, closing, path, last, seen);
                return Some((Ok::<_, Infallible>(e), next));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// For a node's page: what of the snapshot that page shows (its row, the published
/// generation, whether it holds a slot); `None` for every other page.
fn watched(snap: &Snapshot, path: &str) -> Option<String> {
    let query = path.strip_prefix("/node?")?;
    let q: NodeQuery = serde_urlencoded_query(query).ok()?;
    let g = group_of(snap, &q.group).ok()?;
    let row = g.view.nodes.iter().find(|r| r.id == q.id);
    let holds = snap
        .lock
        .status
        .as_ref()
        .is_some_and(|s| s.holders.iter().any(|h| h.id == q.id));
    Some(format!("{row:?} {} {holds}", g.view.generation))
}

/// Whether `given` is the token (compared as SHA-256 digests: no early exit on a prefix).
fn token_ok(expected: &str, given: &str) -> bool {
    Sha256::digest(expected.as_bytes()) == Sha256::digest(given.as_bytes())
}

/// A control form is small: its fields and the token.
const MAX_FORM_BYTES: usize = 4096;

async fn control(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(action): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let peer = peer.to_string();
    // The body under the server's size and time limits, then read as a form.
    let (parts, body) = match crate::http_serve::read_body(req, Some(MAX_FORM_BYTES)).await {
        Ok(read) => read,
        Err(e) => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::message("Not done", &e.to_string()),
            );
        }
    };
    let headers: HeaderMap = parts.headers.clone();
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(body));
    let form: HashMap<String, String> = if req.headers().contains_key(header::CONTENT_TYPE) {
        match <Form<HashMap<String, String>> as axum::extract::FromRequest<()>>::from_request(
            req,
            &(),
        )
        .await
        {
            Ok(Form(f)) => f,
            Err(e) => {
                return html(
                    StatusCode::BAD_REQUEST,
                    pages::message("Not done", &e.body_text()),
                );
            }
        }
    } else {
        HashMap::new()
    };
    let Some(expected) = app.options.control_token.as_deref() else {
        app.live
            .log(&peer, &format!("{action}: refused, control is off"));
        return html(
            StatusCode::FORBIDDEN,
            pages::message(
                "Refused",
                "Control is off: this dashboard was started without --allow-control.",
            ),
        );
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let given = bearer
        .or_else(|| form.get("token").map(String::as_str))
        .unwrap_or("");
    if given.is_empty() || !token_ok(expected, given) {
        app.live
            .log(&peer, &format!("{action}: refused, no valid token"));
        return html(
            StatusCode::UNAUTHORIZED,
            pages::message(
                "Refused",
                "Refused: this action needs the control token (a bearer token).",
            ),
        );
    }
    let group = form.get("group").cloned().unwrap_or_default();
    let Some(store) = app.store(&group).cloned() else {
        return html(
            StatusCode::NOT_FOUND,
            pages::message("Not done", &format!("group {group:?} is not served here")),
        );
    };
    let group = store.group().to_string();
    let holder = form.get("holder").cloned().unwrap_or_default();
    let question = match action.as_str() {
        "rollout-apply" => format!(
            "Run the rollout of group {group} (admit its waves, health gate) from this dashboard?"
        ),
        "rollout-abort" => format!(
            "Abort the rollout of group {group}? The wave in flight finishes; no more nodes are admitted."
        ),
        "release-slot" if !holder.is_empty() => {
            format!("Release the reboot slot of holder {holder} (only if it is dead)?")
        }
        "release-slot" => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::message("Not done", "Which holder? (holder)"),
            );
        }
        _ => {
            return html(
                StatusCode::NOT_FOUND,
                pages::message("Not done", &format!("no action {action}")),
            );
        }
    };
    if form.get("confirm").map(String::as_str) != Some("yes") {
        let mut fields = vec![("group", group.as_str())];
        if !holder.is_empty() {
            fields.push(("holder", holder.as_str()));
        }
        if bearer.is_none() {
            fields.push(("token", given));
        }
        return html(StatusCode::OK, pages::confirm(&action, &question, &fields));
    }
    let (status, text) = match action.as_str() {
        "rollout-abort" => match controller::abort(&store).await {
            Ok(r) => (
                StatusCode::OK,
                format!("group {group}: abort asked; {}", r.summary()),
            ),
            Err(e) => (
                StatusCode::CONFLICT,
                format!("group {group}: abort failed: {e}"),
            ),
        },
        "rollout-apply" => apply(&app, store, &peer).await,
        _ => release_slot(&app, &holder).await,
    };
    app.live.log(&peer, &text);
    html(
        status,
        pages::message(
            if status == StatusCode::OK {
                "Done"
            } else {
                "Not done"
            },
            &text,
        ),
    )
}

/// Start the rollout controller in this process (one per group at a time).
async fn apply(app: &Shared, store: FleetEtcd, peer: &str) -> (StatusCode, String) {
    let group = store.group().to_string();
    match store.rollout().await {
        Ok(Some((r, _))) if r.is_finished() => {
            return (
                StatusCode::CONFLICT,
                format!(
                    "group {group}: the rollout is {}; nothing to run",
                    r.phase_name()
                ),
            );
        }
        Ok(Some(_)) => {}
        Ok(None) => {
            return (
                StatusCode::CONFLICT,
                format!(
                    "group {group}: no rollout (create one with `kindling fleet rollout create`)"
                ),
            );
        }
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("group {group}: etcd: {e}")),
    }
    if !app.running.lock().await.insert(group.clone()) {
        return (
            StatusCode::CONFLICT,
            format!("group {group}: this dashboard already runs its rollout"),
        );
    }
    let (app2, peer) = (app.clone(), peer.to_string());
    let timeout = app.options.node_timeout;
    tokio::spawn(async move {
        let live = app2.live.clone();
        let mut say = |line: &str| {
            eprintln!(
                "kindling fleet serve: rollout of group {}: {line}",
                store.group()
            )
        };
        let outcome = match controller::run(&store, timeout, &mut say).await {
            Ok(r) => format!(
                "group {}: the rollout ended: {}",
                store.group(),
                r.summary()
            ),
            Err(e) => format!(
                "group {}: the rollout controller failed: {e}",
                store.group()
            ),
        };
        live.log(&peer, &outcome);
        app2.running.lock().await.remove(store.group());
    });
    (
        StatusCode::OK,
        format!(
            "group {group}: the rollout controller runs (waves, health gate); follow it on the overview"
        ),
    )
}

/// Release `holder`'s slot, only when it is dead: its lease expired, or its node is
/// unreachable in a served group.
async fn release_slot(app: &Shared, holder: &str) -> (StatusCode, String) {
    let lock = match Etcd3Lock::connect(&app.options.lock).await {
        Ok(l) => l,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("the reboot lock: {e}")),
    };
    let status = match lock.status().await {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("the reboot lock: {e}")),
    };
    let Some(h) = status.holders.iter().find(|h| h.id == holder) else {
        return (
            StatusCode::CONFLICT,
            format!("{holder} holds no reboot slot; nothing released"),
        );
    };
    let snap = app.live.now();
    let unreachable = snap.groups.iter().any(|g| {
        g.view
            .nodes
            .iter()
            .any(|r| r.id == holder && r.state == "unreachable")
    });
    if h.alive != Some(false) && !unreachable {
        return (
            StatusCode::CONFLICT,
            format!(
                "{holder} is not dead (its lease lives or it has none, and its node is not unreachable); its slot is kept"
            ),
        );
    }
    match lock.unlock(holder).await {
        Ok(Released::Unlocked) => (
            StatusCode::OK,
            format!("released the reboot slot of dead holder {holder}"),
        ),
        Ok(Released::NotHeld) => (
            StatusCode::CONFLICT,
            format!("{holder} held no slot any more"),
        ),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!("releasing {holder}'s slot failed: {e}"),
        ),
    }
}

/// Serve the dashboard on `listener` until `shutdown` completes.
///
/// # Errors
/// When etcd cannot be reached at start, or the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut stores = Vec::new();
    for g in &options.groups {
        stores.push(FleetEtcd::connect(&options.etcd, g).await?);
    }
    let live = Live::new(&options.groups, options.lock.named_group());
    let mut tasks = Vec::new();
    for s in &stores {
        tasks.push(tokio::spawn(super::live::follow_group(
            s.clone(),
            live.clone(),
        )));
    }
    tasks.push(tokio::spawn(super::live::follow_lock(
        options.lock.clone(),
        live.clone(),
    )));
    let limits = options.limits;
    let (close_tx, closing) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = close_tx.send(true);
    };
    let app = Arc::new(App {
        closing,
        site: Site {
            releases: options.update_dir.is_some(),
            control: options.control_token.is_some(),
        },
        live,
        stores,
        options,
        streams: AtomicUsize::new(0),
        running: tokio::sync::Mutex::new(std::collections::HashSet::new()),
    });
    let router = axum::Router::new()
        .route("/", get(page))
        .route("/nodes", get(page))
        .route("/node", get(page))
        .route("/releases", get(page))
        .route("/events", get(events))
        .route("/assets/dashboard.css", get(css))
        .route("/assets/live.js", get(js))
        .route("/control/{action}", post(control))
        .with_state(app);
    // The same bounds as every kindling server: timeouts, the connection cap (an open
    // page's event stream is one connection; its keep-alive comments every 15 s keep it
    // inside the idle timeout).
    let result = crate::http_serve::serve(listener, router, limits, shutdown).await;
    for t in tasks {
        t.abort();
    }
    Ok(result?)
}
