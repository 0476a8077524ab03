//! kindling: compile, lint, preview and apply `#cloud-config` for CoreOS-style fleets.
//!
//! The compiler is `source -> model -> check -> plan -> emit`, then `diff` and `apply`
//! against a root. `source` reads and classifies user-data and builds a spanned YAML tree
//! (`template` renders `## template: jinja` configs per node first); `model` reads the typed
//! config from it; `check` returns every finding; `validate` is the one entry point for all
//! of that (a plain config, a multipart user-data part by part, a template over its nodes);
//! `compile` validates, substitutes per-node variables, and `plan` turns the config into
//! files and actions, which `emit` renders as a tree or an Ignition config. Findings are data
//! (`diagnostic`), catalogued in `rules`, and rendered by `report`. `datasource` fetches
//! user-data and metadata at boot.
//!
//! This file only declares the modules; [`validate()`], [`validate_rendered`] and
//! [`Validation`] are re-exported from `validate` for their old paths.
//!
//! The node's other half is the `agent` (update_engine's state machine): `omaha` talks to the
//! update server, `payload` downloads and verifies into the passive slot of `slots`, and the
//! reboot waits for the `reboot` window and the `lock`; `update_server` and `lock::server`
//! are the servers, both served by `http_serve` under its limits. `cli` is the command line; `main.rs` only calls it.

pub mod agent;
pub mod apply;
pub mod bus;
pub mod calendar;
pub mod causes;
pub mod check;
pub mod cli;
pub mod compile;
pub mod dashboard;
pub mod datasource;
pub mod diagnostic;
pub mod diff;
pub mod emit;
pub mod encoding;
pub mod fleet;
pub mod fuzzing;
pub mod http_serve;
pub mod lock;
pub mod machine;
pub mod model;
pub mod omaha;
pub mod payload;
pub mod plan;
pub mod postinstall;
pub mod reboot;
pub mod report;
pub mod root;
pub mod rules;
pub mod schema;
pub mod slots;
pub mod source;
pub mod suggest;
pub mod template;
pub mod units;
pub mod update_server;
pub mod validate;
pub mod wait;
pub mod xml;

pub use validate::{Validation, validate, validate_rendered};
