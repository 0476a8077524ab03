//! What `kindling agent status` and `update_engine_client -status` print.
//!
//! The text form is update_engine_client's exact `printf` (five `KEY=value` lines, `%f` with
//! six decimals), so scripts that grep it keep working; the JSON form adds what
//! update_engine never told: the staged slot, the denylist and the last error.

use serde::Serialize;

use super::state::{Record, Status};

/// The five values update_engine reports for a record (`GetStatus`, `StatusUpdate`, and
/// `update_engine_client -status`'s lines): the one conversion every form uses.
#[must_use]
pub fn bus_status(record: &Record) -> crate::bus::Status {
    let status = record.status();
    let (version, size) = match (record.state.offer(), record.state.staged()) {
        (Some(o), _) if status != Status::Idle => (o.version.clone(), o.size),
        (_, Some(s)) if status == Status::UpdatedNeedReboot => (s.version.clone(), 0),
        _ => ("0.0.0".to_string(), 0),
    };
    crate::bus::Status {
        last_checked_time: record.last_checked_time,
        progress: record.progress_fraction(),
        current_operation: status.update_engine_name().to_string(),
        new_version: version,
        new_size: i64::try_from(size).unwrap_or(i64::MAX),
    }
}

/// `update_engine_client -status`'s five lines for a record.
#[must_use]
pub fn render(record: &Record) -> String {
    render_status(&bus_status(record))
}

/// `update_engine_client -status`'s five lines, exactly its `printf` (`%f`: six decimals).
#[must_use]
pub fn render_status(s: &crate::bus::Status) -> String {
    format!(
        "LAST_CHECKED_TIME={}\nPROGRESS={:.6}\nCURRENT_OP={}\nNEW_VERSION={}\nNEW_SIZE={}\n",
        s.last_checked_time, s.progress, s.current_operation, s.new_version, s.new_size
    )
}

#[derive(Serialize)]
struct Json<'a> {
    last_checked_time: i64,
    progress: f64,
    current_op: &'static str,
    new_version: String,
    new_size: u64,
    running_version: &'a str,
    record: &'a Record,
}

/// The JSON form: update_engine's fields plus the whole record.
#[must_use]
pub fn render_json(record: &Record, running_version: &str) -> String {
    let s = bus_status(record);
    let mut text = serde_json::to_string_pretty(&Json {
        last_checked_time: s.last_checked_time,
        progress: s.progress,
        current_op: record.status().update_engine_name(),
        new_version: s.new_version,
        new_size: u64::try_from(s.new_size).unwrap_or(0),
        running_version,
        record,
    })
    .unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_node_prints_update_engines_exact_lines() {
        assert_eq!(
            render(&Record::default()),
            "LAST_CHECKED_TIME=0\nPROGRESS=0.000000\nCURRENT_OP=UPDATE_STATUS_IDLE\nNEW_VERSION=0.0.0\nNEW_SIZE=0\n"
        );
    }
}
