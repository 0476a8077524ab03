//! `kindling explain`: the book page of a diagnostic code, or the list of codes.
use std::process::ExitCode;

use super::error::CliError;
use super::shared::write_out;

pub(super) fn run(code: Option<&str>) -> Result<ExitCode, CliError> {
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
        return write_out(&list);
    };
    match crate::rules::find(code) {
        Some(rule) => write_out(&crate::rules::book_page(rule)),
        None => Err(CliError::Usage(format!(
            "no diagnostic code {code:?}; `kindling explain` lists them all"
        ))),
    }
}
