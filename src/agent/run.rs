//! The agent's main loop and its control socket.
//!
//! `kindling agent run` holds the root's agent lock for its whole life, does the after-boot
//! step, then waits for the next check (schedule) or a request on its socket
//! (`/run/kindling/agent.sock` in the root: `check` and `reset`, one line each, answered with
//! one line), runs a cycle, and reboots by strategy when an update is staged. Commands run
//! while no agent holds the lock do the same work in their own process.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt as _, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::pipeline::{AfterBoot, Agent, Options, Outcome};
use super::reboot::Step;
use super::schedule;
use crate::root::Root;

/// The control socket's path in the root.
pub const SOCKET: &str = "/run/kindling/agent.sock";

/// A request on the control socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Check for an update now.
    Check,
    /// UPDATED_NEED_REBOOT → IDLE, and the staged slot made unbootable again.
    Reset,
}

impl Request {
    fn word(self) -> &'static str {
        match self {
            Request::Check => "check",
            Request::Reset => "reset",
        }
    }
}

/// Send a request to the agent running on `root`. `Ok(false)` when no agent listens.
///
/// # Errors
/// When an agent listens but does not answer sensibly.
pub async fn send(root: &Root, request: Request) -> Result<bool, String> {
    let path = root.resolve(SOCKET).map_err(|e| e.to_string())?;
    let Ok(mut stream) = UnixStream::connect(&path).await else {
        return Ok(false);
    };
    let exchange = async {
        stream
            .write_all(format!("{}\n", request.word()).as_bytes())
            .await?;
        let mut line = String::new();
        BufReader::new(&mut stream).read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line)
    };
    match tokio::time::timeout(Duration::from_secs(10), exchange).await {
        Ok(Ok(line)) if line.trim() == "ok" => Ok(true),
        Ok(Ok(line)) => Err(format!("the agent answered {:?}", line.trim())),
        Ok(Err(e)) => Err(format!(
            "cannot talk to the agent at {}: {e}",
            path.display()
        )),
        Err(_) => Err(format!(
            "the agent at {} did not answer in 10 s",
            path.display()
        )),
    }
}

fn listen(root: &Root) -> Result<(UnixListener, PathBuf), String> {
    let path = root.resolve(SOCKET).map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // We hold the agent lock, so a socket file left here is a dead agent's.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    Ok((listener, path))
}

async fn serve(listener: UnixListener, tx: mpsc::Sender<Request>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let read = tokio::time::timeout(
                Duration::from_secs(5),
                BufReader::new(read.take(256)).read_line(&mut line),
            )
            .await;
            let answer = match (read, line.trim()) {
                (Ok(Ok(_)), "check") => tx.send(Request::Check).await.map_or("busy", |()| "ok"),
                (Ok(Ok(_)), "reset") => tx.send(Request::Reset).await.map_or("busy", |()| "ok"),
                _ => "unknown request (check, reset)",
            };
            let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
        });
    }
}

/// Undo a staged update: the staged slot is made unbootable again (the booted slot stays
/// the firmware's choice) and the record goes back to IDLE. update_engine's ResetStatus
/// left the partition table as it was; kindling does not leave that trap.
///
/// # Errors
/// From the disk or the record.
pub fn reset(agent: &mut Agent) -> Result<String, String> {
    let Some(staged) = agent.record.state.staged().cloned() else {
        agent.record.reset().map_err(|e| e.to_string())?;
        return Ok(format!(
            "nothing staged (status {})",
            agent.record.status().update_engine_name()
        ));
    };
    let disk = match &agent.options.disk {
        Some(d) => d.clone(),
        None => {
            crate::slots::find_disk(agent.root.path(), &staged.slot).map_err(|e| e.to_string())?
        }
    };
    let d = crate::slots::Disk::open(&disk).map_err(|e| e.to_string())?;
    d.make_unbootable(&staged.slot).map_err(|e| e.to_string())?;
    agent.record.reset().map_err(|e| e.to_string())?;
    agent.save_record()?;
    Ok(format!(
        "{} is no longer staged; {} stays unbootable until the next update",
        staged.version, staged.slot
    ))
}

fn describe(step: &Step) -> String {
    match step {
        Step::Stay(m) | Step::Rebooted(m) | Step::Waiting(m) => m.clone(),
    }
}

/// Give back a reboot slot held across the reboot, once this boot's release was judged
/// healthy and nothing else is staged.
async fn release_if_judged(agent: &mut Agent) -> Result<(), String> {
    if agent.record.lock_held.is_some()
        && agent.record.state.staged().is_none()
        && agent.record.marked_good_boot.as_deref() == Some(agent.identity.boot_id.as_str())
    {
        agent.release_lock().await?;
    }
    Ok(())
}

/// Join the fleet when update.conf says so (`KINDLING_FLEET=on`): start the member that
/// keeps the node's record in etcd and converges the node to the published config. The
/// receiver carries the member's reboot requests (never fires when not joined).
fn join_fleet(
    agent: &mut Agent,
) -> Result<(Option<crate::fleet::Publisher>, mpsc::Receiver<String>), String> {
    let keys = agent.reboot_keys();
    let Some(join) = crate::fleet::Join::from_keys(&keys)? else {
        let (_tx, rx) = mpsc::channel(1);
        return Ok((None, rx));
    };
    let (publisher, reboots) = crate::fleet::member::start(
        join,
        agent.root.clone(),
        &agent.identity,
        agent.view(),
        agent
            .options
            .health_timeout
            .unwrap_or(Duration::from_secs(300)),
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
) -> Result<Outcome, String> {
    let path = root.path().display().to_string();
    let Some(mut agent) = Agent::open(root, options)? else {
        return Err(format!("another kindling agent is working on {path}"));
    };
    agent.on_progress = on_progress;
    // A slot held across the reboot is renewed first (beside the after-boot step): the
    // health check may take long.
    agent.reattach_lock();
    let after = agent.after_boot().await?;
    agent.settle_reattach().await;
    if let AfterBoot::Unhealthy { .. } = after {
        // The trial boot is unhealthy: fall back to the old slot unless reboots are off (a
        // reboot lock held for this update stays held across the fall-back reboot).
        if agent.settings.strategy != crate::machine::settings::Strategy::Off {
            let done = agent.fallback_reboot()?;
            agent.say_line(&done);
        }
    } else {
        release_if_judged(&mut agent).await?;
    }
    if once {
        let outcome = agent.cycle().await?;
        if matches!(outcome, Outcome::Staged(_)) {
            let step = agent.reboot_by_strategy(Some(reboot_wait)).await?;
            agent.say_line(&describe(&step));
        }
        return Ok(outcome);
    }
    let (listener, _socket) = listen(&agent.root)?;
    let (tx, mut rx) = mpsc::channel(8);
    tokio::spawn(serve(listener, tx));
    let (fleet, mut config_reboots) = join_fleet(&mut agent)?;
    agent.fleet.clone_from(&fleet);
    let mut first = true;
    loop {
        if let Some(f) = &fleet {
            f.agent(agent.view());
        }
        let wait = schedule::next_wait(
            &agent.settings.timing,
            first,
            agent.record.failures,
            agent.record.poll_interval,
            fastrand::f64(),
        );
        first = false;
        let (request, asked) = tokio::select! {
            () = tokio::time::sleep(wait) => (Request::Check, false),
            r = rx.recv() => (r.unwrap_or(Request::Check), true),
            Some(reason) = config_reboots.recv() => {
                // A fleet config's reboot-required part: the same pipeline as an update
                // (strategy, window, lock held across the reboot).
                agent.record.config_reboot = Some(super::state::ConfigReboot {
                    reason: reason.clone(),
                    boot_id: agent.identity.boot_id.clone(),
                });
                agent.save_record()?;
                agent.say_line(&reason);
                if let Some(f) = &fleet {
                    f.agent(agent.view());
                }
                match agent.reboot_by_strategy(None).await {
                    Ok(step) => agent.say_line(&describe(&step)),
                    Err(m) => agent.say_line(&m),
                }
                continue;
            }
        };
        match request {
            Request::Reset => match reset(&mut agent) {
                Ok(m) | Err(m) => agent.say_line(&m),
            },
            Request::Check => {
                agent.options.on_demand = asked;
                let outcome = agent.cycle().await?;
                if let Some(f) = &fleet {
                    // The record shows the staged release while the reboot waits.
                    f.agent(agent.view());
                }
                if let Outcome::NoUpdate(m) = &outcome {
                    agent.say_line(m);
                }
                if matches!(outcome, Outcome::Staged(_)) {
                    match agent.reboot_by_strategy(None).await {
                        Ok(step) => agent.say_line(&describe(&step)),
                        Err(m) => agent.say_line(&m),
                    }
                }
            }
        }
    }
}
