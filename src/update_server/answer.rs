//! Answering one Omaha request against the server's state: the app id checked, the
//! instance recorded, its events applied (before the update check, so a rollback reported
//! with a check is seen before anything is offered), the rollout decision taken and
//! recorded, and the `<app>` answers for the response. No I/O here: a halt to persist is
//! returned to the caller.

use std::net::IpAddr;

use super::instances::{
    Admission, Grant, Instance, Instances, Intake, MAX_FIELD_BYTES, State, evict_over,
};
use super::releases::{Release, Releases};
use super::settings::{ChannelSettings, Halt, Settings};
use super::throttle::{self, Decision};
use crate::omaha::request::{AppRequest, Request};
use crate::omaha::response::{AppAnswer, CheckAnswer, Offer};

/// The channel of a client that sends no track (update_engine's default `GROUP`).
pub const DEFAULT_CHANNEL: &str = "stable";

/// The state an answer reads and changes.
#[derive(Debug)]
pub struct Books<'a> {
    /// Rollout controls.
    pub settings: &'a Settings,
    /// Releases.
    pub releases: &'a Releases,
    /// Instances (changed).
    pub instances: &'a mut Instances,
    /// The records' bounds and the new machines per address this minute.
    pub intake: &'a mut Intake,
    /// The client's address (`None` when not from a socket).
    pub peer: Option<IpAddr>,
}

/// The outcome of one request.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One answer per `<app>`.
    pub apps: Vec<AppAnswer>,
    /// Rollouts to halt: (channel, halt).
    pub halts: Vec<(String, Halt)>,
    /// Lines worth logging.
    pub log: Vec<String>,
    /// Whether an instance record changed.
    pub changed: bool,
    /// The machine ids whose records changed.
    pub touched: Vec<String>,
    /// The machine ids evicted (over the cap).
    pub evicted: Vec<String>,
}

/// Answer `req`. `base_url` is the scheme and authority payload URLs start with.
#[must_use]
pub fn answer(
    req: &Request,
    app_id: &str,
    base_url: &str,
    books: &mut Books<'_>,
    now: u64,
) -> Outcome {
    let mut out = Outcome::default();
    for app in &req.apps {
        if !app.app_id.eq_ignore_ascii_case(app_id) {
            out.log.push(format!(
                "refused app id {} from {} (this server serves {app_id})",
                app.app_id,
                app.machine_id.as_deref().unwrap_or("an unnamed machine")
            ));
            out.apps.push(AppAnswer {
                app_id: app.app_id.clone(),
                status: "error-unknownApplication".into(),
                ping: false,
                update_check: None,
                events: 0,
            });
            continue;
        }
        if let Some(field) = too_long(req, app) {
            out.log.push(format!(
                "refused a request whose {field} is longer than {MAX_FIELD_BYTES} bytes"
            ));
            out.apps.push(AppAnswer {
                app_id: app.app_id.clone(),
                status: "error-fieldTooLong".into(),
                ping: false,
                update_check: None,
                events: 0,
            });
            continue;
        }
        let answer = answer_app(req, app, base_url, books, now, &mut out);
        out.apps.push(answer);
    }
    out
}

/// The first field of `app` (or its request) longer than [`MAX_FIELD_BYTES`].
fn too_long(req: &Request, app: &AppRequest) -> Option<&'static str> {
    let fields = [
        ("machine id", app.machine_id.as_deref()),
        ("machine alias", app.machine_alias.as_deref()),
        ("track", app.track.as_deref()),
        ("version", Some(app.version.as_str())),
        ("app id", Some(app.app_id.as_str())),
        ("updater version", req.updater.as_deref()),
    ];
    fields
        .into_iter()
        .find(|(_, v)| v.is_some_and(|v| v.len() > MAX_FIELD_BYTES))
        .map(|(name, _)| name)
}

/// The machine's record, made when it is new and its address may still add machines this
/// minute (evicting the longest unseen past the cap); `None` when it is not recorded.
fn admit<'b>(
    books: &'b mut Books<'_>,
    id: &str,
    now: u64,
    out: &mut Outcome,
) -> Option<&'b mut Instance> {
    if !books.instances.instances.contains_key(id) {
        match books.intake.admit(books.peer, now) {
            Admission::Admitted => {}
            Admission::Refused { first } => {
                if first && let Some(peer) = books.peer {
                    out.log.push(format!(
                        "not recording new machines from {peer} for the rest of this minute (more than {} new)",
                        books.intake.bounds.new_per_address_per_minute
                    ));
                }
                return None;
            }
        }
        books
            .instances
            .instances
            .insert(id.to_string(), Instance::new(id, now));
        let max = books.intake.bounds.max_machines;
        out.evicted
            .extend(evict_over(&mut books.instances.instances, max, id));
    }
    books.instances.instances.get_mut(id)
}

fn answer_app(
    req: &Request,
    app: &AppRequest,
    base_url: &str,
    books: &mut Books<'_>,
    now: u64,
    out: &mut Outcome,
) -> AppAnswer {
    let channel = app
        .track
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_CHANNEL)
        .to_string();
    let settings = books.settings.channel(&channel);
    let release = books.releases.newest(&channel);
    let machine_id = app.machine_id.as_deref().filter(|m| !m.is_empty());
    let recorded = match machine_id {
        Some(id) => admit(books, id, now, out).is_some(),
        None => false,
    };
    if let Some(id) = machine_id
        && let Some(inst) = books.instances.instances.get_mut(id)
    {
        inst.last_seen = now;
        inst.app_id.clone_from(&app.app_id);
        inst.channel.clone_from(&channel);
        inst.version.clone_from(&app.version);
        inst.alias = app.machine_alias.clone().filter(|a| !a.is_empty());
        inst.updater.clone_from(&req.updater);
        apply_events(inst, app, &channel, &settings, release, now, out);
        out.changed = true;
        out.touched.push(id.to_string());
    }
    let update_check = app.update_check.then(|| {
        // A halt decided by this very request already applies to it.
        let mut effective = settings.clone();
        if let Some((_, h)) = out.halts.iter().find(|(c, _)| *c == channel) {
            effective.halted = Some(h.clone());
        }
        let decision = if machine_id.is_some() && !recorded {
            // Not recorded (its address added too many machines this minute): nothing is
            // granted without a record, so rollout limits cannot be sprayed around.
            Decision::Hold("too many new machines from its address this minute".into())
        } else {
            throttle::decide(&throttle::Context {
                settings: &effective,
                release,
                client_version: &app.version,
                machine_id,
                instances: &books.instances.instances,
                channel: &channel,
                now,
            })
        };
        let inst = machine_id.and_then(|id| books.instances.instances.get_mut(id));
        record(
            inst,
            &decision,
            release.map(|r| r.version.as_str()),
            &channel,
            now,
            out,
        );
        check_answer(&decision, release, base_url)
    });
    AppAnswer {
        app_id: app.app_id.clone(),
        status: "ok".into(),
        ping: app.ping,
        update_check,
        events: app.events.len(),
    }
}

/// Apply the events `app` reports to its instance; in safe mode, a failure updating to the
/// channel's newest release halts its rollout (unless it is halted already).
fn apply_events(
    inst: &mut Instance,
    app: &AppRequest,
    channel: &str,
    settings: &ChannelSettings,
    release: Option<&Release>,
    now: u64,
    out: &mut Outcome,
) {
    let id = inst.machine_id.clone();
    for event in &app.events {
        let failed = inst.apply_event(event, now);
        if event.is_error() {
            out.log.push(format!("{id} reported {event} on {channel}"));
        }
        let Some(failed) = failed else { continue };
        let halted = settings
            .halted
            .as_ref()
            .is_some_and(|h| h.version == failed);
        if settings.safe_mode && !halted && release.is_some_and(|r| r.version == failed) {
            let reason = format!("{id} reported {event} updating to {failed}");
            out.log.push(format!(
                "halting the rollout of {failed} on {channel}: {reason}"
            ));
            out.halts.push((
                channel.to_string(),
                Halt {
                    version: failed,
                    machine_id: id.clone(),
                    reason,
                    at: now,
                },
            ));
        }
    }
}

/// The `<updatecheck>` answer for `decision`: the release's offer when granted.
fn check_answer(decision: &Decision, release: Option<&Release>, base_url: &str) -> CheckAnswer {
    match decision {
        Decision::NoUpdate | Decision::Hold(_) | Decision::Halt(_) => CheckAnswer::NoUpdate,
        Decision::BadVersion(_) => CheckAnswer::Error("error-internal".into()),
        Decision::Grant { .. } => match release {
            Some(r) => CheckAnswer::Update(Offer {
                version: r.version.clone(),
                codebases: vec![format!("{base_url}{}", r.url_dir())],
                package_name: r.name.clone(),
                size: r.size,
                sha1_base64: r.sha1.clone(),
                sha256_base64: r.sha256.clone(),
            }),
            None => CheckAnswer::NoUpdate,
        },
    }
}

fn record(
    inst: Option<&mut Instance>,
    decision: &Decision,
    release: Option<&str>,
    channel: &str,
    now: u64,
    out: &mut Outcome,
) {
    if let Decision::Halt(h) = decision {
        out.log.push(format!(
            "halting the rollout of {} on {channel}: {}",
            h.version, h.reason
        ));
        out.halts.push((channel.to_string(), h.clone()));
    }
    let Some(inst) = inst else { return };
    match decision {
        Decision::Grant { new } => {
            let version = release.unwrap_or_default().to_string();
            if *new {
                out.log.push(format!(
                    "granted {version} to {} (running {}) on {channel}",
                    inst.machine_id, inst.version
                ));
                inst.granted = Some(Grant { version, at: now });
                inst.failed_version = None;
                inst.failed_code = None;
            }
            inst.state = State::Granted;
            inst.note = None;
        }
        Decision::NoUpdate => {
            let complete = inst
                .granted
                .as_ref()
                .is_some_and(|g| g.version == inst.version);
            inst.state = if complete {
                State::Complete
            } else {
                State::UpToDate
            };
            inst.note = release
                .is_none()
                .then(|| format!("channel {channel} has no releases"));
        }
        Decision::Hold(reason) => {
            inst.state = State::OnHold;
            inst.note = Some(reason.clone());
        }
        Decision::Halt(h) => {
            inst.state = State::OnHold;
            inst.note = Some(format!(
                "the rollout of {} is halted: {}",
                h.version, h.reason
            ));
        }
        Decision::BadVersion(v) => {
            inst.note = Some(format!("its version {v:?} is not a semantic version"));
        }
    }
}
