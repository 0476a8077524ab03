//! FINALIZING for an update_engine (CrAU) payload, after the slot's bytes and the payload's
//! signature were verified and before the slot may boot: the kernel goes to the path
//! update_engine picks, checked against the payload's `KERNEL` procedure, and the new
//! slot's `/postinst` runs with update_engine's arguments. On a real node (root `/`) the
//! slot is mounted read-only; on a simulated node the same runner copies it out of the disk
//! image without mounting, and runs in the root.
//!
//! A failure here leaves the slot unbootable (made so again, in case a postinst such as
//! `flatcar-postinst` already ran `cgpt add -T1` before failing) and is update_engine's
//! error 5 (kPostinstallRunnerError), 19 for exit status 3, 16 for a kernel that is not the
//! payload's, 14 for a kernel that cannot be written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::check::{Failure, Stop};
use super::driver::{Agent, code};
use crate::postinstall::{KernelFile, Postinst, PostinstallError, Source};

/// The most a postinst may take (update_engine has no limit; flatcar-postinst takes seconds).
pub const POSTINST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The slot being finalized.
pub(super) struct NewSlot<'a> {
    /// The disk (image or device) holding it.
    pub disk: &'a Path,
    /// Its PARTUUID.
    pub partuuid: &'a str,
    /// Its partition number and label (which kernel file is its).
    pub number: u32,
    /// Its label.
    pub label: &'a str,
    /// Where it starts, in bytes.
    pub first_byte: u64,
    /// Its size, in bytes.
    pub len: u64,
}

/// The kernel of a payload, written beside its place while the payload downloaded.
pub(super) struct NewKernel {
    /// The file written.
    pub written: PathBuf,
    /// What the payload says it is.
    pub expected: KernelFile,
}

impl Agent {
    /// The kernel path, under the root, for `slot` (`ROOT/boot/flatcar/vmlinuz-b`), and the
    /// path as the node sees it (`/boot/flatcar/vmlinuz-b`).
    pub(super) fn kernel_target(
        &self,
        number: u32,
        label: &str,
    ) -> Result<(PathBuf, PathBuf), Stop> {
        let node = crate::postinstall::kernel_path(self.root.path(), number, label)
            .map_err(|e| Stop::update(code::DOWNLOAD_WRITE_ERROR, e))?;
        let under = self
            .root
            .path()
            .join(node.strip_prefix("/").unwrap_or(&node));
        Ok((under, node))
    }

    /// Remove the kernel written during the download, once the slot is staged.
    pub(super) fn drop_partial_kernel(&self, number: u32, label: &str) {
        if let Ok((under, _)) = self.kernel_target(number, label) {
            let _ = std::fs::remove_file(crate::postinstall::partial_kernel_path(&under));
        }
    }

    /// The kernel into place, then `/postinst`: FINALIZING's work for a CrAU payload.
    pub(super) async fn finalize_crau(
        &mut self,
        slot: &NewSlot<'_>,
        kernel: Option<NewKernel>,
    ) -> Result<(), Stop> {
        let mut args = Vec::new();
        if let Some(kernel) = kernel {
            let (under, node) = self.kernel_target(slot.number, slot.label)?;
            crate::postinstall::install_kernel(&kernel.written, &under, &kernel.expected)
                .map_err(|e| self.unbootable(slot, kernel_code(&e), &e))?;
            self.say_line(&format!("kernel installed as {}", node.display()));
            args.push(format!("KERNEL={}", node.display()));
        }
        let real = self.root.path() == Path::new("/");
        let device = if real {
            let link = PathBuf::from(format!("/dev/disk/by-partuuid/{}", slot.partuuid));
            std::fs::canonicalize(&link).unwrap_or(link)
        } else {
            slot.disk.to_path_buf()
        };
        let postinst = Postinst {
            install_device: device.display().to_string(),
            args,
            working_dir: self.root.path().to_path_buf(),
            timeout: POSTINST_TIMEOUT,
        };
        let scratch = self.root.path().join("tmp");
        let source = if real {
            Source::Mount { device: &device }
        } else {
            Source::Extract {
                disk: slot.disk,
                first_byte: slot.first_byte,
                len: slot.len,
                scratch: &scratch,
            }
        };
        match crate::postinstall::run(&postinst, source).await {
            Ok(ran) => {
                self.say_line(&format!("{} succeeded", ran.command));
                Ok(())
            }
            Err(e) => {
                let code = if e.is_firmware_b() {
                    code::POSTINSTALL_BOOTED_FROM_FIRMWARE_B
                } else {
                    code::POSTINSTALL_RUNNER_ERROR
                };
                Err(self.unbootable(slot, code, &e))
            }
        }
    }

    /// The slot made unbootable again, and the failure as an update failure that starts the
    /// download over.
    fn unbootable(&mut self, slot: &NewSlot<'_>, code: i32, e: &PostinstallError) -> Stop {
        let mut message = e.to_string();
        if let Err(undo) =
            crate::slots::Disk::open(slot.disk).and_then(|disk| disk.make_unbootable(slot.partuuid))
        {
            message.push_str(&format!(
                "; and the slot could not be made unbootable: {undo}"
            ));
        }
        Stop::Update(Failure {
            code,
            message,
            keep_download: false,
        })
    }
}

/// update_engine's code for a kernel that could not be put in place.
fn kernel_code(e: &PostinstallError) -> i32 {
    if e.is_kernel_verification() {
        code::NEW_KERNEL_VERIFICATION_ERROR
    } else {
        code::DOWNLOAD_WRITE_ERROR
    }
}
