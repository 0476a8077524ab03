//! `kindling apply --from-SOURCE ...` and `kindling diff --from-SOURCE ...`: read user-data
//! and metadata where the node gets them (coreos-cloudinit's flags and `--oem` presets),
//! race the sources under one deadline, merge the metadata into the plan, and apply or
//! preview it. Installed as `coreos-cloudinit`, kindling takes that tool's command line
//! (`coreos_cloudinit::coreos_cloudinit_args` turns `-from-file=X` into `apply --root=/ --from-file=X`).
//!
//! The run itself up to the plan is `datasource::boot::prepare`; this file renders it.
//!
//! Exit statuses: 0 applied (or an Ignition config, left to Ignition); 1 no source in time,
//! metadata that cannot be read or converted, or user-data that failed (the metadata part is
//! still applied, as coreos-cloudinit does; `--ignore-failure` makes that 0); 2 usage or I/O.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::args::{Color, DiffFormat};
use super::error::{CliError, Status};
pub use super::from_args::{APPLY_UNLESS, FromArgs, SOURCE_IDS};
use super::shared::{emit, use_color};
use crate::apply::Report;
use crate::datasource::FetchError;
use crate::datasource::boot::{self, Merged, Prepared};
use crate::diagnostic::Severity;
use crate::report;
use crate::root::Root;

/// Arguments of a datasource run.
pub(super) struct Run<'a> {
    pub from: &'a FromArgs,
    pub root: &'a std::path::Path,
    /// `diff` instead of `apply`.
    pub preview: bool,
    pub dry_run: bool,
    pub format: DiffFormat,
    pub color: Color,
    /// `diff --exit-code`.
    pub exit_code: bool,
}

/// Run `apply`/`diff` with datasources.
pub(super) fn run(args: &Run<'_>) -> Result<ExitCode, CliError> {
    let progress = |line: &str| eprintln!("kindling: {line}");
    match boot::prepare(args.from, args.root, &progress)? {
        Prepared::Validate { name, user_data } => validate_only(&name, user_data, args.color),
        Prepared::Merged(merged) => apply_merged(args, &merged),
    }
}

/// Show the merge's findings and warnings, then apply or preview its plan; the user-data's
/// failure (the metadata part applied) ends the run with status 1 unless `--ignore-failure`.
fn apply_merged(args: &Run<'_>, merged: &Merged) -> Result<ExitCode, CliError> {
    let outcome = &merged.outcome;
    if let (Some(c), Some(source)) = (&outcome.compiled, &outcome.source) {
        print_findings(c, source, args.color);
    }
    for w in &outcome.warnings {
        eprintln!("kindling: warning: {w}");
    }
    if outcome.ignition {
        eprintln!(
            "kindling: the user-data is an Ignition config; it is left to Ignition, nothing applied"
        );
        return Ok(ExitCode::SUCCESS);
    }
    // The apply's error is shown before the timing line, as it always was.
    let status = finish(args, &merged.root, &outcome.plan).map_err(|e| {
        if !matches!(e, CliError::Shown(_)) {
            eprintln!("kindling: {e}");
        }
        CliError::Shown(e.status())
    });
    // For scripts/bench: from the winning source's answer to a converged root.
    if std::env::var_os("KINDLING_DATASOURCE_TIMING").is_some() {
        let plan_apply = merged.started_plan.elapsed();
        let fetch_time = merged.fetch_time;
        eprintln!(
            "kindling: timing: answer-to-converged {:.3} ms (fetch {:.3} ms, plan+apply {:.3} ms)",
            (fetch_time + plan_apply).as_secs_f64() * 1000.0,
            fetch_time.as_secs_f64() * 1000.0,
            plan_apply.as_secs_f64() * 1000.0
        );
    }
    let status = status?;
    if status != ExitCode::SUCCESS {
        return Ok(status);
    }
    match &outcome.failure {
        Some(why) if args.from.ignore_failure => {
            eprintln!("kindling: {why} (the metadata part was applied)");
            Ok(ExitCode::SUCCESS)
        }
        Some(why) => Err(CliError::Failed(format!(
            "{why} (the metadata part was applied)"
        ))),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The compile's findings, against the user-data as fetched. The generic "this variable may
/// be empty on some nodes" warning is left out: here the values are known, and `merge` warns
/// about exactly the ones nothing provides.
fn print_findings(c: &crate::compile::Compiled, source: &crate::source::SourceFile, color: Color) {
    let style = report::human::Style {
        color: use_color(color, std::io::stderr().is_terminal()),
        width: 100,
    };
    // Notes about single parts of a multipart user-data (an Ignition part left to Ignition,
    // a part whose type was guessed) are worth a line at boot too.
    let part_note = |f: &crate::diagnostic::Finding| {
        f.code() == crate::rules::source_multipart::RULE.code && f.span.start > 0
    };
    for f in c
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning || part_note(f))
        .filter(|f| f.code() != crate::rules::substitution_variable::RULE.code)
    {
        eprint!("{}", report::human::render_finding(source, f, style));
        eprintln!();
    }
}

fn validate_only(
    name: &str,
    user_data: Result<Vec<u8>, FetchError>,
    color: Color,
) -> Result<ExitCode, CliError> {
    let bytes =
        user_data.map_err(|e| CliError::Failed(format!("cannot fetch the user-data: {e}")))?;
    let v = crate::validate(name, bytes);
    let style = report::human::Style {
        color: use_color(color, std::io::stderr().is_terminal()),
        width: 100,
    };
    // A `$private_ipv4`-style variable is what a datasource's metadata fills in: coreos-
    // cloudinit's -validate reports nothing for it and exits 0, and so does this.
    let counted = |f: &&crate::diagnostic::Finding| {
        f.severity >= Severity::Warning
            && f.rule.code != crate::rules::substitution_variable::RULE.code
    };
    let mut failed = false;
    for f in v.findings.iter().filter(counted) {
        failed = true;
        eprint!("{}", report::human::render_finding(&v.source, f, style));
        eprintln!();
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `emit`'s status as a result: a failed write was already shown.
fn emitted(text: &str) -> Result<ExitCode, CliError> {
    match emit(text) {
        code if code == ExitCode::SUCCESS => Ok(code),
        _ => Err(CliError::Shown(Status::Usage)),
    }
}

/// Apply or preview the merged plan, printing what `apply`/`diff` print.
fn finish(args: &Run<'_>, root: &Root, plan: &crate::plan::Plan) -> Result<ExitCode, CliError> {
    let out_color = use_color(args.color, std::io::stdout().is_terminal());
    if args.preview {
        let d = crate::apply::diff(root, plan)?;
        let text = match args.format {
            DiffFormat::Human => crate::diff::render(&d, out_color),
            DiffFormat::Json => crate::diff::render_json(&d),
        };
        emitted(&text)?;
        return Ok(if args.exit_code && !d.is_empty() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let report = crate::apply::apply(root, plan, args.dry_run)?;
    let text = match args.format {
        DiffFormat::Json => {
            let mut t = serde_json::to_string_pretty(&report).unwrap_or_default();
            t.push('\n');
            t
        }
        DiffFormat::Human => {
            let mut t = crate::diff::render(&report.diff, out_color);
            if !args.dry_run {
                t.push_str(&summary(&report, Some(root)));
            }
            t
        }
    };
    emitted(&text)
}

/// `wrote N file(s), ran N action(s)` and, with `root`, how many actions are pending
/// because it is not the running system; a line.
pub(super) fn summary(report: &Report, root: Option<&Root>) -> String {
    let mut t = format!(
        "wrote {} file(s), ran {} action(s)",
        report.written,
        report.ran.len()
    );
    if let Some(root) = root
        && !report.pending.is_empty()
    {
        t.push_str(&format!(
            ", {} pending ({} is not the running system)",
            report.pending.len(),
            root.path().display()
        ));
    }
    t.push('\n');
    t
}
