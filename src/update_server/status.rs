//! The status report: every channel (newest release, rollout controls, halt) and every
//! machine seen, as a table for people or JSON for tools. Pure: it renders what
//! `store`, `settings` and `instances` read.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::instances::{Instance, Instances};
use super::record_log::Index;
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
    Report {
        channels: channels(releases, settings),
        instances: instances.instances.into_values().collect(),
    }
}

/// The report's channels.
#[must_use]
pub fn channels(releases: &Releases, settings: &Settings) -> Vec<ChannelStatus> {
    let names: BTreeSet<&str> = releases
        .releases
        .iter()
        .map(|r| r.channel.as_str())
        .chain(settings.channels.keys().map(String::as_str))
        .collect();
    names
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
        .collect()
}

/// The report as [`Report`]'s pretty JSON (byte for byte what `serde_json::to_string_pretty`
/// of it gives, plus a newline), written record by record: each machine's record is read from
/// the log, parsed and written in turn, so the whole table is never in memory at once.
///
/// # Errors
/// `out` cannot be written.
pub fn write_json<W: std::io::Write>(
    out: W,
    channels: &[ChannelStatus],
    records: &Index,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut ser = serde_json::Serializer::pretty(&mut out);
    Streamed {
        channels,
        instances: Records(records),
    }
    .serialize(&mut ser)
    .map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// [`Report`]'s shape with the instances streamed.
#[derive(Serialize)]
struct Streamed<'a> {
    channels: &'a [ChannelStatus],
    instances: Records<'a>,
}

struct Records<'a>(&'a Index);

impl Serialize for Records<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut seq = serializer.serialize_seq(None)?;
        for record in self.0.records() {
            seq.serialize_element(&record)?;
        }
        seq.end()
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

    fn streamed(dir: &std::path::Path, settings: &Settings) -> String {
        let index = crate::update_server::record_log::index(dir).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        write_json(&mut out, &channels(&Releases::default(), settings), &index)
            .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"))
    }

    fn whole(dir: &std::path::Path, settings: &Settings) -> String {
        let loaded = crate::update_server::record_log::load(dir).unwrap_or_else(|e| panic!("{e}"));
        let mut text =
            serde_json::to_string_pretty(&report(&Releases::default(), settings, loaded.instances))
                .unwrap_or_else(|e| panic!("{e}"));
        text.push('\n');
        text
    }

    #[test]
    fn streamed_json_is_the_whole_report_byte_for_byte() {
        use crate::update_server::record_log::{RecordLog, lines};
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut settings = Settings::default();
        // No log yet, no machines: `"instances": []`.
        assert_eq!(
            streamed(dir.path(), &settings),
            whole(dir.path(), &settings)
        );
        settings.channels.insert("beta".into(), Default::default());
        let mut log = RecordLog::open(dir.path(), false).unwrap_or_else(|e| panic!("{e}"));
        let mut a = Instance::new("a", 1);
        a.alias = Some("alpha \"quoted\"".into());
        let b = Instance::new("b", 2);
        let c = Instance::new("c", 3);
        log.append(&lines([&c, &a, &b], &[]).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        a.version = "2.0.0".into();
        a.state = State::Installed;
        log.append(&lines([&a], &["b".to_string()]).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        // A machine put, then a corrupt line and a torn tail: both skipped.
        log.append(b"{\"put\":{\"machine_id\":\"z\"}}\n{\"put\":{\"machine_id\"")
            .unwrap_or_else(|e| panic!("{e}"));
        let text = streamed(dir.path(), &settings);
        assert_eq!(text, whole(dir.path(), &settings));
        assert!(text.contains("\"version\": \"2.0.0\""), "{text}");
        assert!(!text.contains("\"machine_id\": \"b\""), "{text}");
        assert!(text.find("\"machine_id\": \"a\"") < text.find("\"machine_id\": \"c\""));
    }
}
