//! The agent's main loop.
//!
//! `kindling agent run` holds the root's agent lock for its whole life, does the after-boot
//! step, then waits for the next check (schedule), a request on its control socket
//! (`control`) or a fleet config's reboot, runs a cycle, and reboots by strategy when an
//! update is staged. Commands run while no agent holds the lock do the same work in their
//! own process (`reset` here, `Agent::after_boot` and `Agent::cycle`). When a bus is named,
//! the agent serves update_engine's interface on it for its whole life (`on_bus`), and the
//! bus's `AttemptUpdate`/`ResetStatus` arrive as the socket's `check`/`reset`.

use std::time::Duration;

use tokio::sync::mpsc;

use super::control::{self, Request};
use super::driver::{AfterBoot, Agent, Options, Outcome};
use super::error::Error;
use super::on_bus;
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
    // The bus first, so that it hears the after-boot step too.
    let (tx, rx) = mpsc::channel(8);
    let bus = on_bus::start(&mut agent, tx.clone()).await?;
    start(&mut agent).await?;
    if once {
        let outcome = agent.cycle().await?;
        if matches!(outcome, Outcome::Staged(_)) {
            let step = agent.reboot_by_strategy(Some(reboot_wait)).await?;
            agent.say_line(step.describe());
        }
        // The last changes reach the bus before the process ends.
        drop(agent);
        if let Some(b) = bus {
            b.flush(Duration::from_secs(2)).await;
        }
        return Ok(outcome);
    }
    serve(agent, tx, rx).await
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
async fn serve(
    mut agent: Agent,
    tx: mpsc::Sender<Request>,
    mut rx: mpsc::Receiver<Request>,
) -> Result<Outcome, Error> {
    let listener = control::listen(&agent.root)?;
    tokio::spawn(control::serve(listener, tx));
    let (fleet, mut config_reboots) = join_fleet(&mut agent)?;
    agent.fleet.clone_from(&fleet);
    let mut first = true;
    let mut owed = Owed::default();
    loop {
        publish(&agent);
        // A post-boot hook that failed (the node not back, its slot held): tried again.
        let back = agent.post_boot_retry();
        let wait = schedule::next_wait(
            &agent.settings.timing,
            first,
            agent.record.memory.failures,
            agent.record.memory.poll_interval,
            fastrand::f64(),
        );
        first = false;
        let retry = owed.retry;
        let (request, asked) = tokio::select! {
            () = tokio::time::sleep(wait) => (Request::Check, false),
            r = rx.recv() => (r.unwrap_or(Request::Check), true),
            Some(reason) = config_reboots.recv() => {
                config_reboot(&mut agent, reason, &mut owed).await?;
                continue;
            }
            () = sleep_until(back), if back.is_some() => {
                release_if_judged(&mut agent).await?;
                agent.defer_post_boot_retry()?;
                continue;
            }
            () = sleep_until(retry), if retry.is_some() => {
                // The window opened again (or the back-off passed): ask again.
                owed.retry = None;
                if let Some(c) = agent.record.memory.config_reboot.clone() {
                    config_reboot(&mut agent, c.reason, &mut owed).await?;
                }
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

/// A fleet config's reboot owed on this boot, as the daemon follows it: whether this
/// process already ran the reboot command, and when to ask again when the pipeline gave up
/// (the next window opening, or a back-off).
#[derive(Debug, Default)]
struct Owed {
    rebooted: bool,
    retry: Option<tokio::time::Instant>,
    backoff: Duration,
}

/// Sleep until `at` (never, for `None`).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A fleet config's reboot-required part: the same pipeline as an update (strategy,
/// window, lock held across the reboot). Asked again (the member asks on every start) it is
/// not run twice once the reboot command ran; when the pipeline stops short of the reboot
/// (the lock unreachable, the command failed), it is asked again at the next window opening
/// (or after a back-off of 1 s to 5 min without a window).
async fn config_reboot(agent: &mut Agent, reason: String, owed: &mut Owed) -> Result<(), Error> {
    if owed.rebooted {
        return Ok(());
    }
    agent.record.memory.config_reboot = Some(ConfigReboot {
        reason: reason.clone(),
        boot_id: agent.identity.boot_id.clone(),
    });
    agent.save_record()?;
    agent.say_line(&reason);
    publish(agent);
    match agent.reboot_by_strategy(None).await {
        Ok(super::reboot::Step::Rebooted(m)) => {
            owed.rebooted = true;
            agent.say_line(&m);
            return Ok(());
        }
        Ok(super::reboot::Step::Stay(m)) => {
            agent.say_line(&m);
            return Ok(());
        }
        Ok(super::reboot::Step::Waiting(m)) => agent.say_line(&m),
        Err(e) => agent.say_line(&e.to_string()),
    }
    owed.backoff = (owed.backoff * 2).clamp(Duration::from_secs(1), Duration::from_secs(300));
    let keys = agent.reboot_keys();
    let now = jiff::Timestamp::now();
    let wait = agent
        .window(&keys)
        .ok()
        .flatten()
        .and_then(|w| w.duration_to_start(now))
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(owed.backoff);
    agent.say_line(&format!(
        "the reboot a fleet config needs is still owed; asking again in {}s",
        wait.as_secs()
    ));
    owed.retry = Some(tokio::time::Instant::now() + wait);
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
