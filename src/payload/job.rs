//! One payload on its own: download it into a region and verify it, outside the agent
//! (what `kindling payload fetch` runs for tests, the W5 benchmark and operators debugging a
//! download). The signature comes first, so an untrusted or unusable one saves a useless
//! download; a progress bar shows on a terminal; nothing is ever made bootable.

use std::time::{Duration, Instant};

use super::client::{ClientOptions, Timeouts, client};
use super::error::PayloadError;
use super::fetch::{fetch_signature, fetch_signed};
use super::keys::TrustedKeys;
use super::offer::Expected;
use super::progress::terminal_bar;
use super::proof::{Fetched, Verified};
use super::region::Target;
use super::signature::SignatureCheck;
use super::verify::verify;

/// What to download, where to, and how.
#[derive(Debug, Clone)]
pub struct Job {
    /// What the update check promised.
    pub expected: Expected,
    /// The slot's region.
    pub target: Target,
    /// Bytes already written by an earlier attempt (re-hashed, not trusted).
    pub resume_from: u64,
    /// The HTTP client's proxies, time limits and extra CA certificates.
    pub client: ClientOptions,
}

/// A finished download, not yet verified.
#[derive(Debug)]
pub struct Downloaded<'a> {
    job: &'a Job,
    keys: &'a TrustedKeys,
    signature: Vec<u8>,
    fetched: Fetched,
    took: Duration,
}

impl Job {
    /// Fetch the signature, check that one of `keys` made it, then download the payload
    /// into the region (with a progress bar on a terminal), checking the signature over the
    /// bytes read back while writing.
    pub fn download<'a>(&'a self, keys: &'a TrustedKeys) -> Result<Downloaded<'a>, PayloadError> {
        let client = client(&self.client)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PayloadError::Client {
                reason: format!("cannot start the async runtime: {e}"),
            })?;
        let timeouts: &Timeouts = &self.client.timeouts;
        let bar = terminal_bar(self.expected.size);
        let started = Instant::now();
        let downloaded = runtime.block_on(async {
            let signature = fetch_signature(&client, &self.expected, timeouts).await?;
            let check = SignatureCheck::new(keys, &signature)?;
            let mut progress = |done: u64, _total: u64| bar.set_position(done);
            let fetched = fetch_signed(
                &client,
                &self.expected,
                &self.target,
                self.resume_from,
                timeouts,
                &mut progress,
                Some(&check),
            )
            .await?;
            Ok::<_, PayloadError>(Downloaded {
                job: self,
                keys,
                signature,
                fetched,
                took: started.elapsed(),
            })
        });
        bar.finish_and_clear();
        downloaded
    }
}

impl Downloaded<'_> {
    /// How long the signature, the download, the writes, the read-back, both hashes and the
    /// sync took.
    #[must_use]
    pub fn took(&self) -> Duration {
        self.took
    }

    /// Check the signature (see [`verify`]: the result of the check made while writing).
    pub fn verify(&self) -> Result<Verified, PayloadError> {
        verify(
            &self.job.target,
            &self.job.expected,
            &self.fetched,
            self.keys,
            &self.signature,
        )
    }
}
