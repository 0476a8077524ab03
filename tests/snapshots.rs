//! Snapshots of what people see: the human report (no colour, width 100) for every
//! example, stored in `snapshots/validate/<example>.txt`. A change in wording, position
//! or layout shows up as a diff here; `UPDATE_GENERATED=1` accepts it.

use kindling::report::human::{Style, render};

use crate::common::root;

#[test]
fn human_reports_of_examples() {
    let dir = crate::common::yaml_files(&root().join("examples"));
    let mut stale = Vec::new();
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
        let snap = root().join(format!("snapshots/validate/{stem}.txt"));
        if std::env::var_os("UPDATE_GENERATED").is_some() {
            std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
            std::fs::write(&snap, &text).unwrap();
            continue;
        }
        let have = std::fs::read_to_string(&snap).unwrap_or_default();
        if have != text {
            stale.push(format!("--- {}\n{text}", snap.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "snapshots differ (UPDATE_GENERATED=1 accepts them):\n{}",
        stale.join("\n")
    );
}
