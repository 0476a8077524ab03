//! A CrAU payload checked before it is published: recognised by its header
//! (`payload::Format`), then read once by the payload module's own reader
//! (`payload::inspect_crau_file`: header, manifest, every operation's hash, delta payloads
//! refused, the RSA signature over every byte before it) against Flatcar's official key and
//! the PEM keys the publisher names (`RsaKeys::from_files`). The publisher serves exactly
//! what a node's agent would accept.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::payload::{Format, PayloadError, RsaKeys};

/// Whether the file starts like an update_engine payload.
///
/// # Errors
/// When it cannot be read.
pub fn is_crau(path: &Path) -> std::io::Result<bool> {
    let mut head = Vec::with_capacity(4);
    File::open(path)?.take(4).read_to_end(&mut head)?;
    Ok(Format::of(&head) == Format::Crau)
}

/// Verifies the payload at `path` against Flatcar's official key and the PEM files (or
/// directories of `*.pem`) in `trusted`; the name of the key that signed it.
///
/// # Errors
/// A named key file that is not usable, or why the payload is refused.
pub fn verify(path: &Path, trusted: &[PathBuf]) -> Result<String, PayloadError> {
    let keys = RsaKeys::from_files(trusted)?;
    crate::payload::inspect_crau_file(path, &keys).map(|file| file.key)
}
