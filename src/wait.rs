//! Waiting helpers shared by the agent's reboot step and the fleet's release gate: a sleep
//! bounded by a deadline, so every wait with a limit gives up at the limit and never later.
//! Pure timing on tokio's clock; nothing of kindling is imported.

use std::time::Duration;

/// Sleep `wait`, but not past `give_up`; false when `give_up` came first.
pub async fn sleep_within(wait: Duration, give_up: Option<tokio::time::Instant>) -> bool {
    let until = tokio::time::Instant::now() + wait;
    match give_up {
        Some(g) if g < until => {
            tokio::time::sleep_until(g).await;
            false
        }
        _ => {
            tokio::time::sleep_until(until).await;
            true
        }
    }
}
