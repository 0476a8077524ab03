//! Compile: a config's text and a node's variables to a checked plan, or the findings
//! that stop it.
//!
//! Validates the text as written (so positions are the user's), substitutes the
//! `$public_ipv4`-style variables as coreos-cloudinit does on the node (every occurrence,
//! `\$` escaping), validates again if anything changed, checks what the target cannot
//! express, and plans. What the substituted text's validation finds and its plan's spans are
//! moved back onto the text as written through a [`SubstitutionMap`] (a span inside a value
//! covers the `$name` token it replaced), so every position reported is the user's. A
//! multipart user-data is compiled part by part and merged in part order (`multipart`); a
//! template is compiled node by node ([`compile_node`]). Pure: the caller reads inputs and
//! writes outputs.
//!
//! Owns: the entry points (`input`), one cloud-config's compile and the target's checks
//! (`config`), the substitution and its map (`substitute`), the options and outcome
//! (`options`), multipart user-data (`multipart`) and one node of a template (`node`).

mod config;
mod input;
pub mod multipart;
mod node;
mod options;
mod substitute;

pub use config::AFTER_SUBSTITUTION;
pub use input::{compile, compile_rendered};
pub use node::{NodeCompiled, compile_node};
pub use options::{Compiled, Options, Target};
pub use substitute::{SubstitutionMap, VARIABLES, substitute, substitute_mapped, variables_used};
