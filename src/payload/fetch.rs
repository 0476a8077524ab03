//! The download: one GET (with `Range` when resuming) streamed into the region by a writer
//! thread that reads every block back from the region as soon as it is written and hashes
//! what it read (SHA-256 there, and with [`fetch_signed`] minisign's BLAKE2b prehash on a
//! second thread: see `readback`), so receiving, writing, reading back and both hashes
//! overlap on two cores and only a few body chunks and 1 MiB blocks are ever in memory.
//!
//! Resuming never trusts the region: the writer first reads the prefix `[0, resume_from)`
//! back and hashes it (both hashes), then appends. A server that answers 200 to a Range request, a 416,
//! or a `Content-Range` whose total is not the payload's size (the file changed) make it
//! start over at byte 0 within the same call. Every wait is bounded: the client's connect
//! timeout, a stall timeout on the headers and on each read, and a low-speed limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use sha2::Digest as _;
use tokio::sync::{mpsc, oneshot};

use super::client::Timeouts;
use super::error::{HashPhase, PayloadError};
use super::offer::Expected;
use super::proof::{Fetched, Signed, b64};
use super::readback::ReadBack;
use super::region::{Region, Target};
use super::signature::SignatureCheck;
use crate::causes::chain;

/// What the download task tells the writer thread.
enum Msg {
    /// The next bytes of the payload.
    Chunk(Bytes),
    /// Forget everything: the server sends the payload from byte 0.
    Restart,
}

/// How many body chunks may wait for the writer (chunks are at most a few hundred KiB).
const QUEUE: usize = 32;

/// Download `expected` into `target`, resuming after the first `resume_from` bytes (which
/// are read back and re-hashed, never trusted; pass 0 to start over). Calls `progress(done,
/// total)` as bytes land in the region; the last call before it returns (on success and on
/// failure) reports the bytes written and synced, which the agent persists as the next
/// `resume_from`. On success all `expected.size` bytes are in the region, synced, with the
/// expected SHA-256; nothing is made bootable here. The signature is checked later, by
/// [`verify`](super::verify()) reading the region back; [`fetch_signed`] checks it now.
pub async fn fetch(
    client: &reqwest::Client,
    expected: &Expected,
    target: &Target,
    resume_from: u64,
    timeouts: &Timeouts,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Fetched, PayloadError> {
    fetch_signed(
        client,
        expected,
        target,
        resume_from,
        timeouts,
        progress,
        None,
    )
    .await
}

/// [`fetch`], and with `check` also minisign's BLAKE2b prehash over the same read-back
/// bytes, on a second thread: the [`Fetched`] then carries whether the signature held over
/// what the region holds, and [`verify`](super::verify()) needs no second pass.
pub async fn fetch_signed(
    client: &reqwest::Client,
    expected: &Expected,
    target: &Target,
    resume_from: u64,
    timeouts: &Timeouts,
    progress: &mut dyn FnMut(u64, u64),
    check: Option<&SignatureCheck>,
) -> Result<Fetched, PayloadError> {
    let want = expected.sha256()?;
    expected.check_url(&expected.url)?;
    let size = expected.size;
    let region = Region::open(target, size, true)?;
    let resume = resume_from.min(size);
    let done = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel(QUEUE);
    let (result_tx, result_rx) = oneshot::channel();
    // Set when the download failed, so the writer skips the rest of a long prefix re-hash.
    let cancel = Arc::new(AtomicBool::new(false));
    let writer_done = Arc::clone(&done);
    let writer_cancel = Arc::clone(&cancel);
    let writer_check = check.cloned();
    std::thread::Builder::new()
        .name("payload-writer".into())
        .spawn(move || {
            let flags = (&*writer_done, &*writer_cancel);
            let _ = result_tx.send(write(&region, resume, rx, flags, writer_check.as_ref()));
        })
        .map_err(|e| PayloadError::RegionIo {
            op: "write",
            path: target.path.clone(),
            at: target.offset,
            source: e,
        })?;
    let mut download = Download {
        client,
        expected,
        timeouts,
        tx,
        done: &done,
        progress,
        from_zero: resume == 0,
    };
    let downloaded = download.run(resume).await;
    if downloaded.is_err() {
        cancel.store(true, Ordering::Relaxed);
    }
    let from_zero = download.from_zero;
    drop(download);
    let written = result_rx.await.unwrap_or_else(|_| {
        Err(PayloadError::RegionIo {
            op: "write",
            path: target.path.clone(),
            at: target.offset,
            source: std::io::Error::other("the writer thread ended unexpectedly"),
        })
    });
    // A failed write ends the download too (its queue closes); the write error is the cause.
    let Written { pos, sha, signed } = written?;
    // The writer has synced what it wrote: the last report is a durable resume point, also
    // when the download failed.
    progress(pos, size);
    downloaded?;
    if pos != size {
        return Err(PayloadError::Truncated {
            url: expected.url.clone(),
            at: pos,
            size,
        });
    }
    let actual: [u8; 32] = sha.finalize().into();
    if actual != want {
        return Err(PayloadError::HashMismatch {
            expected: expected.sha256_b64.clone(),
            actual: b64(&actual),
            phase: if from_zero {
                HashPhase::Download
            } else {
                HashPhase::Resumed
            },
        });
    }
    Ok(Fetched {
        size,
        sha256: actual,
        signed: check.zip(signed).map(|(c, valid)| Signed {
            signature: c.bytes.clone(),
            valid,
        }),
    })
}

/// Fetch the minisign signature (`expected.signature_url()`), at most 16 KiB.
pub async fn fetch_signature(
    client: &reqwest::Client,
    expected: &Expected,
    timeouts: &Timeouts,
) -> Result<Vec<u8>, PayloadError> {
    const MAX: usize = 16 * 1024;
    let url = expected.signature_url();
    expected.check_url(&url)?;
    let mut resp = send(client.get(&url), &url, 0, timeouts).await?;
    match resp.status().as_u16() {
        200 => {}
        404 => return Err(PayloadError::SignatureMissing { url }),
        status => return Err(PayloadError::from_status(&url, status)),
    }
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(timeouts.stall, resp.chunk()).await {
            Err(_) => {
                return Err(PayloadError::Stalled {
                    url,
                    at: body.len() as u64,
                    after: timeouts.stall,
                });
            }
            Ok(Err(e)) => return Err(classify(&e, &url, body.len() as u64, u64::MAX)),
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX {
                    return Err(PayloadError::MalformedSignature {
                        reason: format!("{url} is larger than {MAX} bytes"),
                    });
                }
            }
        }
    }
}

/// What the writer thread hands back.
struct Written {
    /// Bytes in the region, synced.
    pos: u64,
    /// SHA-256 over `[0, pos)` as read back.
    sha: sha2::Sha256,
    /// Whether the signature held over the same bytes (`None`: not checked).
    signed: Option<bool>,
}

/// The writer thread: read the prefix back and hash it, then write each chunk and hash it
/// as read back (see `readback`). When `cancel` (`flags.1`) is set during the prefix (the
/// download already failed), it stops and reports the prefix untouched, so the next attempt
/// can still resume there. `flags.0` counts the bytes written.
fn write(
    region: &Region,
    prefix: u64,
    rx: mpsc::Receiver<Msg>,
    flags: (&AtomicU64, &AtomicBool),
    check: Option<&SignatureCheck>,
) -> Result<Written, PayloadError> {
    std::thread::scope(|scope| {
        let (mut back, prehash) = ReadBack::start(region, check, scope);
        let pos = write_into(region, &mut back, prefix, rx, flags);
        let complete = pos.as_ref().is_ok_and(|p| *p == back.hashed());
        let sha = back.finish();
        // The prehash thread ends once its queue closes (`finish` dropped it).
        let signed = prehash.and_then(|h| h.join().ok()).filter(|_| complete);
        Ok(Written {
            pos: pos?,
            sha,
            signed,
        })
    })
}

fn write_into(
    region: &Region,
    back: &mut ReadBack<'_>,
    prefix: u64,
    mut rx: mpsc::Receiver<Msg>,
    (done, cancel): (&AtomicU64, &AtomicBool),
) -> Result<u64, PayloadError> {
    while back.hashed() < prefix {
        if cancel.load(Ordering::Relaxed) {
            return Ok(prefix);
        }
        back.one(prefix - back.hashed())?;
    }
    let mut pos = prefix;
    done.store(pos, Ordering::Relaxed);
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Restart => {
                back.restart();
                pos = 0;
            }
            Msg::Chunk(bytes) => {
                region.write_at(&bytes, pos)?;
                pos += bytes.len() as u64;
                back.catch_up(pos, false)?;
            }
        }
        done.store(pos, Ordering::Relaxed);
    }
    region.sync()?;
    back.catch_up(pos, true)?;
    Ok(pos)
}

/// What a 206's headers say about the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// It is the rest of the payload, as asked.
    Fits,
    /// The file's total size changed: start over.
    Changed,
}

/// The state of one `fetch`'s HTTP side.
struct Download<'a> {
    client: &'a reqwest::Client,
    expected: &'a Expected,
    timeouts: &'a Timeouts,
    tx: mpsc::Sender<Msg>,
    done: &'a AtomicU64,
    progress: &'a mut dyn FnMut(u64, u64),
    /// Whether the bytes being hashed all came from this call, from byte 0.
    from_zero: bool,
}

impl Download<'_> {
    async fn run(&mut self, resume: u64) -> Result<(), PayloadError> {
        let size = self.expected.size;
        let mut start = resume;
        // At most one restart from byte 0 per call, so a confused server cannot loop us.
        let mut may_restart = resume > 0;
        loop {
            if start == size {
                return Ok(());
            }
            let mut request = self.client.get(&self.expected.url);
            if start > 0 {
                request = request.header(RANGE, format!("bytes={start}-"));
            }
            let resp = send(request, &self.expected.url, start, self.timeouts).await?;
            let length = header_u64(&resp, CONTENT_LENGTH);
            match resp.status().as_u16() {
                200 => {
                    if start > 0 {
                        // The server ignored Range and sends everything: start over.
                        self.restart().await?;
                        start = 0;
                    }
                    self.check_length(length, "Content-Length", size)?;
                }
                206 => {
                    if self.check_range(&resp, start, length, may_restart)? == Range::Changed {
                        // The file changed under us: start over from byte 0.
                        may_restart = false;
                        self.restart().await?;
                        start = 0;
                        continue;
                    }
                }
                416 if may_restart => {
                    may_restart = false;
                    self.restart().await?;
                    start = 0;
                    continue;
                }
                status if status >= 400 => {
                    return Err(PayloadError::from_status(&self.expected.url, status));
                }
                status => {
                    return Err(self.transfer(start, format!("unexpected HTTP status {status}")));
                }
            }
            return self.body(resp, start).await;
        }
    }

    /// A 206's `Content-Range` and `Content-Length` against what was asked from `start`:
    /// [`Range::Changed`] when the total is not the payload's size and a restart is allowed.
    fn check_range(
        &self,
        resp: &reqwest::Response,
        start: u64,
        length: Option<u64>,
        may_restart: bool,
    ) -> Result<Range, PayloadError> {
        let size = self.expected.size;
        let range = resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range);
        let Some((first, last, total)) = range else {
            return Err(self.transfer(start, "206 without a usable Content-Range".into()));
        };
        if total != Some(size) {
            if may_restart {
                return Ok(Range::Changed);
            }
            return Err(self.size_mismatch("the Content-Range total", total.unwrap_or(0), size));
        }
        if first != start || last + 1 != size {
            return Err(self.transfer(
                start,
                format!(
                    "asked for bytes {start}-{} but got {first}-{last}",
                    size - 1
                ),
            ));
        }
        self.check_length(
            length,
            "Content-Length of the remaining range",
            size - start,
        )?;
        Ok(Range::Fits)
    }

    /// A `Content-Length` (when given) must be `expected`.
    fn check_length(
        &self,
        length: Option<u64>,
        what: &'static str,
        expected: u64,
    ) -> Result<(), PayloadError> {
        match length {
            Some(got) if got != expected => Err(self.size_mismatch(what, got, expected)),
            _ => Ok(()),
        }
    }

    fn size_mismatch(&self, what: &'static str, got: u64, expected: u64) -> PayloadError {
        PayloadError::SizeMismatch {
            url: self.expected.url.clone(),
            what,
            got,
            expected,
        }
    }

    fn transfer(&self, at: u64, reason: String) -> PayloadError {
        PayloadError::Transfer {
            url: self.expected.url.clone(),
            at,
            reason,
        }
    }

    async fn restart(&mut self) -> Result<(), PayloadError> {
        self.from_zero = true;
        self.send(Msg::Restart).await
    }

    async fn send(&mut self, msg: Msg) -> Result<(), PayloadError> {
        // A closed queue means the writer failed; `fetch` reports the writer's error.
        self.tx.send(msg).await.map_err(|_| PayloadError::Transfer {
            url: self.expected.url.clone(),
            at: self.done.load(Ordering::Relaxed),
            reason: "the writer stopped".into(),
        })
    }

    /// Stream the body from payload position `pos`.
    async fn body(
        &mut self,
        mut resp: reqwest::Response,
        mut pos: u64,
    ) -> Result<(), PayloadError> {
        let size = self.expected.size;
        let url = self.expected.url.clone();
        let t = *self.timeouts;
        let mut window_start = Instant::now();
        let mut window_bytes = 0u64;
        loop {
            let chunk = match tokio::time::timeout(t.stall, resp.chunk()).await {
                Err(_) => {
                    return Err(PayloadError::Stalled {
                        url,
                        at: pos,
                        after: t.stall,
                    });
                }
                Ok(Err(e)) => return Err(classify(&e, &url, pos, size)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            let len = chunk.len() as u64;
            if len > size - pos {
                // Never write past the payload's end (the region may hold more).
                let keep = usize::try_from(size - pos).unwrap_or(0);
                self.send(Msg::Chunk(chunk.slice(..keep))).await?;
                return Err(PayloadError::SizeMismatch {
                    url,
                    what: "the body (at least)",
                    got: pos + len,
                    expected: size,
                });
            }
            pos += len;
            self.send(Msg::Chunk(chunk)).await?;
            (self.progress)(self.done.load(Ordering::Relaxed), size);
            window_bytes += len;
            let elapsed = window_start.elapsed();
            if elapsed >= t.low_speed_window {
                let rate = (window_bytes as f64 / elapsed.as_secs_f64()) as u64;
                if rate < t.low_speed_limit {
                    return Err(PayloadError::TooSlow {
                        url,
                        at: pos,
                        rate,
                        limit: t.low_speed_limit,
                        window: t.low_speed_window,
                    });
                }
                window_start = Instant::now();
                window_bytes = 0;
            }
        }
        if pos < size {
            return Err(PayloadError::Truncated { url, at: pos, size });
        }
        Ok(())
    }
}

/// Send a request, waiting at most the stall timeout for the response headers.
pub(super) async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
    at: u64,
    timeouts: &Timeouts,
) -> Result<reqwest::Response, PayloadError> {
    // Every payload request (format sniff, payload, signature, update_engine ranges) passes
    // here: none goes to a link-local, multicast or unspecified address.
    if let Ok(parsed) = reqwest::Url::parse(url) {
        super::offer::check_address(&parsed)?;
    }
    match tokio::time::timeout(timeouts.stall, request.send()).await {
        Err(_) => Err(PayloadError::Stalled {
            url: url.to_string(),
            at,
            after: timeouts.stall,
        }),
        Ok(Err(e)) => Err(classify(&e, url, at, u64::MAX)),
        Ok(Ok(resp)) => Ok(resp),
    }
}

/// Name a reqwest error by what it means for the agent.
pub(super) fn classify(e: &reqwest::Error, url: &str, at: u64, size: u64) -> PayloadError {
    let url = url.to_string();
    if e.is_connect() {
        return PayloadError::Connect {
            url,
            reason: chain(e),
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                    return PayloadError::ConnectionReset { url, at };
                }
                K::UnexpectedEof if size != u64::MAX => {
                    return PayloadError::Truncated { url, at, size };
                }
                _ => {}
            }
        }
        source = err.source();
    }
    PayloadError::Transfer {
        url,
        at,
        reason: chain(e),
    }
}

pub(super) fn header_u64(
    resp: &reqwest::Response,
    name: reqwest::header::HeaderName,
) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `bytes FIRST-LAST/TOTAL` (TOTAL may be `*`, given as `None`). A range is returned only
/// when it is one (`FIRST <= LAST`), lies inside its total (`LAST < TOTAL`, RFC 9110
/// 14.4: anything else is invalid) and its end can be counted past (`LAST + 1` fits), so a
/// caller may compute `last + 1` and `size - 1` without overflowing.
pub fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    let inside = match total {
        Some(total) => last < total,
        None => last < u64::MAX,
    };
    (first <= last && inside).then_some((first, last, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 10-99/100"),
            Some((10, 99, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, 0, None)));
        assert_eq!(parse_content_range("bytes 9-1/100"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        // Past the total, or an end that cannot be counted past: invalid (found by fuzzing;
        // the callers' `last + 1` overflowed, and `size - 1` with a total of 0).
        assert_eq!(parse_content_range("bytes 0-100/100"), None);
        assert_eq!(parse_content_range("bytes 0-0/0"), None);
        assert_eq!(
            parse_content_range("bytes 0-18446744073709551615/18446744073709551615"),
            None
        );
        assert_eq!(parse_content_range("bytes 0-18446744073709551615/*"), None);
    }
}
