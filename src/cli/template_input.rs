//! What every command that takes a config also takes for templates: `--vars FILE`,
//! `--var NAME=VALUE`, `--inventory FILE`, and an include loader confined to the
//! template's directory. Reading happens here (the `template` module does no I/O).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;

use super::args::Color;
use super::error::CliError;
use super::shared::use_color;
use crate::diagnostic::{Finding, Severity};
use crate::report;
use crate::source::SourceFile;
use crate::template::inventory::Record;
use crate::template::{IncludeError, Includes, NodeVars};
use crate::validate::Validation;

/// Variables given on the command line, read.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    /// The validations of the variables files and the inventory (their own findings).
    pub validations: Vec<Validation>,
    /// The `--vars` files' variables, in order.
    pub files: Vec<BTreeMap<String, Value>>,
    /// The inventory's records, when one was given.
    pub records: Option<Vec<Record>>,
    /// `--var` pairs.
    pub cli: Vec<(String, String)>,
    /// Whether a variables file or the inventory has errors (then no template renders).
    pub failed: bool,
}

impl Inputs {
    /// Read `--vars` files and the inventory.
    ///
    /// # Errors
    /// A file cannot be read.
    pub fn read(
        var_files: &[String],
        inventory: Option<&str>,
        cli: &[(String, String)],
    ) -> Result<Inputs, CliError> {
        let mut inputs = Inputs {
            cli: cli.to_vec(),
            ..Inputs::default()
        };
        for name in var_files {
            let bytes = crate::source::read(name)?;
            let (v, vars) = crate::template::vars::read_vars_file(name, bytes);
            inputs.failed |= vars.is_none();
            inputs.files.extend(vars);
            inputs.validations.push(crate::validate::input_file(v));
        }
        if let Some(name) = inventory {
            let bytes = crate::source::read(name)?;
            let (v, records) = crate::template::inventory::read(name, bytes);
            inputs.failed |= records.is_none();
            inputs.records = Some(records.unwrap_or_default());
            inputs.validations.push(crate::validate::input_file(v));
        }
        Ok(inputs)
    }

    /// The nodes to render: one per inventory record, else one from the files and `--var`.
    pub fn nodes(&self) -> Vec<NodeVars> {
        match &self.records {
            Some(records) => records
                .iter()
                .map(|r| {
                    let mut node = NodeVars::new(crate::template::vars::merge(
                        &self.files,
                        Some(&r.vars),
                        &self.cli,
                    ));
                    node.name = Some(r.name.clone());
                    node
                })
                .collect(),
            None => vec![NodeVars::new(crate::template::vars::merge(
                &self.files,
                None,
                &self.cli,
            ))],
        }
    }

    /// Whether anything template-only was given (files, an inventory, other `--var` names).
    pub fn template_only(&self) -> Option<String> {
        if let Some(v) = self.validations.first() {
            return Some(format!("{} (a variables file or inventory)", v.source.name));
        }
        self.cli
            .iter()
            .find(|(k, _)| !crate::compile::VARIABLES.contains(&k.as_str()))
            .map(|(k, _)| format!("--var {k}"))
    }
}

/// The values of `$public_ipv4` and friends for a node: its variables of those names
/// (from `--var`, `--vars` or its inventory record) that are text.
pub(crate) fn dollar_vars(node: &NodeVars) -> BTreeMap<String, String> {
    crate::compile::VARIABLES
        .iter()
        .filter_map(|k| {
            let v = node.vars.get(*k)?;
            Some(((*k).to_string(), v.as_str()?.to_string()))
        })
        .collect()
}

/// Refuse template-only arguments for a plain config.
///
/// # Errors
/// A template-only argument was given (status 2).
pub(crate) fn plain_vars(file: &str, inputs: &Inputs) -> Result<(), CliError> {
    match inputs.template_only() {
        Some(what) => Err(CliError::Usage(format!(
            "{file} is not a template (its first line is not `## template: jinja`), so {what} has no use; \
             a plain config takes only --var {}",
            crate::compile::VARIABLES.join("|")
        ))),
        None => Ok(()),
    }
}

/// Included templates, looked up relative to the template's directory. Absolute names and
/// `..` are refused, and so is a name whose real path (symbolic links followed) is not below
/// the directory's real path, so a template reads only below its own directory. An
/// included file must be a regular file (a FIFO would block the render).
pub(crate) fn includes_for(template: &str) -> Includes {
    let dir = if template == "-" {
        PathBuf::new()
    } else {
        Path::new(template)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let real_dir = std::fs::canonicalize(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &dir
    });
    Arc::new(move |name: &str| {
        let rel = Path::new(name);
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(IncludeError::OutsideDirectory);
        }
        let path = dir.join(rel);
        let shown = path.display().to_string();
        let unreadable = |e: std::io::Error| IncludeError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let real = match std::fs::canonicalize(&path) {
            Ok(real) => real,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(e)),
        };
        match &real_dir {
            Ok(real_dir) if real.starts_with(real_dir) => {}
            _ => return Err(IncludeError::LeavesDirectory(shown)),
        }
        // The real path, so a link swapped in after the check is not followed.
        let bytes =
            crate::source::read_regular(&real, crate::source::MAX_USER_DATA).map_err(unreadable)?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Some((shown, text))),
            Err(_) => Err(IncludeError::NotUtf8(shown)),
        }
    })
}

/// Print the warnings and errors of `validations` to standard error (human format).
pub(crate) fn print_findings(validations: &[Validation], color: Color) {
    for v in validations {
        print_findings_of(&v.source, &v.findings, color);
    }
}

/// Print the warnings and errors of `findings` about `source` to standard error.
pub(crate) fn print_findings_of(source: &SourceFile, findings: &[Finding], color: Color) {
    let style = report::human::Style {
        color: use_color(color, std::io::stderr().is_terminal()),
        width: 100,
    };
    for finding in findings.iter().filter(|f| f.severity >= Severity::Warning) {
        eprint!("{}", report::human::render_finding(source, finding, style));
        eprintln!();
    }
}

/// Show the variables' own findings; when they have errors, fail with `the variables have
/// errors; {consequence}` (no template renders without usable variables).
///
/// # Errors
/// A variables file or the inventory has errors (status 1).
pub(crate) fn usable_variables(
    inputs: &Inputs,
    color: Color,
    consequence: &str,
) -> Result<(), CliError> {
    print_findings(&inputs.validations, color);
    if inputs.failed {
        return Err(CliError::Failed(format!(
            "the variables have errors; {consequence}"
        )));
    }
    Ok(())
}

/// Whether `file` starts with a template header (unreadable files are not templates; the
/// command reports them when it reads them).
pub(crate) fn is_template_file(file: &str) -> bool {
    if file == "-" {
        return false;
    }
    let Ok(bytes) = std::fs::read(file) else {
        return false;
    };
    has_template_header(&bytes)
}

/// Whether the first line of `bytes` is a template header.
fn has_template_header(bytes: &[u8]) -> bool {
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    std::str::from_utf8(first)
        .ok()
        .and_then(crate::source::template_renderer)
        .is_some()
}

/// A config file as read: a template (parsed), a template that does not parse (its
/// findings), or a plain config (its bytes).
pub(crate) enum Input {
    /// A template, ready to render.
    Template(Box<crate::template::Template>),
    /// A template with header or syntax errors.
    Broken(Box<Validation>),
    /// Anything else.
    Plain(Vec<u8>),
}

/// Read `file` and parse it when it is a template.
///
/// # Errors
/// It cannot be read.
pub(crate) fn input(file: &str) -> Result<Input, CliError> {
    let bytes = crate::source::read(file)?;
    // Templates are recognised by the first line alone; everything else stays bytes so the
    // plain path is unchanged.
    if !has_template_header(&bytes) {
        return Ok(Input::Plain(bytes));
    }
    let (source, mut findings) = crate::source::load(file, bytes);
    if source.kind != crate::source::UserData::Template {
        // A gzip'd or odd file whose first bytes only looked like a header.
        return Ok(Input::Plain(source.text.into_bytes()));
    }
    let copy = source.clone();
    match crate::template::Template::new(source, Some(includes_for(file))) {
        Ok(t) if findings.is_empty() => return Ok(Input::Template(Box::new(t))),
        Ok(_) => {}
        Err(errors) => findings.extend(errors),
    }
    Ok(Input::Broken(Box::new(crate::validate::validation_of(
        copy, findings,
    ))))
}
