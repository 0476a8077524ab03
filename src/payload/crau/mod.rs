//! update_engine's payload format ("CrAU", version 1), as Flatcar's update_engine reads it:
//! `manifest` (the header, the protobuf messages, and the checked [`Plan`]), `keys` (the
//! trusted RSA keys, Flatcar's official one built in), `apply` (the applier thread: per
//! operation hash, bzip2, writes into extents on a worker pool, checkpoints), `finish` (the
//! whole payload's hash, the signature, the slot and kernel read back), `file`
//! ([`inspect_crau_file`]: a payload on disk checked without applying it), `download`
//! ([`fetch_crau`], the HTTP side), `resume` ([`CrauResume`]) and `proof`
//! ([`CrauVerified`]). Only full payloads (`REPLACE`, `REPLACE_BZ`) are applied; deltas are
//! refused before anything is written. This file only hands their names on.

mod apply;
mod download;
mod file;
mod finish;
mod keys;
mod manifest;
mod proof;
mod resume;

pub use download::{CrauInstall, CrauProgress, fetch_crau};
pub use file::{CrauFile, inspect_crau_file};
pub use finish::check_signature;
pub use keys::{RsaKey, RsaKeys, UPDATE_ENGINE_KEY};
pub use manifest::{
    DeltaArchiveManifest, Extent, InstallInfo, InstallOperation, InstallProcedure, OperationType,
    ProcedureType, Signature, Signatures, check_metadata as check_crau_metadata,
};
pub use proof::{CrauVerified, KernelFile};
pub use resume::CrauResume;
