//! When the next update check is due: pure arithmetic over the settings, the record and a
//! random draw the caller supplies (so tests fix it).
//!
//! The first check comes `first_check` after the agent starts, then every `interval`; a
//! random delay of up to `jitter` is added to every wait (so a fleet started at once does not
//! check at once; update_engine fuzzes its waits the same way), a server's `PollInterval`
//! replaces the interval, and consecutive failures back off exponentially
//! (interval × 2^(failures-1)) up to `max_backoff`, so a dead server is not hammered.

use std::time::Duration;

use crate::machine::settings::Timing;

/// The wait before the next check. `first` is true for the first check after start;
/// `failures` counts consecutive failed cycles; `poll_interval` is the server's, in
/// seconds; `draw` is a uniform random number in [0, 1).
#[must_use]
pub fn next_wait(
    timing: &Timing,
    first: bool,
    failures: u32,
    poll_interval: Option<u64>,
    draw: f64,
) -> Duration {
    let base = if first {
        timing.first_check
    } else if failures > 0 {
        let exp = failures.saturating_sub(1).min(30);
        timing
            .interval
            .min(timing.max_backoff)
            .saturating_mul(1u32 << exp)
            .min(timing.max_backoff)
    } else if let Some(secs) = poll_interval.filter(|s| *s > 0) {
        Duration::from_secs(secs)
    } else {
        timing.interval
    };
    base.saturating_add(timing.jitter.mul_f64(draw.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing::default()
    }

    #[test]
    fn first_check_ten_minutes_then_hourly_with_jitter() {
        let t = timing();
        let secs = |first, draw| next_wait(&t, first, 0, None, draw).as_secs();
        assert_eq!(secs(true, 0.0), 600);
        assert_eq!(secs(true, 0.5), 900);
        assert_eq!(secs(false, 0.0), 3600);
        assert_eq!(secs(false, 1.0), 4200);
    }

    #[test]
    fn backoff_doubles_up_to_four_hours_and_poll_interval_is_honoured() {
        let t = Timing {
            jitter: Duration::ZERO,
            ..timing()
        };
        let wait = |failures, poll_interval| next_wait(&t, false, failures, poll_interval, 0.5);
        assert_eq!(wait(1, None), Duration::from_secs(3600));
        assert_eq!(wait(2, None), Duration::from_secs(7200));
        assert_eq!(wait(3, None), Duration::from_secs(14_400));
        assert_eq!(wait(40, None), Duration::from_secs(14_400));
        assert_eq!(wait(0, Some(120)), Duration::from_secs(120));
        // A failing server's PollInterval does not shorten the backoff.
        assert_eq!(wait(2, Some(1)), Duration::from_secs(7200));
    }
}
