//! `kindling update-server`: an Omaha server for channels kept in one directory.
//!
//! It owns: the directory's layout, atomic writes and writer lock (`directory`), the release
//! index and publishing a release atomically (`releases`), refusing a signature file that is
//! not minisign-shaped (`signature`), checking a CrAU payload's own signature before it is
//! published (`crau_check`), the per-channel rollout controls (`settings`) and the
//! throttle deciding each update check by them (`throttle`, pure), the
//! records of every machine seen (`instances`), answering Omaha requests (`answer`, pure
//! over the state), the HTTP server with payloads served by Range (`server`), and the
//! status report (`status`).
//!
//! It must never: serve a file that is not a published release's payload or signature,
//! hold a payload in memory (files are streamed), write a shared file other than
//! atomically under the directory lock, fsync per request, or trust a minisign signature (it
//! checks the file's shape; the agent verifies it against its keys). A CrAU payload is
//! published only when a trusted key verifies it (the agent checks it again).

pub mod answer;
pub mod crau_check;
pub mod directory;
pub mod instances;
pub mod record_log;
pub mod releases;
pub mod server;
pub mod settings;
pub mod signature;
pub mod status;
pub mod throttle;

pub use directory::DirectoryError;
pub use releases::{CrauRelease, PublishError, PublishRequest, Release, publish};
pub use server::{Config, ServeError, serve};
