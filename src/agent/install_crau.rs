//! The install phase for an update_engine (CrAU) payload: the order of effects of
//! `install.rs`, with the payload applied operation by operation into the passive slot as
//! it downloads, and FINALIZING's kernel and postinst (`finalize.rs`) before the slot may
//! boot:
//! 1. the passive slot is unbootable before the record says DOWNLOADING (`install.rs`);
//! 2. the operations are applied as the bytes arrive, the kernel's into a file beside its
//!    place; each durable checkpoint's [`CrauResume`] is recorded, so a kill or a cut
//!    download continues from the last completed operation;
//! 3. every operation's hash, the payload's size and SHA-256, its RSA signature by a trusted
//!    key, the slot's `new_partition_info` and the kernel's `new_info` are checked (a
//!    resumed payload is verified as a whole: `payload::fetch_crau` gives a
//!    [`CrauVerified`] only then); only after that is the record FINALIZING;
//! 4. the kernel is put in place and `/postinst` runs (`finalize.rs`);
//! 5. only then does the slot get tries=1 and the top priority (`install.rs`'s `stage`).

use super::check::{Failure, Stop};
use super::driver::{Agent, code};
use super::error::Error;
use super::finalize::{NewKernel, NewSlot};
use super::state::Offer;
use crate::payload::{CrauInstall, CrauResume, CrauVerified, Expected, RsaKeys, Target, Timeouts};
use crate::postinstall::KernelFile;

impl Agent {
    /// DOWNLOADING → … → FINALIZING for a CrAU payload, kernel and postinst included.
    pub(super) async fn install_crau(
        &mut self,
        offer: &Offer,
        expected: &Expected,
        region: &Target,
        slot: &NewSlot<'_>,
    ) -> Result<(), Stop> {
        let keys = RsaKeys::load(self.root.path());
        for skipped in &keys.skipped {
            self.say_line(&format!("key skipped: {skipped}"));
        }
        let (kernel_under, _) = self.kernel_target(slot.number, slot.label)?;
        let partial = crate::postinstall::partial_kernel_path(&kernel_under);
        if let Some(dir) = partial.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Stop::update(
                    code::DOWNLOAD_WRITE_ERROR,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
        }
        let install = CrauInstall {
            expected: expected.clone(),
            target: region.clone(),
            kernel: Some(partial),
        };
        let proof = self.apply_crau(&install, &keys).await?;
        self.record.downloaded().map_err(Error::from)?;
        self.save_record()?;
        self.event(crate::omaha::Event::download_finished()).await;
        self.say_line(&format!(
            "{} verified: update_engine (CrAU) payload, {} bytes, {} operations, the slot's \
             and the kernel's hashes and the RSA signature by {} match",
            offer.version,
            proof.size(),
            proof.operations(),
            proof.key()
        ));
        self.record.verified().map_err(Error::from)?;
        self.save_record()?;
        let kernel = proof.kernel().map(|k| NewKernel {
            written: k.path().to_path_buf(),
            expected: KernelFile {
                size: k.size(),
                sha256: k.sha256(),
            },
        });
        self.finalize_crau(slot, kernel).await
    }

    /// Download and apply the payload, recording each durable resume point.
    async fn apply_crau(
        &mut self,
        install: &CrauInstall,
        keys: &RsaKeys,
    ) -> Result<CrauVerified, Stop> {
        let client =
            super::install::http().map_err(|e| Stop::update(code::DOWNLOAD_TRANSFER_ERROR, e))?;
        let resume = self.record.state.download().and_then(|d| d.crau.clone());
        let mut save_error = None;
        let result = {
            let record = &mut self.record;
            let record_file = &self.record_file;
            let on_progress = &mut self.on_progress;
            let mut progress = |done: u64, total: u64, point: Option<&CrauResume>| {
                if let Some(p) = on_progress.as_mut() {
                    p(done, total);
                }
                if let Some(point) = point
                    && record.crau_progress(point.offset(), point.clone()).is_ok()
                    && let Err(e) = record_file.save(record)
                {
                    save_error = Some(e);
                }
            };
            crate::payload::fetch_crau(
                &client,
                install,
                keys,
                resume.as_ref(),
                &Timeouts::default(),
                &mut progress,
            )
            .await
        };
        if let Some(e) = save_error {
            return Err(e.into());
        }
        result.map_err(|e| {
            // A resume point stays usable unless the slot no longer holds what was written.
            let keep_download = e.retry() != crate::payload::Retry::Restart;
            Stop::Update(Failure {
                code: super::install::error_code(&e),
                message: e.to_string(),
                keep_download,
            })
        })
    }
}
