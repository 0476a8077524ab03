//! Why a reboot window cannot be built or its zone not read: the message says what to fix.

/// Why a window cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WindowError(pub String);
