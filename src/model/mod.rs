//! Model: the typed cloud-config, every value with the span it came from.
//!
//! Each section is declared once with the `section!` macro (`keys.rs`), which produces the
//! Rust struct (with a JSON Schema via schemars), a table of its keys ([`SectionInfo`]:
//! type, deprecation text, value rule, environment name, extension mark) that the
//! checker walks, and the code that reads the struct from a YAML mapping. Keys are read
//! with `-` and `_` interchangeable, as coreos-cloudinit does. A key's value rule is a
//! [`ValueRule`] of `values.rs`: a pure check of the text, tied to a rule of the
//! catalogue, failing with a typed [`values::Invalid`].
//!
//! Reading is lenient, like go-yaml on a node: a value of the wrong type is left out
//! of the model. The model never reports anything; `check` walks the same tables over
//! the same tree and says what was left out and why. Nothing here does I/O. The model
//! names only source, units, reboot, the catalogue (`rules`) and the ground below them,
//! never plan or check. This file is a face: the `mod` lines, re-exports and [`read`].

pub mod config;
mod keys;
pub mod legacy;
pub mod minisign;
pub mod values;

pub use config::{
    CloudConfig, Coreos, DropIn, HealthCheck, Locksmith, MaintenanceWindow, Oem, RebootHooks, Unit,
    Update, User, VARIABLES, WriteFile,
};
pub(crate) use keys::opt;
pub use keys::{
    AsEnv, Block, Content, EnvValue, FieldSpec, FieldValue, Kind, SectionInfo, Spanned,
    normalize_key,
};
pub use values::ValueRule;

use crate::source::Node;

/// Read a whole document into the model. A root that is not a mapping gives an empty
/// config (the checker reports it).
#[must_use]
pub fn read(root: Option<&Node>) -> CloudConfig {
    root.and_then(CloudConfig::read).unwrap_or_default()
}
