//! The etcd v3 backend: Airlock's semaphore (key
//! `com.coreos.airlock/groups/<QueryEscape(group)>/v1/semaphore`, value
//! `{"total_slots":N,"holders":[...]}`, compare-and-swap on the key's version), so kindling
//! and Airlock can serve one fleet, plus holders' liveness on leases.
//!
//! Beside the semaphore (never inside it: Airlock rewrites it without unknown fields),
//! kindling keeps, per group, `kindling/rebootlock/groups/<g>/holders/<id>` (since, state,
//! whether the holder keeps a lease; no lease of its own) and, for holders that keep a lease,
//! `kindling/rebootlock/groups/<g>/live/<id>` attached to that lease. Both are written in the
//! same transaction as the semaphore. A holder whose record says it keeps a lease and whose
//! live key is gone (the lease expired: the process died and did not come back) is removed
//! by one transaction that compares the semaphore's version, the live key's absence and the
//! record's revision: of all contenders that see it, exactly one wins, and removing a
//! holder frees exactly one slot, so an expiry never lets more than one node through
//! (the lesson of kured's TTL: user-issues-agent.md A.2). Holds without a lease (Airlock's,
//! `kindling lock lock`'s) never expire. A holder that comes back (the agent after the
//! reboot it held its slot across) re-attaches at once with `reattach`, which renews a hold
//! but never takes a slot; `lock` re-attaches too.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
};
use serde::{Deserialize, Serialize};

use super::LockConfig;
use super::api::{
    Acquired, Attempt, Holder, HolderRecord, LockError, LockFuture, RebootLock, Released, Status,
    insert_sorted, query_escape, query_unescape, until_settled, wait_for_slot,
};
use super::config::TlsFiles;

/// The lease TTL the agent should use: long enough to cover a reboot and the next boot's
/// health check, after which a holder that has not come back may be replaced.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(900);

/// Airlock's value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Semaphore {
    total_slots: u64,
    #[serde(default, deserialize_with = "null_is_empty")]
    holders: Vec<String>,
}

fn null_is_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// The semaphore key of `group` (Airlock's layout).
#[must_use]
pub fn semaphore_key(group: &str) -> String {
    format!(
        "com.coreos.airlock/groups/{}/v1/semaphore",
        query_escape(group)
    )
}

/// The prefix of kindling's per-holder records and liveness keys beside the semaphore
/// (watched with the semaphore key by whoever shows the holders live).
#[must_use]
pub fn kindling_prefix(group: &str) -> String {
    format!("kindling/rebootlock/groups/{}/", query_escape(group))
}

/// One read of the semaphore.
struct Snapshot {
    sem: Semaphore,
    version: i64,
    /// The store's revision at the read (watches start after it).
    revision: i64,
}

/// A running lease and its keep-alive task.
#[derive(Debug)]
struct Lease {
    id: i64,
    task: tokio::task::JoinHandle<()>,
}

/// The etcd v3 semaphore.
pub struct Etcd3Lock {
    client: Client,
    group: String,
    key: String,
    prefix: String,
    endpoints: String,
    tls: TlsFiles,
    lease_ttl: Option<Duration>,
    lease: tokio::sync::Mutex<Option<Lease>>,
    /// Slots a new semaphore starts with.
    initial_slots: u64,
}

impl std::fmt::Debug for Etcd3Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Etcd3Lock")
            .field("key", &self.key)
            .field("endpoints", &self.endpoints)
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

impl Drop for Etcd3Lock {
    fn drop(&mut self) {
        // The lease then expires after its TTL, as it would if the process died.
        if let Ok(mut lease) = self.lease.try_lock()
            && let Some(lease) = lease.take()
        {
            lease.task.abort();
        }
    }
}

/// etcd's error in words: a gRPC status as its code's meaning and message, then each cause
/// in the chain by its `Display` (etcd-client's own `Display` shows a gRPC status's source
/// as a Rust debug dump).
#[must_use]
pub fn describe(e: &etcd_client::Error) -> String {
    let mut text = match e {
        etcd_client::Error::GRpcStatus(status) => {
            let code = status.code().description();
            let message = status.message();
            if message.is_empty() || code.contains(message) {
                code.to_string()
            } else {
                format!("{code}: {message}")
            }
        }
        other => other.to_string(),
    };
    let mut cause = std::error::Error::source(e);
    if let etcd_client::Error::GRpcStatus(status) = e {
        cause = std::error::Error::source(status);
    }
    // Bounded: a cause chain is short, but a cycle must not hang the message.
    for _ in 0..8 {
        let Some(c) = cause else { break };
        let words = c.to_string();
        if !words.is_empty() && !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        cause = c.source();
    }
    text
}

/// Whether etcd could not be reached at all (connection refused, no route, timed out), as
/// against a request etcd answered with an error.
#[must_use]
pub fn is_unreachable(e: &etcd_client::Error) -> bool {
    match e {
        // gRPC's UNAVAILABLE (14) and DEADLINE_EXCEEDED (4); etcd-client does not re-export
        // tonic's `Code`, and its numbers are fixed by the gRPC specification.
        etcd_client::Error::GRpcStatus(status) => matches!(i32::from(status.code()), 4 | 14),
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        _ => false,
    }
}

/// How long an operation keeps trying other members (and waits out an election) before
/// its failure is the caller's: a leader killed under a request costs an election (about a
/// second), a frozen member a request timeout.
pub const FAILOVER_BUDGET: Duration = Duration::from_secs(30);

/// The time limit of one request to one member (a frozen member answers nothing; a
/// request that times out is tried again, on whichever member the balancer picks).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The first try of a lock's read is given this long (then twice that, up to
/// [`REQUEST_TIMEOUT`]): a read on a live member takes milliseconds.
const FIRST_TRY: Duration = Duration::from_millis(500);

/// How often a watch's member is asked for the watch's progress; it must answer before the
/// next ask, so a frozen member is left within twice this.
const WATCH_PROBE: Duration = Duration::from_secs(1);

/// The longest a watch is trusted without an event before the semaphore is read again (a
/// member cut off from its peers may keep a watch open that never fires).
const WATCH_PERIOD: Duration = Duration::from_secs(15);

/// Whether `e` may pass on another member or after an election: a connection that failed
/// or broke, a member without a leader, a leader that changed, a request that timed out. A
/// TLS failure is not (another try fails the same way).
fn transient(e: &etcd_client::Error) -> bool {
    let text = describe(e).to_ascii_lowercase();
    if ["certificate", "alert", "handshake"]
        .iter()
        .any(|t| text.contains(t))
    {
        return false;
    }
    match e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(status) => {
            // Cancelled, Unknown, DeadlineExceeded, ResourceExhausted, Aborted, Unavailable.
            matches!(i32::from(status.code()), 1 | 2 | 4 | 8 | 10 | 14)
        }
        etcd_client::Error::LeaseKeepAliveError(text) | etcd_client::Error::WatchError(text) => {
            !text.contains("lease not found")
        }
        _ => false,
    }
}

/// Run `op` on `client` until it succeeds, fails for good, or [`FAILOVER_BUDGET`] passes
/// ([`DOWN_BUDGET`] while every try had its connection refused: etcd is down, not failing
/// over): a transient failure ([`transient`]) is tried again after a pause (0.1 s doubling
/// to 1 s), and the client's channel sends the next try to the next member
/// ([`super::etcd3_route`]). Every kindling operation on etcd v3 is a compare-and-swap or
/// an idempotent write, so a try whose answer was lost (the member died after committing)
/// is safe to repeat: the compare fails and the caller reads the outcome.
///
/// # Errors
/// The last failure.
pub async fn failover<T, F, Fut>(client: &Client, mut op: F) -> Result<T, etcd_client::Error>
where
    F: FnMut(Client) -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    let mut only_refused = true;
    loop {
        match op(client.clone()).await {
            Err(e) if transient(&e) => {
                only_refused &= refused(&e);
                let budget = if only_refused {
                    DOWN_BUDGET
                } else {
                    FAILOVER_BUDGET
                };
                if Instant::now() + pause >= started + budget {
                    return Err(e);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// How long an operation keeps trying while every try has its connection refused (etcd
/// down, or a single member restarting): long enough for a restart, short enough that a
/// caller with retries of its own says so.
pub const DOWN_BUDGET: Duration = Duration::from_secs(3);

/// Whether the connection was refused (nothing listens there).
fn refused(e: &etcd_client::Error) -> bool {
    let text = describe(e);
    text.contains("Connection refused") || text.contains("os error 111")
}

/// A failed call as the lock's error: refused credentials and TLS failures are
/// configuration errors named as such, the rest is an unreachable etcd.
fn unavailable(e: &etcd_client::Error, tls: &TlsFiles, endpoints: &str) -> LockError {
    let text = describe(e);
    // etcd's own words for a refused login (the gRPC code is not re-exported).
    if text.contains("authentication failed") || text.contains("permission denied") {
        LockError::Config(format!("etcd refused the credentials: {text}"))
    } else if let Some(why) = super::tls::explain(tls, endpoints, &text) {
        LockError::Config(why)
    } else {
        LockError::Unavailable(super::api::with_quorum_hint(format!(
            "etcd v3 at {endpoints}: {text}"
        )))
    }
}

/// An etcd v3 client for `config`'s endpoints, TLS files and credentials (the lock's and
/// the fleet's one way to reach etcd). Every endpoint is in its channel
/// ([`super::etcd3_route`]: requests go to the member that answered last); each request has
/// [`REQUEST_TIMEOUT`], HTTP/2 keep-alive pings find a member that stopped answering, and
/// every request asks for a member with a leader (etcd then ends a watch on a member that
/// lost its leader instead of keeping it silent). The TLS files are checked first
/// (`tls::check`).
///
/// # Errors
/// When the TLS files cannot be read or are unusable, or etcd refuses the login.
pub async fn client(config: &LockConfig) -> Result<Client, LockError> {
    super::tls::check(&config.tls)?;
    let mut options = ConnectOptions::new()
        .with_connect_timeout(config.timeout.min(Duration::from_secs(3)))
        .with_timeout(config.timeout.min(REQUEST_TIMEOUT))
        // etcd's default --grpc-keepalive-min-time is 5 s: pings more often are refused.
        .with_keep_alive(Duration::from_secs(6), Duration::from_secs(3))
        .with_keep_alive_while_idle(false)
        .with_require_leader(true);
    if let Some((user, password)) = &config.auth {
        options = options.with_user(user.clone(), password.clone());
    }
    let ca = config.ca_pem()?;
    let identity = match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => {
            let read = |p: &std::path::Path| {
                std::fs::read(p)
                    .map_err(|e| LockError::Config(format!("cannot read {}: {e}", p.display())))
            };
            Some(etcd_client::Identity::from_pem(read(cert)?, read(key)?))
        }
        (None, None) => None,
        _ => {
            return Err(LockError::Config(
                "a client certificate needs both --etcd-certfile and --etcd-keyfile".into(),
            ));
        }
    };
    if ca.is_some() || identity.is_some() {
        let mut tls = etcd_client::TlsOptions::new();
        if let Some(ca) = ca {
            tls = tls.ca_certificate(etcd_client::Certificate::from_pem(ca));
        }
        if let Some(identity) = identity {
            tls = tls.identity(identity);
        }
        options = options.with_tls(tls);
    }
    if config.endpoints.is_empty() {
        return Err(LockError::Config("no etcd endpoint given".into()));
    }
    let endpoints = config.endpoints.join(",");
    Client::connect_with_balanced_channel(
        &config.endpoints,
        Some(options),
        super::etcd3_route::Builder,
    )
    .await
    .map_err(|e| unavailable(&e, &config.tls, &endpoints))
}

impl Etcd3Lock {
    /// Connect to etcd for `config` (its group `""` is `default`, as in Airlock).
    ///
    /// # Errors
    /// When the TLS files cannot be read, or etcd cannot be reached or refuses the login.
    pub async fn connect(config: &LockConfig) -> Result<Etcd3Lock, LockError> {
        Ok(Etcd3Lock::with_client(client(config).await?, config))
    }

    /// The semaphore of `config`'s group through a client already connected (the FleetLock
    /// server shares one client across every group).
    #[must_use]
    pub fn with_client(client: Client, config: &LockConfig) -> Etcd3Lock {
        let group = config.named_group().to_string();
        Etcd3Lock {
            client,
            key: semaphore_key(&group),
            prefix: kindling_prefix(&group),
            group,
            endpoints: config.endpoints.join(","),
            tls: config.tls.clone(),
            lease_ttl: config.lease_ttl,
            lease: tokio::sync::Mutex::new(None),
            initial_slots: 1,
        }
    }

    /// Whether the group's semaphore is stored (a read: it is never created here).
    ///
    /// # Errors
    /// When etcd cannot be reached.
    pub async fn exists(&self) -> Result<bool, LockError> {
        let key = self.key.clone();
        let resp = self
            .read(|mut c| {
                let key = key.clone();
                async move { c.get(key, Some(GetOptions::new().with_count_only())).await }
            })
            .await?;
        Ok(resp.count() > 0)
    }

    /// Delete the semaphore when nobody holds a slot and it has `slots` slots (what it
    /// would be created with again): a group that was made on first use leaves nothing
    /// behind once its last holder is gone. Whether it was deleted.
    ///
    /// # Errors
    /// When etcd cannot be reached.
    pub async fn remove_if_idle(&self, slots: u64) -> Result<bool, LockError> {
        let idle = json(&Semaphore {
            total_slots: slots,
            holders: Vec::new(),
        })?;
        let txn = Txn::new()
            .when(vec![Compare::value(
                self.key.clone(),
                CompareOp::Equal,
                idle,
            )])
            .and_then(vec![TxnOp::delete(self.key.clone(), None)]);
        self.commit(txn).await
    }

    /// Slots a semaphore created by this client starts with (default 1, as Airlock's).
    #[must_use]
    pub fn with_initial_slots(mut self, slots: u64) -> Etcd3Lock {
        self.initial_slots = slots;
        self
    }

    /// The group (`default` for locksmith's `""`).
    #[must_use]
    pub fn group(&self) -> &str {
        &self.group
    }

    /// `op` with failover ([`failover`]), its failure as the lock's error (a write: each
    /// try has the whole [`REQUEST_TIMEOUT`], so a slow but live member is not asked twice).
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, LockError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        failover(&self.client, op).await.map_err(|e| self.fail(&e))
    }

    /// A read (or a watch's start) with failover, its first try cut short after
    /// [`FIRST_TRY`], then twice that, up to [`REQUEST_TIMEOUT`]: a frozen member is left
    /// after half a second, and the route ([`super::etcd3_route`]) sends the writes that
    /// follow to the member that answered. A read asked twice is harmless; a write is not
    /// cut short (its answer would be lost, not its effect).
    async fn read<T, F, Fut>(&self, mut op: F) -> Result<T, LockError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let mut limit = FIRST_TRY;
        failover(&self.client, move |c| {
            let this_try = limit;
            limit = (limit * 2).min(REQUEST_TIMEOUT);
            let attempt = op(c);
            async move {
                tokio::time::timeout(this_try, attempt)
                    .await
                    .unwrap_or_else(|_| {
                        Err(etcd_client::Error::IoError(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no answer within {} ms", this_try.as_millis()),
                        )))
                    })
            }
        })
        .await
        .map_err(|e| self.fail(&e))
    }

    fn fail(&self, e: &etcd_client::Error) -> LockError {
        unavailable(e, &self.tls, &self.endpoints)
    }

    fn record_key(&self, id: &str) -> String {
        format!("{}holders/{}", self.prefix, query_escape(id))
    }

    fn live_key(&self, id: &str) -> String {
        format!("{}live/{}", self.prefix, query_escape(id))
    }

    /// Create the semaphore if absent (Airlock's `ensureInit`).
    async fn init(&self) -> Result<(), LockError> {
        let value = json(&Semaphore {
            total_slots: self.initial_slots,
            holders: Vec::new(),
        })?;
        let txn = self.if_unchanged(0, vec![TxnOp::put(self.key.clone(), value, None)]);
        self.call(|mut c| {
            let txn = txn.clone();
            async move { c.txn(txn).await }
        })
        .await?;
        Ok(())
    }

    async fn get(&self) -> Result<Snapshot, LockError> {
        let resp = self
            .read(|mut c| {
                let key = self.key.clone();
                async move { c.get(key, None).await }
            })
            .await?;
        let revision = resp
            .header()
            .map_or(0, etcd_client::ResponseHeader::revision);
        let Some(kv) = resp.kvs().first() else {
            self.init().await?;
            return Box::pin(self.get()).await;
        };
        let sem: Semaphore = serde_json::from_slice(kv.value()).map_err(|e| {
            LockError::Protocol(format!(
                "the semaphore at {} is not Airlock JSON ({e}): {:?}",
                self.key,
                String::from_utf8_lossy(kv.value())
            ))
        })?;
        Ok(Snapshot {
            sem,
            version: kv.version(),
            revision,
        })
    }

    /// Records and live keys: `(id, record, record's mod revision)` and the live ids.
    async fn side(
        &self,
    ) -> Result<(Vec<(String, HolderRecord, i64)>, BTreeSet<String>), LockError> {
        let resp = self
            .read(|mut c| {
                let prefix = self.prefix.clone();
                async move { c.get(prefix, Some(GetOptions::new().with_prefix())).await }
            })
            .await?;
        let mut records = Vec::new();
        let mut live = BTreeSet::new();
        let holders_at = format!("{}holders/", self.prefix);
        let live_at = format!("{}live/", self.prefix);
        for kv in resp.kvs() {
            let key = String::from_utf8_lossy(kv.key());
            if let Some(id) = key.strip_prefix(&holders_at) {
                let record = serde_json::from_slice(kv.value()).unwrap_or_default();
                records.push((query_unescape(id), record, kv.mod_revision()));
            } else if let Some(id) = key.strip_prefix(&live_at) {
                live.insert(query_unescape(id));
            }
        }
        Ok((records, live))
    }

    /// The lease holds are attached to, granted and kept alive on first use.
    async fn lease(&self) -> Result<Option<i64>, LockError> {
        let Some(ttl) = self.lease_ttl else {
            return Ok(None);
        };
        let mut guard = self.lease.lock().await;
        if let Some(lease) = guard.as_ref()
            && !lease.task.is_finished()
        {
            return Ok(Some(lease.id));
        }
        let secs = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let granted = self
            .call(|mut c| async move { c.lease_grant(secs, None).await })
            .await?;
        let id = granted.id();
        let Some(lease) = self.keep_alive(id, ttl).await? else {
            return Err(LockError::Unavailable(format!(
                "etcd v3: the lease {id:x} granted a moment ago is gone"
            )));
        };
        *guard = Some(lease);
        Ok(Some(id))
    }

    /// Keep lease `id` alive from now on (every third of `ttl`); `None` when etcd says it is
    /// gone (expired), which its first renewal answers.
    async fn keep_alive(&self, id: i64, ttl: Duration) -> Result<Option<Lease>, LockError> {
        // `lease_keep_alive` sends the first renewal and reads its answer: an error of its
        // own kind when etcd says the lease is gone.
        let (keeper, stream) =
            match failover(
                &self.client,
                |mut c| async move { c.lease_keep_alive(id).await },
            )
            .await
            {
                Ok(pair) => pair,
                Err(etcd_client::Error::LeaseKeepAliveError(t))
                    if t.contains("lease not found") =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(self.fail(&e)),
            };
        let client = self.client.clone();
        let every = (ttl / 3).max(Duration::from_millis(300));
        let task = tokio::spawn(async move {
            let (mut keeper, mut stream) = (keeper, stream);
            loop {
                tokio::time::sleep(every).await;
                let answer = async {
                    keeper.keep_alive().await?;
                    stream.message().await
                };
                match tokio::time::timeout(every, answer).await {
                    Ok(Ok(Some(resp))) if resp.ttl() > 0 => {}
                    // The lease is gone (expired while etcd was out of reach): the next
                    // lock call grants a new one and re-attaches.
                    Ok(Ok(Some(_))) => break,
                    // The member went away or stopped answering: renew through another
                    // one from the next period on, until etcd says the lease is gone.
                    _ => match client.clone().lease_keep_alive(id).await {
                        Ok((k, s)) => (keeper, stream) = (k, s),
                        Err(etcd_client::Error::LeaseKeepAliveError(t))
                            if t.contains("lease not found") =>
                        {
                            break;
                        }
                        Err(_) => {}
                    },
                }
            }
        });
        Ok(Some(Lease { id, task }))
    }

    /// The lease `id`'s live key is on, when it has one.
    async fn live_lease(&self, id: &str) -> Result<Option<i64>, LockError> {
        let resp = self
            .call(|mut c| {
                let key = self.live_key(id);
                async move { c.get(key, None).await }
            })
            .await?;
        Ok(resp
            .kvs()
            .first()
            .map(etcd_client::KeyValue::lease)
            .filter(|l| *l != 0))
    }

    /// Take over the lease `id`'s live key is still on (the previous boot's agent's), so a
    /// hold kept within its lease is renewed without a write. `false`: no such lease (any
    /// more).
    async fn adopt(&self, id: &str) -> Result<bool, LockError> {
        let Some(ttl) = self.lease_ttl else {
            return Ok(false);
        };
        let Some(old) = self.live_lease(id).await? else {
            return Ok(false);
        };
        let mut guard = self.lease.lock().await;
        if guard.as_ref().is_some_and(|l| !l.task.is_finished()) {
            // This object already keeps a lease: attach to that one instead.
            return Ok(false);
        }
        match self.keep_alive(old, ttl).await? {
            Some(lease) => {
                *guard = Some(lease);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn commit(&self, txn: Txn) -> Result<bool, LockError> {
        Ok(self
            .call(|mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await?
            .succeeded())
    }

    /// Remove one holder whose lease expired, if any; `Ok(true)` when this call did.
    async fn reclaim(&self, snap: &Snapshot) -> Result<bool, LockError> {
        let (records, live) = self.side().await?;
        for (id, record, rev) in &records {
            if !record.leased || live.contains(id) || !snap.sem.holders.contains(id) {
                continue;
            }
            let mut sem = snap.sem.clone();
            sem.holders.retain(|h| h != id);
            let txn = Txn::new()
                .when(vec![
                    Compare::version(self.key.clone(), CompareOp::Equal, snap.version),
                    Compare::version(self.live_key(id), CompareOp::Equal, 0),
                    Compare::mod_revision(self.record_key(id), CompareOp::Equal, *rev),
                ])
                .and_then(vec![
                    TxnOp::put(self.key.clone(), json(&sem)?, None),
                    TxnOp::delete(self.record_key(id), None),
                ]);
            // One contender wins; the others see the version moved and read again.
            return self.commit(txn).await;
        }
        Ok(false)
    }

    /// Attach holder `id` (in `snap`'s holders) to `lease`: its record says it keeps a
    /// lease (its since and state kept, `fresh` when it has none) and its live key is on the
    /// lease, in one transaction on the semaphore's version. `Ok(false)`: the semaphore
    /// changed meanwhile; read it again.
    async fn attach(
        &self,
        id: &str,
        snap: &Snapshot,
        lease: i64,
        fresh: HolderRecord,
    ) -> Result<bool, LockError> {
        let (records, _) = self.side().await?;
        let mut kept = records
            .into_iter()
            .find(|(r, _, _)| r == id)
            .map_or(fresh, |(_, r, _)| r);
        kept.leased = true;
        let txn = self.if_unchanged(
            snap.version,
            vec![
                TxnOp::put(self.record_key(id), json(&kept)?, None),
                TxnOp::put(
                    self.live_key(id),
                    "",
                    Some(PutOptions::new().with_lease(lease)),
                ),
            ],
        );
        self.commit(txn).await
    }

    /// A transaction of `ops` that applies only while the semaphore key is at `version`
    /// (0: while it does not exist).
    fn if_unchanged(&self, version: i64, ops: Vec<TxnOp>) -> Txn {
        Txn::new()
            .when(vec![Compare::version(
                self.key.clone(),
                CompareOp::Equal,
                version,
            )])
            .and_then(ops)
    }

    /// One attempt: `Full` carries the revision to watch from.
    async fn try_lock(&self, id: &str) -> Result<Attempt<i64>, LockError> {
        let lease = self.lease().await?;
        until_settled(move || async move {
            let snap = self.get().await?;
            let record = HolderRecord {
                since: Some(jiff::Timestamp::now()),
                state: Some("locked".into()),
                leased: lease.is_some(),
            };
            if snap.sem.holders.iter().any(|h| h == id) {
                // Re-attach a holder that came back (after a reboot) to this lease.
                if let Some(lease) = lease
                    && !self.attach(id, &snap, lease, record).await?
                {
                    return Ok(None);
                }
                return Ok(Some(Attempt::Taken(Acquired::AlreadyHeld)));
            }
            let total = i64::try_from(snap.sem.total_slots).unwrap_or(i64::MAX);
            let held = i64::try_from(snap.sem.holders.len()).unwrap_or(i64::MAX);
            if held >= total {
                if self.reclaim(&snap).await? {
                    return Ok(None);
                }
                return Ok(Some(Attempt::Full(
                    LockError::Full {
                        max: total,
                        available: total - held,
                    },
                    snap.revision,
                )));
            }
            let mut sem = snap.sem.clone();
            insert_sorted(&mut sem.holders, id);
            let mut ops = vec![
                TxnOp::put(self.key.clone(), json(&sem)?, None),
                TxnOp::put(self.record_key(id), json(&record)?, None),
            ];
            match lease {
                Some(lease) => ops.push(TxnOp::put(
                    self.live_key(id),
                    "",
                    Some(PutOptions::new().with_lease(lease)),
                )),
                None => ops.push(TxnOp::delete(self.live_key(id), None)),
            }
            let txn = self.if_unchanged(snap.version, ops);
            if self.commit(txn).await? {
                return Ok(Some(Attempt::Taken(Acquired::Locked)));
            }
            Ok(None)
        })
        .await
    }

    /// Block until the semaphore or a live key changes after `revision`, or `until`, or
    /// [`WATCH_PERIOD`] passes (the caller then reads the semaphore again: a watch on a
    /// member that was cut off may never fire).
    async fn wait_change(
        &self,
        revision: i64,
        until: tokio::time::Instant,
    ) -> Result<(), LockError> {
        let until = until.min(Instant::now() + WATCH_PERIOD);
        let mut stream = self
            .read(|mut c| {
                let key = self.key.clone();
                async move {
                    c.watch(
                        key,
                        Some(WatchOptions::new().with_start_revision(revision + 1)),
                    )
                    .await
                }
            })
            .await?;
        stream
            .watch(
                format!("{}live/", self.prefix),
                Some(
                    WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(revision + 1),
                ),
            )
            .await
            .map_err(|e| self.fail(&e))?;
        // The member holding the watch is asked for the watch's progress every
        // WATCH_PROBE and must answer before the next: a frozen member keeps the stream
        // open and silent, and its HTTP/2 keep-alive would only give it up after 9 s.
        let (mut ask, mut answers) = stream.split();
        let mut probe = tokio::time::interval_at(Instant::now() + WATCH_PROBE, WATCH_PROBE);
        let mut unanswered = false;
        loop {
            tokio::select! {
                answer = tokio::time::timeout_at(until, answers.message()) => match answer {
                    Err(_) => return Ok(()),
                    Ok(Err(e)) => return Err(self.fail(&e)),
                    Ok(Ok(None)) => return Ok(()),
                    Ok(Ok(Some(resp))) => {
                        if !resp.events().is_empty() || resp.canceled() {
                            return Ok(());
                        }
                        unanswered = false;
                    }
                },
                _ = probe.tick() => {
                    if unanswered {
                        return Err(LockError::Unavailable(format!(
                            "etcd v3 at {}: the member holding the watch stopped answering",
                            self.endpoints
                        )));
                    }
                    ask.request_progress().await.map_err(|e| self.fail(&e))?;
                    unanswered = true;
                }
            }
        }
    }
}

fn json<T: Serialize>(value: &T) -> Result<String, LockError> {
    serde_json::to_string(value).map_err(|e| LockError::Protocol(e.to_string()))
}

impl RebootLock for Etcd3Lock {
    fn describe(&self) -> String {
        format!("etcd v3 semaphore {} at {}", self.key, self.endpoints)
    }

    fn lock<'a>(&'a self, id: &'a str) -> LockFuture<'a, Acquired> {
        Box::pin(async move { self.try_lock(id).await?.outcome() })
    }

    fn unlock<'a>(&'a self, id: &'a str) -> LockFuture<'a, Released> {
        Box::pin(async move {
            until_settled(move || async move {
                let snap = self.get().await?;
                let cleanup = [
                    TxnOp::delete(self.record_key(id), None),
                    TxnOp::delete(self.live_key(id), None),
                ];
                if !snap.sem.holders.iter().any(|h| h == id) {
                    // Leftovers of an earlier hold (removed by Airlock or an operator).
                    let txn = Txn::new().and_then(cleanup.to_vec());
                    self.commit(txn).await?;
                    return Ok(Some(Released::NotHeld));
                }
                let mut sem = snap.sem.clone();
                sem.holders.retain(|h| h != id);
                let mut ops = vec![TxnOp::put(self.key.clone(), json(&sem)?, None)];
                ops.extend(cleanup);
                let txn = self.if_unchanged(snap.version, ops);
                if self.commit(txn).await? {
                    return Ok(Some(Released::Unlocked));
                }
                Ok(None)
            })
            .await
        })
    }

    fn status(&self) -> LockFuture<'_, Status> {
        Box::pin(async move {
            let snap = self.get().await?;
            let (records, live) = self.side().await?;
            let holders = snap
                .sem
                .holders
                .iter()
                .map(|id| {
                    let record = records.iter().find(|(r, _, _)| r == id).map(|(_, r, _)| r);
                    Holder {
                        id: id.clone(),
                        since: record.and_then(|r| r.since),
                        state: record.and_then(|r| r.state.clone()),
                        alive: record.filter(|r| r.leased).map(|_| live.contains(id)),
                    }
                })
                .collect::<Vec<_>>();
            let max = i64::try_from(snap.sem.total_slots).unwrap_or(i64::MAX);
            let held = i64::try_from(holders.len()).unwrap_or(i64::MAX);
            Ok(Status {
                max,
                available: max - held,
                holders,
            })
        })
    }

    fn set_max(&self, max: i64) -> LockFuture<'_, i64> {
        Box::pin(async move {
            let slots = u64::try_from(max).map_err(|_| {
                LockError::Config(format!(
                    "the etcd v3 semaphore (Airlock's) cannot have {max} slots: use 0 or more"
                ))
            })?;
            until_settled(move || async move {
                let snap = self.get().await?;
                let old = i64::try_from(snap.sem.total_slots).unwrap_or(i64::MAX);
                let mut sem = snap.sem.clone();
                sem.total_slots = slots;
                let txn = self.if_unchanged(
                    snap.version,
                    vec![TxnOp::put(self.key.clone(), json(&sem)?, None)],
                );
                Ok(self.commit(txn).await?.then_some(old))
            })
            .await
        })
    }

    fn wait_lock<'a>(&'a self, id: &'a str, deadline: Instant) -> LockFuture<'a, Acquired> {
        let wait = move |revision, _| self.wait_change(revision, deadline);
        Box::pin(wait_for_slot(deadline, || self.try_lock(id), wait))
    }

    fn reattach<'a>(&'a self, id: &'a str) -> LockFuture<'a, super::Reattached> {
        Box::pin(async move {
            if self.lease_ttl.is_none() {
                return Ok(super::Reattached::Unneeded);
            }
            let snap = self.get().await?;
            if !snap.sem.holders.iter().any(|h| h == id) {
                return Ok(super::Reattached::NotHeld);
            }
            // Back within the lease's TTL (the usual case): keep that lease alive, no write.
            if self.adopt(id).await? {
                return Ok(super::Reattached::Renewed);
            }
            // The lease expired meanwhile: a new one, the live key on it.
            let Some(lease) = self.lease().await? else {
                return Ok(super::Reattached::Unneeded);
            };
            until_settled(move || async move {
                let snap = self.get().await?;
                if !snap.sem.holders.iter().any(|h| h == id) {
                    return Ok(Some(super::Reattached::NotHeld));
                }
                let fresh = HolderRecord {
                    since: Some(jiff::Timestamp::now()),
                    state: Some("locked".into()),
                    leased: true,
                };
                if self.attach(id, &snap, lease, fresh).await? {
                    return Ok(Some(super::Reattached::Renewed));
                }
                Ok(None)
            })
            .await
        })
    }

    fn set_state<'a>(&'a self, id: &'a str, state: &'a str) -> LockFuture<'a, ()> {
        Box::pin(async move {
            let (records, _) = self.side().await?;
            let mut record = records
                .into_iter()
                .find(|(r, _, _)| r == id)
                .map(|(_, r, _)| r)
                .unwrap_or_default();
            record.state = Some(state.to_string());
            let value = json(&record)?;
            self.call(|mut c| {
                let (key, value) = (self.record_key(id), value.clone());
                async move { c.put(key, value, None).await }
            })
            .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airlock_json_and_keys() {
        let sem = Semaphore {
            total_slots: 2,
            holders: vec!["n1".into(), "n2".into()],
        };
        assert_eq!(
            json(&sem).unwrap(),
            r#"{"total_slots":2,"holders":["n1","n2"]}"#
        );
        let null: Semaphore = serde_json::from_str(r#"{"total_slots":1,"holders":null}"#).unwrap();
        assert!(null.holders.is_empty());
        assert_eq!(
            semaphore_key("lb servers"),
            "com.coreos.airlock/groups/lb+servers/v1/semaphore"
        );
    }
}
