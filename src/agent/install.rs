//! The update cycle's install phase: UPDATE_AVAILABLE → DOWNLOADING → VERIFYING →
//! FINALIZING → UPDATED_NEED_REBOOT.
//!
//! The order of effects is what keeps a node safe, so it is spelled out here:
//! 1. the passive slot (never the booted one) is made unbootable, and only then is the
//!    record moved to DOWNLOADING, so no bytes are written into a slot the firmware could
//!    choose;
//! 2. the payload is streamed into that slot (resuming from the recorded count, whose prefix
//!    the payload module re-hashes);
//! 3. size, SHA-256 and the minisign signature are checked over the bytes as they are in the
//!    slot (read back block by block as they are written, both hashes on two cores); only
//!    after that is the record moved to FINALIZING;
//! 4. only from FINALIZING is the slot given tries=1 and the top priority.
//!
//! A kill anywhere leaves either an unbootable passive slot (steps 1–3) or a verified one
//! (step 4), and the booted slot keeps its attributes throughout.
//!
//! The payload's format is recognised from the payload itself: with a `.minisig` beside it,
//! kindling's own format takes the steps above, unchanged; without one, a payload whose
//! first bytes are update_engine's header (or an interrupted CrAU install the record
//! remembers) is update_engine's (CrAU) and takes `install_crau.rs`'s steps: the same order
//! of effects with the operations applied as they download, the RSA signature instead of
//! the `.minisig`, and the kernel and `/postinst` (`finalize.rs`) between steps 3 and 4.

use std::path::{Path, PathBuf};

use super::check::{Failure, Stop};
use super::driver::{Agent, code};
use super::error::Error;
use super::finalize::NewSlot;
use super::state::{Offer, Staged};
use crate::payload::{
    Expected, Fetched, PayloadError, SignatureCheck, Target, Timeouts, TrustedKeys,
};

/// The passive slot, ready to be written.
struct Passive {
    partuuid: String,
    number: u32,
    label: String,
    offset: u64,
    len: u64,
}

impl Agent {
    /// UPDATE_AVAILABLE → … → UPDATED_NEED_REBOOT; the staged version. A `Stop::Update` is
    /// an update failure for the caller to record.
    pub(super) async fn install(&mut self) -> Result<String, Stop> {
        let Some(offer) = self.record.state.offer().cloned() else {
            return Err(Error::NoOffer.into());
        };
        // The slots: the booted one is never written.
        let (disk_path, target) = self
            .passive_slot()
            .map_err(|e| Stop::update(code::INSTALL_DEVICE_OPEN_ERROR, e))?;
        let resume_from = self.start_download(&target).await?;
        let expected = Expected {
            url: offer.url.clone(),
            size: offer.size,
            sha256_b64: offer.sha256.clone(),
            signature_url: None,
        };
        let region = Target {
            path: disk_path.clone(),
            offset: target.offset,
            len: target.len,
        };
        // The signature first: without one there is no point in downloading. No `.minisig`
        // beside an update_engine (CrAU) payload (or a CrAU install to resume): that format.
        let resumed_crau = self
            .record
            .state
            .download()
            .is_some_and(|d| d.crau.is_some());
        let signature = if resumed_crau {
            None
        } else {
            self.minisig_or_crau(&expected).await?
        };
        let Some(signature) = signature else {
            let slot = NewSlot {
                disk: &disk_path,
                partuuid: &target.partuuid,
                number: target.number,
                label: &target.label,
                first_byte: target.offset,
                len: target.len,
            };
            self.install_crau(&offer, &expected, &region, &slot).await?;
            self.stage(&offer, &disk_path, &target.partuuid).await?;
            self.drop_partial_kernel(target.number, &target.label);
            return Ok(offer.version);
        };
        let keys = TrustedKeys::load(self.root.path())
            .map_err(|e| Stop::update(code::DOWNLOAD_PAYLOAD_VERIFICATION_ERROR, e))?;
        let check = SignatureCheck::new(&keys, &signature).map_err(payload_failure)?;
        let fetched = self.fetch(&expected, &region, resume_from, &check).await?;
        self.record.downloaded().map_err(Error::from)?;
        self.save_record()?;
        self.event(crate::omaha::Event::download_finished()).await;
        self.verify(&offer, &region, &expected, &fetched, &keys, &signature)?;
        self.stage(&offer, &disk_path, &target.partuuid).await?;
        Ok(offer.version)
    }

    /// The disk and its passive slot (the USR slot that is not booted), made unbootable.
    fn passive_slot(&self) -> Result<(PathBuf, Passive), Error> {
        let booted = self.booted()?;
        let disk_path = self.disk()?;
        let target = prepare_passive(&disk_path, &booted)?;
        Ok((disk_path, target))
    }

    /// UPDATE_AVAILABLE → DOWNLOADING into `target`; the count the download resumes from.
    async fn start_download(&mut self, target: &Passive) -> Result<u64, Stop> {
        let fresh = self.record.state.download().is_none_or(|d| d.written == 0);
        self.record
            .start_download(target.partuuid.clone())
            .map_err(Error::from)?;
        self.save_record()?;
        if fresh {
            self.event(crate::omaha::Event::download_started()).await;
        }
        Ok(self.record.state.download().map_or(0, |d| d.written))
    }

    /// The payload's minisign signature (kindling's format), fetched before a byte of the
    /// payload; `None` when there is none and the payload is update_engine's (CrAU), as its
    /// first bytes say. A signature by an untrusted key, or in a form that cannot be
    /// checked, fails right after, in `install`.
    async fn minisig_or_crau(&self, expected: &Expected) -> Result<Option<Vec<u8>>, Stop> {
        let client = http().map_err(|e| Stop::update(code::DOWNLOAD_TRANSFER_ERROR, e))?;
        match crate::payload::fetch_signature(&client, expected, &Timeouts::default()).await {
            Ok(signature) => Ok(Some(signature)),
            // No `.minisig` (a 404, or another 4xx from a bucket that hides missing files).
            Err(
                missing
                @ (PayloadError::SignatureMissing { .. } | PayloadError::ClientError { .. }),
            ) => {
                let format =
                    crate::payload::sniff(&client, &expected.url, &Timeouts::default()).await;
                match format.map_err(payload_failure)? {
                    crate::payload::Format::Crau => Ok(None),
                    crate::payload::Format::Kindling => Err(payload_failure(missing)),
                }
            }
            Err(e) => Err(payload_failure(e)),
        }
    }

    /// Verify what is in the slot, read back, against the signature fetched before:
    /// VERIFYING → FINALIZING.
    fn verify(
        &mut self,
        offer: &Offer,
        region: &Target,
        expected: &Expected,
        fetched: &Fetched,
        keys: &TrustedKeys,
        signature: &[u8],
    ) -> Result<(), Stop> {
        match crate::payload::verify(region, expected, fetched, keys, signature) {
            Ok(v) => self.say_line(&format!(
                "{} verified: {} bytes, SHA-256 and the signature by key {} match",
                offer.version,
                v.size(),
                v.key_id()
            )),
            Err(e) => {
                // What is in the slot is not the payload unless it may resume: it starts over.
                let keep_download = e.retry() == crate::payload::Retry::Resume;
                return Err(Stop::Update(Failure {
                    code: error_code(&e),
                    message: e.to_string(),
                    keep_download,
                }));
            }
        }
        self.record.verified().map_err(Error::from)?;
        self.save_record()?;
        Ok(())
    }

    /// FINALIZING → UPDATED_NEED_REBOOT: only now may the slot boot, once.
    async fn stage(&mut self, offer: &Offer, disk_path: &Path, partuuid: &str) -> Result<(), Stop> {
        crate::slots::Disk::open(disk_path)
            .and_then(|disk| disk.prioritize_for_trial(partuuid))
            .map_err(|e| Stop::update(code::DOWNLOAD_WRITE_ERROR, e))?;
        self.record
            .staged(Staged {
                version: offer.version.clone(),
                previous_version: self.settings.version.clone(),
                slot: partuuid.to_string(),
                boot_id: self.identity.boot_id.clone(),
            })
            .map_err(Error::from)?;
        self.record.memory.previous_version = Some(self.settings.version.clone());
        self.save_record()?;
        self.mark_reboot_required();
        self.event(crate::omaha::Event::installed()).await;
        self.say_line(&format!(
            "{} is staged in {partuuid}; a reboot runs it (status UPDATE_STATUS_UPDATED_NEED_REBOOT)",
            offer.version
        ));
        Ok(())
    }

    /// `/run/reboot-required`, as flatcar-postinst leaves it for kured and friends.
    fn mark_reboot_required(&mut self) {
        if let Ok(path) = self.root.resolve("/run/reboot-required")
            && let Err(e) = crate::apply::write_file(&path, b"", 0o644, (0, 0))
        {
            self.say_line(&format!("cannot write /run/reboot-required: {e}"));
        }
    }

    /// Stream the payload into the slot, recording progress, with the signature checked over
    /// the bytes read back as they are written (on a second core). A failed download records
    /// the count to resume from (0 when the prefix in the slot is not the payload's).
    async fn fetch(
        &mut self,
        expected: &Expected,
        region: &Target,
        resume_from: u64,
        check: &SignatureCheck,
    ) -> Result<Fetched, Stop> {
        let client = http().map_err(|e| Stop::update(code::DOWNLOAD_TRANSFER_ERROR, e))?;
        let mut last_saved = resume_from;
        // The last count payload reported: bytes written and synced to the slot, on success
        // and on failure alike (payload's contract), so a failed download resumes from it.
        let mut last_done = resume_from;
        let mut save_error = None;
        let result = {
            let record = &mut self.record;
            let record_file = &self.record_file;
            let on_progress = &mut self.on_progress;
            let mut progress = |written: u64, total: u64| {
                last_done = written;
                if let Some(p) = on_progress.as_mut() {
                    p(written, total);
                }
                // Persist every 1% or 8 MiB, whichever is larger, and at the end.
                let step = (total / 100).max(8 << 20);
                if written >= last_saved.saturating_add(step) || written == total {
                    last_saved = written;
                    if record.progress(written).is_ok()
                        && let Err(e) = record_file.save(record)
                    {
                        save_error = Some(e);
                    }
                }
            };
            crate::payload::fetch_signed(
                &client,
                expected,
                region,
                resume_from,
                &Timeouts::default(),
                &mut progress,
                Some(check),
            )
            .await
        };
        if let Some(e) = save_error {
            return Err(e.into());
        }
        let resume = match &result {
            Ok(_) => expected.size,
            // The prefix in the slot is not the payload's: start over. A complete download
            // whose SHA-256 is wrong is not resumed either (resuming would only hash the
            // same bad bytes again before starting over).
            Err(e)
                if e.retry() == crate::payload::Retry::Restart
                    || matches!(e, PayloadError::HashMismatch { .. }) =>
            {
                0
            }
            Err(_) => last_done,
        };
        self.record.progress(resume).map_err(Error::from)?;
        self.save_record()?;
        result.map_err(payload_failure)
    }
}

/// Find the passive slot (the USR slot that is not booted) and make it unbootable.
fn prepare_passive(disk_path: &Path, booted: &str) -> Result<Passive, Error> {
    let disk = crate::slots::Disk::open(disk_path)?;
    let passive = disk.passive_of(booted)?;
    if passive.partuuid.eq_ignore_ascii_case(booted) {
        return Err(Error::PassiveIsBooted(booted.to_string()));
    }
    // Already unbootable (a resumed download): no table write.
    if passive.priority != 0 || passive.tries != 0 || passive.successful {
        disk.make_unbootable(&passive.partuuid)?;
    }
    Ok(Passive {
        partuuid: passive.partuuid,
        number: passive.number,
        label: passive.label,
        offset: passive.first_byte,
        len: passive.size_bytes,
    })
}

/// The HTTP client for payloads and signatures, through the environment's proxies.
pub(super) fn http() -> Result<reqwest::Client, PayloadError> {
    crate::payload::client(&crate::payload::ClientOptions {
        proxy: crate::payload::ProxyEnv::from_process(),
        ..crate::payload::ClientOptions::default()
    })
}

/// A payload error as an update failure, with update_engine's code.
fn payload_failure(e: PayloadError) -> Stop {
    Stop::update(error_code(&e), e)
}

/// update_engine's error code for a payload error.
pub(super) fn error_code(e: &PayloadError) -> i32 {
    use PayloadError as E;
    if let Some(code) = e.crau_code() {
        return code;
    }
    match e {
        E::HashMismatch { .. } => code::PAYLOAD_HASH_MISMATCH,
        E::SizeMismatch { .. } => code::PAYLOAD_SIZE_MISMATCH,
        E::NoTrustedKeys { .. }
        | E::SignatureMissing { .. }
        | E::MalformedSignature { .. }
        | E::LegacySignature { .. }
        | E::UntrustedKey { .. }
        | E::BadSignature { .. } => code::DOWNLOAD_PAYLOAD_VERIFICATION_ERROR,
        E::RegionUnusable { .. }
        | E::RegionTooSmall { .. }
        | E::RegionOutsideDevice { .. }
        | E::RegionFull { .. }
        | E::RegionIo { .. } => code::DOWNLOAD_WRITE_ERROR,
        E::BadOffer { .. } => code::OMAHA_RESPONSE_HANDLER_ERROR,
        _ => code::DOWNLOAD_TRANSFER_ERROR,
    }
}
