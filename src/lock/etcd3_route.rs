//! How an etcd v3 client reaches the cluster's members: one lazily connected gRPC channel
//! per member, every request sent to the member that answered last, and the next member
//! taken when a request to it fails or is given up before its answer began (a connection
//! refused or broken, a request timed out or abandoned by its caller, or a gRPC
//! `Unavailable` / `DeadlineExceeded` at once, which a member without a leader answers).
//!
//! etcd-client's own channel balances every request at random over all members (tonic's
//! power-of-two-choices with no load measure), so while one member is frozen every request
//! has the same chance of waiting out its timeout there, however many have already failed
//! on it. Here the first failure moves the client on and it stays on the live member. Each
//! client starts on a member picked from its process id, so a fleet spreads its load over
//! the members as before.
//!
//! Contract: [`Builder`] is what [`etcd_client::Client::connect_with_balanced_channel`]
//! takes; the endpoints etcd-client adds arrive on its update channel and are connected
//! lazily (nothing is dialled before a request needs it). Requests sent before the first
//! endpoint has arrived wait for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use etcd_client::{BalancedChannelBuilder, Channel};
use http::Uri;
use tokio::sync::Notify;
use tonic::body::Body;
use tonic::transport::Endpoint;
use tonic::transport::channel::Change;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt as _};

/// The channel builder for [`etcd_client::Client::connect_with_balanced_channel`].
#[derive(Debug, Clone, Copy)]
pub struct Builder;

impl BalancedChannelBuilder for Builder {
    type Error = etcd_client::Error;

    fn balanced_channel(
        self,
        buffer_size: usize,
    ) -> Result<(Channel, tokio::sync::mpsc::Sender<Change<Uri, Endpoint>>), Self::Error> {
        let members = Arc::new(Members::default());
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Change<Uri, Endpoint>>(buffer_size.max(1));
        let updater = Arc::clone(&members);
        tokio::spawn(async move {
            while let Some(change) = rx.recv().await {
                updater.apply(change);
            }
        });
        let route = Route { members };
        Ok((Channel::Custom(BoxCloneSyncService::new(route)), tx))
    }
}

/// The members, in the order they were given, and the one requests go to.
#[derive(Default)]
struct Members {
    list: RwLock<Vec<(Uri, tonic::transport::Channel)>>,
    current: AtomicUsize,
    /// Woken when the first endpoint arrives.
    added: Notify,
}

impl Members {
    fn apply(&self, change: Change<Uri, Endpoint>) {
        let Ok(mut list) = self.list.write() else {
            return;
        };
        match change {
            Change::Insert(uri, endpoint) => {
                let channel = endpoint.connect_lazy();
                match list.iter_mut().find(|(u, _)| *u == uri) {
                    Some(entry) => entry.1 = channel,
                    None => list.push((uri, channel)),
                }
                if list.len() == 1 {
                    // Clients of one fleet start on different members.
                    let n = usize::try_from(std::process::id()).unwrap_or(0);
                    self.current.store(n, Ordering::Relaxed);
                }
            }
            Change::Remove(uri) => list.retain(|(u, _)| *u != uri),
        }
        drop(list);
        self.added.notify_waiters();
    }

    /// The member to ask now: its index and channel.
    fn pick(&self) -> Option<(usize, tonic::transport::Channel)> {
        let list = self.list.read().ok()?;
        if list.is_empty() {
            return None;
        }
        let at = self.current.load(Ordering::Relaxed) % list.len();
        Some((at, list[at].1.clone()))
    }

    /// Member `at` failed: move on to the next, unless another request did already.
    fn failed(&self, at: usize) {
        let n = self.list.read().map_or(0, |l| l.len());
        if n > 1 {
            let current = self.current.load(Ordering::Relaxed);
            if current % n == at {
                let _ = self.current.compare_exchange(
                    current,
                    (at + 1) % n,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }
}

/// The gRPC service etcd-client sends every request through.
#[derive(Clone)]
struct Route {
    members: Arc<Members>,
}

type Answer = http::Response<Body>;
type Pending = Pin<Box<dyn Future<Output = Result<Answer, tower::BoxError>> + Send>>;

impl Service<http::Request<Body>> for Route {
    type Response = Answer;
    type Error = tower::BoxError;
    type Future = Pending;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is the chosen member's, awaited in the call.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let members = Arc::clone(&self.members);
        Box::pin(async move {
            let (at, channel) = loop {
                let added = members.added.notified();
                if let Some(picked) = members.pick() {
                    break picked;
                }
                // etcd-client adds its endpoints right after building the channel.
                if tokio::time::timeout(std::time::Duration::from_secs(5), added)
                    .await
                    .is_err()
                {
                    return Err("etcd: no endpoint was given to the client".into());
                }
            };
            // Counted as the member's failure unless the answer's head arrives well.
            let mut outcome = Outcome {
                members: &members,
                at,
                answered: false,
            };
            let answer = channel
                .oneshot(request)
                .await
                .map_err(tower::BoxError::from)?;
            outcome.answered = !unavailable(&answer);
            Ok(answer)
        })
    }
}

/// A gRPC error answered at once in the head ("trailers only"): `Unavailable` (14, e.g. a
/// member without a leader, which `require_leader` asks for) or `DeadlineExceeded` (4).
fn unavailable(answer: &Answer) -> bool {
    answer
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|code| code == "14" || code == "4")
}

/// Marks the member failed when dropped before its answer's head came back well (an error,
/// a timeout, or the caller giving up on it).
struct Outcome<'a> {
    members: &'a Members,
    at: usize,
    answered: bool,
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.members.failed(self.at);
        }
    }
}
