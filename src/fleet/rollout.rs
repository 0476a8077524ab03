//! A rollout as the fleet keeps it in etcd (`kindling/fleet/<group>/rollout`, JSON): what
//! is rolled out (a held config's generation or an OS release), how nodes are admitted
//! (serial or parallel, at most `max_parallel`), the health gate (failures tolerated), where
//! it is (its [`Phase`]) and every node's outcome. The controller that runs it is
//! `controller`; the release gate (`gate`) reads it on the node; `fleet rollout show` renders
//! it with [`Rollout::summary`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::ValueError;
use super::keys::MAX_RECORD_BYTES;
use super::record::now_secs;

/// How nodes are admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One node at a time.
    Serial,
    /// Up to `max_parallel` at a time.
    Parallel,
}

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Created, not started.
    Created,
    /// A controller is admitting waves.
    Running,
    /// Abort asked; the controller finishes the wave in flight and stops.
    Aborting,
    /// Aborted; no more nodes are admitted.
    Aborted,
    /// The health gate stopped it.
    Stopped(String),
    /// Every reachable node has the generation.
    Completed,
}

/// A rollout: `kindling/fleet/<group>/rollout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// The generation rolled out (0 for a release rollout).
    pub generation: u64,
    /// The OS release rolled out, for a release rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Serial or parallel.
    pub kind: Kind,
    /// The most nodes admitted at once.
    pub max_parallel: usize,
    /// Failures tolerated (0: strict).
    pub max_failures: usize,
    /// Where it is.
    pub phase: Phase,
    /// Nodes admitted, in order.
    pub admitted: Vec<String>,
    /// The size of each wave admitted, in order (`admitted` split into waves); empty in a
    /// rollout written before waves were recorded (then read as `max_parallel` each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<usize>,
    /// Nodes that reported the generation applied.
    pub succeeded: Vec<String>,
    /// Nodes that failed, with why.
    pub failed: BTreeMap<String, String>,
    /// Failed nodes an operator rolled back (`fleet rollout rollback`), with the generation
    /// each is back on.
    #[serde(default)]
    pub rolled_back: BTreeMap<String, u64>,
    /// Nodes left out when it completed: reachable, not on the release, never staged it.
    #[serde(default)]
    pub not_staged: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Rollout {
    /// A new rollout of `generation`.
    #[must_use]
    pub fn new(generation: u64, kind: Kind, max_parallel: usize, max_failures: usize) -> Rollout {
        let now = now_secs();
        Rollout {
            generation,
            kind,
            max_parallel: if kind == Kind::Serial {
                1
            } else {
                max_parallel.max(1)
            },
            max_failures,
            phase: Phase::Created,
            admitted: Vec::new(),
            waves: Vec::new(),
            succeeded: Vec::new(),
            failed: BTreeMap::new(),
            rolled_back: BTreeMap::new(),
            not_staged: Vec::new(),
            created_at: now,
            updated_at: now,
            release: None,
        }
    }

    /// A new rollout of the OS release `version`.
    #[must_use]
    pub fn new_release(
        version: &str,
        kind: Kind,
        max_parallel: usize,
        max_failures: usize,
    ) -> Rollout {
        Rollout {
            release: Some(version.to_string()),
            ..Rollout::new(0, kind, max_parallel, max_failures)
        }
    }

    /// A rollout value read from etcd (size-limited, parsed).
    ///
    /// # Errors
    /// A value too large, or not a rollout.
    pub fn parse(bytes: &[u8]) -> Result<Rollout, ValueError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(ValueError::RolloutTooLarge);
        }
        serde_json::from_slice(bytes).map_err(ValueError::NotARollout)
    }

    /// What is rolled out: `generation 3` or `release 1.0.1`.
    #[must_use]
    pub fn what(&self) -> String {
        match &self.release {
            Some(v) => format!("release {v}"),
            None => format!("generation {}", self.generation),
        }
    }

    /// The phase's short name (`running`, `stopped (why)`, ...).
    #[must_use]
    pub fn phase_name(&self) -> String {
        match &self.phase {
            Phase::Created => "created".to_string(),
            Phase::Running => "running".to_string(),
            Phase::Aborting => "aborting".to_string(),
            Phase::Aborted => "aborted".to_string(),
            Phase::Stopped(why) => format!("stopped ({why})"),
            Phase::Completed => "completed".to_string(),
        }
    }

    /// Admitted nodes with no outcome yet.
    #[must_use]
    pub fn in_flight(&self) -> Vec<String> {
        self.admitted
            .iter()
            .filter(|id| !self.succeeded.contains(id) && !self.failed.contains_key(*id))
            .cloned()
            .collect()
    }

    /// The admitted nodes wave by wave, in admission order: as recorded, else (a rollout
    /// written before waves were recorded) `max_parallel` nodes each.
    #[must_use]
    pub fn wave_members(&self) -> Vec<&[String]> {
        let mut out = Vec::new();
        let mut rest = self.admitted.as_slice();
        for &size in &self.waves {
            let (wave, tail) = rest.split_at(size.min(rest.len()));
            if !wave.is_empty() {
                out.push(wave);
            }
            rest = tail;
        }
        out.extend(rest.chunks(self.max_parallel.max(1)));
        out
    }

    /// Whether nothing more will happen.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(
            self.phase,
            Phase::Aborted | Phase::Stopped(_) | Phase::Completed
        )
    }

    /// A one-line account.
    #[must_use]
    pub fn summary(&self) -> String {
        let phase = self.phase_name();
        let gate = if self.max_failures == 0 {
            "strict".to_string()
        } else {
            format!("relaxed:{}", self.max_failures)
        };
        let done = if self.release.is_some() {
            "updated"
        } else {
            "applied"
        };
        let mut text = format!(
            "rollout of {}: {phase}; {:?} at most {} at once, gate {gate}; {} admitted, {} {done}, {} failed",
            self.what(),
            self.kind,
            self.max_parallel,
            self.admitted.len(),
            self.succeeded.len(),
            self.failed.len()
        )
        .replace("Serial", "serial")
        .replace("Parallel", "parallel");
        if !self.rolled_back.is_empty() {
            text.push_str(&format!(", {} rolled back", self.rolled_back.len()));
        }
        if !self.not_staged.is_empty() {
            text.push_str(&format!(
                ", {} never staged it (not offered by the update server)",
                self.not_staged.len()
            ));
        }
        text
    }

    /// Where an admitted node stands, for `rollout show`: a rollback wins over the apply
    /// it undid (the node is no longer on the rollout's generation), a failure with its
    /// reason, else done or in flight.
    #[must_use]
    pub fn node_state(&self, id: &str) -> String {
        let failed = self.failed.get(id);
        match (self.rolled_back.get(id), failed) {
            (Some(g), Some(why)) => format!("failed ({why}), rolled back to generation {g}"),
            (Some(g), None) => format!("rolled back to generation {g}"),
            (None, Some(why)) => format!("failed: {why}"),
            (None, None) if self.succeeded.iter().any(|s| s == id) => {
                if self.release.is_some() {
                    "updated".to_string()
                } else {
                    "applied".to_string()
                }
            }
            (None, None) => "in flight".to_string(),
        }
    }
}

#[cfg(test)]
mod node_state_tests {
    use super::{Kind, Rollout};

    #[test]
    fn a_rollback_is_shown_over_the_apply_it_undid() {
        let mut r = Rollout::new(3, Kind::Serial, 1, 0);
        r.admitted = vec!["m1".into(), "m2".into(), "m3".into(), "m4".into()];
        r.succeeded = vec!["m1".into(), "m2".into()];
        r.failed.insert("m3".into(), "health check".into());
        r.rolled_back.insert("m1".into(), 2);
        r.rolled_back.insert("m3".into(), 2);
        assert_eq!(r.node_state("m1"), "rolled back to generation 2");
        assert_eq!(r.node_state("m2"), "applied");
        assert_eq!(
            r.node_state("m3"),
            "failed (health check), rolled back to generation 2"
        );
        assert_eq!(r.node_state("m4"), "in flight");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_are_as_recorded_and_an_older_rollout_is_cut_by_max_parallel() {
        let mut r = Rollout::new(2, Kind::Parallel, 2, 0);
        r.admitted = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        // Written before waves were recorded: cut into waves of max_parallel.
        let sizes: Vec<usize> = r.wave_members().iter().map(|w| w.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        // Recorded: a wave of one (a release not staged everywhere yet), then two.
        r.waves = vec![1, 2, 2];
        let waves = r.wave_members();
        assert_eq!(waves[0], ["a"]);
        assert_eq!(waves[1], ["b", "c"]);
        assert_eq!(waves[2], ["d", "e"]);
        // The value without waves reads as before, and round-trips with them.
        let old = br#"{"generation":2,"kind":"serial","max_parallel":1,"max_failures":0,"phase":"running","admitted":[],"succeeded":[],"failed":{},"created_at":0,"updated_at":0}"#;
        assert!(Rollout::parse(old).unwrap().waves.is_empty());
        let back = Rollout::parse(&serde_json::to_vec(&r).unwrap()).unwrap();
        assert_eq!(back.waves, [1, 2, 2]);
    }
}
