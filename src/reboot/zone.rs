//! The node's time zone, as locksmithd and systemd see it: `TZ`, else `/etc/localtime`; for a
//! root directory (tests, an offline node), that root's `/etc/localtime`.

use std::path::Path;

use jiff::tz::TimeZone;

use super::error::WindowError;

/// The time zone of the node at `root` (`None`: this process's zone: `TZ`, else
/// `/etc/localtime`, else UTC, as glibc does).
///
/// Under a root, `/etc/localtime` is usually a symlink into a zoneinfo directory
/// (`../usr/share/zoneinfo/Europe/Berlin`): the zone is then looked up by that name in the tz
/// database (so the root need not carry tzdata); a regular file is read as TZif; a missing
/// file means UTC.
///
/// # Errors
/// When the root's `/etc/localtime` names a zone that does not exist or is not TZif data.
pub fn node_zone(root: Option<&Path>) -> Result<TimeZone, WindowError> {
    let Some(root) = root else {
        return Ok(TimeZone::system());
    };
    let path = root.join("etc/localtime");
    if let Ok(target) = std::fs::read_link(&path) {
        let text = target.to_string_lossy();
        if let Some((_, name)) = text.rsplit_once("zoneinfo/") {
            let name = name
                .strip_prefix("posix/")
                .or_else(|| name.strip_prefix("right/"))
                .unwrap_or(name);
            return TimeZone::get(name).map_err(|e| {
                WindowError(format!(
                    "{} points at time zone {name:?}, which the tz database does not have: {e}",
                    path.display()
                ))
            });
        }
    }
    match std::fs::read(&path) {
        Ok(bytes) => TimeZone::tzif("localtime", &bytes).map_err(|e| {
            WindowError(format!(
                "{} is not a time zone file (TZif): {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TimeZone::UTC),
        Err(e) => Err(WindowError(format!("cannot read {}: {e}", path.display()))),
    }
}
