//! A Jepsen-style history checker for the reboot lock under faults: every event of a fleet
//! run (tests/support/fleet.rs) put in one history and checked afterwards.
//!
//! The history: every change of the semaphore (etcd v3: each revision read back from etcd's
//! own history with its revision; etcd v2: every modification a watcher followed), every
//! change of the holders' live keys (v3 leases: a put is a lease attached, a delete a lease
//! expired or a slot given back), and per node its reboots (the local time and the
//! semaphore as etcd had it at that moment, read by the reboot command itself with the
//! revision of that read), its release (local time), and the agent's own words about
//! re-checking its slot before the reboot.
//!
//! Checked: no revision has more holders than the semaphore allows; every reboot happened
//! while the node held its slot, both in the read the reboot command made and in etcd's
//! history at that revision; on v3 with leases, the node's live key was there at that
//! revision (no reboot after its lease expired); each node rebooted once, the agent said it
//! re-checked its slot right before, and gave the slot back after the reboot (a later
//! revision without it), and no node holds a slot at the end.

use std::time::Duration;

use crate::support::fleet::{EtcdTls, NodeRun, holders};

/// One change of the semaphore.
#[derive(Debug, Clone)]
pub struct SemaphoreChange {
    /// The etcd revision (v3) or the position in the watcher's sequence (v2: `None`).
    pub revision: Option<i64>,
    pub holders: Vec<String>,
}

/// One change of a live key: (revision, holder, present afterwards).
pub type LiveChange = (i64, String, bool);

/// Everything the checker needs.
#[derive(Debug)]
pub struct History {
    pub slots: usize,
    pub semaphore: Vec<SemaphoreChange>,
    /// Empty when holds carry no lease (etcd v2, FleetLock, v3 without a TTL).
    pub live: Vec<LiveChange>,
    pub nodes: Vec<NodeRun>,
}

/// What a clean history showed.
#[derive(Debug)]
pub struct Summary {
    pub revisions: usize,
    pub most_holders: usize,
    pub reboots: usize,
    pub rechecks: usize,
}

impl History {
    /// From v2 values (oldest first).
    pub fn from_values(slots: usize, values: &[String], nodes: Vec<NodeRun>) -> History {
        History {
            slots,
            semaphore: values
                .iter()
                .map(|v| SemaphoreChange {
                    revision: None,
                    holders: holders(v),
                })
                .collect(),
            live: Vec::new(),
            nodes,
        }
    }

    /// The holders at `revision` (the newest change at or before it).
    fn holders_at(&self, revision: i64) -> Option<&Vec<String>> {
        self.semaphore
            .iter()
            .rev()
            .find(|c| c.revision.is_some_and(|r| r <= revision))
            .map(|c| &c.holders)
    }

    fn live_at(&self, id: &str, revision: i64) -> Option<bool> {
        self.live
            .iter()
            .rev()
            .find(|(r, who, _)| *r <= revision && who == id)
            .map(|(_, _, present)| *present)
    }

    /// Every violation, or what the clean history showed.
    pub fn check(&self) -> Result<Summary, Vec<String>> {
        let mut violations = Vec::new();
        let mut most = 0;
        for (k, c) in self.semaphore.iter().enumerate() {
            most = most.max(c.holders.len());
            if c.holders.len() > self.slots {
                violations.push(format!(
                    "change {k} (revision {:?}) has {} holders, more than {} slots: {:?}",
                    c.revision,
                    c.holders.len(),
                    self.slots,
                    c.holders
                ));
            }
        }
        let mut reboots = 0;
        let mut rechecks = 0;
        for node in &self.nodes {
            let id = &node.id;
            if node.reboots.len() != 1 {
                violations.push(format!(
                    "{id} rebooted {} times (once expected)",
                    node.reboots.len()
                ));
            }
            let said = node.log.matches("still holding the reboot slot").count();
            rechecks += said;
            if said < node.reboots.len() {
                violations.push(format!(
                    "{id}: {} reboots but the agent re-checked its slot before only {said}",
                    node.reboots.len()
                ));
            }
            for r in &node.reboots {
                reboots += 1;
                if r.semaphore != "-" && !holders(&r.semaphore).contains(id) {
                    violations.push(format!(
                        "{id} rebooted at {:.3} without holding a slot: {}",
                        r.at, r.semaphore
                    ));
                }
                let Some(rev) = r.revision else { continue };
                match self.holders_at(rev) {
                    Some(h) if h.contains(id) => {}
                    other => violations.push(format!(
                        "{id} rebooted at revision {rev}, where etcd's history has holders {other:?}"
                    )),
                }
                if !self.live.is_empty() && self.live_at(id, rev) != Some(true) {
                    violations.push(format!(
                        "{id} rebooted at revision {rev} after its lease expired (no live key)"
                    ));
                }
                // The slot given back after the reboot.
                let released = self
                    .semaphore
                    .iter()
                    .any(|c| c.revision.is_some_and(|cr| cr > rev) && !c.holders.contains(id));
                if !released {
                    violations.push(format!(
                        "{id} never gave its slot back after rebooting at revision {rev}"
                    ));
                }
            }
            if node
                .reboots
                .last()
                .is_some_and(|r| node.released.is_none_or(|t| t < r.at))
            {
                violations.push(format!("{id} did not give its slot back after its reboot"));
            }
        }
        if let Some(last) = self.semaphore.last()
            && !last.holders.is_empty()
        {
            violations.push(format!("slots still held at the end: {:?}", last.holders));
        }
        if violations.is_empty() {
            Ok(Summary {
                revisions: self.semaphore.len(),
                most_holders: most,
                reboots,
                rechecks,
            })
        } else {
            Err(violations)
        }
    }
}

/// A v3 client of the TLS cluster at `endpoints`.
pub async fn v3_client(endpoints: &str, tls: &EtcdTls) -> etcd_client::Client {
    let ca = std::fs::read(&tls.ca).unwrap();
    let tls_options = etcd_client::TlsOptions::new()
        .ca_certificate(etcd_client::Certificate::from_pem(ca))
        .identity(etcd_client::Identity::from_pem(
            std::fs::read(&tls.cert).unwrap(),
            std::fs::read(&tls.key).unwrap(),
        ));
    let eps: Vec<&str> = endpoints.split(',').collect();
    etcd_client::Client::connect(
        eps,
        Some(
            etcd_client::ConnectOptions::new()
                .with_tls(tls_options)
                .with_timeout(Duration::from_secs(5)),
        ),
    )
    .await
    .unwrap()
}

/// Every change of `key` (with `prefix`, of every key under it) in the TLS cluster's
/// history, oldest first: (revision, key, value; `None` for a delete), read by a watch from
/// revision 1 up to the newest revision there is now. A read that meets an election (the
/// run's last leader kill may have just happened) starts again, bounded: 60 s in all.
pub fn v3_events(
    endpoints: &str,
    tls: &EtcdTls,
    key: &str,
    prefix: bool,
) -> Vec<(i64, String, Option<String>)> {
    crate::support::lock::rt().block_on(async {
        let client = v3_client(endpoints, tls).await;
        let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match v3_events_once(client.clone(), key, prefix).await {
                Ok(out) => return out,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < give_up,
                        "reading the history of {key}: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    })
}

async fn v3_events_once(
    mut client: etcd_client::Client,
    key: &str,
    prefix: bool,
) -> Result<Vec<(i64, String, Option<String>)>, etcd_client::Error> {
    let now = client.get(key, None).await?;
    let last = now
        .header()
        .map_or(0, etcd_client::ResponseHeader::revision);
    let mut watch = etcd_client::WatchOptions::new().with_start_revision(1);
    if prefix {
        watch = watch.with_prefix();
    }
    let mut stream = client.watch(key, Some(watch)).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    loop {
        // A watch reports progress only with events; stop at the newest revision.
        let msg = match tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + Duration::from_secs(2)),
            stream.message(),
        )
        .await
        {
            Ok(m) => match m? {
                Some(m) => m,
                None => return Err(etcd_client::Error::WatchError("the watch ended".into())),
            },
            Err(_) => return Ok(out),
        };
        for event in msg.events() {
            let Some(kv) = event.kv() else { continue };
            let value = match event.event_type() {
                etcd_client::EventType::Put => {
                    Some(String::from_utf8_lossy(kv.value()).into_owned())
                }
                etcd_client::EventType::Delete => None,
            };
            out.push((
                kv.mod_revision(),
                String::from_utf8_lossy(kv.key()).into_owned(),
                value,
            ));
        }
        if out.last().is_some_and(|(r, _, _)| *r >= last) {
            return Ok(out);
        }
    }
}

/// The v3 history of the fleet's semaphore and live keys (group `default`).
pub fn v3_history(endpoints: &str, tls: &EtcdTls, slots: usize, nodes: Vec<NodeRun>) -> History {
    let semaphore = v3_events(
        endpoints,
        tls,
        "com.coreos.airlock/groups/default/v1/semaphore",
        false,
    )
    .into_iter()
    .filter_map(|(rev, _, v)| {
        v.map(|v| SemaphoreChange {
            revision: Some(rev),
            holders: holders(&v),
        })
    })
    .collect();
    let live_prefix = "kindling/rebootlock/groups/default/live/";
    let live = v3_events(endpoints, tls, live_prefix, true)
        .into_iter()
        .map(|(rev, key, v)| {
            (
                rev,
                key.trim_start_matches(live_prefix).to_string(),
                v.is_some(),
            )
        })
        .collect();
    History {
        slots,
        semaphore,
        live,
        nodes,
    }
}
