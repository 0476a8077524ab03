//! `kindling lock serve`: a FleetLock server on the etcd v3 semaphore, a drop-in for Airlock
//! (same paths, header check, body, error shapes and codes; same etcd key and value, so
//! both can serve one fleet), plus what Airlock lacks: configured slot counts are written
//! to the stored semaphore at start (Airlock ignores a change: airlock#81), `GET
//! /v1/holders?group=G` lists holders, `POST /v1/admin/release` forces a release (from a
//! loopback peer, or anywhere with the `--admin-token` as a bearer token), and `/metrics`
//! serves Prometheus text on the same port (Airlock's metric names included).
//!
//! Holds taken through the server have no lease (a Zincati node holds its slot across the
//! reboot and gives it back with steady-state), exactly as Airlock's.
//!
//! Groups: one etcd client serves every group (a group's lock is a key name over it, made
//! per request and kept nowhere). Every endpoint checks the group the same way (Zincati's
//! `^[a-zA-Z0-9.-]+$`, at most [`MAX_GROUP_LEN`] bytes, and only configured groups with
//! `--only-configured`) and answers a refused one with Airlock's `unknown_group`. Only
//! `pre-reboot` creates a group's semaphore; `steady-state`, `holders` and the forced
//! release of a group that is not stored write nothing, and when the last holder of a group
//! made on first use leaves, its semaphore is deleted again: an unknown group costs nothing
//! that stays. The server is served by [`crate::http_serve`] under its limits; a body
//! too large or too slow is answered with Airlock's error shape.
//!
//! Waiting (a kindling extension; FleetLock itself has no way to wait, so Zincati polls): a
//! `pre-reboot` with the request header [`WAIT_HEADER`]` : S` (whole seconds, at most
//! [`MAX_WAIT`]) that finds every slot taken waits for one by etcd watch, up to S seconds,
//! and answers the moment it has it; the answer carries the header back with the seconds
//! granted. Without the header the answer is immediate, as Airlock's. At most
//! [`AppState::wait_cap`] requests wait at once (half the connection cap: waiting
//! connections are busy and never shed); past it, and while the server stops, a request is
//! answered at once without the header.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;

use super::{Etcd3Lock, LockConfig, LockError, RebootLock, Released};
use crate::http_serve::{self, BodyError};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// etcd to keep the semaphores in (its backend field is ignored: always etcd v3).
    pub etcd: LockConfig,
    /// Slots of a group that is not configured, when its semaphore is created.
    pub default_slots: u64,
    /// Configured groups and their slots, written to the stored semaphore at start.
    pub groups: BTreeMap<String, u64>,
    /// Accept only configured groups (Airlock's `unknown_group`); otherwise any group that
    /// matches Zincati's `^[a-zA-Z0-9.-]+$` gets `default_slots`.
    pub only_configured: bool,
    /// Bearer token for `/v1/admin/release` from non-loopback peers.
    pub admin_token: Option<String>,
    /// Timeouts, the connection cap and the body size limit.
    pub limits: crate::http_serve::Limits,
}

/// The longest group name accepted (an etcd key part; Zincati sets no limit).
pub const MAX_GROUP_LEN: usize = 128;

/// A FleetLock body is a few hundred bytes; this is far above any real one.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The request header that asks `pre-reboot` to wait for a slot (whole seconds); the
/// answer carries it back with the seconds granted.
pub const WAIT_HEADER: &str = "kindling-lock-wait";

/// The longest a `pre-reboot` waits for a slot (a client asks again after it).
pub const MAX_WAIT: Duration = Duration::from_secs(30);

struct AppState {
    options: ServeOptions,
    /// The one etcd client, shared by every group.
    client: etcd_client::Client,
    counters: Mutex<BTreeMap<String, u64>>,
    /// `pre-reboot` requests waiting for a slot now.
    waiting: AtomicUsize,
    /// True once the server stops: waiting requests are answered at once.
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// The client's parameters, as Zincati sends them.
#[derive(Debug, Deserialize)]
struct Body {
    client_params: ClientParams,
}

/// A FleetLock client's `client_params` (each empty when absent).
#[derive(Debug, Deserialize)]
pub struct ClientParams {
    /// The node's id.
    #[serde(default)]
    pub id: String,
    /// Its group.
    #[serde(default)]
    pub group: String,
}

/// Read a FleetLock request body (`{"client_params": {"id": ..., "group": ...}}`), as
/// every endpoint that takes one does.
///
/// # Errors
/// When it is not that JSON.
pub fn client_params(body: &[u8]) -> Result<ClientParams, serde_json::Error> {
    serde_json::from_slice::<Body>(body).map(|b| b.client_params)
}

/// An error the way Airlock writes it: `http.Error` with a JSON line.
fn fail(status: StatusCode, kind: &str, value: &str) -> Response {
    let body = serde_json::json!({ "kind": kind, "value": value }).to_string() + "\n";
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

impl AppState {
    fn count(&self, name: String) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry(name).or_insert(0) += 1;
        }
    }

    /// The group's semaphore over the shared client (nothing is connected or kept).
    fn lock_for(&self, group: &str) -> Etcd3Lock {
        let mut config = self.options.etcd.clone();
        config.group = group.to_string();
        config.lease_ttl = None;
        Etcd3Lock::with_client(self.client.clone(), &config).with_initial_slots(self.slots(group))
    }

    /// How many `pre-reboot` requests may wait at once: half the connection cap.
    fn wait_cap(&self) -> usize {
        (self.options.limits.max_connections / 2).max(1)
    }

    /// The wait a request asks for in [`WAIT_HEADER`] (at most [`MAX_WAIT`]), if it may
    /// have it now; `None` (answer at once) without the header, with a malformed one, past
    /// [`Self::wait_cap`] or while the server stops.
    fn grant_wait(&self, headers: &HeaderMap) -> Option<WaitTicket<'_>> {
        let asked: u64 = headers
            .get(WAIT_HEADER)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        if asked == 0 || *self.stopping.borrow() {
            return None;
        }
        let wait = Duration::from_secs(asked).min(MAX_WAIT);
        let cap = self.wait_cap();
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .ok()?;
        Some(WaitTicket { app: self, wait })
    }

    fn slots(&self, group: &str) -> u64 {
        self.options
            .groups
            .get(group)
            .copied()
            .unwrap_or(self.options.default_slots)
    }

    fn configured(&self, group: &str) -> bool {
        self.options.groups.contains_key(group)
    }

    /// Whether `group` may be used: configured, or (without `--only-configured`) well formed.
    fn check_group(&self, group: &str) -> Result<(), Box<Response>> {
        let well_formed = !group.is_empty()
            && group.len() <= MAX_GROUP_LEN
            && group
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if self.configured(group) || (well_formed && !self.options.only_configured) {
            return Ok(());
        }
        let shown: String = group.chars().take(MAX_GROUP_LEN).collect();
        Err(Box::new(fail(
            StatusCode::BAD_REQUEST,
            "unknown_group",
            &format!("unknown group {shown:?}"),
        )))
    }

    /// The group's semaphore if it is configured or stored; `None` (and nothing written)
    /// for a group that does not exist.
    async fn existing(&self, group: &str) -> Result<Option<Etcd3Lock>, LockError> {
        let lock = self.lock_for(group);
        if self.configured(group) || lock.exists().await? {
            Ok(Some(lock))
        } else {
            Ok(None)
        }
    }

    /// Validate a FleetLock request; the error response otherwise.
    fn client(&self, headers: &HeaderMap, body: &[u8]) -> Result<ClientParams, Box<Response>> {
        let identity = |why: &str| {
            fail(
                StatusCode::BAD_REQUEST,
                "invalid_client_identity",
                &format!("failed to validate client identity: {why}"),
            )
        };
        if headers
            .get("fleet-lock-protocol")
            .is_none_or(|v| v.as_bytes() != b"true")
        {
            return Err(Box::new(identity("wrong 'fleet-lock-protocol' header")));
        }
        let params = client_params(body).map_err(|e| Box::new(identity(&e.to_string())))?;
        if params.group.is_empty() {
            return Err(Box::new(identity("empty client group")));
        }
        if params.id.is_empty() {
            return Err(Box::new(identity("empty client ID")));
        }
        self.check_group(&params.group)?;
        Ok(params)
    }
}

/// A granted wait, counted in [`AppState::waiting`] until dropped.
struct WaitTicket<'a> {
    app: &'a AppState,
    wait: Duration,
}

impl Drop for WaitTicket<'_> {
    fn drop(&mut self) {
        self.app.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

fn lock_failure(e: &LockError) -> Response {
    match e {
        LockError::Full { max, .. } => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed_lock",
            &format!("all {max} semaphore slots currently locked"),
        ),
        LockError::Timeout => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed_lock",
            "all semaphore slots currently locked",
        ),
        LockError::Unavailable(why) => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed_sem_init",
            &format!("failed to initialize semaphore manager: {why}"),
        ),
        LockError::Conflict(_) => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed_lock",
            "conflict on semaphore detected, aborting",
        ),
        other => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed_lock",
            &other.to_string(),
        ),
    }
}

/// A body refused by the server's limits, in Airlock's error shape.
fn body_refused(e: &BodyError) -> Response {
    let status = match e {
        BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
        BodyError::Broken(_) => StatusCode::BAD_REQUEST,
    };
    fail(status, "invalid_request", &e.to_string())
}

async fn pre_reboot(State(app): State<Arc<AppState>>, req: Request) -> Response {
    client_call(&app, "pre-reboot", req).await
}

async fn steady_state(State(app): State<Arc<AppState>>, req: Request) -> Response {
    client_call(&app, "steady-state", req).await
}

/// A client's call, counted: `pre-reboot` takes its slot, `steady-state` gives it back.
async fn client_call(app: &AppState, api: &str, req: Request) -> Response {
    app.count(api.into());
    let response = match http_serve::read_body(req, Some(MAX_BODY_BYTES)).await {
        Err(e) => body_refused(&e),
        Ok((parts, body)) => match app.client(&parts.headers, &body) {
            Err(r) => *r,
            Ok(params) => {
                let ticket = if api == "pre-reboot" {
                    app.grant_wait(&parts.headers)
                } else {
                    None
                };
                let granted = ticket.as_ref().map(|t| t.wait);
                let outcome = match ticket {
                    Some(ticket) => take_waiting(app, &params, &ticket).await,
                    None => take_or_give(app, api, &params).await,
                };
                let mut response = match outcome {
                    Ok(()) => StatusCode::OK.into_response(),
                    Err(e) => lock_failure(&e),
                };
                if let Some(wait) = granted
                    && let Ok(value) = header::HeaderValue::from_str(&wait.as_secs().to_string())
                {
                    response.headers_mut().insert(WAIT_HEADER, value);
                }
                response
            }
        },
    };
    count_error(app, api, &response);
    response
}

/// `pre-reboot` takes the slot (creating the group's semaphore on first use);
/// `steady-state` gives it back, writing nothing for a group that is not stored, and
/// deletes a semaphore made on first use once its last holder is gone.
async fn take_or_give(app: &AppState, api: &str, params: &ClientParams) -> Result<(), LockError> {
    if api == "pre-reboot" {
        return app
            .lock_for(&params.group)
            .lock(&params.id)
            .await
            .map(|_| ());
    }
    let Some(lock) = app.existing(&params.group).await? else {
        return Ok(());
    };
    lock.unlock(&params.id).await?;
    if !app.configured(&params.group) {
        lock.remove_if_idle(app.slots(&params.group)).await?;
    }
    Ok(())
}

/// `pre-reboot` waiting up to the ticket's time for a slot, by etcd watch (answered at once
/// when the server stops).
async fn take_waiting(
    app: &AppState,
    params: &ClientParams,
    ticket: &WaitTicket<'_>,
) -> Result<(), LockError> {
    let lock = app.lock_for(&params.group);
    let deadline = tokio::time::Instant::now() + ticket.wait;
    let mut stopping = app.stopping.clone();
    let waited = tokio::select! {
        taken = lock.wait_lock(&params.id, deadline) => taken.map(|_| ()),
        Ok(_) = stopping.wait_for(|stop| *stop) => Err(LockError::Timeout),
    };
    match waited {
        // The wait is over without a slot: one last attempt, whose failure says why (every
        // slot taken, or etcd unreachable).
        Err(LockError::Timeout) => lock.lock(&params.id).await.map(|_| ()),
        other => other,
    }
}

fn count_error(app: &AppState, api: &str, response: &Response) {
    if !response.status().is_success() {
        app.count(format!("error {api} {}", response.status().as_u16()));
    }
}

#[derive(Debug, Deserialize)]
struct GroupQuery {
    group: Option<String>,
}

async fn holders(State(app): State<Arc<AppState>>, Query(q): Query<GroupQuery>) -> Response {
    let group = q.group.unwrap_or_else(|| "default".into());
    if let Err(refused) = app.check_group(&group) {
        return *refused;
    }
    let lock = match app.existing(&group).await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            // Not stored: what it would be, without creating it.
            let slots = i64::try_from(app.slots(&group)).unwrap_or(i64::MAX);
            let body = serde_json::json!({
                "group": group,
                "max": slots,
                "available": slots,
                "holders": [],
                "stored": false,
            });
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string() + "\n",
            )
                .into_response();
        }
        Err(e) => return lock_failure(&e),
    };
    match lock.status().await {
        Ok(status) => {
            let body = serde_json::json!({
                "group": group,
                "max": status.max,
                "available": status.available,
                "holders": status.holders,
                "stored": true,
            });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string() + "\n",
            )
                .into_response()
        }
        Err(e) => lock_failure(&e),
    }
}

async fn release(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (headers, body) = match http_serve::read_body(req, Some(MAX_BODY_BYTES)).await {
        Ok((parts, body)) => (parts.headers, body),
        Err(e) => return body_refused(&e),
    };
    let token_ok = app.options.admin_token.as_deref().is_some_and(|token| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            == Some(token)
    });
    if !peer.ip().is_loopback() && !token_ok {
        return fail(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a forced release needs a loopback peer or the admin token (Authorization: Bearer ...)",
        );
    }
    let params = match client_params(&body) {
        Ok(p) if !p.id.is_empty() => p,
        Ok(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "empty client ID",
            );
        }
        Err(e) => return fail(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
    };
    let group = if params.group.is_empty() {
        "default".to_string()
    } else {
        params.group
    };
    if let Err(refused) = app.check_group(&group) {
        return *refused;
    }
    let released = match app.existing(&group).await {
        Ok(Some(lock)) => lock.unlock(&params.id).await,
        // Nothing stored, nothing held: nothing to write.
        Ok(None) => Ok(Released::NotHeld),
        Err(e) => Err(e),
    };
    match released {
        Ok(released) => {
            eprintln!(
                "kindling lock serve: forced release of {:?} in group {group:?} by {peer}: {}",
                params.id,
                if released == Released::Unlocked {
                    "released"
                } else {
                    "was not a holder"
                }
            );
            let body = serde_json::json!({ "released": released == Released::Unlocked });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string() + "\n",
            )
                .into_response()
        }
        Err(e) => lock_failure(&e),
    }
}

async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    let counters = app.counters.lock().map(|c| c.clone()).unwrap_or_default();
    let get = |k: &str| counters.get(k).copied().unwrap_or(0);
    out.push_str("# HELP kindling_lock_requests_total FleetLock requests received, by API.\n");
    out.push_str("# TYPE kindling_lock_requests_total counter\n");
    for api in ["pre-reboot", "steady-state"] {
        out.push_str(&format!(
            "kindling_lock_requests_total{{api=\"{api}\"}} {}\n",
            get(api)
        ));
    }
    out.push_str(
        "# HELP kindling_lock_errors_total FleetLock requests refused, by API and HTTP status.\n",
    );
    out.push_str("# TYPE kindling_lock_errors_total counter\n");
    for (key, n) in &counters {
        if let Some(rest) = key.strip_prefix("error ")
            && let Some((api, code)) = rest.split_once(' ')
        {
            out.push_str(&format!(
                "kindling_lock_errors_total{{api=\"{api}\",code=\"{code}\"}} {n}\n"
            ));
        }
    }
    // Airlock's counters, for dashboards built on it.
    out.push_str("# TYPE airlock_v1_pre_reboot_incoming_requests_total counter\n");
    out.push_str(&format!(
        "airlock_v1_pre_reboot_incoming_requests_total {}\n",
        get("pre-reboot")
    ));
    out.push_str("# TYPE airlock_v1_steady_state_incoming_requests_total counter\n");
    out.push_str(&format!(
        "airlock_v1_steady_state_incoming_requests_total {}\n",
        get("steady-state")
    ));
    let locks: Vec<(String, Etcd3Lock)> = stored_groups(&app)
        .await
        .into_iter()
        .map(|g| {
            let lock = app.lock_for(&g);
            (g, lock)
        })
        .collect();
    let mut slots = String::new();
    let mut held = String::new();
    let mut ages = String::new();
    let now = jiff::Timestamp::now();
    for (group, lock) in locks {
        let Ok(status) = lock.status().await else {
            continue;
        };
        let g = escape_label(&group);
        slots.push_str(&format!(
            "kindling_lock_slots{{group=\"{g}\"}} {}\n",
            status.max
        ));
        slots.push_str(&format!(
            "airlock_database_semaphore_slots{{group=\"{g}\"}} {}\n",
            status.max
        ));
        held.push_str(&format!(
            "kindling_lock_holders{{group=\"{g}\"}} {}\n",
            status.holders.len()
        ));
        held.push_str(&format!(
            "airlock_database_semaphore_lock_holders{{group=\"{g}\"}} {}\n",
            status.holders.len()
        ));
        for h in &status.holders {
            if let Some(since) = h.since {
                let secs = now.duration_since(since).as_secs_f64().max(0.0);
                ages.push_str(&format!(
                    "kindling_lock_hold_age_seconds{{group=\"{g}\",id=\"{}\"}} {secs:.0}\n",
                    escape_label(&h.id)
                ));
            }
        }
    }
    out.push_str(
        "# HELP kindling_lock_slots Slots of each group's semaphore, as stored in etcd.\n",
    );
    out.push_str("# TYPE kindling_lock_slots gauge\n");
    out.push_str(&slots);
    out.push_str("# HELP kindling_lock_holders Holders of each group's semaphore.\n");
    out.push_str("# TYPE kindling_lock_holders gauge\n");
    out.push_str(&held);
    out.push_str("# HELP kindling_lock_hold_age_seconds How long each holder has held its slot.\n");
    out.push_str("# TYPE kindling_lock_hold_age_seconds gauge\n");
    out.push_str(&ages);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// The configured groups and the groups stored in etcd (at most [`MAX_METRIC_GROUPS`] of
/// those), read with one keys-only range request.
async fn stored_groups(app: &AppState) -> Vec<String> {
    let mut groups: std::collections::BTreeSet<String> =
        app.options.groups.keys().cloned().collect();
    let prefix = "com.coreos.airlock/groups/";
    let options = etcd_client::GetOptions::new()
        .with_prefix()
        .with_keys_only()
        .with_limit(MAX_METRIC_GROUPS);
    if let Ok(resp) = app.client.clone().get(prefix, Some(options)).await {
        for kv in resp.kvs() {
            let key = String::from_utf8_lossy(kv.key());
            if let Some(group) = key
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix("/v1/semaphore"))
            {
                groups.insert(super::query_unescape(group));
            }
        }
    }
    groups.into_iter().collect()
}

/// Stored groups listed in `/metrics` at most.
const MAX_METRIC_GROUPS: i64 = 1000;

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serve on `listener` until `shutdown` completes. Configured groups' slot counts are
/// written to etcd first.
///
/// # Errors
/// When etcd cannot be reached at start (for configured groups) or the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LockError> {
    let client = super::etcd3_client(&options.etcd).await?;
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let app = Arc::new(AppState {
        options: options.clone(),
        client,
        counters: Mutex::new(BTreeMap::new()),
        waiting: AtomicUsize::new(0),
        stopping,
    });
    for (group, slots) in &options.groups {
        let lock = app.lock_for(group);
        let slots_i = i64::try_from(*slots).unwrap_or(i64::MAX);
        let status = lock.status().await?;
        if status.max != slots_i {
            lock.set_max(slots_i).await?;
            eprintln!(
                "kindling lock serve: group {group:?}: slots {} -> {slots} (from the configuration)",
                status.max
            );
        }
    }
    let router = axum::Router::new()
        .route("/v1/pre-reboot", any(pre_reboot))
        .route("/v1/steady-state", any(steady_state))
        .route("/v1/holders", get(holders))
        .route("/v1/admin/release", post(release))
        .route("/metrics", get(metrics))
        .with_state(app);
    // After `shutdown`, requests in progress get a few seconds (a half-sent request is not
    // waited for past them).
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::http_serve::serve(
        listener,
        router,
        options.limits,
        async move {
            let _ = stop_rx.await;
        },
    ));
    shutdown.await;
    let _ = stopping_tx.send(true);
    let _ = stop_tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(Ok(Err(e))) => Err(LockError::Unavailable(format!(
            "the FleetLock server stopped: {e}"
        ))),
        _ => Ok(()),
    }
}

/// How long a stopping server waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
