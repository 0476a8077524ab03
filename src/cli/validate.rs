//! `kindling validate`: check configs and report every finding (human, JSON, SARIF, GitHub).
use std::io::IsTerminal;
use std::process::ExitCode;

use super::args::{Color, Format, failing, parse_var};
use super::error::{CliError, Status, show};
use super::shared::{use_color, write_out};
use super::template_input::{Input, Inputs, input};
use crate::report;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Files to check; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// When to use colour in the human format.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Variables for templates, from a YAML or JSON file (repeatable; later files win).
    #[arg(long = "vars", value_name = "FILE")]
    pub var_files: Vec<String>,
    /// A variable for templates (repeatable; wins over files and the inventory).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Check every node of this inventory (YAML/JSON list or CSV, each with a `name`).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<String>,
    /// The software on the node that will read the config; what it would ignore or reject
    /// is reported. Default: what the file itself declares (Ignition for an Ignition
    /// config), else kindling.
    #[arg(long = "for", value_enum, value_name = "READER")]
    pub reader: Option<ReaderArg>,
}

/// The values of `validate --for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReaderArg {
    /// A stock node's coreos-cloudinit: kindling's extensions are dropped, `best-effort`
    /// and templates rejected.
    CoreosCloudinit,
    /// kindling (`apply`, `boot-apply`, a compiled config): reads everything it validates.
    Kindling,
    /// Ignition: reads only Ignition configs.
    Ignition,
}

impl From<ReaderArg> for crate::validate::Reader {
    fn from(r: ReaderArg) -> Self {
        match r {
            ReaderArg::CoreosCloudinit => crate::validate::Reader::CoreosCloudinit,
            ReaderArg::Kindling => crate::validate::Reader::Kindling,
            ReaderArg::Ignition => crate::validate::Reader::Ignition,
        }
    }
}

pub(super) fn run(args: &ValidateArgs) -> Result<ExitCode, CliError> {
    let mut io_failed = false;
    let inputs = Inputs::read(&args.var_files, args.inventory.as_deref(), &args.vars)?;
    let nodes = inputs.nodes();
    // Variables files first (their mistakes explain the rest), then the files in order.
    let mut results = inputs.validations;
    // The summary counts the config files checked, not the inputs they use.
    let mut files = 0;
    let mut templates = false;
    for name in &args.files {
        let read = input(name);
        files += usize::from(read.is_ok());
        templates |= matches!(read, Ok(Input::Template(_)));
        match read {
            Ok(Input::Plain(bytes)) => results.push(crate::validate(name, bytes)),
            Ok(Input::Broken(v)) => results.push(*v),
            // Without usable variables a template is not rendered: the variables' own
            // findings say why.
            Ok(Input::Template(t)) if inputs.failed => results.push(
                crate::validate::validation_of((*t.source()).clone(), Vec::new()),
            ),
            Ok(Input::Template(t)) => {
                results.extend(crate::validate::validate_fleet(&t, &nodes));
            }
            Err(err) => {
                show(&err);
                io_failed = true;
            }
        }
    }
    for v in &mut results {
        let reader = args
            .reader
            .map_or_else(|| crate::validate::Reader::declared(&v.source), Into::into);
        crate::validate::check_for(v, reader);
    }
    let text = match args.format {
        Format::Json => report::json::render(&results),
        Format::Sarif => report::sarif::render(&results),
        Format::Github => report::github::render(&results),
        Format::Human => {
            let color = use_color(args.color, std::io::stdout().is_terminal());
            let nodes = (templates && args.inventory.is_some()).then_some(nodes.len());
            let summary = report::Summary::of_files(&results, files, nodes);
            report::human::render_with(
                &results,
                report::human::Style { color, width: 100 },
                summary,
            )
        }
    };
    write_out(&text)?;
    if io_failed {
        return Err(CliError::Shown(Status::Usage));
    }
    if results.iter().any(|r| r.has(failing(args.strict))) {
        Err(CliError::Shown(Status::Failed))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
