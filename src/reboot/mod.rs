//! When a node may reboot: reboot windows evaluated in the node's time zone. Two kinds:
//! locksmith's (`REBOOT_WINDOW_START` `[Day ]HH:MM` plus `REBOOT_WINDOW_LENGTH`, a Go
//! duration) and the maintenance-window extension's systemd calendar expression, open for a
//! given length after each elapse. Both answer the same two questions, [`Window::contains`]
//! and [`Window::next_open`], for an instant the caller passes in: this module never reads
//! the clock, so every answer is a pure function of its inputs and tests use a fixed clock.
//!
//! It owns the window semantics (end inclusive, windows crossing midnight and the week,
//! DST-correct wall-clock alignment through `jiff` and the tz database); it never sleeps,
//! takes a lock or reboots anything (that is the agent's reboot step, which composes a
//! window with a [`crate::lock`] backend).
//!
//! This file is the module's face: `window` (the [`Window`]), `periodic` (locksmith's
//! start), `calendar` (the elapses of a [`crate::calendar::CalendarSpec`]), `go_duration`,
//! `zone` (the node's zone) and `error`.

mod calendar;
mod error;
mod go_duration;
mod periodic;
mod window;
mod zone;

pub use error::WindowError;
pub use go_duration::{GoDurationError, parse_go_duration};
pub use periodic::is_weekly;
pub use window::{
    DEFAULT_MAINTENANCE_LENGTH_SECS, LENGTH_VARS, MAINTENANCE_LENGTH_VAR, MAINTENANCE_WINDOW_VAR,
    START_VARS, Window,
};
pub use zone::node_zone;
