//! The snapshots under `snapshots/` through insta: each is `snapshots/<group>/<name>.snap`,
//! and a difference fails the test with insta's diff and leaves a `.snap.new` beside the
//! snapshot (not under `CI`), for `cargo insta review` to accept or reject one by one
//! (`cargo install cargo-insta`; `INSTA_UPDATE=always` accepts all). Every snapshot of a
//! group is compared before the test fails, so one review covers all of them.

use crate::support::common::root;

/// Compare `snapshots` (name, text) with `snapshots/<group>/<name>.snap`.
pub fn assert_snapshots(group: &str, snapshots: &[(String, String)]) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("snapshots").join(group));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut differ = Vec::new();
    settings.bind(|| {
        for (name, text) in snapshots {
            let compared = std::panic::catch_unwind(|| {
                insta::assert_snapshot!(name.as_str(), text.as_str());
            });
            if compared.is_err() {
                differ.push(name.as_str());
            }
        }
    });
    assert!(
        differ.is_empty(),
        "snapshots/{group}: {differ:?} differ; review with `cargo insta review` (or accept all with INSTA_UPDATE=always)"
    );
}
