//! Validate: the one entry point that says what is wrong with an input, as findings at the
//! user's positions. Between `template` (which only renders) and `compile` (which validates
//! first, then plans): `compile` calls this module, never the other way round.
//!
//! Owns: [`validate`] for raw user-data (a template rendered with no variables), and
//! [`validate_rendered`] for the output of a template (`input`, `rendered`); multipart
//! user-data part by part, with what two parts both write (`rendered`, `parts`); a template
//! over a fleet's nodes, each distinct finding once with its nodes (`fleet`); and
//! [`Validation`], the outcome every report renders (`validation`), also for variables files
//! and inventories ([`input_file`]); what the node's reader (coreos-cloudinit, Ignition)
//! would ignore or reject (`reader`, `validate --for`).
//!
//! Never does: I/O, rendering a report, or planning beyond what the multipart conflicts
//! need. Pure: the caller reads the inputs.

mod fleet;
mod input;
mod parts;
mod reader;
mod rendered;
mod validation;

pub use fleet::{check_node, drop_given_dollar_vars, group, validate_fleet};
pub use input::validate;
pub use parts::{PartMapper, as_cloud_config, conflicts, from_hostname_key};
pub use reader::{Reader, check_for};
pub use rendered::validate_rendered;
pub use validation::{Validation, input_file, validation_of};
