//! `--from-file PATH` (coreos-cloudinit's `local-file`): user-data is the file, no metadata.
//!
//! Difference: a missing file is an immediate error ("waiting cannot help": the boot units
//! start this source only once the file exists), where coreos-cloudinit polls for 5 minutes.

use std::path::PathBuf;

use super::{Availability, Datasource, FetchError, Fut, Identity, MAX_USER_DATA, read_bounded};

/// A local file.
#[derive(Debug, Clone)]
pub struct File {
    /// The file (on a test root, already resolved inside it).
    pub path: PathBuf,
}

impl Datasource for File {
    fn identity(&self) -> Identity {
        Identity::once("local-file", self.path.display())
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move {
            match std::fs::metadata(&self.path) {
                Ok(m) if m.is_dir() => {
                    Availability::Never(format!("{} is a directory", self.path.display()))
                }
                Ok(_) => Availability::Available,
                Err(e) => Availability::Never(format!("{}: {e}", self.path.display())),
            }
        })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move { read_bounded(&self.path, MAX_USER_DATA) })
    }
}
