//! `--from-proc-cmdline` (coreos-cloudinit's `proc-cmdline`): the user-data URL is the last
//! `cloud-config-url=` (or `cloud_config_url=`) on the kernel command line; no metadata.
//!
//! Without the key the source is never available and the run ends at once. Difference:
//! surrounding double quotes are removed (`cloud-config-url="http://..."` fails in
//! coreos-cloudinit with a URL parse error).

use std::path::PathBuf;

use super::http::Client;
use super::{Availability, Datasource, FetchError, Fut, Identity, MAX_USER_DATA};

/// The kernel command line's `cloud-config-url`.
#[derive(Debug, Clone)]
pub struct ProcCmdline {
    /// `/proc/cmdline`, or a test root's `proc/cmdline`.
    pub path: PathBuf,
    /// The client.
    pub client: Client,
}

/// The URL named by `cloud-config-url=` in a command line, as coreos-cloudinit finds it:
/// words split on single spaces, the key before the first `=` with `_` read as `-`, the last
/// match wins, a bare key is ignored.
#[must_use]
pub fn find_url(cmdline: &str) -> Option<String> {
    let mut found = None;
    for word in cmdline.trim().split(' ') {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        if key.replace('_', "-") != "cloud-config-url" {
            continue;
        }
        if let Some(v) = value {
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            found = Some(v.to_string());
        }
    }
    found
}

impl ProcCmdline {
    fn url(&self) -> Result<String, FetchError> {
        // Bounded and never blocking (a regular file: /proc/cmdline is one).
        let bytes =
            crate::source::read_regular(&self.path, super::MAX_METADATA as u64).map_err(|e| {
                FetchError::Malformed(format!("cannot read {}: {e}", self.path.display()))
            })?;
        let text = String::from_utf8_lossy(&bytes);
        find_url(&text).ok_or_else(|| {
            FetchError::Malformed(format!(
                "{} has no cloud-config-url=URL; waiting cannot help",
                self.path.display()
            ))
        })
    }
}

impl Datasource for ProcCmdline {
    fn identity(&self) -> Identity {
        Identity::once("proc-cmdline", self.path.display())
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move {
            match self.url() {
                Ok(url) => match self.client.policy().check(&url) {
                    Ok(_) => Availability::Available,
                    Err(e) => Availability::Never(format!("cloud-config-url: {e}")),
                },
                Err(why) => Availability::Never(why.to_string()),
            }
        })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move {
            let url = self.url()?;
            self.client
                .get_retry(&url, &[], MAX_USER_DATA)
                .await
                .map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::find_url;

    #[test]
    fn finds_the_last_url() {
        assert_eq!(
            find_url("ro cloud-config-url=http://a/b quiet\n"),
            Some("http://a/b".into())
        );
        assert_eq!(
            find_url("cloud_config_url=http://a cloud-config-url=http://b"),
            Some("http://b".into())
        );
        assert_eq!(find_url("cloud-config-url quiet"), None);
        assert_eq!(
            find_url("cloud-config-url=\"http://q\""),
            Some("http://q".into())
        );
        assert_eq!(find_url("root=/dev/sda"), None);
    }
}
