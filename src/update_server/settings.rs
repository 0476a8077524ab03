//! Rollout controls per channel, kept in `DIR/channels.json`: updates on/off, at most N
//! updates granted per period, safe mode (a canary first), and the halt a failure in safe
//! mode leaves. `kindling update-server channel` edits the file; the running server reads
//! it again whenever its modification time, size or inode changes (one `stat` per request)
//! and writes a halt into it. Both writers hold the directory lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::directory::{self, CHANNELS_FILE, DirectoryError};

/// How long a granted update may stay unfinished in safe mode before it counts as failed
/// (Nebraska's `policy_update_timeout` default).
pub const DEFAULT_UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Every channel's controls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// By channel name.
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelSettings>,
}

impl Settings {
    /// The controls of `channel` (the defaults when none are set).
    #[must_use]
    pub fn channel(&self, channel: &str) -> ChannelSettings {
        self.channels.get(channel).cloned().unwrap_or_default()
    }
}

/// One channel's controls. The default: updates on, no limit, no safe mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSettings {
    /// Whether updates are granted at all.
    #[serde(default = "yes")]
    pub updates: bool,
    /// At most this many updates granted per `period_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_updates: Option<u32>,
    /// The period of `max_updates`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_secs: Option<u64>,
    /// Safe mode: one node first; the rest once it is up on the new version; a failure
    /// halts the rollout.
    #[serde(default)]
    pub safe_mode: bool,
    /// In safe mode, a grant unfinished after this long counts as a failure (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_timeout_secs: Option<u64>,
    /// A halted rollout: no more grants of this version until `--resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halted: Option<Halt>,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        ChannelSettings {
            updates: true,
            max_updates: None,
            period_secs: None,
            safe_mode: false,
            update_timeout_secs: None,
            halted: None,
        }
    }
}

impl ChannelSettings {
    /// The safe-mode timeout.
    #[must_use]
    pub fn update_timeout(&self) -> Duration {
        self.update_timeout_secs
            .map_or(DEFAULT_UPDATE_TIMEOUT, Duration::from_secs)
    }
}

fn yes() -> bool {
    true
}

/// Why a rollout stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    /// The version whose rollout stopped.
    pub version: String,
    /// The machine that failed.
    pub machine_id: String,
    /// What happened, in words.
    pub reason: String,
    /// When, Unix seconds.
    pub at: u64,
}

/// Read the settings.
///
/// # Errors
/// [`DirectoryError`].
pub fn load(dir: &Path) -> Result<Settings, DirectoryError> {
    directory::read_json(&dir.join(CHANNELS_FILE))
}

/// Change one channel's controls under the directory lock (read, edit, write atomically).
///
/// # Errors
/// [`DirectoryError`].
pub fn update(
    dir: &Path,
    channel: &str,
    edit: impl FnOnce(&mut ChannelSettings),
) -> Result<ChannelSettings, DirectoryError> {
    std::fs::create_dir_all(dir).map_err(|e| directory::io_at(dir, e))?;
    let _lock = directory::lock(dir)?;
    let mut settings = load(dir)?;
    let entry = settings.channels.entry(channel.to_string()).or_default();
    edit(entry);
    let result = entry.clone();
    directory::write_json(&dir.join(CHANNELS_FILE), &settings)?;
    Ok(result)
}

/// Why a period was refused (clap shows it after the flag).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeriodError {
    /// Not a duration humantime reads.
    #[error("{text:?} is not a duration ({source}); write e.g. 30s, 15m, 1h or \"15 minutes\"")]
    NotADuration {
        /// What was given.
        text: String,
        /// humantime's reason.
        source: humantime::DurationError,
    },
    /// Zero: shorter than the one second the controls count in.
    #[error("{0:?} is shorter than one second")]
    TooShort(String),
}

/// Parse a period: humantime's `15m`, `1h 30m`, `90s`, `2days`, or Nebraska's
/// `15 minutes` (which humantime reads too).
///
/// # Errors
/// [`PeriodError`], saying what is accepted.
pub fn parse_period(text: &str) -> Result<Duration, PeriodError> {
    let d = humantime::parse_duration(text.trim()).map_err(|source| PeriodError::NotADuration {
        text: text.to_string(),
        source,
    })?;
    if d.as_secs() == 0 {
        return Err(PeriodError::TooShort(text.to_string()));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(parse_period("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_period("15 minutes"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_period("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_period("soon").is_err());
        assert!(parse_period("0s").is_err());
    }

    #[test]
    fn update_edits_one_channel() {
        let tmp = tempfile::tempdir().unwrap();
        update(tmp.path(), "stable", |c| c.updates = false).unwrap();
        update(tmp.path(), "beta", |c| c.safe_mode = true).unwrap();
        let s = load(tmp.path()).unwrap();
        assert!(!s.channel("stable").updates);
        assert!(s.channel("beta").safe_mode && s.channel("beta").updates);
        assert_eq!(s.channel("alpha"), ChannelSettings::default());
    }
}
