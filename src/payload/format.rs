//! [`Format`]: which kind of payload a URL serves, recognised from its first bytes
//! ([`sniff`]: one `Range: bytes=0-3` GET): update_engine's `CrAU` payloads, or kindling's own
//! format (a raw `/usr` image with a minisign signature beside it), which is anything else.

use super::client::Timeouts;
use super::error::PayloadError;
use super::fetch::{classify, send};

/// What a payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// kindling's own: a raw image, signed by a `.minisig` beside it.
    Kindling,
    /// update_engine's: `CrAU`, a manifest of operations, signed inside with RSA.
    Crau,
}

impl Format {
    /// The format of a payload starting with `first` (at least 4 bytes to tell).
    #[must_use]
    pub fn of(first: &[u8]) -> Self {
        if first.starts_with(b"CrAU") {
            Self::Crau
        } else {
            Self::Kindling
        }
    }

    /// `kindling` or `crau`, as `kindling payload fetch` prints it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Kindling => "kindling",
            Self::Crau => "crau",
        }
    }
}

/// Fetch the first 4 bytes of `url` and tell its [`Format`]. A server that ignores `Range`
/// is fine (only the first bytes are read); an HTTP error is the error it would be for the
/// download.
pub async fn sniff(
    client: &reqwest::Client,
    url: &str,
    timeouts: &Timeouts,
) -> Result<Format, PayloadError> {
    let request = client.get(url).header(reqwest::header::RANGE, "bytes=0-3");
    let mut resp = send(request, url, 0, timeouts).await?;
    let status = resp.status().as_u16();
    if status == 416 {
        // Fewer than 4 bytes... or none: not an update_engine payload.
        return Ok(Format::Kindling);
    }
    if !(200..300).contains(&status) {
        return Err(PayloadError::from_status(url, status));
    }
    let mut first = Vec::new();
    while first.len() < 4 {
        match tokio::time::timeout(timeouts.stall, resp.chunk()).await {
            Err(_) => {
                return Err(PayloadError::Stalled {
                    url: url.to_string(),
                    at: first.len() as u64,
                    after: timeouts.stall,
                });
            }
            Ok(Err(e)) => return Err(classify(&e, url, first.len() as u64, u64::MAX)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => first.extend_from_slice(&chunk[..chunk.len().min(4)]),
        }
    }
    Ok(Format::of(&first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_magic_tells() {
        assert_eq!(Format::of(b"CrAU\0\0"), Format::Crau);
        assert_eq!(Format::of(b"CrA"), Format::Kindling);
        assert_eq!(Format::of(b"\x53\xef"), Format::Kindling);
    }
}
