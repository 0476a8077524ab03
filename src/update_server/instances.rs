//! The machines the server has seen, one record per machine id: version, channel, the last
//! event, when it was last seen, the update it was granted and where it stands. Kept in
//! memory and appended to `DIR/instances.log` (`record_log`) by the server's flusher, at most
//! once a second and only the records that changed, so a busy server does not fsync per
//! request (a crash loses at most the last second of records).
//!
//! Bounded ([`Bounds`]): every field a client sends is at most [`MAX_FIELD_BYTES`] long (a
//! longer one is refused, not recorded); at most `max_machines` are kept, the longest unseen
//! evicted past it ([`evict_over`]); and one client address may add at most
//! `new_per_address_per_minute` machines a minute ([`Intake`]), so a client spraying machine
//! ids neither grows the table past its cap nor pushes the fleet out of it faster than that.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::omaha::Event;
use crate::omaha::event::{
    RESULT_ERROR, RESULT_SUCCESS, RESULT_SUCCESS_REBOOT, TYPE_DOWNLOAD_FINISHED,
    TYPE_DOWNLOAD_STARTED, TYPE_INSTALLED_NEBRASKA, TYPE_UPDATE_COMPLETE,
};

/// Where an instance stands (Nebraska's instance statuses, plus up-to-date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Seen, nothing decided yet (an event or ping only).
    Seen,
    /// Runs the newest version of its channel (or its channel has none).
    UpToDate,
    /// Granted an update, nothing reported since.
    Granted,
    /// Reported 13/1.
    Downloading,
    /// Reported 14/1.
    Downloaded,
    /// Reported 3/1: installed, waiting for its reboot.
    Installed,
    /// Runs the version it was granted (reported 3/2 on it).
    Complete,
    /// Reported a failure (3/0).
    Error,
    /// Refused by a rollout control for now.
    OnHold,
}

impl State {
    /// The name used in status output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            State::Seen => "seen",
            State::UpToDate => "up-to-date",
            State::Granted => "granted",
            State::Downloading => "downloading",
            State::Downloaded => "downloaded",
            State::Installed => "installed",
            State::Complete => "complete",
            State::Error => "error",
            State::OnHold => "on-hold",
        }
    }
}

/// The last event an instance reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// `eventtype`.
    pub event_type: u32,
    /// `eventresult`.
    pub result: u32,
    /// `errorcode`, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
    /// When, Unix seconds.
    pub at: u64,
}

/// An update granted to an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The version offered.
    pub version: String,
    /// When it was first offered, Unix seconds.
    pub at: u64,
}

/// One machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// `machineid` (go-omaha: `userid`).
    pub machine_id: String,
    /// `machinealias`, when sent and not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The app id it asked about.
    pub app_id: String,
    /// Its `track`.
    pub channel: String,
    /// The version it runs.
    pub version: String,
    /// The request's `version` (its updater: update_engine, go-omaha, kindling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updater: Option<String>,
    /// First request, Unix seconds.
    pub first_seen: u64,
    /// Last request, Unix seconds.
    pub last_seen: u64,
    /// The last event it reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<EventRecord>,
    /// The last update granted to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted: Option<Grant>,
    /// The granted version it reported failing to reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_version: Option<String>,
    /// The error code of that failure (44: it rolled back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_code: Option<i32>,
    /// Where it stands.
    pub state: State,
    /// Why it is on hold, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Instance {
    /// A record for a machine seen for the first time.
    #[must_use]
    pub fn new(machine_id: &str, now: u64) -> Instance {
        Instance {
            machine_id: machine_id.to_string(),
            alias: None,
            app_id: String::new(),
            channel: String::new(),
            version: String::new(),
            updater: None,
            first_seen: now,
            last_seen: now,
            last_event: None,
            granted: None,
            failed_version: None,
            failed_code: None,
            state: State::Seen,
            note: None,
        }
    }

    /// Whether it holds a grant of `version` it has neither completed nor failed.
    #[must_use]
    pub fn in_flight(&self, version: &str) -> bool {
        self.granted.as_ref().is_some_and(|g| g.version == version)
            && self.version != version
            && self.failed_version.as_deref() != Some(version)
    }

    /// Apply a reported event. Returns the granted version the event reports a failure of,
    /// if it does (for safe mode's halt).
    pub fn apply_event(&mut self, event: &Event, now: u64) -> Option<String> {
        self.last_event = Some(EventRecord {
            event_type: event.event_type,
            result: event.result,
            error_code: event.error_code,
            at: now,
        });
        self.note = None;
        match (event.event_type, event.result) {
            (_, RESULT_ERROR) => {
                self.state = State::Error;
                let failed = self
                    .granted
                    .as_ref()
                    .map(|g| g.version.clone())
                    .filter(|v| *v != self.version);
                if failed.is_some() {
                    self.failed_version.clone_from(&failed);
                    self.failed_code = event.error_code;
                }
                failed
            }
            (TYPE_DOWNLOAD_STARTED, RESULT_SUCCESS) => {
                self.state = State::Downloading;
                None
            }
            (TYPE_DOWNLOAD_FINISHED, RESULT_SUCCESS) => {
                self.state = State::Downloaded;
                None
            }
            (TYPE_UPDATE_COMPLETE | TYPE_INSTALLED_NEBRASKA, RESULT_SUCCESS) => {
                self.state = State::Installed;
                None
            }
            (TYPE_UPDATE_COMPLETE, RESULT_SUCCESS_REBOOT) => {
                if self
                    .granted
                    .as_ref()
                    .is_some_and(|g| g.version == self.version)
                {
                    self.state = State::Complete;
                }
                None
            }
            _ => None,
        }
    }
}

/// Every instance, by machine id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instances {
    /// By machine id.
    #[serde(default)]
    pub instances: BTreeMap<String, Instance>,
}

/// The longest machine id, alias, app id, track, version or updater name recorded, bytes.
pub const MAX_FIELD_BYTES: usize = 128;

/// The bounds of the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Machines kept at most (the longest unseen are evicted past it).
    pub max_machines: usize,
    /// New machines one client address may add per minute.
    pub new_per_address_per_minute: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_machines: 100_000,
            new_per_address_per_minute: 600,
        }
    }
}

/// Whether a new machine is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Recorded.
    Admitted,
    /// Over its address's rate; `first` for the first refusal of that address this minute.
    Refused {
        /// The first refusal of the address this minute (worth a log line).
        first: bool,
    },
}

/// New machines per client address in the current minute.
#[derive(Debug, Default)]
pub struct Intake {
    /// The bounds.
    pub bounds: Bounds,
    minute: u64,
    per_address: HashMap<IpAddr, u32>,
}

impl Intake {
    /// An intake under `bounds`.
    #[must_use]
    pub fn new(bounds: Bounds) -> Intake {
        Intake {
            bounds,
            ..Intake::default()
        }
    }

    /// Admit one new machine from `peer` at `now` (Unix seconds); a request with no peer
    /// address (not from a socket) is admitted.
    pub fn admit(&mut self, peer: Option<IpAddr>, now: u64) -> Admission {
        let Some(peer) = peer else {
            return Admission::Admitted;
        };
        let minute = now / 60;
        if minute != self.minute {
            // A new minute: the table starts empty (so it holds one minute's addresses).
            self.minute = minute;
            self.per_address = HashMap::new();
        }
        let count = self.per_address.entry(peer).or_insert(0);
        if *count >= self.bounds.new_per_address_per_minute {
            *count = count.saturating_add(1);
            return Admission::Refused {
                first: *count == self.bounds.new_per_address_per_minute.saturating_add(1),
            };
        }
        *count += 1;
        Admission::Admitted
    }
}

/// Evict the longest-unseen machines (never `keep`) while there are more than `max`; a
/// percent of the cap goes at once, so the cost is amortised over the next arrivals.
/// The evicted ids.
pub fn evict_over(
    instances: &mut BTreeMap<String, Instance>,
    max: usize,
    keep: &str,
) -> Vec<String> {
    if instances.len() <= max {
        return Vec::new();
    }
    let count = (instances.len() - max + max / 100).min(instances.len().saturating_sub(1));
    let mut by_age: Vec<(u64, &str)> = instances
        .values()
        .filter(|i| i.machine_id != keep)
        .map(|i| (i.last_seen, i.machine_id.as_str()))
        .collect();
    let count = count.min(by_age.len());
    if count == 0 {
        return Vec::new();
    }
    if count < by_age.len() {
        by_age.select_nth_unstable(count - 1);
    }
    let evicted: Vec<String> = by_age[..count]
        .iter()
        .map(|(_, id)| (*id).to_string())
        .collect();
    for id in &evicted {
        instances.remove(id);
    }
    evicted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intake_limits_an_address_per_minute() {
        let mut intake = Intake::new(Bounds {
            max_machines: 10,
            new_per_address_per_minute: 2,
        });
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        assert_eq!(intake.admit(Some(a), 60), Admission::Admitted);
        assert_eq!(intake.admit(Some(a), 61), Admission::Admitted);
        assert_eq!(
            intake.admit(Some(a), 62),
            Admission::Refused { first: true }
        );
        assert_eq!(
            intake.admit(Some(a), 63),
            Admission::Refused { first: false }
        );
        assert_eq!(intake.admit(Some(b), 63), Admission::Admitted);
        assert_eq!(intake.admit(Some(a), 120), Admission::Admitted);
    }

    #[test]
    fn eviction_takes_the_longest_unseen_and_keeps_the_new() {
        let mut map = BTreeMap::new();
        for n in 0..300u64 {
            let mut i = Instance::new(&format!("m{n}"), n);
            i.last_seen = 1000 - n;
            map.insert(i.machine_id.clone(), i);
        }
        let evicted = evict_over(&mut map, 200, "m299");
        assert_eq!(evicted.len(), 102);
        assert_eq!(map.len(), 198);
        assert!(map.contains_key("m299"));
        assert!(map.contains_key("m0"));
        assert!(!map.contains_key("m298"));
    }

    #[test]
    fn events_move_the_state() {
        let mut i = Instance::new("m", 1);
        i.version = "1.0.0".into();
        i.granted = Some(Grant {
            version: "2.0.0".into(),
            at: 1,
        });
        assert!(i.in_flight("2.0.0"));
        assert_eq!(i.apply_event(&Event::download_started(), 2), None);
        assert_eq!(i.state, State::Downloading);
        assert_eq!(i.apply_event(&Event::installed(), 3), None);
        assert_eq!(i.state, State::Installed);
        assert_eq!(i.apply_event(&Event::rollback(), 4), Some("2.0.0".into()));
        assert_eq!(i.state, State::Error);
        assert!(!i.in_flight("2.0.0"));
        i.version = "2.0.0".into();
        i.apply_event(&Event::rebooted(Some(String::new())), 5);
        assert_eq!(i.state, State::Complete);
    }
}
