//! The etcd v2 backend, byte-compatible with locksmith: key
//! `coreos.com/updateengine/rebootlock/semaphore` (a group's under
//! `.../groups/<QueryEscape(group)>/semaphore`), value
//! `{"semaphore":AVAILABLE,"max":N,"holders":[...]}` (`null` accepted), created with
//! `prevExist=false`, changed by compare-and-swap on `prevIndex`, waited on with
//! `wait=true&waitIndex=`. Plain HTTP through reqwest; TLS files and basic auth as locksmith.
//!
//! Differences from locksmith, all deliberate: lock and unlock are idempotent per holder; a
//! lost compare-and-swap is retried at once (it means someone else made progress) instead of
//! failing the command; each TLS file is optional on its own. kindling also keeps each
//! holder's `since` and `state` under `.../holders/<id>` beside the semaphore (locksmith
//! never reads it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use serde::{Deserialize, Serialize};

use super::LockConfig;
use super::api::{
    Acquired, Attempt, Holder, HolderRecord, LockError, LockFuture, RebootLock, Released, Status,
    insert_sorted, query_escape, query_unescape, until_settled, wait_for_slot,
};

const KEY_PREFIX: &str = "coreos.com/updateengine/rebootlock";

/// locksmith's value, field order and all (`holders` is `null` when never set).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Semaphore {
    semaphore: i64,
    max: i64,
    holders: Option<Vec<String>>,
}

/// A v2 keys API response (the parts used).
#[derive(Debug, Deserialize)]
struct Response {
    node: Option<Node>,
    #[serde(rename = "errorCode")]
    error_code: Option<u64>,
    message: Option<String>,
    cause: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Node {
    key: Option<String>,
    value: Option<String>,
    #[serde(rename = "modifiedIndex")]
    modified_index: u64,
    #[serde(default)]
    nodes: Vec<Node>,
}

/// The locksmith-compatible etcd v2 semaphore.
#[derive(Debug)]
pub struct Etcd2Lock {
    http: reqwest::Client,
    endpoints: Vec<String>,
    /// The endpoint that answered last.
    current: AtomicUsize,
    key: String,
    holders_dir: String,
    auth: Option<(String, String)>,
    group: String,
    /// The time limit of a request that is not a watch (a watch has its own deadline), so an
    /// etcd that accepts connections but never answers cannot hang the caller.
    request_timeout: Duration,
    /// The TLS files, named when a handshake fails.
    tls: super::config::TlsFiles,
}

/// The time limit of one request to one member that is not a watch (a frozen member
/// answers nothing; the request then goes to the next member).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The time limit of a first try at each member (a live member answers in milliseconds);
/// not for a compare-and-swap.
const FIRST_TRY: Duration = Duration::from_millis(500);

/// How long a request keeps going round the members (a leader election, a frozen member)
/// before its failure is the caller's.
const FAILOVER_BUDGET: Duration = Duration::from_secs(30);

/// How long a request keeps trying while every member refuses the connection (etcd down,
/// or a single member restarting): long enough for a restart, short enough that a caller
/// with retries of its own (`lock --hold` giving its slot back) says so.
const DOWN_BUDGET: Duration = Duration::from_secs(3);

/// The longest one watch is trusted without an event (a member cut off from its peers
/// keeps a watch open that never fires); the semaphore is then read again.
const WATCH_PERIOD: Duration = Duration::from_secs(15);

/// How often the member a watch is held on is asked whether it still answers, and how long
/// it has to answer (a frozen member is left within twice this).
const WATCH_PROBE: Duration = Duration::from_secs(1);

/// The time limit of one try at one member.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// A request that is answered at once.
    Answer(Duration),
    /// A watch: its deadline passing is its answer (nothing changed).
    Watch(Duration),
}

/// What a request came back with.
struct Answer {
    status: u16,
    body: Response,
}

impl Etcd2Lock {
    /// A client for `config` (nothing is contacted yet).
    ///
    /// # Errors
    /// When TLS files cannot be read or parsed.
    pub fn new(config: &LockConfig) -> Result<Etcd2Lock, LockError> {
        super::tls::check(&config.tls)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .user_agent(concat!("kindling/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = config.ca_pem()? {
            for cert in reqwest::Certificate::from_pem_bundle(&ca)
                .map_err(|e| LockError::Config(format!("the etcd CA file: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = config.identity_pem()? {
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                LockError::Config(format!("the etcd client certificate or key: {e}"))
            })?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| LockError::Config(format!("cannot set up HTTP: {e}")))?;
        let base = if config.group.is_empty() {
            KEY_PREFIX.to_string()
        } else {
            format!("{KEY_PREFIX}/groups/{}", query_escape(&config.group))
        };
        if config.endpoints.is_empty() {
            return Err(LockError::Config("no etcd endpoint given".into()));
        }
        Ok(Etcd2Lock {
            http,
            endpoints: config
                .endpoints
                .iter()
                .map(|e| e.trim_end_matches('/').to_string())
                .collect(),
            // Clients of one fleet start on different members (as etcd's own v2 client
            // pins a random endpoint).
            current: AtomicUsize::new(
                usize::try_from(std::process::id()).unwrap_or(0) % config.endpoints.len().max(1),
            ),
            key: format!("{base}/semaphore"),
            holders_dir: format!("{base}/holders"),
            auth: config.auth.clone(),
            group: config.group.clone(),
            request_timeout: config.timeout.min(REQUEST_TIMEOUT),
            tls: config.tls.clone(),
        })
    }

    /// One request, tried on each endpoint in turn from the one that answered last, round
    /// after round (a pause of 0.2 s doubling to 1 s between rounds) until one answers or
    /// [`FAILOVER_BUDGET`] passes; each member gets [`FIRST_TRY`] in the first round and
    /// the request timeout after (a compare-and-swap always the request timeout). A
    /// connection failure or a server error (5xx: no leader, a timed-out proposal) moves on
    /// to the next endpoint; a TLS failure is explained
    /// ([`super::tls::explain`]) and not tried again. Every write is a compare-and-swap or
    /// idempotent, so a request repeated after a lost answer is safe.
    async fn request(
        &self,
        method: reqwest::Method,
        key: &str,
        query: &[(&str, String)],
        form: Option<&[(&str, String)]>,
        timeout: Option<Duration>,
    ) -> Result<Answer, LockError> {
        let started = Instant::now();
        let deadline = started + FAILOVER_BUDGET;
        let mut pause = Duration::from_millis(200);
        // The first round gives each member FIRST_TRY (a live member answers in
        // milliseconds; a frozen one is passed quickly), later rounds the whole timeout. A
        // compare-and-swap always has the whole timeout: one cut short on a slow but live
        // member could commit after its answer was given up, and its retry would then fail
        // its compare on its own write. Reads, create-only writes (`prevExist=false`: a
        // repeat answers "exists") and plain puts and deletes are safe to repeat.
        let compare_and_swap = query.iter().any(|(k, _)| *k == "prevIndex");
        let mut per_member = if compare_and_swap {
            self.request_timeout
        } else {
            FIRST_TRY.min(self.request_timeout)
        };
        loop {
            let mut refused = 0;
            let answer = self
                .round(
                    method.clone(),
                    key,
                    query,
                    form,
                    timeout.map_or(Limit::Answer(per_member), Limit::Watch),
                    &mut refused,
                )
                .await;
            per_member = self.request_timeout;
            let all_refused = refused == self.endpoints.len();
            // Every member refusing the connection is an etcd that is down, not a failover:
            // the caller hears it after DOWN_BUDGET (its own retries, or its error) instead
            // of after the whole failover budget.
            let budget_left = if all_refused {
                started + DOWN_BUDGET
            } else {
                deadline
            };
            match answer {
                Err(LockError::Unavailable(_)) if Instant::now() + pause < budget_left => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                other => return other,
            }
        }
    }

    /// One round of [`Self::request`]: each endpoint once, counting in `refused` the
    /// endpoints that refused the connection.
    async fn round(
        &self,
        method: reqwest::Method,
        key: &str,
        query: &[(&str, String)],
        form: Option<&[(&str, String)]>,
        limit: Limit,
        refused: &mut usize,
    ) -> Result<Answer, LockError> {
        let (timeout, watch) = match limit {
            Limit::Answer(t) => (t, false),
            Limit::Watch(t) => (t, true),
        };
        let n = self.endpoints.len();
        let first = self.current.load(Ordering::Relaxed) % n;
        let mut tried = Vec::new();
        for k in 0..n {
            let at = (first + k) % n;
            let endpoint = &self.endpoints[at];
            let mut req = self
                .http
                .request(
                    method.clone(),
                    format!("{endpoint}/v2/keys/{}", path_escape(key)),
                )
                .query(query);
            if let Some(form) = form {
                req = req.form(form);
            }
            if let Some((user, password)) = &self.auth {
                req = req.basic_auth(user, Some(password));
            }
            req = req.timeout(timeout);
            match req.send().await {
                Ok(resp) if resp.status().is_server_error() && k + 1 < n => {
                    // This member cannot serve it now (no leader, a proposal timed out).
                    tried.push(format!("{endpoint}: HTTP {}", resp.status().as_u16()));
                }
                Ok(resp) => {
                    self.current.store(at, Ordering::Relaxed);
                    let status = resp.status().as_u16();
                    let bytes = resp.bytes().await.map_err(|e| {
                        LockError::Unavailable(format!("{endpoint}: reading the answer: {e}"))
                    })?;
                    if status == 401 {
                        return Err(LockError::Config(if self.auth.is_some() {
                            format!(
                                "{endpoint}: etcd refused the credentials (HTTP 401): check --etcd-username/--etcd-password"
                            )
                        } else {
                            format!(
                                "{endpoint}: etcd requires user authentication (HTTP 401): give --etcd-username and --etcd-password"
                            )
                        }));
                    }
                    let body: Response = serde_json::from_slice(&bytes).map_err(|e| {
                        LockError::Protocol(format!(
                            "{endpoint} answered HTTP {status} with something that is not etcd v2 JSON ({e}); is it etcd with --enable-v2=true?"
                        ))
                    })?;
                    return Ok(Answer { status, body });
                }
                Err(e) if e.is_timeout() && watch => {
                    // A watch that saw nothing before its deadline.
                    return Ok(Answer {
                        status: 408,
                        body: Response {
                            node: None,
                            error_code: None,
                            message: None,
                            cause: None,
                        },
                    });
                }
                Err(e) => {
                    let text = crate::causes::chain(&e);
                    if let Some(why) = super::tls::explain(&self.tls, endpoint, &text) {
                        return Err(LockError::Config(why));
                    }
                    if e.is_connect() {
                        *refused += 1;
                    }
                    tried.push(format!("{endpoint}: {text}"));
                }
            }
        }
        Err(LockError::Unavailable(super::api::with_quorum_hint(
            format!(
                "client: etcd cluster is unavailable or misconfigured (tried {})",
                tried.join("; ")
            ),
        )))
    }

    /// Create the semaphore if absent, as locksmith's `Init` (1 slot, `holders: null`).
    async fn init(&self) -> Result<(), LockError> {
        let value = serde_json::to_string(&Semaphore {
            semaphore: 1,
            max: 1,
            holders: None,
        })
        .map_err(|e| LockError::Protocol(e.to_string()))?;
        let answer = self
            .request(
                reqwest::Method::PUT,
                &self.key,
                &[("prevExist", "false".into())],
                Some(&[("value", value)]),
                None,
            )
            .await?;
        match (answer.status, answer.body.error_code) {
            (200 | 201, _) | (_, Some(105)) => Ok(()),
            _ => Err(etcd_error(&answer)),
        }
    }

    /// The semaphore and its modifiedIndex, read as locksmith does (`quorum=false`: a
    /// member cut off from its peers may answer a stale value; the compare-and-swap that
    /// follows every such read needs a quorum and fails on it).
    async fn get(&self) -> Result<(Semaphore, u64), LockError> {
        self.read(false).await
    }

    /// The semaphore and its modifiedIndex; with `quorum`, a linearizable read (through the
    /// leader: a member cut off from its peers cannot answer, the next member does).
    async fn read(&self, quorum: bool) -> Result<(Semaphore, u64), LockError> {
        let answer = self
            .request(
                reqwest::Method::GET,
                &self.key,
                &[
                    ("quorum", quorum.to_string()),
                    ("recursive", "false".into()),
                    ("sorted", "false".into()),
                ],
                None,
                None,
            )
            .await?;
        if answer.body.error_code == Some(100) {
            // Deleted behind our back (an operator): create it again, then read it.
            self.init().await?;
            return Box::pin(self.read(quorum)).await;
        }
        let node = answer
            .body
            .node
            .as_ref()
            .ok_or_else(|| etcd_error(&answer))?;
        let value = node.value.as_deref().unwrap_or("");
        let sem: Semaphore = serde_json::from_str(value).map_err(|e| {
            LockError::Protocol(format!(
                "the semaphore at /{} is not locksmith JSON ({e}): {value:?}",
                self.key
            ))
        })?;
        Ok((sem, node.modified_index))
    }

    /// Compare-and-swap; `Ok(false)` when someone changed it first.
    async fn cas(&self, sem: &Semaphore, index: u64) -> Result<bool, LockError> {
        let value = serde_json::to_string(sem).map_err(|e| LockError::Protocol(e.to_string()))?;
        let answer = self
            .request(
                reqwest::Method::PUT,
                &self.key,
                &[("prevIndex", index.to_string())],
                Some(&[("value", value)]),
                None,
            )
            .await?;
        match (answer.status, answer.body.error_code) {
            (200 | 201, _) => Ok(true),
            (_, Some(101)) => Ok(false),
            _ => Err(etcd_error(&answer)),
        }
    }

    /// Block until the semaphore changes after `index` or `until` passes.
    async fn wait_change(&self, index: u64, until: tokio::time::Instant) -> Result<(), LockError> {
        let until = until.min(Instant::now() + WATCH_PERIOD);
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        let query = [
            ("wait", "true".into()),
            ("waitIndex", (index + 1).to_string()),
        ];
        let watch = self.request(reqwest::Method::GET, &self.key, &query, None, Some(left));
        let answer = tokio::select! {
            answer = watch => answer,
            why = self.watched_member_stops() => Err(why),
        };
        match answer {
            // 408 (our deadline), a change, or errorCode 401 (the index fell out of etcd's
            // 1000-event history): in every case the caller reads the semaphore again.
            Ok(_) => Ok(()),
            // etcd sends the watch's headers at once, so our own deadline cuts the body: that
            // is the deadline, not an unreachable etcd; the caller sees it and stops.
            Err(_) if tokio::time::Instant::now() + Duration::from_millis(100) >= until => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Returns once the member a watch is held on (the one that answered last: etcd sends
    /// a watch's headers at once) stops answering: asked for its version every
    /// [`WATCH_PROBE`], an answer must come within [`WATCH_PROBE`]. A frozen member keeps
    /// the watch's connection open and silent; without this, a waiter would only notice at
    /// the end of [`WATCH_PERIOD`]. The next request starts at the member after it.
    async fn watched_member_stops(&self) -> LockError {
        loop {
            tokio::time::sleep(WATCH_PROBE).await;
            let at = self.current.load(Ordering::Relaxed) % self.endpoints.len();
            let endpoint = &self.endpoints[at];
            let probe = self
                .http
                .get(format!("{endpoint}/version"))
                .timeout(WATCH_PROBE)
                .send()
                .await;
            if let Err(e) = probe {
                // Move on only if no other request moved on already.
                let _ = self.current.compare_exchange(
                    at,
                    (at + 1) % self.endpoints.len(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                return LockError::Unavailable(format!(
                    "{endpoint} stopped answering while watched: {}",
                    crate::causes::chain(&e)
                ));
            }
        }
    }

    fn record_key(&self, id: &str) -> String {
        format!("{}/{}", self.holders_dir, query_escape(id))
    }

    async fn put_record(&self, id: &str, record: &HolderRecord) -> Result<(), LockError> {
        let value =
            serde_json::to_string(record).map_err(|e| LockError::Protocol(e.to_string()))?;
        let answer = self
            .request(
                reqwest::Method::PUT,
                &self.record_key(id),
                &[],
                Some(&[("value", value)]),
                None,
            )
            .await?;
        if answer.status >= 300 {
            return Err(etcd_error(&answer));
        }
        Ok(())
    }

    async fn delete_record(&self, id: &str) -> Result<(), LockError> {
        let answer = self
            .request(
                reqwest::Method::DELETE,
                &self.record_key(id),
                &[],
                None,
                None,
            )
            .await?;
        match (answer.status, answer.body.error_code) {
            (200..=299, _) | (_, Some(100)) => Ok(()),
            _ => Err(etcd_error(&answer)),
        }
    }

    async fn records(&self) -> Result<Vec<(String, HolderRecord)>, LockError> {
        let answer = self
            .request(
                reqwest::Method::GET,
                &self.holders_dir,
                &[("recursive", "true".into())],
                None,
                None,
            )
            .await?;
        if answer.body.error_code == Some(100) {
            return Ok(Vec::new());
        }
        let node = answer
            .body
            .node
            .ok_or_else(|| LockError::Protocol(format!("etcd listed no /{}", self.holders_dir)))?;
        Ok(node
            .nodes
            .into_iter()
            .filter_map(|n| {
                let key = n.key?;
                let id = key.rsplit('/').next()?.to_string();
                let record = serde_json::from_str(n.value.as_deref()?).ok()?;
                Some((query_unescape(&id), record))
            })
            .collect())
    }

    /// One attempt: `Full` carries the index to wait on.
    async fn try_lock(&self, id: &str) -> Result<Attempt<u64>, LockError> {
        self.init().await?;
        until_settled(move || async move {
            let (mut sem, index) = self.get().await?;
            let mut holders = sem.holders.take().unwrap_or_default();
            // Holder first: a holder that asks again holds its slot (locksmith#58).
            if holders.iter().any(|h| h == id) {
                return Ok(Some(Attempt::Taken(Acquired::AlreadyHeld)));
            }
            if sem.semaphore <= 0 {
                return Ok(Some(Attempt::Full(
                    LockError::Full {
                        max: sem.max,
                        available: sem.semaphore,
                    },
                    index,
                )));
            }
            insert_sorted(&mut holders, id);
            sem.holders = Some(holders);
            sem.semaphore -= 1;
            if self.cas(&sem, index).await? {
                let record = HolderRecord {
                    since: Some(jiff::Timestamp::now()),
                    state: Some("locked".into()),
                    leased: false,
                };
                // The slot is ours; the record is for operators only, so failing to write
                // it does not undo the lock.
                let _ = self.put_record(id, &record).await;
                return Ok(Some(Attempt::Taken(Acquired::Locked)));
            }
            Ok(None)
        })
        .await
    }
}

/// Go's URL path escaping, as etcd's Go client applies it to keys: a `%` in a key (from a
/// QueryEscape'd group name) travels as `%25`, so etcd stores it literally.
fn path_escape(key: &str) -> String {
    crate::encoding::percent_encode(key.as_bytes(), b"-._~!$&'()*+,;=:@/")
}

fn etcd_error(answer: &Answer) -> LockError {
    let b = &answer.body;
    LockError::Protocol(format!(
        "etcd answered HTTP {}: {}{}{}",
        answer.status,
        b.message.as_deref().unwrap_or("(no message)"),
        b.error_code
            .map(|c| format!(" (errorCode {c})"))
            .unwrap_or_default(),
        b.cause
            .as_deref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default(),
    ))
}

impl RebootLock for Etcd2Lock {
    fn describe(&self) -> String {
        format!(
            "etcd v2 semaphore /{} at {}",
            self.key,
            self.endpoints.join(",")
        )
    }

    fn lock<'a>(&'a self, id: &'a str) -> LockFuture<'a, Acquired> {
        Box::pin(async move { self.try_lock(id).await?.outcome() })
    }

    fn unlock<'a>(&'a self, id: &'a str) -> LockFuture<'a, Released> {
        Box::pin(async move {
            self.init().await?;
            until_settled(move || async move {
                let (mut sem, index) = self.get().await?;
                let mut holders = sem.holders.take().unwrap_or_default();
                let Some(at) = holders.iter().position(|h| h == id) else {
                    return Ok(Some(Released::NotHeld));
                };
                holders.remove(at);
                sem.holders = Some(holders);
                sem.semaphore += 1;
                if self.cas(&sem, index).await? {
                    let _ = self.delete_record(id).await;
                    return Ok(Some(Released::Unlocked));
                }
                Ok(None)
            })
            .await
        })
    }

    fn status(&self) -> LockFuture<'_, Status> {
        Box::pin(async move {
            self.init().await?;
            // Linearizable: the agent's re-check before a reboot reads this.
            let (sem, _) = self.read(true).await?;
            let records = self.records().await.unwrap_or_default();
            let holders = sem
                .holders
                .unwrap_or_default()
                .into_iter()
                .map(|id| {
                    let record = records.iter().find(|(r, _)| *r == id).map(|(_, r)| r);
                    Holder {
                        since: record.and_then(|r| r.since),
                        state: record.and_then(|r| r.state.clone()),
                        alive: None,
                        id,
                    }
                })
                .collect();
            Ok(Status {
                max: sem.max,
                available: sem.semaphore,
                holders,
            })
        })
    }

    fn set_max(&self, max: i64) -> LockFuture<'_, i64> {
        Box::pin(async move {
            self.init().await?;
            until_settled(move || async move {
                let (mut sem, index) = self.get().await?;
                let old = sem.max;
                // locksmith's arithmetic: the difference moves `semaphore` too.
                let diff = sem.max - max;
                sem.semaphore -= diff;
                sem.max -= diff;
                Ok(self.cas(&sem, index).await?.then_some(old))
            })
            .await
        })
    }

    fn wait_lock<'a>(&'a self, id: &'a str, deadline: Instant) -> LockFuture<'a, Acquired> {
        let wait = move |index, _| self.wait_change(index, deadline);
        Box::pin(wait_for_slot(deadline, || self.try_lock(id), wait))
    }

    fn set_state<'a>(&'a self, id: &'a str, state: &'a str) -> LockFuture<'a, ()> {
        Box::pin(async move {
            let mut record = self
                .records()
                .await?
                .into_iter()
                .find(|(r, _)| r == id)
                .map(|(_, r)| r)
                .unwrap_or_default();
            record.state = Some(state.to_string());
            self.put_record(id, &record).await
        })
    }
}

impl Etcd2Lock {
    /// The group this client works on (`""` is the default semaphore).
    #[must_use]
    pub fn group(&self) -> &str {
        &self.group
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locksmith_json() {
        let fresh = Semaphore {
            semaphore: 1,
            max: 1,
            holders: None,
        };
        assert_eq!(
            serde_json::to_string(&fresh).unwrap(),
            r#"{"semaphore":1,"max":1,"holders":null}"#
        );
        let held: Semaphore =
            serde_json::from_str(r#"{"semaphore":0,"max":1,"holders":["abcd"]}"#).unwrap();
        assert_eq!(held.holders.as_deref(), Some(&["abcd".to_string()][..]));
        let emptied = Semaphore {
            semaphore: 1,
            max: 1,
            holders: Some(Vec::new()),
        };
        assert_eq!(
            serde_json::to_string(&emptied).unwrap(),
            r#"{"semaphore":1,"max":1,"holders":[]}"#
        );
    }

    #[test]
    fn unescape_inverts_query_escape() {
        for id in ["abc", "lb servers", "a/b%c", "ü"] {
            assert_eq!(query_unescape(&query_escape(id)), id);
        }
    }
}
