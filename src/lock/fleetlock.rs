//! A FleetLock client (Zincati's protocol, coreos/zincati docs/development/fleetlock):
//! `POST <base>/v1/pre-reboot` takes a slot, `POST <base>/v1/steady-state` gives it back,
//! header `fleet-lock-protocol: true`, body `{"client_params":{"id":..,"group":..}}`,
//! errors `{"kind":..,"value":..}`. Works against Airlock and `kindling lock serve`.
//!
//! The protocol has no status, no slot count and no way to wait, so `status` uses
//! kindling's server's `GET <base>/v1/holders` (Airlock has none: [`LockError::Unsupported`]),
//! `set_max` is unsupported. `wait_lock` asks the server to wait for a slot (kindling's
//! extension, [`super::server::WAIT_HEADER`]: `kindling lock serve` answers the moment a
//! slot frees, up to [`LONG_POLL`] per request, and says so in the same header); a server
//! that does not say so (Airlock) is polled instead (1 s doubling to 30 s) until the deadline.
//! Unlike Zincati, the base URL gets a trailing `/` before the paths are joined, so
//! `http://h/fleet_lock` means `http://h/fleet_lock/v1/pre-reboot`, not `http://h/v1/...`.

use std::time::Duration;

use serde::Deserialize;

use super::LockConfig;
use super::api::{Acquired, Holder, LockError, LockFuture, RebootLock, Released, Status};

/// The longest one `pre-reboot` asks the server to wait for a slot (below the server's
/// [`super::server::MAX_WAIT`] and the client's request timeout).
pub const LONG_POLL: Duration = Duration::from_secs(25);

/// The FleetLock client.
#[derive(Debug)]
pub struct FleetLockClient {
    http: reqwest::Client,
    base: String,
    group: String,
}

/// An error body.
#[derive(Debug, Deserialize)]
struct RemoteError {
    kind: String,
    value: String,
}

/// `GET /v1/holders` of `kindling lock serve`.
#[derive(Debug, Deserialize)]
struct HoldersAnswer {
    max: i64,
    available: i64,
    holders: Vec<HolderAnswer>,
}

#[derive(Debug, Deserialize)]
struct HolderAnswer {
    id: String,
    since: Option<jiff::Timestamp>,
    state: Option<String>,
    alive: Option<bool>,
}

impl FleetLockClient {
    /// A client for the server at `config.endpoints[0]`, group `config.group` (`""` is
    /// `default`).
    ///
    /// # Errors
    /// When there is no URL or the TLS files cannot be read.
    pub fn new(config: &LockConfig) -> Result<FleetLockClient, LockError> {
        let base = config
            .endpoints
            .first()
            .ok_or_else(|| LockError::Config("no FleetLock URL given".into()))?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            // Zincati waits up to 30 minutes; a lock call is one short transaction.
            .timeout(Duration::from_secs(60));
        if let Some(ca) = config.ca_pem()? {
            for cert in reqwest::Certificate::from_pem_bundle(&ca)
                .map_err(|e| LockError::Config(format!("the CA file: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = config.identity_pem()? {
            builder = builder.identity(
                reqwest::Identity::from_pem(&pem)
                    .map_err(|e| LockError::Config(format!("the client certificate: {e}")))?,
            );
        }
        Ok(FleetLockClient {
            http: builder
                .build()
                .map_err(|e| LockError::Config(format!("cannot set up HTTP: {e}")))?,
            base: format!("{}/", base.trim_end_matches('/')),
            group: config.named_group().to_string(),
        })
    }

    /// The request body, as Zincati writes it (pretty JSON, id before group).
    fn body(&self, id: &str) -> String {
        let body = serde_json::json!({
            "client_params": { "id": id, "group": self.group }
        });
        serde_json::to_string_pretty(&body).unwrap_or_default()
    }

    async fn call(&self, path: &str, id: &str) -> Result<(), LockError> {
        self.call_waiting(path, id, None).await.0
    }

    /// A call, asking the server to wait up to `wait` for a slot (whole seconds); also
    /// whether the server said it waited ([`super::server::WAIT_HEADER`] in its answer).
    async fn call_waiting(
        &self,
        path: &str,
        id: &str,
        wait: Option<Duration>,
    ) -> (Result<(), LockError>, bool) {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .post(&url)
            .header("fleet-lock-protocol", "true")
            .body(self.body(id));
        if let Some(wait) = wait {
            req = req.header(
                super::server::WAIT_HEADER,
                wait.as_secs().max(1).to_string(),
            );
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return (Err(LockError::Unavailable(format!("{url}: {e}"))), false),
        };
        let waited = resp.headers().contains_key(super::server::WAIT_HEADER);
        (Self::outcome(resp).await, waited)
    }

    /// A FleetLock answer as the lock's outcome.
    async fn outcome(resp: reqwest::Response) -> Result<(), LockError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<RemoteError>(&text) {
            Ok(err) => LockError::Remote {
                status: status.as_u16(),
                kind: err.kind,
                value: err.value,
            },
            Err(_) => LockError::Remote {
                status: status.as_u16(),
                kind: format!("generic_http_{}", status.as_u16()),
                value: text.trim().to_string(),
            },
        })
    }
}

impl RebootLock for FleetLockClient {
    fn describe(&self) -> String {
        format!("FleetLock server {} (group {})", self.base, self.group)
    }

    /// The protocol does not say whether the slot was already held: always `Locked`.
    fn lock<'a>(&'a self, id: &'a str) -> LockFuture<'a, Acquired> {
        Box::pin(async move {
            self.call("v1/pre-reboot", id).await?;
            Ok(Acquired::Locked)
        })
    }

    /// The protocol does not say whether a slot was held: always `Unlocked`.
    fn unlock<'a>(&'a self, id: &'a str) -> LockFuture<'a, Released> {
        Box::pin(async move {
            self.call("v1/steady-state", id).await?;
            Ok(Released::Unlocked)
        })
    }

    fn status(&self) -> LockFuture<'_, Status> {
        Box::pin(async move {
            let url = format!("{}v1/holders", self.base);
            let resp = self
                .http
                .get(&url)
                .query(&[("group", &self.group)])
                .send()
                .await
                .map_err(|e| LockError::Unavailable(format!("{url}: {e}")))?;
            if resp.status() == reqwest::StatusCode::NOT_FOUND {
                return Err(LockError::Unsupported(format!(
                    "{url} does not exist: the FleetLock protocol has no status (Airlock has none; `kindling lock serve` answers it)"
                )));
            }
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            if !status.is_success() {
                return Err(LockError::Remote {
                    status: status.as_u16(),
                    kind: "holders".into(),
                    value: text.trim().to_string(),
                });
            }
            let answer: HoldersAnswer = serde_json::from_str(&text)
                .map_err(|e| LockError::Protocol(format!("{url}: {e}")))?;
            Ok(Status {
                max: answer.max,
                available: answer.available,
                holders: answer
                    .holders
                    .into_iter()
                    .map(|h| Holder {
                        id: h.id,
                        since: h.since,
                        state: h.state,
                        alive: h.alive,
                    })
                    .collect(),
            })
        })
    }

    fn set_max(&self, _max: i64) -> LockFuture<'_, i64> {
        Box::pin(async move {
            Err(LockError::Unsupported(
                "the FleetLock protocol cannot change the slot count: use --backend etcd3 against the server's etcd".into(),
            ))
        })
    }

    fn wait_lock<'a>(
        &'a self,
        id: &'a str,
        deadline: tokio::time::Instant,
    ) -> LockFuture<'a, Acquired> {
        Box::pin(async move {
            let mut pause = Duration::from_secs(1);
            loop {
                // Ask the server to wait for the slot, in whole seconds, within the deadline.
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let wait = Duration::from_secs(left.as_secs()).min(LONG_POLL);
                let asked = tokio::time::Instant::now();
                let (outcome, waited) = self
                    .call_waiting("v1/pre-reboot", id, (!wait.is_zero()).then_some(wait))
                    .await;
                match outcome {
                    Ok(()) => return Ok(Acquired::Locked),
                    Err(e) if e.is_transient() => {
                        let now = tokio::time::Instant::now();
                        if now >= deadline {
                            return Err(LockError::Timeout);
                        }
                        // A server that waited (most of the time asked) and found every slot
                        // still taken is asked again at once; anything else (Airlock, an
                        // unreachable server, an etcd error, a wait cut short) backs off.
                        let full =
                            matches!(&e, LockError::Remote { kind, .. } if kind == "failed_lock");
                        if waited && full && now.duration_since(asked) >= wait / 2 {
                            pause = Duration::from_secs(1);
                            continue;
                        }
                        tokio::time::sleep_until(deadline.min(now + pause)).await;
                        pause = (pause * 2).min(Duration::from_secs(30));
                    }
                    Err(e) => return Err(e),
                }
            }
        })
    }

    fn set_state<'a>(&'a self, _id: &'a str, _state: &'a str) -> LockFuture<'a, ()> {
        Box::pin(async move { Ok(()) })
    }
}
