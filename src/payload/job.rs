//! One payload on its own: download it into a region and verify it, outside the agent
//! (what `kindling payload fetch` runs for tests, the W5 benchmark and operators debugging a
//! download). [`Job::format`] tells the payload's format first. For kindling's format the
//! signature comes first, so an untrusted or unusable one saves a useless download; an
//! update_engine payload is applied and verified by [`fetch_crau`] ([`Job::crau`]), its
//! resume points kept in a JSON file when one is named. A progress bar shows on a terminal;
//! nothing is ever made bootable.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::client::{ClientOptions, Timeouts, client};
use super::crau::{CrauInstall, CrauResume, CrauVerified, RsaKeys, fetch_crau};
use super::error::PayloadError;
use super::fetch::{fetch_signature, fetch_signed};
use super::format::{Format, sniff};
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

/// The async runtime of one job.
fn runtime() -> Result<tokio::runtime::Runtime, PayloadError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PayloadError::Client {
            reason: format!("cannot start the async runtime: {e}"),
        })
}

impl Job {
    /// The payload's format, from its first bytes.
    pub fn format(&self) -> Result<Format, PayloadError> {
        let client = client(&self.client)?;
        runtime()?.block_on(sniff(&client, &self.expected.url, &self.client.timeouts))
    }

    /// Download, apply and verify an update_engine payload (see [`fetch_crau`]): the
    /// kernel into `kernel` if given; resuming from the point in `state` (a JSON file) when
    /// it holds one, and keeping each new resume point there. `resume_from` is unused.
    pub fn crau(
        &self,
        keys: &RsaKeys,
        kernel: Option<PathBuf>,
        state: Option<&Path>,
    ) -> Result<(CrauVerified, Duration), PayloadError> {
        let client = client(&self.client)?;
        let install = CrauInstall {
            expected: self.expected.clone(),
            target: self.target.clone(),
            kernel,
        };
        let resume: Option<CrauResume> = state
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        let bar = terminal_bar(self.expected.size);
        let started = Instant::now();
        let mut saved = Ok(());
        let mut progress = |done: u64, _total: u64, point: Option<&CrauResume>| {
            bar.set_position(done);
            if let (Some(path), Some(point)) = (state, point)
                && saved.is_ok()
            {
                saved = save(path, point);
            }
        };
        let verified = runtime()?.block_on(fetch_crau(
            &client,
            &install,
            keys,
            resume.as_ref(),
            &self.client.timeouts,
            &mut progress,
        ));
        bar.finish_and_clear();
        saved?;
        Ok((verified?, started.elapsed()))
    }
    /// Fetch the signature, check that one of `keys` made it, then download the payload
    /// into the region (with a progress bar on a terminal), checking the signature over the
    /// bytes read back while writing.
    pub fn download<'a>(&'a self, keys: &'a TrustedKeys) -> Result<Downloaded<'a>, PayloadError> {
        let client = client(&self.client)?;
        let runtime = runtime()?;
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

/// Write a resume point atomically (temporary file, then rename).
fn save(path: &Path, point: &CrauResume) -> Result<(), PayloadError> {
    let io = |source| PayloadError::RegionIo {
        op: "write the resume state",
        path: path.to_path_buf(),
        at: 0,
        source,
    };
    let json = serde_json::to_vec(point).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
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
