//! `kindling fleet rollout rollback NODE... | --failed`: ask nodes to return to the
//! generation they had before their last apply (see `crate::fleet::recover`), wait for each
//! node's answer in its record, and note the restored ones in the rollout.
use std::process::ExitCode;
use std::time::Duration;

use crate::fleet::listing::find;
use crate::fleet::{FleetEtcd, Mirror};

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("kindling: {message}");
    ExitCode::from(code)
}

pub(super) async fn rollback(
    store: &FleetEtcd,
    names: &[String],
    failed: bool,
    to: Option<u64>,
    timeout: Duration,
    json: bool,
) -> ExitCode {
    // Read once and follow the group by watch: the answers arrive as record changes.
    let mut fleet = match Mirror::open(store).await {
        Ok(m) => m,
        Err(e) => return fail(2, &e),
    };
    let nodes = fleet.listed();
    let rollout = match store.rollout().await {
        Ok(r) => r.map(|(r, _)| r),
        Err(e) => return fail(2, &e),
    };
    let mut ids: Vec<String> = Vec::new();
    for name in names {
        match find(&nodes, name) {
            Some(l) => ids.push(l.id.clone()),
            None => {
                return fail(
                    1,
                    &format!(
                        "no node {name:?} in group {:?} (give a machine id or a hostname from `kindling fleet status`)",
                        store.group()
                    ),
                );
            }
        }
    }
    if failed {
        match &rollout {
            Some(r) if r.release.is_none() => ids.extend(
                r.failed
                    .keys()
                    .filter(|id| !r.rolled_back.contains_key(*id))
                    .cloned(),
            ),
            Some(r) => {
                return fail(
                    1,
                    &format!(
                        "the group's rollout is of {}: a node that failed a release went back to its old slot by itself; --failed rolls back nodes of a config rollout",
                        r.what()
                    ),
                );
            }
            None => return fail(1, "--failed: there is no rollout in this group"),
        }
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return fail(1, "no node to roll back: name nodes, or pass --failed");
    }
    // Every request first, then the answers: the nodes restore at the same time.
    let mut asked: Vec<(String, String, u64, i64)> = Vec::new();
    for id in &ids {
        let listed = nodes.iter().find(|l| &l.id == id);
        let record = listed.and_then(|l| l.record.as_ref().ok());
        let host = record.map_or_else(|| id.clone(), |r| r.hostname.clone());
        let Some(generation) = to.or_else(|| record.and_then(|r| r.rollback_to)) else {
            return fail(
                1,
                &format!(
                    "{host} reports no saved generation to return to (its last apply changed nothing, or it was rolled back already); nothing asked"
                ),
            );
        };
        match crate::fleet::recover::request(store, id, generation).await {
            Ok(rev) => asked.push((id.clone(), host, generation, rev)),
            Err(e) => return fail(2, &e),
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let answers: Vec<(
        String,
        String,
        u64,
        Option<crate::fleet::record::RollbackAnswer>,
    )> = loop {
        let past = tokio::time::Instant::now() >= deadline;
        // "No answer" is said from a fresh read, never from a watch that may have died.
        if past && let Err(e) = fleet.resync().await {
            return fail(2, &e);
        }
        let answers: Vec<_> = asked
            .iter()
            .map(|(id, host, g, rev)| {
                let answer = fleet
                    .node(id)
                    .and_then(|l| l.record.as_ref().ok())
                    .and_then(|r| r.rollback.clone())
                    .filter(|a| a.revision == *rev);
                (id.clone(), host.clone(), *g, answer)
            })
            .collect();
        if answers.iter().all(|a| a.3.is_some()) || past {
            break answers;
        }
        if let Err(e) = fleet.changed(deadline).await {
            return fail(2, &e);
        }
    };
    // The rollout's account of the restored nodes.
    let restored: Vec<(String, u64)> = answers
        .iter()
        .filter(|a| a.3.as_ref().is_some_and(|x| x.restored))
        .map(|a| (a.0.clone(), a.2))
        .collect();
    if rollout.is_some() && !restored.is_empty() {
        let mut done = false;
        for _ in 0..16 {
            let Ok(Some((mut r, rev))) = store.rollout().await else {
                break;
            };
            for (id, g) in &restored {
                if r.admitted.contains(id) {
                    r.rolled_back.insert(id.clone(), *g);
                }
            }
            r.updated_at = crate::fleet::record::now_secs();
            if let Ok(true) = store.put_rollout(&r, rev).await {
                done = true;
                break;
            }
        }
        if !done {
            eprintln!("kindling: the rollout could not be updated with the rolled-back nodes");
        }
    }
    let mut code = 0u8;
    let mut out = String::new();
    let mut list = Vec::new();
    for (id, host, g, answer) in &answers {
        // The node's message says restored or refused itself.
        let (state, message) = match answer {
            Some(a) if a.restored => ("restored", a.message.clone()),
            Some(a) => {
                code = code.max(1);
                ("refused", a.message.clone())
            }
            None => {
                code = 2;
                (
                    "no answer",
                    format!(
                        "no answer: it did not answer within {}s (the request stays; the node answers when it is back)",
                        timeout.as_secs()
                    ),
                )
            }
        };
        out.push_str(&format!("{host}: {message}\n"));
        list.push(serde_json::json!({"id": id, "host": host, "to": g, "state": state, "message": message}));
    }
    if json {
        out = format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({ "nodes": list })).unwrap_or_default()
        );
    }
    let _ = super::emit(&out);
    ExitCode::from(code)
}
