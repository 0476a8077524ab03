//! The agent's main loop.
//!
//! `kindling agent run` holds the root's agent lock for its whole life, does the after-boot
//! step, then waits for the next check (schedule), a request on its control socket
//! (`control`) or a fleet config's reboot, runs a cycle, and reboots by strategy when an
//! update is staged. Commands run while no agent holds the lock do the same work in their
//! own process (`reset` here, `Agent::after_boot` and `Agent::cycle`).

use std::time::Duration;

use tokio::sync::mpsc;

use super::control::{self, Request};
use super::driver::{AfterBoot, Agent, Options, Outcome};
use super::error::Error;
use super::schedule;
use super::state::ConfigReboot;
use crate::machine::settings::Strategy;
use crate::root::Root;

/// Undo a staged update: the staged slot is made unbootable again (the booted slot stays
/// the firmware's choice) and the record goes back to IDLE. update_engine's ResetStatus
/// left the partition table as it was; kindling does not leave that trap.
///
/// # Errors
/// From the disk or the record.
pub fn reset(agent: &mut Agent) -> Result<String, Error> {
    let Some(staged) = agent.record.state.staged().cloned() else {
        agent.record.reset()?;
        return Ok(format!(
            "nothing staged (status {})",
            agent.record.status().update_engine_name()
        ));
    };
    let disk = match &agent.options.disk {
        Some(d) => d.clone(),
        None => crate::slots::find_disk(agent.root.path(), &staged.slot)?,
    };
    crate::slots::Disk::open(&disk)?.make_unbootable(&staged.slot)?;
    agent.record.reset()?;
    agent.save_record()?;
    Ok(format!(
        "{} is no longer staged; {} stays unbootable until the next update",
        staged.version, staged.slot
    ))
}

/// Give back a reboot slot held across the reboot, once this boot's release was judged
/// healthy and nothing else is staged.
async fn release_if_judged(agent: &mut Agent) -> Result<(), Error> {
    agent.release_after_boot().await
}

/// Join the fleet when update.conf says so (`KINDLING_FLEET=on`): start the member that
/// keeps the node's record in etcd and converges the node to the published config. The
/// receiver carries the member's reboot requests (never fires when not joined).
fn join_fleet(
    agent: &mut Agent,
) -> Result<(Option<crate::fleet::Publisher>, mpsc::Receiver<String>), Error> {
    let keys = agent.reboot_keys();
    let Some(join) = crate::fleet::Join::from_keys(&keys).map_err(Error::FleetSettings)? else {
        let (_tx, rx) = mpsc::channel(1);
        return Ok((None, rx));
    };
    let (publisher, reboots) = crate::fleet::member::start(
        join,
        agent.root.clone(),
        &agent.identity,
        agent.view(),
        agent.options.health_timeout,
        std::sync::Arc::new(|line: &str| eprintln!("kindling agent: {line}")),
    );
    Ok((Some(publisher), reboots))
}

/// The daemon: after-boot step, then checks on schedule or on request, reboots by
/// strategy. With `once`, one cycle right away and return (waiting at most `reboot_wait`
/// for the window and the lock).
///
/// # Errors
/// When the root cannot be worked on (another agent holds it, unreadable settings, I/O on
/// the record).
pub async fn run(
    root: Root,
    options: Options,
    once: bool,
    reboot_wait: Duration,
    on_progress: Option<Box<dyn FnMut(u64, u64) + Send>>,
) -> Result<Outcome, Error> {
    let path = root.path().to_path_buf();
    let Some(mut agent) = Agent::open(root, options)? else {
        return Err(Error::Busy { root: path });
    };
    agent.on_progress = on_progress;
    start(&mut agent).await?;
    if once {
        let outcome = agent.cycle().await?;
        if matches!(outcome, Outcome::Staged(_)) {
            let step = agent.reboot_by_strategy(Some(reboot_wait)).await?;
            agent.say_line(step.describe());
        }
        return Ok(outcome);
    }
    serve(agent).await
}

/// What every start does: renew a slot held across the reboot (beside the after-boot step:
/// the health check may take long), judge the boot, and fall back from an unhealthy trial
/// boot or give the slot back once the boot was judged.
async fn start(agent: &mut Agent) -> Result<(), Error> {
    agent.reattach_lock();
    let after = agent.after_boot().await?;
    agent.settle_reattach().await;
    if let AfterBoot::Unhealthy { .. } = after {
        // The trial boot is unhealthy: fall back to the old slot unless reboots are off (a
        // reboot lock held for this update stays held across the fall-back reboot).
        if agent.settings.strategy != Strategy::Off {
            let done = agent.fallback_reboot()?;
            agent.say_line(&done);
        }
        return Ok(());
    }
    release_if_judged(agent).await
}

/// The daemon's loop: wait for the next check, a request or a fleet config's reboot, and
/// do it.
async fn serve(mut agent: Agent) -> Result<Outcome, Error> {
    let listener = control::listen(&agent.root)?;
    let (tx, mut rx) = mpsc::channel(8);
    tokio::spawn(control::serve(listener, tx));
    let (fleet, mut config_reboots) = join_fleet(&mut agent)?;
    agent.fleet.clone_from(&fleet);
    let mut first = true;
    loop {
        publish(&agent);
        let wait = schedule::next_wait(
            &agent.settings.timing,
            first,
            agent.record.memory.failures,
            agent.record.memory.poll_interval,
            fastrand::f64(),
        );
        first = false;
        let (request, asked) = tokio::select! {
            () = tokio::time::sleep(wait) => (Request::Check, false),
            r = rx.recv() => (r.unwrap_or(Request::Check), true),
            Some(reason) = config_reboots.recv() => {
                config_reboot(&mut agent, reason).await?;
                continue;
            }
        };
        match request {
            Request::Reset => match reset(&mut agent) {
                Ok(m) => agent.say_line(&m),
                Err(e) => agent.say_line(&e.to_string()),
            },
            Request::Check => check(&mut agent, asked).await?,
        }
    }
}

/// Show the agent's state in the fleet record, when the daemon joined a fleet.
fn publish(agent: &Agent) {
    if let Some(f) = &agent.fleet {
        f.agent(agent.view());
    }
}

/// A fleet config's reboot-required part: the same pipeline as an update (strategy,
/// window, lock held across the reboot).
async fn config_reboot(agent: &mut Agent, reason: String) -> Result<(), Error> {
    agent.record.memory.config_reboot = Some(ConfigReboot {
        reason: reason.clone(),
        boot_id: agent.identity.boot_id.clone(),
    });
    agent.save_record()?;
    agent.say_line(&reason);
    publish(agent);
    reboot(agent).await;
    Ok(())
}

/// A check (on schedule, or `asked` for on the socket), and the reboot when it staged.
async fn check(agent: &mut Agent, asked: bool) -> Result<(), Error> {
    agent.options.on_demand = asked;
    let outcome = agent.cycle().await?;
    // The record shows the staged release while the reboot waits.
    publish(agent);
    if let Outcome::NoUpdate(m) = &outcome {
        agent.say_line(m);
    }
    if matches!(outcome, Outcome::Staged(_)) {
        reboot(agent).await;
    }
    Ok(())
}

/// Reboot by strategy, waiting as long as it takes; what happened is logged.
async fn reboot(agent: &mut Agent) {
    match agent.reboot_by_strategy(None).await {
        Ok(step) => agent.say_line(step.describe()),
        Err(e) => agent.say_line(&e.to_string()),
    }
}
