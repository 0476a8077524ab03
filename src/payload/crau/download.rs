//! [`fetch_crau`]: download an update_engine payload and apply it to the slot (and the
//! kernel file) while it streams, then verify it as a whole. The HTTP side (this file) is
//! async and only moves body chunks into a bounded queue; the applier thread
//! ([`run`](super::apply::run)) parses, applies and hashes, and [`finish`] checks. Every
//! wait is bounded as in the kindling format's `fetch` (stall timeout on headers and on each
//! read, the low-speed limit).
//!
//! Resuming from a [`CrauResume`]: the metadata (header + manifest) is fetched again with a
//! `Range` request and must have the SHA-256 the resume point recorded, then the rest from
//! the resume offset. A server that ignores `Range` (200), answers 416, or whose total size
//! changed, a resume point for another payload, or one that does not fit the manifest make
//! the download start over from byte 0 within the same call.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::apply::{Context, Event, Sinks, Start, run};
use super::finish::finish;
use super::keys::RsaKeys;
use super::manifest::{HEADER_LEN, Limits, Plan, parse_header, plan};
use super::proof::CrauVerified;
use super::resume::{CrauResume, hex};
use crate::payload::client::Timeouts;
use crate::payload::error::PayloadError;
use crate::payload::fetch::{classify, header_u64, parse_content_range, send};
use crate::payload::offer::Expected;
use crate::payload::region::{Region, Target};

/// How many body chunks may wait for the applier.
const QUEUE: usize = 16;

/// What to install from an update_engine payload.
#[derive(Debug, Clone)]
pub struct CrauInstall {
    /// What the update check promised (URL, size, SHA-256; `signature_url` is unused: the
    /// signature is inside the payload).
    pub expected: Expected,
    /// The passive `/usr` slot.
    pub target: Target,
    /// Where the `KERNEL` procedure's bytes go (a temporary file the caller renames into
    /// `/boot`); `None` skips the kernel, as update_engine does without a kernel path.
    pub kernel: Option<PathBuf>,
}

/// The progress callback: `(bytes received, payload size, a durable resume point when one
/// was just made)`. The agent persists the resume point.
pub type CrauProgress<'a> = &'a mut dyn FnMut(u64, u64, Option<&CrauResume>);

/// Why an attempt stopped.
enum Stop {
    /// Start over from byte 0.
    Restart,
    /// A failure.
    Failed(PayloadError),
}

impl From<PayloadError> for Stop {
    fn from(e: PayloadError) -> Self {
        Self::Failed(e)
    }
}

/// Download, apply and verify the payload `install.expected` names (see the module
/// documentation), continuing from `resume` when it fits. Returns [`CrauVerified`] only
/// after the whole payload's SHA-256 and signature, the slot's `new_partition_info` and the
/// kernel's `new_info` were all checked; nothing is made bootable here.
pub async fn fetch_crau(
    client: &reqwest::Client,
    install: &CrauInstall,
    keys: &RsaKeys,
    resume: Option<&CrauResume>,
    timeouts: &Timeouts,
    progress: CrauProgress<'_>,
) -> Result<CrauVerified, PayloadError> {
    let expected = &install.expected;
    expected.sha256()?;
    expected.check_url(&expected.url)?;
    let usable = resume.filter(|r| {
        r.payload_sha256 == expected.sha256_b64
            && r.payload_size == expected.size
            && r.offset <= expected.size
    });
    let mut attempt = Attempt {
        client,
        install,
        keys,
        timeouts,
        progress,
    };
    if let Some(r) = usable {
        match attempt.run(Some(r)).await {
            Err(Stop::Restart) => {}
            Err(Stop::Failed(e)) => return Err(e),
            Ok(v) => return Ok(v),
        }
    }
    match attempt.run(None).await {
        Ok(v) => Ok(v),
        Err(Stop::Failed(e)) => Err(e),
        Err(Stop::Restart) => Err(PayloadError::Transfer {
            url: expected.url.clone(),
            at: 0,
            reason: "the server's answers kept changing".into(),
        }),
    }
}

struct Attempt<'a, 'p> {
    client: &'a reqwest::Client,
    install: &'a CrauInstall,
    keys: &'a RsaKeys,
    timeouts: &'a Timeouts,
    progress: CrauProgress<'p>,
}

impl Attempt<'_, '_> {
    fn expected(&self) -> &Expected {
        &self.install.expected
    }

    fn limits(&self) -> Limits {
        Limits {
            region_len: self.install.target.len,
            kernel: self.install.kernel.is_some(),
            payload_size: self.expected().size,
        }
    }

    async fn run(&mut self, resume: Option<&CrauResume>) -> Result<CrauVerified, Stop> {
        let (start, from) = match resume {
            Some(r) => (self.resume_start(r).await?, r.offset),
            None => (Start::Fresh, 0),
        };
        let resp = self.open(from).await?;
        let want = self.expected().sha256()?;
        let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let (result_tx, result_rx) = oneshot::channel();
        let ctx = Context {
            limits: self.limits(),
            payload_sha256: self.expected().sha256_b64.clone(),
            url: self.expected().url.clone(),
            open: open_sinks(self.install),
            events: events_tx,
        };
        let keys = self.keys.clone();
        let resumed = resume.is_some();
        std::thread::Builder::new()
            .name("crau-applier".into())
            .spawn(move || {
                let mut rx = rx;
                let applied = run(ctx, start, &mut rx);
                drop(rx);
                let verified = applied.and_then(|a| finish(a, want, &keys, resumed));
                let _ = result_tx.send(verified);
            })
            .map_err(|e| PayloadError::RegionIo {
                op: "write",
                path: self.install.target.path.clone(),
                at: self.install.target.offset,
                source: e,
            })?;
        let received = Arc::new(AtomicU64::new(from));
        let body = self.body(resp, from, &tx, &mut events, &received).await;
        drop(tx);
        let verified = result_rx.await.unwrap_or_else(|_| {
            Err(PayloadError::CrauManifest {
                reason: "bug: the applier thread ended unexpectedly".into(),
            })
        });
        let size = self.expected().size;
        let done = received.load(Ordering::Relaxed);
        while let Ok(Event::Checkpoint(r)) = events.try_recv() {
            (self.progress)(done, size, Some(&r));
        }
        // The applier's own failure is the cause when it stopped the download.
        match (verified, body) {
            (Err(e), Err(PayloadError::Transfer { reason, .. })) if reason == STOPPED => {
                Err(e.into())
            }
            (_, Err(e)) => Err(e.into()),
            (result, Ok(())) => result.map_err(Stop::from),
        }
    }

    /// Fetch the metadata again and check it against the resume point.
    async fn resume_start(&self, r: &CrauResume) -> Result<Start, Stop> {
        let url = &self.expected().url;
        let metadata_size = r.metadata_size;
        if !(HEADER_LEN..=HEADER_LEN + super::manifest::MAX_MANIFEST).contains(&metadata_size) {
            return Err(Stop::Restart);
        }
        let request = self
            .client
            .get(url)
            .header(RANGE, format!("bytes=0-{}", metadata_size - 1));
        let mut resp = send(request, url, 0, self.timeouts).await?;
        if resp.status().as_u16() != 206 {
            return Err(match resp.status().as_u16() {
                s if s >= 400 && s != 416 => PayloadError::from_status(url, s).into(),
                _ => Stop::Restart,
            });
        }
        let range = content_range(&resp);
        if !matches!(range, Some((0, _, Some(total))) if total == self.expected().size) {
            return Err(Stop::Restart);
        }
        let want = usize::try_from(metadata_size).unwrap_or(0);
        let mut metadata = Vec::with_capacity(want);
        while metadata.len() < want {
            match self.chunk(&mut resp, metadata.len() as u64).await? {
                None => return Err(Stop::Restart),
                Some(c) => {
                    let take = (want - metadata.len()).min(c.len());
                    metadata.extend_from_slice(&c[..take]);
                }
            }
        }
        drop(resp);
        let metadata_sha256 = hex(&Sha256::digest(&metadata));
        if metadata_sha256 != r.metadata_sha256 {
            return Err(Stop::Restart);
        }
        let plan: Plan = plan(&metadata, self.limits())?;
        let fits = r.next_operation <= plan.ops.len()
            && r.offset == resume_offset(&plan, r.next_operation);
        let Some(hasher) = r.hasher().filter(|_| fits) else {
            return Err(Stop::Restart);
        };
        let _ = parse_header(&metadata)?;
        Ok(Start::Resume {
            plan: Box::new(plan),
            hasher: Box::new(hasher),
            next_op: r.next_operation,
            offset: r.offset,
            metadata_sha256,
        })
    }

    /// GET the payload from `from`; a Range answer that does not fit means starting over.
    async fn open(&self, from: u64) -> Result<reqwest::Response, Stop> {
        let url = &self.expected().url;
        let size = self.expected().size;
        let mut request = self.client.get(url);
        if from > 0 {
            request = request.header(RANGE, format!("bytes={from}-"));
        }
        let resp = send(request, url, from, self.timeouts).await?;
        let length = header_u64(&resp, CONTENT_LENGTH);
        let status = resp.status().as_u16();
        let mismatch = |what, got, expected| PayloadError::SizeMismatch {
            url: url.clone(),
            what,
            got,
            expected,
        };
        match status {
            200 if from == 0 => match length {
                Some(got) if got != size => Err(mismatch("Content-Length", got, size).into()),
                _ => Ok(resp),
            },
            200 | 416 if from > 0 => Err(Stop::Restart),
            206 if from > 0 => match content_range(&resp) {
                Some((first, last, Some(total)))
                    if total == size && first == from && last + 1 == size =>
                {
                    Ok(resp)
                }
                Some((_, _, Some(total))) if total != size => Err(Stop::Restart),
                _ => Err(PayloadError::Transfer {
                    url: url.clone(),
                    at: from,
                    reason: "206 without a usable Content-Range".into(),
                }
                .into()),
            },
            s if s >= 400 => Err(PayloadError::from_status(url, s).into()),
            s => Err(PayloadError::Transfer {
                url: url.clone(),
                at: from,
                reason: format!("unexpected HTTP status {s}"),
            }
            .into()),
        }
    }

    /// The next body chunk, waiting at most the stall timeout.
    async fn chunk(
        &self,
        resp: &mut reqwest::Response,
        at: u64,
    ) -> Result<Option<Bytes>, PayloadError> {
        let url = &self.expected().url;
        match tokio::time::timeout(self.timeouts.stall, resp.chunk()).await {
            Err(_) => Err(PayloadError::Stalled {
                url: url.clone(),
                at,
                after: self.timeouts.stall,
            }),
            Ok(Err(e)) => Err(classify(&e, url, at, self.expected().size)),
            Ok(Ok(c)) => Ok(c),
        }
    }

    /// Stream the body from `pos` into the applier's queue, reporting progress.
    async fn body(
        &mut self,
        mut resp: reqwest::Response,
        mut pos: u64,
        tx: &mpsc::Sender<Bytes>,
        events: &mut mpsc::UnboundedReceiver<Event>,
        received: &AtomicU64,
    ) -> Result<(), PayloadError> {
        let size = self.expected().size;
        let url = self.expected().url.clone();
        let t = *self.timeouts;
        let mut window = (Instant::now(), 0u64);
        while let Some(chunk) = self.chunk(&mut resp, pos).await? {
            let len = chunk.len() as u64;
            let keep = usize::try_from(size - pos).map_or(chunk.len(), |r| r.min(chunk.len()));
            let over = len > size - pos;
            if tx.send(chunk.slice(..keep)).await.is_err() {
                return Err(PayloadError::Transfer {
                    url,
                    at: pos,
                    reason: STOPPED.into(),
                });
            }
            if over {
                return Err(PayloadError::SizeMismatch {
                    url,
                    what: "the body (at least)",
                    got: pos + len,
                    expected: size,
                });
            }
            pos += len;
            received.store(pos, Ordering::Relaxed);
            let mut point = None;
            while let Ok(Event::Checkpoint(r)) = events.try_recv() {
                point = Some(r);
            }
            (self.progress)(pos, size, point.as_ref());
            window.1 += len;
            let elapsed = window.0.elapsed();
            if elapsed >= t.low_speed_window {
                let rate = (window.1 as f64 / elapsed.as_secs_f64()) as u64;
                if rate < t.low_speed_limit {
                    return Err(PayloadError::TooSlow {
                        url,
                        at: pos,
                        rate,
                        limit: t.low_speed_limit,
                        window: t.low_speed_window,
                    });
                }
                window = (Instant::now(), 0);
            }
        }
        if pos < size {
            return Err(PayloadError::Truncated { url, at: pos, size });
        }
        Ok(())
    }
}

/// The reason of the transfer error when the applier stopped taking chunks.
const STOPPED: &str = "the applier stopped";

fn content_range(resp: &reqwest::Response) -> Option<(u64, u64, Option<u64>)> {
    resp.headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range)
}

/// The payload offset where operation `next` (or the signatures) starts.
fn resume_offset(plan: &Plan, next: usize) -> u64 {
    let data = plan
        .ops
        .iter()
        .skip(next)
        .find(|o| o.data_length > 0)
        .map_or(plan.signatures_offset, |o| o.data_offset);
    // Operations between `next` and the one with data have none: they start there too.
    plan.metadata_size + data
}

/// The applier's sink opener: the slot region, and the kernel file (created empty when the
/// kernel has not been started, kept when resuming after its first operation).
fn open_sinks(install: &CrauInstall) -> super::apply::Open {
    let target = install.target.clone();
    let kernel = install.kernel.clone();
    Box::new(move |plan: &Plan, next_op: usize| {
        let region = Region::open(&target, plan.partition.size, true)?;
        let kernel = match (kernel, plan.first_kernel_op) {
            (Some(path), Some(first)) => {
                let keep = next_op > first;
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(!keep)
                    .open(&path)
                    .map_err(|source| PayloadError::RegionIo {
                        op: "open",
                        path: path.clone(),
                        at: 0,
                        source,
                    })?;
                Some((file, path))
            }
            _ => None,
        };
        Ok(Sinks { region, kernel })
    })
}
