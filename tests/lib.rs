//! kindling's integration tests, compiled as one binary (as casey/just does): data-driven
//! tests against data no one on this project wrote (`conformance`, `corpus`), the real
//! binary on temporary files (`cli`), hostile input (`fuzz`), and drift checks for
//! generated files (`generated`).

// A panic is how a test reports failure, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apply;
mod calendar;
mod cli;
mod common;
mod compile;
mod conformance;
mod corpus;
mod formats;
mod fuzz;
mod generated;
mod snapshots;
mod template;
mod units;
