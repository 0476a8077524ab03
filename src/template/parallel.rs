//! Work per node on every core: the one place a fleet's nodes are spread over threads
//! (validating a template over an inventory, compiling one config per node).

use super::vars::NodeVars;

/// Each node's findings, worked out on up to `available_parallelism` threads.
pub fn per_node<T: Send>(nodes: &[NodeVars], work: impl Fn(&NodeVars) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(nodes.len().div_ceil(16))
        .max(1);
    if threads == 1 {
        return nodes.iter().map(&work).collect();
    }
    let chunk = nodes.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .chunks(chunk)
            .map(|part| {
                let work = &work;
                scope.spawn(move || part.iter().map(work).collect::<Vec<T>>())
            })
            .collect();
        handles
            .into_iter()
            // A worker only panics through a bug; lose its nodes' results rather than
            // take the whole run down, and say so.
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
