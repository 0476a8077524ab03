//! The agent on D-Bus: it serves update_engine's interface (`crate::bus::serve`) on the bus
//! its options name, so locksmithd, the update operator and `update_engine_client` work with
//! a kindling node. Every saved record's status goes to the bus (the record file publishes
//! it); `AttemptUpdate` and `ResetStatus` come back as the control socket's requests, so the
//! daemon's loop handles them one at a time like `kindling agent check|reset`.
//!
//! Only one thing about the bus stops the agent: update_engine's name owned by another
//! program (two updaters on one node would fight over the slots). A bus that cannot be
//! reached, or that goes away later, is said in the log and the update cycle goes on.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::control::Request;
use super::driver::Agent;
use super::error::Error;
use super::status::bus_status;
use crate::bus::{BusError, Choice, Command, Served};

/// How long connecting, serving and owning the name may take.
const CONNECT_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serve the bus the options name (none: `Ok(None)`), handing its requests to `requests`.
/// Keep the returned [`Served`] as long as the agent serves.
///
/// # Errors
/// When `com.coreos.update1` is already owned on that bus.
pub(super) async fn start(
    agent: &mut Agent,
    requests: mpsc::Sender<Request>,
) -> Result<Option<Served>, Error> {
    let choice = agent.options.bus.clone();
    if choice == Choice::None {
        return Ok(None);
    }
    let (commands, mut asked) = mpsc::channel(8);
    let log: crate::bus::Log = Arc::new(|line: &str| eprintln!("kindling agent: {line}"));
    let initial = bus_status(&agent.record);
    // A bus daemon that accepts and never answers must not hold the agent up.
    let serving = crate::bus::serve(&choice, initial, commands, log);
    let (publisher, served) = match tokio::time::timeout(CONNECT_LIMIT, serving).await {
        Ok(Ok(s)) => s,
        Ok(Err(e @ BusError::NameTaken { .. })) => return Err(e.into()),
        Ok(Err(e)) => {
            agent.say_line(&format!("{e}; going on without D-Bus"));
            return Ok(None);
        }
        Err(_) => {
            agent.say_line(&format!(
                "D-Bus at {} did not answer within {} s; going on without D-Bus",
                choice.describe(),
                CONNECT_LIMIT.as_secs()
            ));
            return Ok(None);
        }
    };
    agent.record_file.publish_to(publisher);
    tokio::spawn(async move {
        while let Some(command) = asked.recv().await {
            let request = match command {
                Command::AttemptUpdate => Request::Check,
                Command::ResetStatus => Request::Reset,
            };
            if requests.send(request).await.is_err() {
                return;
            }
        }
    });
    agent.say_line(&format!(
        "serving com.coreos.update1 on {}",
        choice.describe()
    ));
    Ok(Some(served))
}
