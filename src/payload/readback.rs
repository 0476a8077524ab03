//! The writer's second look: every byte written into the region is read back from it
//! (`pread`, 1 MiB blocks, as soon as a whole block is written) and only those read-back
//! bytes are hashed — SHA-256 on the writer's thread and, when a [`SignatureCheck`] is given,
//! minisign's BLAKE2b-512 prehash on a second thread ([`prehash`]), so the two hashes, the
//! writes and the download overlap on two cores and nothing reads the slot a second time.
//!
//! Why this proves what the slot holds, without a pass after the sync: a read after the
//! final `fdatasync` is served from the same page cache as a read right after the write (the
//! pages are not evicted in between, and if they were, the disk holds what was synced), and
//! `fdatasync` either makes exactly those pages durable or fails the fetch. So the bytes
//! hashed are the bytes in the slot, as they were when the signature was checked; what could
//! change them afterwards (another writer on the passive slot) could equally change them
//! after a read-back done later. Only a few 1 MiB buffers exist at once.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest, Sha256};

use super::error::PayloadError;
use super::region::Region;
use super::signature::{Block, SignatureCheck};

/// The read-back block size.
pub(super) const BLOCK: usize = 1 << 20;

/// Blocks in flight between the writer and the prehash thread.
const BUFFERS: usize = 4;

/// The hashes over what was read back so far.
pub(super) struct ReadBack<'r> {
    region: &'r Region,
    sha: Sha256,
    /// Bytes read back and hashed: `[0, hashed)`.
    hashed: u64,
    /// To the prehash thread, with the buffers it hands back; `None` without a signature.
    prehash: Option<(SyncSender<Block>, Receiver<Vec<u8>>)>,
    /// The one buffer used when there is no prehash thread.
    own: Vec<u8>,
}

impl<'r> ReadBack<'r> {
    /// Start at byte 0; with `check`, spawn the prehash thread in `scope`. Returns the
    /// thread's handle, whose result says whether the signature held.
    pub(super) fn start<'s>(
        region: &'r Region,
        check: Option<&'s SignatureCheck>,
        scope: &'s std::thread::Scope<'s, '_>,
    ) -> (Self, Option<std::thread::ScopedJoinHandle<'s, bool>>) {
        let mut back = Self {
            region,
            sha: Sha256::new(),
            hashed: 0,
            prehash: None,
            own: Vec::new(),
        };
        let Some(check) = check else {
            back.own = vec![0u8; BLOCK];
            return (back, None);
        };
        let (block_tx, block_rx) = sync_channel(BUFFERS);
        let (empty_tx, empty_rx) = sync_channel(BUFFERS);
        for _ in 0..BUFFERS {
            let _ = empty_tx.send(vec![0u8; BLOCK]);
        }
        let handle = std::thread::Builder::new()
            .name("payload-prehash".into())
            .spawn_scoped(scope, move || {
                super::signature::prehash(check, block_rx, empty_tx)
            });
        match handle {
            Ok(h) => {
                back.prehash = Some((block_tx, empty_rx));
                (back, Some(h))
            }
            // No second thread: hash SHA-256 only; `verify` reads the slot back itself.
            Err(_) => {
                back.own = vec![0u8; BLOCK];
                (back, None)
            }
        }
    }

    /// Bytes read back and hashed so far.
    pub(super) fn hashed(&self) -> u64 {
        self.hashed
    }

    /// Read back and hash every whole block below `written` (every byte when `all`).
    pub(super) fn catch_up(&mut self, written: u64, all: bool) -> Result<(), PayloadError> {
        while self.hashed < written {
            let left = written - self.hashed;
            if left < BLOCK as u64 && !all {
                break;
            }
            self.one(left)?;
        }
        Ok(())
    }

    /// Read back and hash the next block (at most `left` bytes).
    pub(super) fn one(&mut self, left: u64) -> Result<(), PayloadError> {
        let n = usize::try_from(left).map_or(BLOCK, |r| r.min(BLOCK));
        let mut buf = match &self.prehash {
            // The prehash thread hands every buffer back; if it has gone, so has the check.
            Some((_, empty)) => empty.recv().unwrap_or_else(|_| vec![0u8; BLOCK]),
            None => std::mem::take(&mut self.own),
        };
        self.region.read_at(&mut buf[..n], self.hashed)?;
        self.sha.update(&buf[..n]);
        self.hashed += n as u64;
        match &self.prehash {
            Some((blocks, _)) => {
                // A closed queue: the prehash thread stopped; its result is then false.
                let _ = blocks.send(Block::Bytes(buf, n));
            }
            None => self.own = buf,
        }
        Ok(())
    }

    /// The payload starts again at byte 0.
    pub(super) fn restart(&mut self) {
        self.sha = Sha256::new();
        self.hashed = 0;
        if let Some((blocks, _)) = &self.prehash {
            let _ = blocks.send(Block::Restart);
        }
    }

    /// The SHA-256 over `[0, hashed)`; ends the prehash thread's input.
    pub(super) fn finish(self) -> Sha256 {
        self.sha
    }
}
