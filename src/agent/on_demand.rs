//! What a command asks of the agent on a node (`kindling agent check|reset`,
//! `update_engine_client`): through the running daemon's control socket, or, when no
//! daemon answers there, in the command's own process (taking the root's agent lock, so
//! never beside a daemon that holds it).

use std::path::Path;

use super::control::{self, Request};
use super::driver::{Agent, Options, Outcome};
use super::error::Error;
use crate::root::Root;

/// Open the agent in this process; `silent` is the error when another agent holds the
/// root but did not answer on its socket.
fn open_here(root: Root, options: Options, silent: Error) -> Result<Agent, Error> {
    Agent::open(root, options)?.ok_or(silent)
}

/// Ask the running agent to check, or check in this process (the after-boot step, then
/// one cycle). `Ok(None)`: the running agent was asked. `as_given` is the root as the user
/// named it.
///
/// # Errors
/// The socket, the root or the record cannot be worked with.
pub async fn check(
    root: Root,
    as_given: &Path,
    options: Options,
    on_progress: Option<Box<dyn FnMut(u64, u64) + Send>>,
) -> Result<Option<Outcome>, Error> {
    if control::send(&root, Request::Check).await? {
        return Ok(None);
    }
    let silent = Error::Silent {
        root: as_given.to_path_buf(),
    };
    let mut agent = open_here(root, options, silent)?;
    agent.on_progress = on_progress;
    agent.after_boot().await?;
    agent.cycle().await.map(Some)
}

/// Undo a staged update, through the running agent or in this process (`run::reset`).
///
/// # Errors
/// The socket, the root, the disk or the record cannot be worked with.
pub async fn reset(root: Root, options: Options) -> Result<String, Error> {
    if control::send(&root, Request::Reset).await? {
        return Ok("the running agent resets its status".to_string());
    }
    let mut agent = open_here(root, options, Error::SilentOnReset)?;
    super::run::reset(&mut agent)
}
