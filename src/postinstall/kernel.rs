//! Where the kernel of a slot goes, and putting it there.
//!
//! update_engine (`OmahaResponseHandlerAction::GetKernelPath`) writes the kernel of the
//! slot on partition 3 to `vmlinuz-a` and of partition 4 to `vmlinuz-b`, in `/boot/coreos/`
//! when either CoreOS kernel exists there, else in `/boot/flatcar/`. The same choice is made
//! here under a root. The kernel is first written beside its final place
//! ([`partial_kernel_path`]), then checked (size and SHA-256 of the payload's `KERNEL`
//! procedure), copied to a second file beside it, synced, renamed over the old kernel of
//! that slot, and the directory synced: the slot's kernel file is either the old one or the
//! new one, never a part. The written file is kept (an install interrupted after this step
//! resumes with it; `/boot` is FAT on Flatcar, so no hard link) for the caller to remove.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::PostinstallError;

/// The kernel a payload announced: its size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFile {
    /// Size in bytes (the `KERNEL` procedure's `new_info.size`).
    pub size: u64,
    /// SHA-256 (the `KERNEL` procedure's `new_info.hash`).
    pub sha256: [u8; 32],
}

/// The kernel path (absolute, as the node sees it) for the slot on partition `number`
/// labelled `label`, under `root`: `/boot/coreos/vmlinuz-a|b` when
/// `ROOT/boot/coreos/vmlinuz-a` or `-b` exists, else `/boot/flatcar/vmlinuz-a|b`.
/// Partition 3 is A and 4 is B, as update_engine has it; a disk whose USR slots are
/// numbered otherwise is judged by the label (`USR-A`, `USR-B`).
///
/// # Errors
/// [`PostinstallError::NoKernelPath`] when the slot is neither A nor B.
pub fn kernel_path(root: &Path, number: u32, label: &str) -> Result<PathBuf, PostinstallError> {
    let letter = match (number, label) {
        (3, _) => 'a',
        (4, _) => 'b',
        (_, "USR-A" | "ROOT-A") => 'a',
        (_, "USR-B" | "ROOT-B") => 'b',
        _ => {
            return Err(PostinstallError::NoKernelPath {
                number,
                label: label.to_string(),
            });
        }
    };
    let coreos = ["vmlinuz-a", "vmlinuz-b"]
        .iter()
        .any(|k| root.join("boot/coreos").join(k).exists());
    let dir = if coreos {
        "/boot/coreos"
    } else {
        "/boot/flatcar"
    };
    Ok(PathBuf::from(format!("{dir}/vmlinuz-{letter}")))
}

/// Where the kernel is written while the payload downloads: beside `kernel` (a path under
/// the root, as [`kernel_path`] joined to it), so the final rename stays on one filesystem.
#[must_use]
pub fn partial_kernel_path(kernel: &Path) -> PathBuf {
    let name = kernel
        .file_name()
        .map_or_else(|| "vmlinuz".into(), |n| n.to_string_lossy().into_owned());
    kernel.with_file_name(format!(".{name}.kindling-partial"))
}

/// Checks `written` against `expected`, then puts a copy of it at `kernel` atomically (copy,
/// sync, rename, directory sync); `written` stays. On a mismatch nothing changes at
/// `kernel` and `written` is removed.
///
/// # Errors
/// [`PostinstallError::KernelMismatch`], or [`PostinstallError::Io`].
pub fn install_kernel(
    written: &Path,
    kernel: &Path,
    expected: &KernelFile,
) -> Result<(), PostinstallError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| PostinstallError::Io {
            action,
            path,
            source,
        }
    };
    let mut file = File::open(written).map_err(io("open", written))?;
    let (size, digest) = hash(&mut file).map_err(io("read", written))?;
    if size != expected.size || digest != expected.sha256 {
        // Not the kernel: it is never kept where it could be taken for one.
        let _ = std::fs::remove_file(written);
        return Err(PostinstallError::KernelMismatch {
            path: written.to_path_buf(),
            size,
            actual: hex(&digest),
            expected_size: expected.size,
            expected: hex(&expected.sha256),
        });
    }
    drop(file);
    let name = kernel
        .file_name()
        .map_or_else(|| "vmlinuz".into(), |n| n.to_string_lossy().into_owned());
    let staging = kernel.with_file_name(format!(".{name}.kindling-new"));
    std::fs::copy(written, &staging).map_err(io("copy the kernel to", &staging))?;
    File::open(&staging)
        .and_then(|f| f.sync_all())
        .map_err(io("sync", &staging))?;
    std::fs::rename(&staging, kernel).map_err(io("rename into place", kernel))?;
    if let Some(dir) = kernel.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync", dir))?;
    }
    Ok(())
}

/// The size and SHA-256 of a file, read in 1 MiB pieces.
fn hash(file: &mut File) -> std::io::Result<(u64, [u8; 32])> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize().into()))
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_3_is_a_and_4_is_b_under_flatcar_unless_coreos_kernels_exist() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        assert_eq!(
            kernel_path(r, 3, "USR-A").unwrap(),
            Path::new("/boot/flatcar/vmlinuz-a")
        );
        assert_eq!(
            kernel_path(r, 4, "USR-B").unwrap(),
            Path::new("/boot/flatcar/vmlinuz-b")
        );
        // Numbered otherwise: by the label.
        assert_eq!(
            kernel_path(r, 7, "USR-B").unwrap(),
            Path::new("/boot/flatcar/vmlinuz-b")
        );
        assert!(matches!(
            kernel_path(r, 9, "OEM"),
            Err(PostinstallError::NoKernelPath { number: 9, .. })
        ));
        // Either CoreOS kernel present: both slots' kernels go to /boot/coreos.
        std::fs::create_dir_all(r.join("boot/coreos")).unwrap();
        std::fs::write(r.join("boot/coreos/vmlinuz-b"), b"old").unwrap();
        assert_eq!(
            kernel_path(r, 3, "USR-A").unwrap(),
            Path::new("/boot/coreos/vmlinuz-a")
        );
        assert_eq!(
            kernel_path(r, 4, "USR-B").unwrap(),
            Path::new("/boot/coreos/vmlinuz-b")
        );
    }

    #[test]
    fn a_checked_kernel_replaces_the_old_one_and_a_wrong_one_never_does() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("vmlinuz-b");
        std::fs::write(&kernel, b"old kernel").unwrap();
        let partial = partial_kernel_path(&kernel);
        assert_eq!(partial, dir.path().join(".vmlinuz-b.kindling-partial"));
        let new = b"new kernel bytes";
        let good = KernelFile {
            size: new.len() as u64,
            sha256: Sha256::digest(new).into(),
        };

        std::fs::write(&partial, b"new kernel bytez").unwrap();
        let err = install_kernel(&partial, &kernel, &good).unwrap_err();
        assert!(err.is_kernel_verification(), "{err}");
        assert!(err.to_string().contains("16 bytes with SHA-256"), "{err}");
        assert_eq!(std::fs::read(&kernel).unwrap(), b"old kernel");
        assert!(!partial.exists());

        std::fs::write(&partial, new).unwrap();
        install_kernel(&partial, &kernel, &good).unwrap();
        assert_eq!(std::fs::read(&kernel).unwrap(), new);
        // Kept for a resumed install; nothing else left beside the kernel.
        assert!(partial.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
