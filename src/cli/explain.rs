//! `kindling explain`: the book page of a diagnostic code, or the list of codes.
use std::process::ExitCode;

use super::emit;

pub(super) fn run(code: Option<&str>) -> ExitCode {
    let Some(code) = code else {
        let mut list = String::new();
        for rule in crate::rules::ALL {
            list.push_str(&format!(
                "{:<44} {:<7} {}\n",
                rule.code,
                rule.severity.as_str(),
                rule.summary
            ));
        }
        return emit(&list);
    };
    match crate::rules::find(code) {
        Some(rule) => emit(&crate::rules::book_page(rule)),
        None => {
            eprintln!("kindling: no diagnostic code {code:?}; `kindling explain` lists them all");
            ExitCode::from(2)
        }
    }
}
