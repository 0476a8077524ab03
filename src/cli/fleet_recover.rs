//! `kindling fleet rollout rollback NODE... | --failed`: the nodes' answers to a rollback
//! (see `crate::fleet::rollback`, which asks them and waits), one line per node or JSON.
//! The exit status: 0 when every node restored, 1 when one refused, 2 when one did not
//! answer.
use std::process::ExitCode;

use super::error::{CliError, Status};
use crate::fleet::rollback::Report;

/// Show what the rollback did; `timeout` (seconds) is how long the nodes had to answer.
pub(super) fn render(report: &Report, timeout: u64, json: bool) -> Result<ExitCode, CliError> {
    if report.rollout_not_updated {
        eprintln!("kindling: the rollout could not be updated with the rolled-back nodes");
    }
    let mut status: Option<Status> = None;
    let mut out = String::new();
    let mut list = Vec::new();
    for node in &report.nodes {
        // The node's message says restored or refused itself.
        let (state, message) = match &node.answer {
            Some(a) if a.restored => ("restored", a.message.clone()),
            Some(a) => {
                status = status.or(Some(Status::Failed));
                ("refused", a.message.clone())
            }
            None => {
                status = Some(Status::Usage);
                (
                    "no answer",
                    format!(
                        "no answer: it did not answer within {timeout}s (the request stays; the node answers when it is back)"
                    ),
                )
            }
        };
        out.push_str(&format!("{}: {message}\n", node.host));
        list.push(serde_json::json!({"id": node.id, "host": node.host, "to": node.to, "state": state, "message": message}));
    }
    if json {
        out = format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({ "nodes": list })).unwrap_or_default()
        );
    }
    let _ = super::emit(&out);
    match status {
        Some(status) => Err(CliError::Shown(status)),
        None => Ok(ExitCode::SUCCESS),
    }
}
