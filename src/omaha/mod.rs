//! The Omaha v3 protocol as update_engine speaks it, both sides.
//!
//! It owns: requests written byte for byte in update_engine's shape (update check with the
//! boot event, ping, events) and read from any 3.0 client (update_engine, go-omaha);
//! responses read with update_engine's rules (stricter where it is loose, each rejection
//! its own error) and written so update_engine and go-omaha's client accept them; the
//! event and error-code constants; and the async `client` the agent calls. Every document
//! is read through the crate's bounded reader, [`crate::xml`] (which refuses DTDs, unknown
//! entities, deep nesting, oversized documents and values), with this protocol's limits.
//!
//! It must never: expand an entity or read a document past its limit, hand-write XML
//! (quick-xml writes and reads everything), do I/O outside `client`, or decide policy
//! (which update to take, when to check): that is the agent's and the server's job.

pub mod client;
pub mod event;
pub mod request;
pub mod response;
mod writer;

pub use client::{Client, ClientError};
pub use event::Event;
pub use request::{AppInfo, COREOS_APP_ID};
pub use response::{Response, ResponseError, Update, UpdateCheck};
