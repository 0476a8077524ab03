//! Snapshots of what people see: the human report (no colour, width 100) for every
//! example, stored by insta in `snapshots/validate/<example>.snap`. A change in wording,
//! position or layout shows up as a diff here; `cargo insta review` accepts it.

use kindling::report::human::{Style, render};

use crate::support::common::root;

#[test]
fn human_reports_of_examples() {
    let dir = crate::support::common::yaml_files(&root().join("examples"));
    let mut snapshots = Vec::new();
    for path in dir {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let name = format!("examples/{stem}.yaml");
        let v = kindling::validate(&name, std::fs::read(&path).unwrap());
        let text = render(
            &[v],
            Style {
                color: false,
                width: 100,
            },
        );
        snapshots.push((stem, text));
    }
    crate::support::insta::assert_snapshots("validate", &snapshots);
}
