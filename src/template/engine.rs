//! The minijinja environment every template renders in, and its limits.
//!
//! Settings match cloud-init's Jinja where a cloud-config depends on them: `trim_blocks`
//! (the newline after a `{% tag %}` is dropped), no autoescaping (minijinja would
//! otherwise JSON-escape into files named `*.yaml`), no `lstrip_blocks`. Unlike cloud-init
//! an undefined variable is an error (strict undefined), and the final newline of the
//! template is kept so the rendered file ends in one.
//!
//! Limits bound what a hostile or broken template can cost: [`FUEL`] instructions (minijinja
//! also charges the memory values take and the output written against it), a recursion
//! limit of [`RECURSION_LIMIT`] for macros and includes, the parser's own nesting limits,
//! and [`MAX_OUTPUT`] bytes of rendered text, enforced by the writer the text goes to.

use std::io::Write;
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

/// Instructions one render may run (minijinja's fuel; also charged for memory and output).
/// A 100-line fleet template needs a few thousand; this leaves room for big loops.
pub const FUEL: u64 = 2_000_000;

/// Nesting of macro calls, includes and loops at render time.
pub const RECURSION_LIMIT: usize = 100;

/// The largest rendered config accepted (cloud user-data limits are far lower: 16 KiB on
/// EC2, 64 KiB on most others).
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Why an included template cannot be read (the render's error names the include and this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncludeError {
    /// The name leaves the template's directory (absolute, or with `..`).
    #[error("an include is a path below the template's directory (no `/` at the start, no `..`)")]
    OutsideDirectory,
    /// The name is inside the directory, but a symbolic link on the way leads out of it.
    #[error("{0} leads outside the template's directory through a symbolic link")]
    LeavesDirectory(String),
    /// The file is not UTF-8.
    #[error("{0} is not UTF-8")]
    NotUtf8(String),
    /// A tag of the file holds more operators than a template may
    /// ([`super::expression_limits::MAX_OPERATORS`]).
    #[error(
        "{path}, line {line}: a tag holds more than {} operators (kindling's limit for one expression)",
        super::expression_limits::MAX_OPERATORS
    )]
    ExpressionTooLarge {
        /// The file.
        path: String,
        /// The line of the tag (1-based).
        line: usize,
    },
    /// The file cannot be read.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
}

/// Gives minijinja the text of an included template by the name the template wrote.
pub type Loader = Arc<dyn Fn(&str) -> Result<Option<String>, IncludeError> + Send + Sync>;

/// The default syntax with cloud-init's whitespace rules.
pub fn syntax() -> SyntaxConfig {
    // Building it from the default delimiters cannot fail.
    SyntaxConfig::builder()
        .trim_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .unwrap_or_default()
}

/// A new environment with kindling's settings, filters and, when given, an include loader.
pub fn environment(includes: Option<Loader>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_syntax(syntax());
    env.set_debug(true);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.add_filter("b64encode", super::filters::b64encode);
    env.add_filter("toyaml", super::filters::toyaml);
    if let Some(includes) = includes {
        env.set_loader(move |name| {
            includes(name).map_err(|why| {
                // Not `TemplateNotFound`: minijinja would replace the reason by "tried to
                // include non-existing template".
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("cannot read the included template {name:?}: {why}"),
                )
            })
        });
    }
    env
}

/// Render `name` with `context` into a string of at most [`MAX_OUTPUT`] bytes; with it,
/// the fuel the render used.
pub fn render_capped(
    env: &Environment<'_>,
    name: &str,
    context: Value,
) -> Result<(String, u64), Error> {
    let template = env.get_template(name)?;
    let mut out = Capped {
        buf: Vec::with_capacity(4096),
        over: false,
    };
    let result = template
        .render_captured_to(context, &mut out)
        .map(|captured| captured.state().fuel_levels().map_or(0, |(used, _)| used));
    if out.over {
        return Err(Error::new(
            ErrorKind::WriteFailure,
            format!(
                "the rendered config is larger than {} MiB",
                MAX_OUTPUT / 1024 / 1024
            ),
        ));
    }
    let used = result?;
    // minijinja writes only UTF-8 (it renders Rust strings).
    let text = String::from_utf8(out.buf).map_err(|_| {
        Error::new(
            ErrorKind::WriteFailure,
            "the rendered text is not UTF-8 (a bug in kindling)",
        )
    })?;
    Ok((text, used))
}

/// Whether `err` is a limit of the render (fuel, recursion, output) rather than a mistake
/// of one node's values.
pub fn is_limit(err: &Error) -> bool {
    match err.kind() {
        ErrorKind::OutOfFuel | ErrorKind::WriteFailure => true,
        ErrorKind::InvalidOperation => err.detail().is_some_and(|d| d.contains("recursion limit")),
        _ => false,
    }
}

/// A writer that refuses to grow past [`MAX_OUTPUT`].
struct Capped {
    buf: Vec<u8>,
    over: bool,
}

impl Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + bytes.len() > MAX_OUTPUT {
            self.over = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
