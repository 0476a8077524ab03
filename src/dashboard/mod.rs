//! `kindling fleet serve`: a web dashboard of the fleet, read-only unless told otherwise.
//!
//! Its contract: everything shown comes from etcd by watch (the group's [`Mirror`]
//! as `fleet status --watch` follows it, the reboot semaphore's keys), kept in one live
//! snapshot (`live`) that every open page is redrawn from, within a second of a change and
//! without a reload (server-sent events); the update server's directory is only read.
//! Pages are rendered on the server (`pages`, maud: every value escaped), charts are SVG
//! drawn on the server (`chart`), the nodes table is filtered, sorted and paged on the
//! server (`table`), a node's history is etcd's own (`node`), and the assets are compiled
//! in (`assets`). It writes nothing unless control is on (`--allow-control` with a token),
//! and then only through the fleet's and the lock's own operations (abort or run a
//! rollout, release a dead holder's slot), each confirmed and logged (`server`).
//!
//! [`Mirror`]: crate::fleet::Mirror

pub mod assets;
pub mod chart;
pub mod live;
pub mod node;
pub mod pages;
pub mod server;
pub mod table;

pub use server::{Options, ServeError, serve};
