//! Applying an update_engine payload as it streams in, on a plain thread fed with body
//! chunks: the header and manifest are read and checked in full ([`Plan`]) before anything
//! is written; then each operation's data is gathered (never more than
//! [`IN_FLIGHT`] bytes of operation data in memory), and a small pool of workers checks its
//! `data_sha256_hash`, bzip2-decompresses it if needed and writes it into its destination
//! extents (zero-padded to the block size, as update_engine's extent writers do).
//! Operations finish out of order (their extents never overlap); a checkpoint is the
//! longest run of finished operations, synced, and reported as a [`CrauResume`] at most
//! every [`CHECKPOINT_BYTES`] or [`CHECKPOINT_EVERY`]. Every byte of the stream goes through
//! one SHA-256; its state at the signatures is the signed-prefix hash, its end the whole
//! payload's. Verification (`finish`) happens only after every byte arrived and every
//! operation was applied and synced.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::manifest::{Dest, HEADER_LEN, Limits, Op, Plan, parse_header, plan};
use super::resume::{CrauResume, encode_state, hex};
use crate::payload::error::PayloadError;
use crate::payload::region::Region;

/// Most bytes of operation data held at once (gathering, queued, being applied).
pub const IN_FLIGHT: u64 = 32 << 20;

/// A checkpoint after at least this much payload progress...
pub const CHECKPOINT_BYTES: u64 = 32 << 20;

/// ...or this much time.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(3);

/// How much decompressed data is written at once.
const WRITE_BLOCK: usize = 1 << 20;

/// What the applier tells the download side.
#[derive(Debug)]
pub enum Event {
    /// A durable resume point.
    Checkpoint(CrauResume),
}

/// Where the applier writes and what it must check.
#[derive(Debug)]
pub struct Sinks {
    /// The slot.
    pub region: Region,
    /// The kernel file and its path, when the kernel is installed.
    pub kernel: Option<(File, PathBuf)>,
}

/// What the applier needs to open its sinks once the plan is known.
pub type Open = Box<dyn FnOnce(&Plan, usize) -> Result<Sinks, PayloadError> + Send>;

/// How the stream starts.
pub enum Start {
    /// At byte 0: the header and manifest come first.
    Fresh,
    /// At `offset`, with the metadata fetched separately and the state of `resume`.
    Resume {
        /// The metadata's plan.
        plan: Box<Plan>,
        /// The hash over `0..offset`.
        hasher: Box<Sha256>,
        /// The next operation.
        next_op: usize,
        /// Its data's payload offset.
        offset: u64,
        /// The metadata's SHA-256, hex.
        metadata_sha256: String,
    },
}

/// Everything applied: what `finish` verifies.
pub struct Applied {
    /// The plan.
    pub plan: Plan,
    /// The sinks, synced.
    pub sinks: Sinks,
    /// SHA-256 of every byte before the signatures.
    pub signed: [u8; 32],
    /// SHA-256 of the whole payload.
    pub whole: [u8; 32],
    /// The signatures message.
    pub signatures: Vec<u8>,
}

/// The applier's fixed context.
pub struct Context {
    /// What the plan must fit.
    pub limits: Limits,
    /// The offer's SHA-256, base64 (recorded in resume points).
    pub payload_sha256: String,
    /// The payload's URL (for messages).
    pub url: String,
    /// Opens the sinks.
    pub open: Open,
    /// Where checkpoints go.
    pub events: tokio::sync::mpsc::UnboundedSender<Event>,
}

/// The stream's state.
enum Phase {
    Meta(Vec<u8>),
    Data { op: usize, buf: Vec<u8> },
    Signatures(Vec<u8>),
    Done,
}

/// Bytes of operation data in memory, bounded by [`IN_FLIGHT`].
struct Budget {
    free: Mutex<u64>,
    cv: Condvar,
}

impl Budget {
    fn take(&self, n: u64) {
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free < n {
            free = self
                .cv
                .wait(free)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= n;
    }

    fn give(&self, n: u64) {
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *free += n;
        self.cv.notify_all();
    }
}

/// One operation for a worker.
struct Job {
    op: usize,
    data: Vec<u8>,
}

/// Run the applier over the chunks from `rx` until it closes; the caller checks
/// [`Applied`]. On failure, the last checkpoint (after syncing) has been sent.
pub fn run(
    ctx: Context,
    start: Start,
    rx: &mut tokio::sync::mpsc::Receiver<Bytes>,
) -> Result<Applied, PayloadError> {
    let budget = Budget {
        free: Mutex::new(IN_FLIGHT),
        cv: Condvar::new(),
    };
    let mut a = Applier::new(ctx, start)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    let (job_tx, job_rx) = sync_channel::<Job>(1);
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = channel::<(usize, Result<(), PayloadError>)>();
    let result = std::thread::scope(|s| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let shared = Arc::clone(&a.shared);
            let (job_rx, budget) = (&job_rx, &budget);
            s.spawn(move || worker(job_rx, &done_tx, budget, &shared));
        }
        drop(done_tx);
        let fed = a.feed_all(rx, &job_tx, &done_rx, &budget);
        drop(job_tx);
        // Wait for the operations in flight (the workers end when the queue is closed).
        let drained = a.collect(&done_rx, true);
        fed.and(drained)
    });
    let synced = a.checkpoint(true);
    result?;
    synced?;
    a.into_applied()
}

/// What the workers share with the reader (set once the plan is known).
type Shared = Arc<std::sync::OnceLock<(Arc<Plan>, Arc<Sinks>)>>;

fn worker(
    jobs: &Mutex<Receiver<Job>>,
    done: &Sender<(usize, Result<(), PayloadError>)>,
    budget: &Budget,
    shared: &Shared,
) {
    loop {
        let job = {
            let rx = jobs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            rx.recv()
        };
        let Ok(job) = job else { return };
        let len = job.data.len() as u64;
        let result = match shared.get() {
            Some((plan, sinks)) => match plan.ops.get(job.op) {
                Some(op) => apply_op(op, &job.data, sinks),
                None => Ok(()),
            },
            None => Ok(()),
        };
        drop(job.data);
        budget.give(len);
        if done.send((job.op, result)).is_err() {
            return;
        }
    }
}

struct Applier {
    ctx: Context,
    shared: Shared,
    phase: Phase,
    hasher: Sha256,
    signed: Option<[u8; 32]>,
    pos: u64,
    /// Whether ops `i` finished.
    finished: Vec<bool>,
    /// Payload offset and hash state after each op's data (kept until checkpointed).
    after: Vec<Option<(u64, String)>>,
    /// Ops `0..frontier` finished.
    frontier: usize,
    /// The offset and hash state after op `frontier - 1` (taken out of `after`, so only
    /// the operations in flight keep a state).
    frontier_point: Option<(u64, String)>,
    /// The frontier of the last checkpoint sent.
    checkpointed: usize,
    checkpointed_at: (u64, Instant),
    metadata_sha256: String,
    signatures: Vec<u8>,
}

impl Applier {
    fn new(ctx: Context, start: Start) -> Result<Self, PayloadError> {
        let mut a = Self {
            ctx,
            shared: Arc::new(std::sync::OnceLock::new()),
            phase: Phase::Meta(Vec::with_capacity(HEADER_LEN as usize)),
            hasher: Sha256::new(),
            signed: None,
            pos: 0,
            finished: Vec::new(),
            after: Vec::new(),
            frontier: 0,
            frontier_point: None,
            checkpointed: 0,
            checkpointed_at: (0, Instant::now()),
            metadata_sha256: String::new(),
            signatures: Vec::new(),
        };
        if let Start::Resume {
            plan,
            hasher,
            next_op,
            offset,
            metadata_sha256,
        } = start
        {
            a.metadata_sha256 = metadata_sha256;
            a.hasher = *hasher;
            a.pos = offset;
            a.frontier = next_op;
            a.checkpointed = next_op;
            a.checkpointed_at = (offset, Instant::now());
            a.start_plan(*plan, next_op)?;
        }
        Ok(a)
    }

    /// Open the sinks and enter the data phase at `next_op`.
    fn start_plan(&mut self, plan: Plan, next_op: usize) -> Result<(), PayloadError> {
        let open = std::mem::replace(
            &mut self.ctx.open,
            Box::new(|_, _| {
                Err(PayloadError::CrauManifest {
                    reason: "bug: the sinks were opened twice".into(),
                })
            }),
        );
        let sinks = open(&plan, next_op)?;
        let n = plan.ops.len();
        self.finished = vec![false; n];
        for f in self.finished.iter_mut().take(next_op) {
            *f = true;
        }
        self.after = vec![None; n];
        self.phase = if next_op < n {
            Phase::Data {
                op: next_op,
                buf: Vec::new(),
            }
        } else {
            Phase::Signatures(Vec::new())
        };
        let _ = self.shared.set((Arc::new(plan), Arc::new(sinks)));
        Ok(())
    }

    fn plan(&self) -> Option<&Arc<Plan>> {
        self.shared.get().map(|(p, _)| p)
    }

    fn feed_all(
        &mut self,
        rx: &mut tokio::sync::mpsc::Receiver<Bytes>,
        jobs: &SyncSender<Job>,
        done: &Receiver<(usize, Result<(), PayloadError>)>,
        budget: &Budget,
    ) -> Result<(), PayloadError> {
        // A resume may start right at an op without data.
        self.dispatch_empty(jobs)?;
        while let Some(chunk) = rx.blocking_recv() {
            let mut rest: &[u8] = &chunk;
            while !rest.is_empty() {
                let used = self.feed(rest, jobs, budget)?;
                if used == 0 {
                    // Every phase takes at least one byte; never spin.
                    return Err(PayloadError::CrauManifest {
                        reason: "bug: the payload parser made no progress".into(),
                    });
                }
                rest = rest.get(used..).unwrap_or_default();
                self.collect(done, false)?;
            }
            self.collect(done, false)?;
        }
        Ok(())
    }

    /// Consume a prefix of `bytes`; returns how many bytes were used.
    fn feed(
        &mut self,
        bytes: &[u8],
        jobs: &SyncSender<Job>,
        budget: &Budget,
    ) -> Result<usize, PayloadError> {
        let sig_size = self.plan().map_or(0, |p| p.signatures_size);
        match &mut self.phase {
            Phase::Meta(buf) => {
                let need = if buf.len() < HEADER_LEN as usize {
                    HEADER_LEN as usize
                } else {
                    let manifest = parse_header(buf)?;
                    usize::try_from(HEADER_LEN + manifest).unwrap_or(usize::MAX)
                };
                let take = fill(buf, need, bytes, &mut self.hasher, &mut self.pos);
                if buf.len() >= HEADER_LEN as usize {
                    // The header is complete: check it (magic, version, size limit) and
                    // plan once the manifest is complete too (it may be empty).
                    let total = HEADER_LEN + parse_header(buf)?;
                    if buf.len() as u64 == total {
                        let metadata = std::mem::take(buf);
                        self.metadata_sha256 = hex(&Sha256::digest(&metadata));
                        let plan = plan(&metadata, self.ctx.limits)?;
                        self.start_plan(plan, 0)?;
                        self.dispatch_empty(jobs)?;
                    }
                }
                Ok(take)
            }
            Phase::Data { op, buf } => {
                let index = *op;
                let Some(plan) = self.shared.get().map(|(p, _)| Arc::clone(p)) else {
                    return Err(PayloadError::CrauManifest {
                        reason: "bug: operation data before the plan".into(),
                    });
                };
                let len = plan.ops.get(index).map_or(0, |o| o.data_length);
                if buf.capacity() == 0 {
                    budget.take(len);
                    buf.reserve_exact(usize::try_from(len).unwrap_or(0));
                }
                let want = usize::try_from(len).unwrap_or(0);
                let take = fill(buf, want, bytes, &mut self.hasher, &mut self.pos);
                if buf.len() as u64 == len {
                    let data = std::mem::take(buf);
                    self.send(index, data, jobs, budget)?;
                    self.advance(index + 1);
                    self.dispatch_empty(jobs)?;
                }
                Ok(take)
            }
            Phase::Signatures(buf) => {
                if self.signed.is_none() {
                    self.signed = Some(self.hasher.clone().finalize().into());
                }
                let size = sig_size;
                let want = usize::try_from(size).unwrap_or(0);
                let take = fill(buf, want, bytes, &mut self.hasher, &mut self.pos);
                if buf.len() as u64 == size {
                    let sigs = std::mem::take(buf);
                    self.phase = Phase::Done;
                    self.signatures = sigs;
                }
                Ok(take)
            }
            Phase::Done => Err(PayloadError::CrauManifest {
                reason: "bytes follow the signatures".into(),
            }),
        }
    }
}

impl Applier {
    /// Hand operation `index` (its data complete) to the workers, or finish it here when it
    /// writes nothing.
    fn send(
        &mut self,
        index: usize,
        data: Vec<u8>,
        jobs: &SyncSender<Job>,
        budget: &Budget,
    ) -> Result<(), PayloadError> {
        if let Some(slot) = self.after.get_mut(index) {
            *slot = Some((self.pos, encode_state(&self.hasher)));
        }
        let writes = self
            .plan()
            .and_then(|p| p.ops.get(index))
            .is_some_and(|o| o.dest != Dest::Skip && !o.extents.is_empty());
        if !writes {
            budget.give(data.len() as u64);
            self.finish_op(index);
            return Ok(());
        }
        jobs.send(Job { op: index, data })
            .map_err(|_| PayloadError::CrauOperation {
                index,
                reason: "the workers stopped".into(),
            })
    }

    /// Enter the phase for operation `next` (or the signatures).
    fn advance(&mut self, next: usize) {
        let n = self.plan().map_or(0, |p| p.ops.len());
        self.phase = if next < n {
            Phase::Data {
                op: next,
                buf: Vec::new(),
            }
        } else {
            Phase::Signatures(Vec::new())
        };
    }

    /// Operations without data need no bytes: send them on at once.
    fn dispatch_empty(&mut self, jobs: &SyncSender<Job>) -> Result<(), PayloadError> {
        loop {
            let Phase::Data { op, .. } = &self.phase else {
                return Ok(());
            };
            let index = *op;
            let empty = self
                .plan()
                .and_then(|p| p.ops.get(index))
                .is_some_and(|o| o.data_length == 0);
            if !empty {
                return Ok(());
            }
            // Zero-length data takes no budget.
            let free = Budget {
                free: Mutex::new(0),
                cv: Condvar::new(),
            };
            self.send(index, Vec::new(), jobs, &free)?;
            self.advance(index + 1);
        }
    }

    fn finish_op(&mut self, index: usize) {
        if let Some(f) = self.finished.get_mut(index) {
            *f = true;
        }
        while self.finished.get(self.frontier).copied().unwrap_or(false) {
            if let Some(point) = self.after.get_mut(self.frontier).and_then(Option::take) {
                self.frontier_point = Some(point);
            }
            self.frontier += 1;
        }
    }

    /// Take the workers' results (waiting for all of them when `block`), then checkpoint if
    /// it is time. The first failure is returned.
    fn collect(
        &mut self,
        done: &Receiver<(usize, Result<(), PayloadError>)>,
        block: bool,
    ) -> Result<(), PayloadError> {
        let mut first = Ok(());
        loop {
            let next = if block {
                done.recv().ok()
            } else {
                done.try_recv().ok()
            };
            let Some((index, result)) = next else { break };
            match result {
                Ok(()) => self.finish_op(index),
                Err(e) => {
                    if first.is_ok() {
                        first = Err(e);
                    }
                    if !block {
                        break;
                    }
                }
            }
        }
        first?;
        self.checkpoint(false)
    }

    /// Sync and report the finished run of operations, when it grew and it is time (or
    /// `force`).
    fn checkpoint(&mut self, force: bool) -> Result<(), PayloadError> {
        if self.frontier <= self.checkpointed || self.frontier == 0 {
            return Ok(());
        }
        let Some((offset, state)) = self.frontier_point.clone() else {
            return Ok(());
        };
        let (last, at) = self.checkpointed_at;
        if !force
            && offset.saturating_sub(last) < CHECKPOINT_BYTES
            && at.elapsed() < CHECKPOINT_EVERY
        {
            return Ok(());
        }
        let Some((plan, sinks)) = self.shared.get() else {
            return Ok(());
        };
        sinks.region.sync()?;
        if let Some((file, path)) = &sinks.kernel {
            file.sync_data().map_err(|source| PayloadError::RegionIo {
                op: "sync",
                path: path.clone(),
                at: 0,
                source,
            })?;
        }
        let resume = CrauResume {
            payload_sha256: self.ctx.payload_sha256.clone(),
            payload_size: plan.payload_size,
            metadata_size: plan.metadata_size,
            metadata_sha256: self.metadata_sha256.clone(),
            next_operation: self.frontier,
            offset,
            sha256_state: state,
        };
        self.checkpointed = self.frontier;
        self.checkpointed_at = (offset, Instant::now());
        // The download side may be gone (it failed); the point was still made durable.
        let _ = self.ctx.events.send(Event::Checkpoint(resume));
        Ok(())
    }

    fn into_applied(self) -> Result<Applied, PayloadError> {
        let size = self.plan().map_or(0, |p| p.payload_size);
        let complete = matches!(self.phase, Phase::Done)
            && self.plan().is_some_and(|p| self.frontier == p.ops.len());
        if !complete {
            return Err(self.truncated(size));
        }
        let Some((plan, sinks)) = Arc::try_unwrap(self.shared)
            .ok()
            .and_then(|s| s.into_inner())
        else {
            return Err(PayloadError::CrauManifest {
                reason: "bug: the payload's state is still shared".into(),
            });
        };
        let (Some(signed), Ok(plan), Ok(sinks)) =
            (self.signed, Arc::try_unwrap(plan), Arc::try_unwrap(sinks))
        else {
            return Err(PayloadError::CrauManifest {
                reason: "bug: the payload's state is still shared".into(),
            });
        };
        Ok(Applied {
            plan,
            sinks,
            signed,
            whole: self.hasher.finalize().into(),
            signatures: self.signatures,
        })
    }

    fn truncated(&self, size: u64) -> PayloadError {
        PayloadError::Truncated {
            url: self.ctx.url.clone(),
            at: self.pos,
            size: size.max(self.ctx.limits.payload_size),
        }
    }
}

/// Check an operation's data and write it into its extents.
/// Move the next bytes of the stream into `buf` until it holds `want` bytes, hashing them
/// into the payload's SHA-256 and advancing the payload offset; how many bytes were taken.
fn fill(buf: &mut Vec<u8>, want: usize, bytes: &[u8], hasher: &mut Sha256, pos: &mut u64) -> usize {
    let take = want.saturating_sub(buf.len()).min(bytes.len());
    buf.extend_from_slice(&bytes[..take]);
    hasher.update(&bytes[..take]);
    *pos += take as u64;
    take
}

fn apply_op(op: &Op, data: &[u8], sinks: &Sinks) -> Result<(), PayloadError> {
    if let Some(want) = op.sha256 {
        let got: [u8; 32] = Sha256::digest(data).into();
        if got != want {
            return Err(PayloadError::CrauOperationHash {
                index: op.index,
                expected: hex(&want),
                actual: hex(&got),
            });
        }
    }
    let mut w = ExtentWriter {
        op,
        sinks,
        extent: 0,
        within: 0,
        written: 0,
    };
    if op.bz {
        let mut decoder = bzip2::read::BzDecoder::new(data);
        let mut buf = vec![0u8; WRITE_BLOCK];
        loop {
            let n = decoder
                .read(&mut buf)
                .map_err(|e| PayloadError::CrauOperation {
                    index: op.index,
                    reason: format!("its bzip2 data does not decompress: {e}"),
                })?;
            if n == 0 {
                break;
            }
            w.write(&buf[..n])?;
        }
    } else {
        w.write(data)?;
    }
    w.pad()
}

/// Writes an operation's output into its extents in order, skipping holes.
struct ExtentWriter<'a> {
    op: &'a Op,
    sinks: &'a Sinks,
    extent: usize,
    within: u64,
    written: u64,
}

impl ExtentWriter<'_> {
    fn write(&mut self, mut bytes: &[u8]) -> Result<(), PayloadError> {
        while !bytes.is_empty() {
            let Some(&(at, len)) = self.op.extents.get(self.extent) else {
                return Err(PayloadError::CrauOperation {
                    index: self.op.index,
                    reason: format!(
                        "its data is larger than its extents ({} bytes)",
                        self.op.capacity
                    ),
                });
            };
            let room = len - self.within;
            let n = usize::try_from(room).map_or(bytes.len(), |r| r.min(bytes.len()));
            if let Some(at) = at {
                self.put(&bytes[..n], at + self.within)?;
            }
            bytes = &bytes[n..];
            self.within += n as u64;
            self.written += n as u64;
            if self.within == len {
                self.extent += 1;
                self.within = 0;
            }
        }
        Ok(())
    }

    fn put(&self, bytes: &[u8], at: u64) -> Result<(), PayloadError> {
        match self.op.dest {
            Dest::Partition => self.sinks.region.write_at(bytes, at),
            Dest::Kernel => match &self.sinks.kernel {
                Some((file, path)) => file
                    .write_all_at(bytes, at)
                    .map_err(|e| PayloadError::write(path, at, e)),
                None => Ok(()),
            },
            Dest::Skip => Ok(()),
        }
    }

    /// Zero-fill to the end of the last block, as update_engine's ZeroPadExtentWriter.
    fn pad(&mut self) -> Result<(), PayloadError> {
        let block = self.op.block_size;
        let rest = self.written % block;
        if rest != 0 {
            let zeros = vec![0u8; usize::try_from(block - rest).unwrap_or(0)];
            self.write(&zeros)?;
        }
        Ok(())
    }
}
