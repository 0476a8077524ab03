//! Payloads: streamed download (resumable, through the environment's proxies) straight into
//! the passive slot, SHA-256 and minisign verification against the trusted keys. Nothing
//! here makes a slot bootable; it only says whether the written bytes are the signed ones.
