//! Emit: a plan rendered as a tree (a directory laid out like the node's root, with a
//! manifest) or as an Ignition config.
//!
//! Rendering (`manifest`, `ignition`) is pure. `tree::write` is the one function here
//! that writes, and only below the output directory it is given: it builds the tree in a
//! temporary sibling directory and swaps it in, so a failed compile leaves the previous
//! output whole.

pub mod ignition;
pub mod manifest;
pub mod tree;
