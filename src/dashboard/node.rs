//! One node's page data: its record's history as etcd keeps it (each version of its
//! `node/<id>` key, read back through etcd's revisions, never stored anywhere else), the
//! events that history shows (versions, generations, states, the reboot slot taken and
//! given back), and its last apply's diff summary (the managed files of the record against
//! those of the last record on an older generation). Pure but for [`read`].

use crate::fleet::listing::Unusable;
use crate::fleet::record::NodeRecord;
use crate::fleet::{Error, FleetEtcd};

/// How many versions of a node's record are read back.
pub const HISTORY: usize = 64;

/// One version of the record.
#[derive(Debug, Clone)]
pub struct Version {
    /// The etcd revision that wrote it.
    pub revision: i64,
    /// The record, or why it cannot be used.
    pub record: Result<NodeRecord, Unusable>,
}

/// One thing that happened to the node, from two successive records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The revision that showed it.
    pub revision: i64,
    /// Unix seconds (the record's `last_seen`).
    pub at: i64,
    /// What happened.
    pub text: String,
}

/// The last apply's effect on the managed files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    /// The generation before and after.
    pub from: u64,
    /// See `from`.
    pub to: u64,
    /// Paths added, changed and removed.
    pub added: Vec<String>,
    /// See `added`.
    pub changed: Vec<String>,
    /// See `added`.
    pub removed: Vec<String>,
    /// How long the apply took, in milliseconds, when the record says.
    pub took_ms: Option<u64>,
    /// What waits for a reboot.
    pub reboot_required: Vec<String>,
}

/// A node's history, newest first.
///
/// # Errors
/// When etcd fails.
pub async fn read(store: &FleetEtcd, id: &str) -> Result<Vec<Version>, Error> {
    Ok(store
        .record_history(id, HISTORY)
        .await?
        .into_iter()
        .map(|(revision, record)| Version { revision, record })
        .collect())
}

/// The events between successive versions (`history` newest first), newest first.
#[must_use]
pub fn events(history: &[Version]) -> Vec<Event> {
    let mut out = Vec::new();
    let ok: Vec<(i64, &NodeRecord)> = history
        .iter()
        .filter_map(|v| v.record.as_ref().ok().map(|r| (v.revision, r)))
        .collect();
    for pair in ok.windows(2) {
        let ((revision, new), (_, old)) = (pair[0], pair[1]);
        let mut say = |text: String| {
            out.push(Event {
                revision,
                at: new.last_seen,
                text,
            });
        };
        let (a, b) = (&old.agent, &new.agent);
        if a.running_version != b.running_version {
            say(format!(
                "rebooted into {} (was {})",
                b.running_version, a.running_version
            ));
        }
        if a.staged_version != b.staged_version
            && let Some(v) = &b.staged_version
        {
            say(format!("staged {v}"));
        }
        if a.lock_held != b.lock_held {
            match &b.lock_held {
                Some(l) => say(format!("took a reboot slot ({l})")),
                None => say("gave its reboot slot back".into()),
            }
        }
        if a.admission != b.admission
            && let Some(adm) = &b.admission
        {
            say(adm.clone());
        }
        if a.denied != b.denied
            && let Some(d) = b.denied.last()
        {
            say(format!("denied release {d}"));
        }
        if old.generation != new.generation {
            say(format!(
                "generation {} applied (was {})",
                new.generation, old.generation
            ));
        }
        if old.state != new.state {
            match new.state.reason() {
                Some(why) => say(format!("{}: {why}", new.state.name())),
                None => say(new.state.name().to_string()),
            }
        }
    }
    out
}

/// The last apply's summary: the newest record against the newest older one on another
/// generation (`None` without two such records).
#[must_use]
pub fn last_apply(history: &[Version]) -> Option<ApplySummary> {
    let mut ok = history.iter().filter_map(|v| v.record.as_ref().ok());
    let now = ok.next()?;
    let before = ok.find(|r| r.generation != now.generation)?;
    let mut s = ApplySummary {
        from: before.generation,
        to: now.generation,
        took_ms: (now.apply_finished_ms >= now.apply_started_ms && now.apply_started_ms > 0)
            .then(|| now.apply_finished_ms - now.apply_started_ms),
        reboot_required: now.reboot_required.clone(),
        ..ApplySummary::default()
    };
    for (path, entry) in &now.digest {
        match before.digest.get(path) {
            None => s.added.push(path.clone()),
            Some(old) if old != entry => s.changed.push(path.clone()),
            Some(_) => {}
        }
    }
    s.removed = before
        .digest
        .keys()
        .filter(|p| !now.digest.contains_key(*p))
        .cloned()
        .collect();
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::record::NodeState;

    fn v(
        revision: i64,
        generation: u64,
        version: &str,
        lock: Option<&str>,
        files: &[(&str, &str)],
    ) -> Version {
        let mut r = NodeRecord {
            generation,
            state: NodeState::Applied,
            last_seen: revision * 10,
            ..NodeRecord::default()
        };
        r.agent.running_version = version.into();
        r.agent.lock_held = lock.map(str::to_string);
        r.digest = files
            .iter()
            .map(|(p, e)| ((*p).to_string(), (*e).to_string()))
            .collect();
        Version {
            revision,
            record: Ok(r),
        }
    }

    #[test]
    fn history_tells_reboots_slots_and_applies() {
        let h = vec![
            v(9, 2, "1.0.1", None, &[("/a", "x2"), ("/c", "z")]),
            v(
                7,
                2,
                "1.0.1",
                Some("etcd3 default"),
                &[("/a", "x2"), ("/c", "z")],
            ),
            v(
                5,
                2,
                "1.0.0",
                Some("etcd3 default"),
                &[("/a", "x2"), ("/c", "z")],
            ),
            v(3, 1, "1.0.0", None, &[("/a", "x1"), ("/b", "y")]),
        ];
        let e: Vec<String> = events(&h).into_iter().map(|e| e.text).collect();
        assert_eq!(
            e,
            [
                "gave its reboot slot back",
                "rebooted into 1.0.1 (was 1.0.0)",
                "took a reboot slot (etcd3 default)",
                "generation 2 applied (was 1)",
            ]
        );
        let s = last_apply(&h).unwrap();
        assert_eq!((s.from, s.to), (1, 2));
        assert_eq!(
            (s.added, s.changed, s.removed),
            (
                vec!["/c".to_string()],
                vec!["/a".to_string()],
                vec!["/b".to_string()]
            )
        );
    }
}
