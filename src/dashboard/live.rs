//! What the dashboard shows, kept current by watches: one task per group follows the group
//! through a [`Mirror`] (the same read-once-then-watch `fleet status --watch` uses), reads
//! the rollout and the published config only when the watch says their keys changed, and
//! one task follows the reboot semaphore by a watch on its keys. Each change makes a new
//! [`Snapshot`] and wakes every open page (a `tokio::sync::watch`, so a page that is slow
//! skips to the newest). Nothing here polls etcd; a watch that fails is opened again after
//! a pause, and the page says what failed meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::WatchOptions;
use tokio::sync::watch;

use super::chart::{self, Sample};
use crate::fleet::listing::host_names;
use crate::fleet::record::now_secs;
use crate::fleet::rollout::Rollout;
use crate::fleet::view::{self, View};
use crate::fleet::{FleetEtcd, Mirror};
use crate::lock::{Etcd3Lock, LockConfig, RebootLock, Status};

/// How long a burst of events is gathered before the pages are redrawn (a wave reports in
/// bursts; well inside the one second an open page is promised).
const GATHER: Duration = Duration::from_millis(50);
/// The pause before a failed watch is opened again.
const RETRY: Duration = Duration::from_secs(2);

/// One group as shown.
#[derive(Debug, Clone)]
pub struct GroupSnap {
    /// The group.
    pub group: String,
    /// `fleet status`'s rows and summary.
    pub view: Arc<View>,
    /// How each node is named (hostname, with the id where two share it).
    pub names: Arc<HashMap<String, String>>,
    /// The published config's generation, whether held, and when (Unix seconds).
    pub published: Option<(u64, bool, i64)>,
    /// The group's rollout.
    pub rollout: Option<Rollout>,
    /// The version distribution as it changed since the dashboard started.
    pub history: Arc<Vec<Sample>>,
    /// What failed last (etcd unreachable, a value that cannot be read), while it lasts.
    pub error: Option<String>,
    /// Whether the group was read at least once.
    pub loaded: bool,
}

/// The reboot semaphore as shown.
#[derive(Debug, Clone, Default)]
pub struct LockSnap {
    /// Its group.
    pub group: String,
    /// The semaphore, once read (`None`: not read yet, or there is none).
    pub status: Option<Status>,
    /// What failed last.
    pub error: Option<String>,
}

/// One control action, as logged.
#[derive(Debug, Clone)]
pub struct Action {
    /// Unix seconds.
    pub at: i64,
    /// Who asked (the peer's address).
    pub peer: String,
    /// What was asked and what came of it.
    pub text: String,
}

/// Everything the pages show, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The groups, in the order served.
    pub groups: Vec<Arc<GroupSnap>>,
    /// The semaphore.
    pub lock: Arc<LockSnap>,
    /// The last control actions, newest last.
    pub actions: Arc<Vec<Action>>,
    /// Counts changes (for tests and the page's "updated" mark).
    pub seq: u64,
}

impl Snapshot {
    /// A group by name.
    #[must_use]
    pub fn group(&self, name: &str) -> Option<&Arc<GroupSnap>> {
        self.groups.iter().find(|g| g.group == name)
    }
}

/// The most control actions kept for the page.
const MAX_ACTIONS: usize = 50;

/// The shared, live state.
#[derive(Debug, Clone)]
pub struct Live {
    tx: Arc<watch::Sender<Arc<Snapshot>>>,
}

impl Live {
    /// A state with `groups` not read yet.
    #[must_use]
    pub fn new(groups: &[String], lock_group: &str) -> Live {
        let snap = Snapshot {
            groups: groups
                .iter()
                .map(|g| {
                    Arc::new(GroupSnap {
                        group: g.clone(),
                        view: Arc::new(view::build(g, 0, &[])),
                        names: Arc::default(),
                        published: None,
                        rollout: None,
                        history: Arc::default(),
                        error: None,
                        loaded: false,
                    })
                })
                .collect(),
            lock: Arc::new(LockSnap {
                group: lock_group.to_string(),
                ..LockSnap::default()
            }),
            actions: Arc::default(),
            seq: 0,
        };
        Live {
            tx: Arc::new(watch::channel(Arc::new(snap)).0),
        }
    }

    /// The snapshot now.
    #[must_use]
    pub fn now(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Wait until every group was read once, for at most `limit` (a page asked for right
    /// after the start shows the fleet, not an empty one).
    pub async fn loaded(&self, limit: Duration) {
        let mut rx = self.subscribe();
        let _ =
            tokio::time::timeout(limit, rx.wait_for(|s| s.groups.iter().all(|g| g.loaded))).await;
    }

    /// A receiver woken at each change.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    fn change(&self, f: impl FnOnce(&mut Snapshot)) {
        self.tx.send_modify(|s| {
            let s = Arc::make_mut(s);
            f(s);
            s.seq += 1;
        });
    }

    fn set_group(&self, g: GroupSnap) {
        self.change(|s| {
            if let Some(slot) = s.groups.iter_mut().find(|x| x.group == g.group) {
                *slot = Arc::new(g);
            }
        });
    }

    /// Log a control action (to standard error and the page).
    pub fn log(&self, peer: &str, text: &str) {
        let at = now_secs();
        eprintln!("kindling fleet serve: control from {peer}: {text}");
        self.change(|s| {
            let a = Arc::make_mut(&mut s.actions);
            a.push(Action {
                at,
                peer: peer.to_string(),
                text: text.to_string(),
            });
            if a.len() > MAX_ACTIONS {
                a.remove(0);
            }
        });
    }
}

/// The version distribution of a view.
fn versions(view: &View) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in view.nodes.iter().filter(|r| !r.version.is_empty()) {
        *out.entry(r.version.clone()).or_default() += 1;
    }
    out
}

/// Follow `store`'s group for ever: a mirror, redrawn at each burst of events.
pub async fn follow_group(store: FleetEtcd, live: Live) {
    let group = store.group().to_string();
    let mut history: Vec<Sample> = Vec::new();
    loop {
        let error = match follow_once(&store, &live, &mut history).await {
            Ok(()) => continue,
            Err(e) => e.to_string(),
        };
        let mut g = (*live
            .now()
            .group(&group)
            .cloned()
            .unwrap_or_else(|| Arc::new(empty(&group))))
        .clone();
        g.error = Some(error);
        live.set_group(g);
        tokio::time::sleep(RETRY).await;
    }
}

fn empty(group: &str) -> GroupSnap {
    GroupSnap {
        group: group.to_string(),
        view: Arc::new(view::build(group, 0, &[])),
        names: Arc::default(),
        published: None,
        rollout: None,
        history: Arc::default(),
        error: None,
        loaded: false,
    }
}

async fn follow_once(
    store: &FleetEtcd,
    live: &Live,
    history: &mut Vec<Sample>,
) -> Result<(), crate::fleet::Error> {
    let mut fleet = Mirror::open(store).await?;
    let mut rollout = store.rollout().await?.map(|(r, _)| r);
    let mut published = store
        .published()
        .await?
        .map(|(p, _)| (p.generation, p.hold, p.published_at));
    let far = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
    loop {
        let view = view::build(store.group(), fleet.published(), &fleet.listed());
        chart::keep(
            history,
            Sample {
                at: now_secs(),
                versions: versions(&view),
            },
        );
        live.set_group(GroupSnap {
            group: store.group().to_string(),
            names: Arc::new(host_names(fleet.nodes())),
            view: Arc::new(view),
            published,
            rollout: rollout.clone(),
            history: Arc::new(history.clone()),
            error: None,
            loaded: true,
        });
        fleet.changed(far).await?;
        tokio::time::sleep(GATHER).await;
        fleet.catch_up().await?;
        if fleet.take_rollout_changed() {
            rollout = store.rollout().await?.map(|(r, _)| r);
        }
        if published.map(|p| p.0) != Some(fleet.published()) {
            published = store
                .published()
                .await?
                .map(|(p, _)| (p.generation, p.hold, p.published_at));
        }
    }
}

/// Follow the reboot semaphore of `config`'s group for ever, by a watch on its keys. The
/// semaphore is never created here (a dashboard only reads): until it exists, none is shown.
pub async fn follow_lock(config: LockConfig, live: Live) {
    loop {
        let error = match follow_lock_once(&config, &live).await {
            Ok(()) => continue,
            Err(e) => e,
        };
        live.change(|s| {
            let mut l = (*s.lock).clone();
            l.error = Some(error);
            s.lock = Arc::new(l);
        });
        tokio::time::sleep(RETRY).await;
    }
}

async fn follow_lock_once(config: &LockConfig, live: &Live) -> Result<(), String> {
    let group = config.named_group().to_string();
    let lock = Etcd3Lock::connect(config)
        .await
        .map_err(|e| e.to_string())?;
    let mut client = crate::lock::etcd3_client(config)
        .await
        .map_err(|e| e.to_string())?;
    let key = crate::lock::etcd3_semaphore_key(&group);
    let prefix = crate::lock::etcd3_holders_prefix(&group);
    let mut sem_events = client
        .watch(key.as_str(), None)
        .await
        .map_err(|e| e.to_string())?;
    let mut side_events = client
        .watch(prefix.as_str(), Some(WatchOptions::new().with_prefix()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let exists = !client
            .get(key.as_str(), None)
            .await
            .map_err(|e| e.to_string())?
            .kvs()
            .is_empty();
        let status = if exists {
            Some(lock.status().await.map_err(|e| e.to_string())?)
        } else {
            None
        };
        live.change(|s| {
            s.lock = Arc::new(LockSnap {
                group: group.clone(),
                status,
                error: None,
            });
        });
        let ended = tokio::select! {
            m = sem_events.message() => !matches!(m, Ok(Some(ref m)) if !m.canceled()),
            m = side_events.message() => !matches!(m, Ok(Some(ref m)) if !m.canceled()),
        };
        if ended {
            return Err("the watch on the reboot semaphore ended".into());
        }
        tokio::time::sleep(GATHER).await;
    }
}
