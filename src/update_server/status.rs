//! The status report: every channel (newest release, rollout controls, halt) and every
//! machine seen, as a table for people or JSON for tools. Pure: it renders what
//! `store`, `settings` and `instances` read.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::instances::{Instance, Instances};
use super::releases::Releases;
use super::settings::{Halt, Settings};

/// One channel in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelStatus {
    /// Its name.
    pub channel: String,
    /// Its newest release.
    pub newest: Option<String>,
    /// How many releases it has.
    pub releases: usize,
    /// Updates on.
    pub updates: bool,
    /// At most this many updates per period.
    pub max_updates: Option<u32>,
    /// The period, in seconds.
    pub period_secs: Option<u64>,
    /// Safe mode.
    pub safe_mode: bool,
    /// The halt, if the rollout stopped.
    pub halted: Option<Halt>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Channels with releases or controls.
    pub channels: Vec<ChannelStatus>,
    /// Every machine, by machine id.
    pub instances: Vec<Instance>,
}

/// Build the report.
#[must_use]
pub fn report(releases: &Releases, settings: &Settings, instances: Instances) -> Report {
    let names: BTreeSet<&str> = releases
        .releases
        .iter()
        .map(|r| r.channel.as_str())
        .chain(settings.channels.keys().map(String::as_str))
        .collect();
    let channels = names
        .into_iter()
        .map(|name| {
            let c = settings.channel(name);
            ChannelStatus {
                channel: name.to_string(),
                newest: releases.newest(name).map(|r| r.version.clone()),
                releases: releases
                    .releases
                    .iter()
                    .filter(|r| r.channel == name)
                    .count(),
                updates: c.updates,
                max_updates: c.max_updates,
                period_secs: c.period_secs,
                safe_mode: c.safe_mode,
                halted: c.halted,
            }
        })
        .collect();
    Report {
        channels,
        instances: instances.instances.into_values().collect(),
    }
}

fn time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// The report as aligned text tables.
#[must_use]
pub fn render_table(report: &Report) -> String {
    let mut rows = vec![vec![
        "CHANNEL".to_string(),
        "NEWEST".into(),
        "RELEASES".into(),
        "UPDATES".into(),
        "LIMIT".into(),
        "SAFE MODE".into(),
        "HALTED".into(),
    ]];
    for c in &report.channels {
        let limit = match (c.max_updates, c.period_secs) {
            (Some(n), Some(p)) => format!(
                "{n} per {}",
                humantime::format_duration(Duration::from_secs(p))
            ),
            _ => "-".into(),
        };
        rows.push(vec![
            c.channel.clone(),
            c.newest.clone().unwrap_or_else(|| "-".into()),
            c.releases.to_string(),
            if c.updates { "on" } else { "off" }.into(),
            limit,
            if c.safe_mode { "on" } else { "off" }.into(),
            c.halted
                .as_ref()
                .map_or_else(|| "-".into(), |h| format!("{}: {}", h.version, h.reason)),
        ]);
    }
    let mut out = table(&rows);
    out.push('\n');
    let mut rows = vec![vec![
        "MACHINE ID".to_string(),
        "CHANNEL".into(),
        "VERSION".into(),
        "STATE".into(),
        "LAST EVENT".into(),
        "LAST SEEN".into(),
        "GRANTED".into(),
        "NOTE".into(),
    ]];
    for i in &report.instances {
        let event = i.last_event.as_ref().map_or_else(
            || "-".into(),
            |e| match e.error_code.filter(|_| e.result != 1) {
                Some(code) => format!("{}/{} error {code}", e.event_type, e.result),
                None => format!("{}/{}", e.event_type, e.result),
            },
        );
        rows.push(vec![
            i.machine_id.clone(),
            i.channel.clone(),
            i.version.clone(),
            i.state.as_str().into(),
            event,
            time(i.last_seen),
            i.granted.as_ref().map_or_else(
                || "-".into(),
                |g| format!("{} at {}", g.version, time(g.at)),
            ),
            i.note.clone().unwrap_or_default(),
        ]);
    }
    if report.instances.is_empty() {
        out.push_str("No machine has asked this server yet.\n");
    } else {
        out.push_str(&table(&rows));
    }
    out
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update_server::instances::State;

    #[test]
    fn table_lists_channels_and_machines() {
        let mut instances = Instances::default();
        let mut i = Instance::new("m1", 0);
        i.channel = "stable".into();
        i.version = "1.0.0".into();
        i.state = State::UpToDate;
        instances.instances.insert("m1".into(), i);
        let mut settings = Settings::default();
        settings.channels.insert("beta".into(), Default::default());
        let text = render_table(&report(&Releases::default(), &settings, instances));
        assert!(text.starts_with(
            "CHANNEL  NEWEST  RELEASES  UPDATES  LIMIT  SAFE MODE  HALTED\nbeta     -"
        ));
        assert!(text.contains(
            "m1          stable   1.0.0    up-to-date  -           1970-01-01T00:00:00Z  -"
        ));
    }
}
