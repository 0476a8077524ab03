//! After a CrAU payload is in the passive slot: the kernel and the new slot's `/postinst`,
//! as Flatcar's update_engine does them (`omaha_response_handler_action.cc`'s kernel path,
//! `postinstall_runner_action.cc`'s runner, `subprocess.cc`'s environment).
//!
//! [`kernel_path`] picks where the kernel of a target slot goes under a root
//! (`/boot/flatcar/vmlinuz-a|b`, or `/boot/coreos/...` where a CoreOS kernel is already
//! there); [`install_kernel`] moves the verified kernel file there atomically after checking
//! its size and SHA-256. [`run`] runs the slot's `/postinst` with update_engine's arguments
//! (the install device, then `KERNEL=...` and `PCR_POLICY=...`), environment and working
//! directory, bounded in time, its output captured: on a real node from the slot mounted
//! read-only as update_engine mounts it, on a simulated node from the slot's filesystem
//! read without mounting and extracted into a scratch directory under the root.
//!
//! It never touches the partition table: making the slot bootable is the caller's, and only
//! after everything here succeeded. Every failure is a [`PostinstallError`].
//!
//! Files: `error` ([`PostinstallError`]), `kernel` (the path and the atomic install),
//! `tree` (a slot's ext4 filesystem extracted without mounting), `mount` (a read-only mount
//! that is undone on drop), `runner` ([`Postinst`], [`Source`], [`run`]). This file only
//! hands their names on.

mod error;
mod kernel;
mod mount;
mod runner;
mod tree;

pub use error::PostinstallError;
pub use kernel::{KernelFile, install_kernel, kernel_path, partial_kernel_path};
pub use runner::{Postinst, Ran, Source, run};
