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

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;

use super::{Etcd3Lock, LockConfig, LockError, RebootLock, Released};

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

struct AppState {
    options: ServeOptions,
    locks: tokio::sync::Mutex<BTreeMap<String, Arc<Etcd3Lock>>>,
    counters: Mutex<BTreeMap<String, u64>>,
}

/// The client's parameters, as Zincati sends them.
#[derive(Debug, Deserialize)]
struct Body {
    client_params: ClientParams,
}

#[derive(Debug, Deserialize)]
struct ClientParams {
    #[serde(default)]
    id: String,
    #[serde(default)]
    group: String,
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

    async fn lock_for(&self, group: &str) -> Result<Arc<Etcd3Lock>, LockError> {
        let mut locks = self.locks.lock().await;
        if let Some(lock) = locks.get(group) {
            return Ok(lock.clone());
        }
        let mut config = self.options.etcd.clone();
        config.group = group.to_string();
        config.lease_ttl = None;
        let slots = self
            .options
            .groups
            .get(group)
            .copied()
            .unwrap_or(self.options.default_slots);
        let lock = Arc::new(Etcd3Lock::connect(&config).await?.with_initial_slots(slots));
        locks.insert(group.to_string(), lock.clone());
        Ok(lock)
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
        let body: Body =
            serde_json::from_slice(body).map_err(|e| Box::new(identity(&e.to_string())))?;
        let params = body.client_params;
        if params.group.is_empty() {
            return Err(Box::new(identity("empty client group")));
        }
        if params.id.is_empty() {
            return Err(Box::new(identity("empty client ID")));
        }
        let known = self.options.groups.contains_key(&params.group);
        let well_formed = params
            .group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !known && (self.options.only_configured || !well_formed) {
            return Err(Box::new(fail(
                StatusCode::BAD_REQUEST,
                "unknown_group",
                &format!("unknown group {:?}", params.group),
            )));
        }
        Ok(params)
    }
}

fn lock_failure(e: &LockError) -> Response {
    match e {
        LockError::Full { max, .. } => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed_lock",
            &format!("all {max} semaphore slots currently locked"),
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

async fn pre_reboot(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    client_call(&app, "pre-reboot", &headers, &body).await
}

async fn steady_state(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    client_call(&app, "steady-state", &headers, &body).await
}

/// A client's call, counted: `pre-reboot` takes its slot, `steady-state` gives it back.
async fn client_call(app: &AppState, api: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    app.count(api.into());
    let response = match app.client(headers, body) {
        Err(r) => *r,
        Ok(params) => match app.lock_for(&params.group).await {
            Err(e) => lock_failure(&e),
            Ok(lock) => {
                let done = if api == "pre-reboot" {
                    lock.lock(&params.id).await.map(|_| ())
                } else {
                    lock.unlock(&params.id).await.map(|_| ())
                };
                match done {
                    Ok(()) => StatusCode::OK.into_response(),
                    Err(e) => lock_failure(&e),
                }
            }
        },
    };
    count_error(app, api, &response);
    response
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
    let lock = match app.lock_for(&group).await {
        Ok(lock) => lock,
        Err(e) => return lock_failure(&e),
    };
    match lock.status().await {
        Ok(status) => {
            let body = serde_json::json!({
                "group": group,
                "max": status.max,
                "available": status.available,
                "holders": status.holders,
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
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    let params = match serde_json::from_slice::<Body>(&body) {
        Ok(b) if !b.client_params.id.is_empty() => b.client_params,
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
    let lock = match app.lock_for(&group).await {
        Ok(lock) => lock,
        Err(e) => return lock_failure(&e),
    };
    match lock.unlock(&params.id).await {
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
    let locks: Vec<(String, Arc<Etcd3Lock>)> = app
        .locks
        .lock()
        .await
        .iter()
        .map(|(g, l)| (g.clone(), l.clone()))
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
    let app = Arc::new(AppState {
        options: options.clone(),
        locks: tokio::sync::Mutex::new(BTreeMap::new()),
        counters: Mutex::new(BTreeMap::new()),
    });
    for (group, slots) in &options.groups {
        let lock = app.lock_for(group).await?;
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
    crate::http_serve::serve(listener, router, options.limits, shutdown)
        .await
        .map_err(|e| LockError::Unavailable(format!("the FleetLock server stopped: {e}")))
}
