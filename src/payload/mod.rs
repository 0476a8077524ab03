//! Payloads: getting a release into the passive slot and proving it is the signed one.
//!
//! [`fetch`] streams the payload straight into the slot's byte region ([`Target`]: a file or
//! block device, an offset and a length; no second copy on disk), resumable with `Range`
//! (the prefix already in the region is read back and re-hashed, never trusted), through the
//! environment's proxies ([`ProxyEnv`]), with bounded waits ([`Timeouts`]) and a progress
//! callback. [`fetch_signature`] gets the minisign signature beside it (URL + `.minisig`).
//! `fetch` reads every block back from the region as it writes it and checks the size and
//! the SHA-256 the update check announced over those read-back bytes; [`fetch_signed`] also
//! runs the minisign signature's BLAKE2b prehash over them on a second core. [`verify`]
//! checks the signature against the [`TrustedKeys`]: with the result of that check, or by
//! reading the region back after the sync when the fetch did not check it.
//!
//! It owns the bytes of the region and nothing else: it never writes outside the region,
//! never creates or extends an image file, never touches the partition table, and never
//! makes a slot bootable. [`Verified`] can only be made by [`verify`], and only when every
//! check passed; the agent sets the slot's GPT attributes only after it holds one.
//! Every failure is a [`PayloadError`] variant with a [`Retry`] classification.
//!
//! update_engine's own payloads (`CrAU`, what Flatcar's servers serve) are the other
//! format: [`sniff`] tells them apart ([`Format`]), and `crau` applies one while it
//! downloads and verifies it as a whole ([`fetch_crau`] gives [`CrauVerified`] only after
//! the payload's hash, its RSA signature by one of the [`RsaKeys`] and the slot and kernel
//! read back all passed; [`CrauResume`] is its resume point).
//!
//! Files: `offer` ([`Expected`]), `proof` ([`Fetched`], [`Verified`]), `error`, `client`,
//! `region`, `fetch`, `readback`, `signature` ([`SignatureCheck`]), `keys`, `verify`,
//! `progress`, `format`, `crau/`, and `job` ([`Job`]: one payload on its own, as `kindling
//! payload fetch` runs it). This file only hands their names on.

mod client;
mod crau;
mod error;
mod fetch;
mod format;
mod job;
mod keys;
mod offer;
mod progress;
mod proof;
mod readback;
mod region;
mod signature;
mod verify;

pub use client::{ClientOptions, ProxyEnv, RefusedName, Resolver, Timeouts, client};
pub use crau::{
    CrauFile, CrauInstall, CrauProgress, CrauResume, CrauVerified, DeltaArchiveManifest, Extent,
    InstallInfo, InstallOperation, InstallProcedure, KernelFile, OperationType, ProcedureType,
    RsaKey, RsaKeys, Signature, Signatures, UPDATE_ENGINE_KEY, check_crau_metadata,
    check_signature, fetch_crau, inspect_crau_file,
};
pub use error::{HashPhase, PayloadError, Retry};
pub use fetch::{fetch, fetch_signature, fetch_signed, parse_content_range};
pub use format::{Format, sniff};
pub use job::{Downloaded, Job};
pub use keys::{KEY_DIRS, TrustedKey, TrustedKeys};
pub use offer::Expected;
pub use progress::{fraction, terminal_bar};
pub use proof::{Fetched, Verified};
pub use region::Target;
pub use signature::{SignatureCheck, decode_signature, precheck};
pub use verify::verify;
