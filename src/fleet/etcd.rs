//! The fleet's keys in etcd (v3), one group at a time: [`FleetEtcd`] is the one handle the
//! operator commands, the member and the release gate read and write the group through.
//! It is named for what it is, a connection to etcd scoped to a group's keys (see `keys`),
//! not a store of its own: nothing is kept here, every answer is etcd's. Lists are read in
//! pages (a 10,000-node group is more than gRPC's default message limit in one answer);
//! writes that must not race (a publish against another publish, a rollout against its
//! controller) are compare-and-swap transactions.

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use sha2::{Digest as _, Sha256};

use super::keys;
use super::listing::Listed;
use super::record::{NodeRecord, Published, hex, now_secs};
use super::rollout::Rollout;
use crate::lock::LockConfig;

/// Keys read per page.
const PAGE: i64 = 2000;

/// The fleet of one group in etcd.
#[derive(Clone)]
pub struct FleetEtcd {
    client: Client,
    group: String,
}

impl std::fmt::Debug for FleetEtcd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetEtcd")
            .field("group", &self.group)
            .finish()
    }
}

fn etcd(e: &etcd_client::Error) -> String {
    format!("etcd: {e}")
}

/// Why a publish was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The generation asked for is not after the one published.
    #[error(
        "generation {asked} is not after the published generation {current}: a generation never goes backwards (omit --generation to take {next})",
        next = current + 1
    )]
    Backwards {
        /// What was asked.
        asked: u64,
        /// What is published.
        current: u64,
    },
    /// Too big for the fleet.
    #[error("the config is {0} bytes; a published config may have at most {max} bytes", max = keys::MAX_CONFIG_BYTES)]
    TooBig(usize),
    /// Someone else published meanwhile, or etcd failed.
    #[error("{0}")]
    Etcd(String),
}

impl FleetEtcd {
    /// Connect to etcd for `group`.
    ///
    /// # Errors
    /// When etcd cannot be reached.
    pub async fn connect(config: &LockConfig, group: &str) -> Result<FleetEtcd, String> {
        let client = crate::lock::etcd3_client(config)
            .await
            .map_err(|e| e.to_string())?;
        Ok(FleetEtcd {
            client,
            group: group.to_string(),
        })
    }

    /// The group.
    #[must_use]
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The client (for watches and leases).
    #[must_use]
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Every key and value under `prefix`, paged.
    async fn range(&self, prefix: &str, keys_only: bool) -> Result<Vec<(String, Vec<u8>)>, String> {
        Ok(self.range_at(prefix, keys_only, 0).await?.0)
    }

    /// Every key and value under `prefix` as of `revision` (0: now), paged, with the
    /// revision read (every page is read at the first page's revision).
    pub(super) async fn range_at(
        &self,
        prefix: &str,
        keys_only: bool,
        mut revision: i64,
    ) -> Result<(Vec<(String, Vec<u8>)>, i64), String> {
        let mut out = Vec::new();
        let end = prefix_end(prefix);
        let mut from = prefix.as_bytes().to_vec();
        loop {
            let mut options = GetOptions::new().with_range(end.clone()).with_limit(PAGE);
            if keys_only {
                options = options.with_keys_only();
            }
            if revision > 0 {
                // Every page at the first page's revision: one consistent listing.
                options = options.with_revision(revision);
            }
            let resp = self
                .client
                .clone()
                .get(from.clone(), Some(options))
                .await
                .map_err(|e| etcd(&e))?;
            if revision == 0 {
                revision = resp
                    .header()
                    .map_or(0, etcd_client::ResponseHeader::revision);
            }
            let kvs = resp.kvs();
            for kv in kvs {
                out.push((
                    String::from_utf8_lossy(kv.key()).into_owned(),
                    kv.value().to_vec(),
                ));
            }
            match kvs.last() {
                Some(last) if resp.more() => {
                    from = last.key().to_vec();
                    from.push(0);
                }
                _ => break,
            }
        }
        Ok((out, revision))
    }

    /// One key's value as of `revision` (which must not be 0).
    pub(super) async fn value_at(
        &self,
        key: &str,
        revision: i64,
    ) -> Result<Option<Vec<u8>>, String> {
        let resp = self
            .client
            .clone()
            .get(key, Some(GetOptions::new().with_revision(revision)))
            .await
            .map_err(|e| etcd(&e))?;
        Ok(resp.kvs().first().map(|kv| kv.value().to_vec()))
    }

    /// Every node of the group, sorted by id; records of another group, oversized or
    /// unreadable ones are listed with the reason, never used and never dropped silently.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn nodes(&self) -> Result<Vec<Listed>, String> {
        let prefix = keys::group_prefix(&self.group);
        let (node_prefix, live_prefix) = (format!("{prefix}node/"), format!("{prefix}live/"));
        let (records, live) = tokio::try_join!(
            self.range(&node_prefix, false),
            self.range(&live_prefix, true)
        )?;
        let alive: std::collections::HashSet<String> = live
            .iter()
            .map(|(k, _)| keys::id_of(k).to_string())
            .collect();
        let mut out: Vec<Listed> = records
            .iter()
            .map(|(k, v)| Listed::read(k, v, &self.group, &alive))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The published config, with its key's mod revision.
    ///
    /// # Errors
    /// When etcd fails or the value cannot be used.
    pub async fn published(&self) -> Result<Option<(Published, i64)>, String> {
        self.published_at(&keys::config(&self.group)).await
    }

    /// One kept generation.
    ///
    /// # Errors
    /// When etcd fails or the value cannot be used.
    pub async fn generation(&self, generation: u64) -> Result<Option<Published>, String> {
        Ok(self
            .published_at(&keys::config_history(&self.group, generation))
            .await?
            .map(|(p, _)| p))
    }

    async fn published_at(&self, key: &str) -> Result<Option<(Published, i64)>, String> {
        let resp = self
            .client
            .clone()
            .get(key, None)
            .await
            .map_err(|e| etcd(&e))?;
        match resp.kvs().first() {
            None => Ok(None),
            Some(kv) => Ok(Some((Published::parse(kv.value())?, kv.mod_revision()))),
        }
    }

    /// Publish `text` (already validated and compiled by the caller) as the next generation,
    /// or as `generation` when given (refused unless after the published one).
    ///
    /// # Errors
    /// A generation going backwards, a config too big, a concurrent publish, etcd.
    pub async fn publish(
        &self,
        text: &str,
        hold: bool,
        generation: Option<u64>,
    ) -> Result<Published, PublishError> {
        if text.len() > keys::MAX_CONFIG_BYTES {
            return Err(PublishError::TooBig(text.len()));
        }
        let current = self.published().await.map_err(PublishError::Etcd)?;
        let (now, revision) = current
            .as_ref()
            .map_or((0, 0), |(p, rev)| (p.generation, *rev));
        let next = match generation {
            Some(g) if g <= now => {
                return Err(PublishError::Backwards {
                    asked: g,
                    current: now,
                });
            }
            Some(g) => g,
            None => now + 1,
        };
        let published = Published {
            generation: next,
            text: text.to_string(),
            sha256: hex(&Sha256::digest(text.as_bytes())),
            published_at: now_secs(),
            hold,
        };
        let value = serde_json::to_vec(&published)
            .map_err(|e| PublishError::Etcd(format!("internal error: {e}")))?;
        let key = keys::config(&self.group);
        let txn = Txn::new()
            .when(vec![Compare::mod_revision(
                key.clone(),
                CompareOp::Equal,
                revision,
            )])
            .and_then(vec![
                TxnOp::put(key, value.clone(), None),
                TxnOp::put(keys::config_history(&self.group, next), value, None),
            ]);
        let resp = self
            .client
            .clone()
            .txn(txn)
            .await
            .map_err(|e| PublishError::Etcd(etcd(&e)))?;
        if !resp.succeeded() {
            return Err(PublishError::Etcd(
                "another publish to this group happened at the same time; nothing was published, try again".into(),
            ));
        }
        Ok(published)
    }

    /// Write a node's record, and its liveness key on `lease`.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn put_record(&self, record: &NodeRecord, lease: i64) -> Result<(), String> {
        let value = serde_json::to_vec(record).map_err(|e| format!("internal error: {e}"))?;
        let txn = Txn::new().and_then(vec![
            TxnOp::put(keys::node(&self.group, &record.machine_id), value, None),
            TxnOp::put(
                keys::live(&self.group, &record.machine_id),
                Vec::new(),
                Some(PutOptions::new().with_lease(lease)),
            ),
        ]);
        self.client.clone().txn(txn).await.map_err(|e| etcd(&e))?;
        Ok(())
    }

    /// Write raw bytes at a key of this group (tests and benchmarks seed records this way).
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn put_raw(&self, key: &str, value: Vec<u8>) -> Result<(), String> {
        self.client
            .clone()
            .put(key, value, None)
            .await
            .map_err(|e| etcd(&e))?;
        Ok(())
    }

    /// The generation a rollout admitted `id` to.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn admitted(&self, id: &str) -> Result<Option<u64>, String> {
        let resp = self
            .client
            .clone()
            .get(keys::admit(&self.group, id), None)
            .await
            .map_err(|e| etcd(&e))?;
        Ok(resp
            .kvs()
            .first()
            .and_then(|kv| std::str::from_utf8(kv.value()).ok()?.trim().parse().ok()))
    }

    /// Admit `id` to `generation`.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn admit(&self, id: &str, generation: u64) -> Result<(), String> {
        self.put_raw(
            &keys::admit(&self.group, id),
            generation.to_string().into_bytes(),
        )
        .await
    }

    /// The rollout, with its key's mod revision.
    ///
    /// # Errors
    /// When etcd fails or the value is not a rollout.
    pub async fn rollout(&self) -> Result<Option<(Rollout, i64)>, String> {
        let resp = self
            .client
            .clone()
            .get(keys::rollout(&self.group), None)
            .await
            .map_err(|e| etcd(&e))?;
        match resp.kvs().first() {
            None => Ok(None),
            Some(kv) => Ok(Some((parse_rollout(kv.value())?, kv.mod_revision()))),
        }
    }

    /// Write the rollout if its key is still at `revision` (0: absent); false when it changed.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn put_rollout(&self, rollout: &Rollout, revision: i64) -> Result<bool, String> {
        let key = keys::rollout(&self.group);
        let value = serde_json::to_vec(rollout).map_err(|e| format!("internal error: {e}"))?;
        let txn = Txn::new()
            .when(vec![Compare::mod_revision(
                key.clone(),
                CompareOp::Equal,
                revision,
            )])
            .and_then(vec![TxnOp::put(key, value, None)]);
        let resp = self.client.clone().txn(txn).await.map_err(|e| etcd(&e))?;
        Ok(resp.succeeded())
    }
}

/// A rollout value read from etcd (size-limited, parsed).
fn parse_rollout(bytes: &[u8]) -> Result<Rollout, String> {
    if bytes.len() > keys::MAX_RECORD_BYTES {
        return Err("the rollout value is too large to be one".into());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("the rollout value is not a rollout: {e}"))
}

/// The end of the range of keys starting with `prefix` (etcd's `prefix + 1`).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}
