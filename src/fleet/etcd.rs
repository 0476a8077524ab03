//! The fleet's keys in etcd (v3), one group at a time: [`FleetEtcd`] is the one handle the
//! operator commands, the member and the release gate read and write the group through.
//! It is named for what it is, a connection to etcd scoped to a group's keys (see `keys`),
//! not a store of its own: nothing is kept here, every answer is etcd's. Lists are read in
//! pages (a 10,000-node group is more than gRPC's default message limit in one answer);
//! writes that must not race (a publish against another publish, a rollout against its
//! controller) are compare-and-swap transactions.

use etcd_client::{Client, Compare, CompareOp, GetOptions, GetResponse, PutOptions, Txn, TxnOp};
use sha2::{Digest as _, Sha256};

use super::error::Error;
use super::keys;
use super::listing::Listed;
use super::record::{NodeRecord, Published, hex, now_secs};
use super::rollout::Rollout;
use crate::lock::{LockConfig, etcd3_failover as failover};

/// Keys read per page.
const PAGE: i64 = 2000;

/// One group's keys in etcd.
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

/// A value as JSON for etcd.
pub(super) fn encode(value: &impl serde::Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))
}

impl FleetEtcd {
    /// Connect to etcd for `group`.
    ///
    /// # Errors
    /// When etcd cannot be reached.
    pub async fn connect(config: &LockConfig, group: &str) -> Result<FleetEtcd, Error> {
        let client = crate::lock::etcd3_client(config).await?;
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

    /// One key as of `revision` (0: now).
    pub(super) async fn get(&self, key: &str, revision: i64) -> Result<GetResponse, Error> {
        let options = (revision > 0).then(|| GetOptions::new().with_revision(revision));
        Ok(failover(&self.client, |mut c| {
            let options = options.clone();
            async move { c.get(key, options).await }
        })
        .await?)
    }

    /// One key's value and mod revision, when it exists.
    async fn value(&self, key: &str) -> Result<Option<(Vec<u8>, i64)>, Error> {
        let resp = self.get(key, 0).await?;
        Ok(resp
            .kvs()
            .first()
            .map(|kv| (kv.value().to_vec(), kv.mod_revision())))
    }

    /// Run `then` if `key` is still at `revision` (0: absent); false when it changed.
    pub(super) async fn when_unchanged(
        &self,
        key: &str,
        revision: i64,
        then: Vec<TxnOp>,
    ) -> Result<bool, Error> {
        let txn = Txn::new()
            .when(vec![Compare::mod_revision(key, CompareOp::Equal, revision)])
            .and_then(then);
        Ok(failover(&self.client, |mut c| {
            let txn = txn.clone();
            async move { c.txn(txn).await }
        })
        .await?
        .succeeded())
    }

    /// Every key and value under `prefix`, paged.
    async fn range(&self, prefix: &str, keys_only: bool) -> Result<Vec<(String, Vec<u8>)>, Error> {
        Ok(self.range_at(prefix, keys_only, 0).await?.0)
    }

    /// Every key and value under `prefix` as of `revision` (0: now), paged, with the
    /// revision read (every page is read at the first page's revision).
    pub(super) async fn range_at(
        &self,
        prefix: &str,
        keys_only: bool,
        mut revision: i64,
    ) -> Result<(Vec<(String, Vec<u8>)>, i64), Error> {
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
            let resp = failover(&self.client, |mut c| {
                let (from, options) = (from.clone(), options.clone());
                async move { c.get(from, Some(options)).await }
            })
            .await?;
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
    ) -> Result<Option<Vec<u8>>, Error> {
        let resp = self.get(key, revision).await?;
        Ok(resp.kvs().first().map(|kv| kv.value().to_vec()))
    }

    /// Every node of the group, sorted by id; records of another group, oversized or
    /// unreadable ones are listed with the reason, never used and never dropped silently.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn nodes(&self) -> Result<Vec<Listed>, Error> {
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

    /// A node's record as it was written, newest first: up to `max` versions of its key,
    /// read back through etcd's own history (each version's predecessor is the value at
    /// the revision before it was written), until the key did not exist or etcd compacted
    /// the revision away. Each comes with its mod revision and, where it can be used, the
    /// record; nothing is kept anywhere but in etcd.
    ///
    /// # Errors
    /// When etcd fails (a compacted revision only ends the history).
    pub async fn record_history(
        &self,
        id: &str,
        max: usize,
    ) -> Result<Vec<(i64, Result<NodeRecord, super::listing::Unusable>)>, Error> {
        let key = keys::node(&self.group, id);
        let mut out = Vec::new();
        let mut at = 0;
        while out.len() < max {
            let resp = match self.get(&key, at).await {
                Ok(resp) => resp,
                // The revision was compacted: the history ends here.
                Err(_) if at > 0 => break,
                Err(e) => return Err(e),
            };
            let Some(kv) = resp.kvs().first() else { break };
            let revision = kv.mod_revision();
            out.push((
                revision,
                NodeRecord::parse(kv.value(), &self.group).map_err(Into::into),
            ));
            if revision <= 1 {
                break;
            }
            at = revision - 1;
        }
        Ok(out)
    }

    /// The published config, with its key's mod revision.
    ///
    /// # Errors
    /// When etcd fails or the value cannot be used.
    pub async fn published(&self) -> Result<Option<(Published, i64)>, Error> {
        self.published_at(&keys::config(&self.group)).await
    }

    /// One kept generation.
    ///
    /// # Errors
    /// When etcd fails or the value cannot be used.
    pub async fn generation(&self, generation: u64) -> Result<Option<Published>, Error> {
        Ok(self
            .published_at(&keys::config_history(&self.group, generation))
            .await?
            .map(|(p, _)| p))
    }

    async fn published_at(&self, key: &str) -> Result<Option<(Published, i64)>, Error> {
        match self.value(key).await? {
            None => Ok(None),
            Some((value, revision)) => Ok(Some((Published::parse(&value)?, revision))),
        }
    }

    /// Publish `text` (already validated and compiled by the caller) as the next generation,
    /// or as `generation` when given (refused unless after the published one).
    ///
    /// # Errors
    /// A generation going backwards, a config too big, a concurrent publish, etcd; each
    /// said with "nothing published".
    pub async fn publish(
        &self,
        text: &str,
        hold: bool,
        generation: Option<u64>,
    ) -> Result<Published, Error> {
        self.try_publish(text, hold, generation)
            .await
            .map_err(|e| Error::NotPublished(Box::new(e)))
    }

    async fn try_publish(
        &self,
        text: &str,
        hold: bool,
        generation: Option<u64>,
    ) -> Result<Published, Error> {
        if text.len() > keys::MAX_CONFIG_BYTES {
            return Err(Error::TooBig(text.len()));
        }
        let current = self.published().await?;
        let (now, revision) = current
            .as_ref()
            .map_or((0, 0), |(p, rev)| (p.generation, *rev));
        let next = match generation {
            Some(g) if g <= now => {
                return Err(Error::Backwards {
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
        let value = encode(&published)?;
        let key = keys::config(&self.group);
        let writes = vec![
            TxnOp::put(key.clone(), value.clone(), None),
            TxnOp::put(keys::config_history(&self.group, next), value, None),
        ];
        if !self.when_unchanged(&key, revision, writes).await? {
            return Err(Error::PublishedMeanwhile);
        }
        Ok(published)
    }

    /// Write a node's record, and its liveness key on `lease`.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn put_record(&self, record: &NodeRecord, lease: i64) -> Result<(), Error> {
        let value = encode(record)?;
        let txn = Txn::new().and_then(vec![
            TxnOp::put(keys::node(&self.group, &record.machine_id), value, None),
            TxnOp::put(
                keys::live(&self.group, &record.machine_id),
                Vec::new(),
                Some(PutOptions::new().with_lease(lease)),
            ),
        ]);
        failover(&self.client, |mut c| {
            let txn = txn.clone();
            async move { c.txn(txn).await }
        })
        .await?;
        Ok(())
    }

    /// Write raw bytes at a key of this group (tests and benchmarks seed records this way);
    /// returns the revision of the write.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn put_raw(&self, key: &str, value: Vec<u8>) -> Result<i64, Error> {
        let resp = failover(&self.client, |mut c| {
            let value = value.clone();
            async move { c.put(key, value, None).await }
        })
        .await?;
        Ok(resp
            .header()
            .map_or(0, etcd_client::ResponseHeader::revision))
    }

    /// The generation a rollout admitted `id` to.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn admitted(&self, id: &str) -> Result<Option<u64>, Error> {
        Ok(self
            .value(&keys::admit(&self.group, id))
            .await?
            .and_then(|(v, _)| std::str::from_utf8(&v).ok()?.trim().parse().ok()))
    }

    /// Admit `id` to `generation`.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn admit(&self, id: &str, generation: u64) -> Result<(), Error> {
        self.put_raw(
            &keys::admit(&self.group, id),
            generation.to_string().into_bytes(),
        )
        .await?;
        Ok(())
    }

    /// The rollout, with its key's mod revision.
    ///
    /// # Errors
    /// When etcd fails or the value is not a rollout.
    pub async fn rollout(&self) -> Result<Option<(Rollout, i64)>, Error> {
        match self.value(&keys::rollout(&self.group)).await? {
            None => Ok(None),
            Some((value, revision)) => Ok(Some((Rollout::parse(&value)?, revision))),
        }
    }

    /// Write the rollout if its key is still at `revision` (0: absent); false when it changed.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn put_rollout(&self, rollout: &Rollout, revision: i64) -> Result<bool, Error> {
        let key = keys::rollout(&self.group);
        let value = encode(rollout)?;
        self.when_unchanged(&key, revision, vec![TxnOp::put(key.clone(), value, None)])
            .await
    }
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
