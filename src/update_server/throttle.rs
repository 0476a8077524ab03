//! The per-channel throttle: the decision for one update check, pure, from the channel's
//! rollout controls, its newest release, the asking machine and every other machine on the
//! channel (the fleet's wave controller, `fleet::rollout`, is a different thing).
//!
//! In order (after Nebraska's `enforceRolloutPolicy`): a client version that is not semver
//! is an error (go-omaha answers `error-internal` too); no release in the channel or
//! nothing newer is `noupdate`; updates off, or the release's rollout halted, hold the
//! machine; a machine already granted this release is offered it again (it may have
//! restarted mid-update) without counting twice; a machine that rolled back from this
//! release (error 44) is not offered it again; then at most `max_updates` grants in the
//! last `period`; then safe mode: while no machine runs the release yet, only one may hold
//! a grant of it (the canary), and a canary unfinished after the update timeout halts the
//! rollout. Holds are answered `noupdate` (see the book for why not Nebraska's errors).

use std::collections::BTreeMap;

use super::instances::Instance;
use super::releases::Release;
use super::settings::{ChannelSettings, Halt};

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing newer (or no release in the channel).
    NoUpdate,
    /// Offer the release; `new` is false for a repeated offer of the same grant.
    Grant {
        /// Whether this is a new grant (counts against the period limit).
        new: bool,
    },
    /// Not now; the reason is shown in status.
    Hold(String),
    /// Stop this release's rollout (a canary timed out) and hold.
    Halt(Halt),
    /// The client's version is not semver.
    BadVersion(String),
}

/// Everything a decision needs.
#[derive(Debug)]
pub struct Context<'a> {
    /// The channel's controls.
    pub settings: &'a ChannelSettings,
    /// The channel's newest release.
    pub release: Option<&'a Release>,
    /// The asking machine's version.
    pub client_version: &'a str,
    /// The asking machine's id (`None` when it sent none).
    pub machine_id: Option<&'a str>,
    /// Every instance (the asking one included, as last recorded).
    pub instances: &'a BTreeMap<String, Instance>,
    /// The channel.
    pub channel: &'a str,
    /// Now, Unix seconds.
    pub now: u64,
}

/// Decide.
#[must_use]
pub fn decide(ctx: &Context<'_>) -> Decision {
    let Ok(client) = semver::Version::parse(ctx.client_version.trim()) else {
        return Decision::BadVersion(ctx.client_version.to_string());
    };
    let Some(release) = ctx.release else {
        return Decision::NoUpdate;
    };
    let Some(offered) = release.semver() else {
        return Decision::NoUpdate;
    };
    if !offered.cmp_precedence(&client).is_gt() {
        return Decision::NoUpdate;
    }
    let s = ctx.settings;
    if !s.updates {
        return Decision::Hold(format!("updates are off for channel {}", ctx.channel));
    }
    if let Some(halt) = s.halted.as_ref().filter(|h| h.version == release.version) {
        return Decision::Hold(format!(
            "the rollout of {} is halted: {}",
            halt.version, halt.reason
        ));
    }
    let me = ctx.machine_id.and_then(|m| ctx.instances.get(m));
    if me.is_some_and(|i| i.in_flight(&release.version)) {
        return Decision::Grant { new: false };
    }
    if me.is_some_and(|i| {
        i.failed_version.as_deref() == Some(release.version.as_str())
            && i.failed_code == Some(crate::omaha::event::code::ROLLBACK)
    }) {
        return Decision::Hold(format!(
            "it rolled back from {}; that version is not offered to it again",
            release.version
        ));
    }
    let limited = s.max_updates.is_some() || s.safe_mode;
    if limited && ctx.machine_id.is_none() {
        return Decision::Hold("rollout controls need the machine's id, and it sent none".into());
    }
    let others = || {
        ctx.instances
            .values()
            .filter(|i| i.channel == ctx.channel && Some(i.machine_id.as_str()) != ctx.machine_id)
    };
    if let (Some(max), Some(period)) = (s.max_updates, s.period_secs) {
        let since = ctx.now.saturating_sub(period);
        let granted = others()
            .filter(|i| i.granted.as_ref().is_some_and(|g| g.at > since))
            .count();
        if granted >= max as usize {
            return Decision::Hold(format!(
                "{granted} updates granted in the last {} (at most {max})",
                humantime::format_duration(std::time::Duration::from_secs(period))
            ));
        }
    }
    if s.safe_mode {
        let done = others().any(|i| i.version == release.version);
        if !done && let Some(canary) = others().find(|i| i.in_flight(&release.version)) {
            let since = canary.granted.as_ref().map_or(ctx.now, |g| g.at);
            let timeout = s.update_timeout().as_secs();
            if ctx.now.saturating_sub(since) >= timeout {
                return Decision::Halt(Halt {
                    version: release.version.clone(),
                    machine_id: canary.machine_id.clone(),
                    reason: format!(
                        "the canary {} did not finish the update within {}",
                        canary.machine_id,
                        humantime::format_duration(s.update_timeout())
                    ),
                    at: ctx.now,
                });
            }
            return Decision::Hold(format!(
                "safe mode: waiting for the canary {} to come up on {}",
                canary.machine_id, release.version
            ));
        }
    }
    Decision::Grant { new: true }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update_server::instances::Grant;

    fn release(version: &str) -> Release {
        Release {
            channel: "stable".into(),
            version: version.into(),
            name: "u".into(),
            size: 1,
            sha256: String::new(),
            sha1: String::new(),
            published: 0,
            crau: None,
        }
    }

    fn instance(id: &str, version: &str, granted: Option<(&str, u64)>) -> Instance {
        let mut i = Instance::new(id, 0);
        i.channel = "stable".into();
        i.version = version.into();
        i.granted = granted.map(|(v, at)| Grant {
            version: v.into(),
            at,
        });
        i
    }

    fn decide_for(
        settings: &ChannelSettings,
        instances: &[Instance],
        me: &str,
        version: &str,
        now: u64,
    ) -> Decision {
        let map: BTreeMap<String, Instance> = instances
            .iter()
            .map(|i| (i.machine_id.clone(), i.clone()))
            .collect();
        let r = release("2.0.0");
        decide(&Context {
            settings,
            release: Some(&r),
            client_version: version,
            machine_id: Some(me),
            instances: &map,
            channel: "stable",
            now,
        })
    }

    #[test]
    fn versions() {
        let s = ChannelSettings::default();
        assert_eq!(
            decide_for(&s, &[], "a", "1.0.0", 0),
            Decision::Grant { new: true }
        );
        assert_eq!(decide_for(&s, &[], "a", "2.0.0", 0), Decision::NoUpdate);
        assert_eq!(decide_for(&s, &[], "a", "2.0.0+x", 0), Decision::NoUpdate);
        assert_eq!(decide_for(&s, &[], "a", "3.0.0", 0), Decision::NoUpdate);
        assert_eq!(
            decide_for(&s, &[], "a", "2.0.0-rc.1", 0),
            Decision::Grant { new: true }
        );
        assert_eq!(
            decide_for(&s, &[], "a", "latest", 0),
            Decision::BadVersion("latest".into())
        );
    }

    #[test]
    fn updates_off_and_period_limit() {
        let off = ChannelSettings {
            updates: false,
            ..ChannelSettings::default()
        };
        assert!(matches!(
            decide_for(&off, &[], "a", "1.0.0", 0),
            Decision::Hold(_)
        ));
        let limited = ChannelSettings {
            max_updates: Some(2),
            period_secs: Some(100),
            ..ChannelSettings::default()
        };
        let two = [
            instance("b", "1.0.0", Some(("2.0.0", 950))),
            instance("c", "1.0.0", Some(("2.0.0", 990))),
        ];
        assert!(matches!(
            decide_for(&limited, &two, "a", "1.0.0", 1000),
            Decision::Hold(_)
        ));
        // The first grant left the period.
        assert_eq!(
            decide_for(&limited, &two, "a", "1.0.0", 1051),
            Decision::Grant { new: true }
        );
        // A machine holding a grant gets it again whatever the limit.
        assert_eq!(
            decide_for(&limited, &two, "b", "1.0.0", 1000),
            Decision::Grant { new: false }
        );
    }

    #[test]
    fn safe_mode_canary() {
        let safe = ChannelSettings {
            safe_mode: true,
            ..ChannelSettings::default()
        };
        assert_eq!(
            decide_for(&safe, &[], "a", "1.0.0", 0),
            Decision::Grant { new: true }
        );
        let canary = [instance("a", "1.0.0", Some(("2.0.0", 10)))];
        assert!(matches!(
            decide_for(&safe, &canary, "b", "1.0.0", 20),
            Decision::Hold(_)
        ));
        let timed_out = decide_for(&safe, &canary, "b", "1.0.0", 10 + 3600);
        assert!(matches!(timed_out, Decision::Halt(h) if h.machine_id == "a"));
        let up = [instance("a", "2.0.0", Some(("2.0.0", 10)))];
        assert_eq!(
            decide_for(&safe, &up, "b", "1.0.0", 20),
            Decision::Grant { new: true }
        );
        let halted = ChannelSettings {
            halted: Some(Halt {
                version: "2.0.0".into(),
                machine_id: "a".into(),
                reason: "x".into(),
                at: 0,
            }),
            ..safe
        };
        assert!(matches!(
            decide_for(&halted, &up, "b", "1.0.0", 20),
            Decision::Hold(_)
        ));
    }
}
