//! The race of several datasources, as coreos-cloudinit's `selectDatasource`: every source
//! is asked in parallel whether it is available, again after 100 ms, doubling up to 30 s;
//! the first to answer wins. A source that is unavailable and whose availability cannot
//! change gives up at once.
//!
//! Differences: one deadline bounds the whole run (the fetches after the race too), where
//! coreos-cloudinit waits 5 minutes for availability alone and then retries each fetch for
//! another ~51 s; while waiting, a progress line names every source still waited for and
//! why; when every source has given up the run ends at once with each reason.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Availability, Datasource};

/// Why no source was chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaceError {
    /// Every source gave up; waiting cannot help.
    #[error("no datasource is available, and waiting cannot help:\n{}", list(.0))]
    NoneAvailable(Vec<String>),
    /// The deadline came first.
    #[error("no datasource became available within {seconds} s:\n{}", list(.reasons))]
    Timeout {
        /// The deadline, in seconds from the start.
        seconds: u64,
        /// The last reason of each source.
        reasons: Vec<String>,
    },
}

fn list(reasons: &[String]) -> String {
    reasons
        .iter()
        .map(|r| format!("  - {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first interval between availability checks.
pub const INTERVAL: Duration = Duration::from_millis(100);
/// The longest interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(30);

fn label(s: &dyn Datasource) -> String {
    format!("{} ({})", s.kind(), s.location())
}

/// Race `sources` until one is available or `deadline`; `progress` receives a line every
/// `every` while waiting. Returns the index of the winner.
///
/// # Errors
/// When every source gave up, or the deadline came.
pub async fn select(
    sources: &[Arc<dyn Datasource>],
    deadline: Instant,
    every: Duration,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<usize, RaceError> {
    let started = Instant::now();
    let state: Arc<Mutex<Vec<Option<String>>>> =
        Arc::new(Mutex::new(vec![
            Some("not asked yet".into());
            sources.len()
        ]));
    let mut set = tokio::task::JoinSet::new();
    for (i, source) in sources.iter().enumerate() {
        let source = Arc::clone(source);
        let state = Arc::clone(&state);
        set.spawn(async move {
            let mut interval = INTERVAL;
            loop {
                let why = match source.availability().await {
                    Availability::Available => return (i, Ok(())),
                    Availability::Never(why) => return (i, Err(why)),
                    Availability::NotYet(why) if !source.availability_changes() => {
                        return (i, Err(why));
                    }
                    Availability::NotYet(why) => why,
                };
                if let Ok(mut s) = state.lock() {
                    s[i] = Some(why);
                }
                tokio::time::sleep(interval).await;
                interval = (interval * 2).min(MAX_INTERVAL);
            }
        });
    }
    let mut gave_up: Vec<Option<String>> = vec![None; sources.len()];
    let mut next_progress = Instant::now() + every;
    let reasons = |gave_up: &[Option<String>]| -> Vec<String> {
        let waiting = state.lock().map(|s| s.clone()).unwrap_or_default();
        sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let why = gave_up[i]
                    .clone()
                    .or_else(|| waiting.get(i).cloned().flatten())
                    .unwrap_or_default();
                format!("{}: {why}", label(s.as_ref()))
            })
            .collect()
    };
    loop {
        let now = Instant::now();
        if now >= deadline {
            set.abort_all();
            return Err(RaceError::Timeout {
                // Rounded, not truncated: the deadline is measured from a moment just
                // before `started`, so `--timeout 2` would otherwise read as 1 s.
                seconds: u64::try_from(
                    (deadline.saturating_duration_since(started).as_millis() + 500) / 1000,
                )
                .unwrap_or(u64::MAX),
                reasons: reasons(&gave_up),
            });
        }
        let wake = deadline.min(next_progress);
        match tokio::time::timeout(wake.saturating_duration_since(now), set.join_next()).await {
            Ok(Some(Ok((i, Ok(()))))) => {
                set.abort_all();
                return Ok(i);
            }
            Ok(Some(Ok((i, Err(why))))) => gave_up[i] = Some(why),
            Ok(Some(Err(join))) => {
                // A panicking source is a bug in kindling; the others keep racing.
                progress(&format!("a datasource check failed: {join}"));
            }
            Ok(None) => return Err(RaceError::NoneAvailable(reasons(&gave_up))),
            Err(_) => {
                if Instant::now() >= next_progress {
                    let waiting: Vec<String> = reasons(&gave_up)
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| gave_up[*i].is_none())
                        .map(|(_, r)| r)
                        .collect();
                    progress(&format!(
                        "waiting for a datasource ({:.0} s of {:.0} s): {}",
                        started.elapsed().as_secs_f64(),
                        deadline.saturating_duration_since(started).as_secs_f64(),
                        waiting.join("; ")
                    ));
                    next_progress = Instant::now() + every;
                }
            }
        }
    }
}
