//! Templates: a `## template: jinja` first line makes a file a template; kindling renders it
//! per node with minijinja. This module renders only: checking what a template renders is
//! `validate`'s (`validate::validate_fleet`), compiling it `compile`'s
//! (`compile::compile_node`); both use [`Template::locate`] to report each finding at the
//! template position it came from.
//!
//! Owns: the parsed template (`parsed`) and its files (`files`), the environment and its
//! limits (`engine`), one render budget for a whole inventory (`budget`), expressions bounded before they are parsed (`expression_limits`),
//! kindling's filters (`filters`), the map from rendered text back to
//! template text (`source_map`, minijinja's own record of which template span wrote which
//! output bytes), minijinja errors as findings (`errors`), variables and inventories read
//! through the spanned YAML reader (`vars`, `inventory`), and work spread over a fleet's
//! nodes (`parallel`).
//!
//! Never does: I/O. Variables files and inventories come in as bytes, included templates
//! through an [`Includes`] function the caller supplies (the command line reads them). It
//! never changes what a finding says about the rendered config, only where it points.
//! `$public_ipv4`-style variables are not touched here: they are text in the rendered
//! config, substituted afterwards by `compile` exactly as for a plain config.

mod budget;
mod engine;
mod errors;
pub mod expression_limits;
mod files;
mod filters;
pub mod inventory;
mod parallel;
mod parsed;
mod source_map;
pub mod vars;

pub use budget::INVENTORY_FUEL;
pub use engine::{FUEL, IncludeError, MAX_OUTPUT, RECURSION_LIMIT};
pub use files::Located;
pub use parallel::per_node;
pub use parsed::{Includes, Template};
pub use source_map::{Mapped, SourceMap};
pub use vars::{InputFile, NodeVars};
