//! The on-node agent: an explicit state machine (update_engine's states) that checks the
//! channel, downloads, verifies, installs into the passive slot, reboots by strategy and
//! marks the new slot good or records a rollback. Its state is persisted atomically.
