//! A parsed template ([`Template`]): the template file and the files it includes, the
//! minijinja environment to render it in, and the way back from rendered text to template
//! text for findings about what it rendered.

use std::sync::Arc;

use minijinja::{Environment, Value};

use super::budget::{Budget, INVENTORY_FUEL};
use super::engine::{self, IncludeError};
use super::errors;
use super::expression_limits::{self, MAX_OPERATORS, TooLarge};
use super::files::{File, Files, Located};
use super::source_map::SourceMap;
use crate::diagnostic::{Finding, Nodes, Span};
use crate::rules;
use crate::source::{LineIndex, SourceFile, UserData};

/// Looks up an included template by the name the template wrote (`{% include "x.yaml" %}`):
/// `Ok(Some((display name, text)))`, `Ok(None)` when there is no such file, `Err(why)` when
/// it cannot be read.
pub type Includes =
    Arc<dyn Fn(&str) -> Result<Option<(String, String)>, IncludeError> + Send + Sync>;

/// A parsed template, ready to render for any number of nodes (also from several threads).
pub struct Template {
    files: Arc<Files>,
    budget: Budget,
    body_start: usize,
    env: Environment<'static>,
    main: String,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("files", &self.files)
            .field("body_start", &self.body_start)
            .finish_non_exhaustive()
    }
}

/// Byte offset where the line after the first one starts.
fn after_first_line(text: &str) -> usize {
    text.find('\n').map_or(text.len(), |i| i + 1)
}

/// The finding for a tag with more operators than [`MAX_OPERATORS`] (`body_start`: where
/// the template's body starts in its file).
fn expression_too_large(body_start: usize, large: TooLarge) -> Finding {
    rules::template_limits::RULE
        .at(
            Span::new(body_start + large.start, body_start + large.end),
            format!(
                "this tag holds more than {MAX_OPERATORS} operators; kindling refuses it before \
                 parsing (a chain that long would exhaust the stack)"
            ),
        )
        .with_help(
            "split the expression: `{% set part = ... %}` a piece at a time, or a loop over a list",
        )
}

impl Template {
    /// Parse `source` (classified as [`UserData::Template`]). Errors are the header's and
    /// the syntax errors of the template itself (included files are parsed when a render
    /// first includes them).
    ///
    /// # Errors
    /// The findings that stop every render: an unsupported renderer, a syntax error.
    pub fn new(source: SourceFile, includes: Option<Includes>) -> Result<Template, Vec<Finding>> {
        let first_end = source.index.line_end(&source.text, 1);
        let first = &source.text[..first_end];
        let renderer = crate::source::template_renderer(first).unwrap_or_default();
        if source.kind != UserData::Template || renderer != "jinja" {
            let shown = if renderer.is_empty() {
                "no renderer".to_string()
            } else {
                format!("the renderer {renderer:?}")
            };
            return Err(vec![rules::template_header::RULE.at(
                Span::new(0, first_end),
                format!("the template header names {shown}; kindling renders `## template: jinja`"),
            )]);
        }
        let body_start = after_first_line(&source.text);
        let body = source.text[body_start..].to_string();
        let main = source.name.clone();
        let files = Arc::new(Files::default());
        files.with(|list| {
            list.push(File {
                jinja: main.clone(),
                source: Arc::new(source),
                offset: body_start,
            });
        });
        let loader = includes.map(|includes| {
            let files = Arc::clone(&files);
            let loader: engine::Loader = Arc::new(move |name: &str| {
                let Some((display, text)) = includes(name)? else {
                    return Ok(None);
                };
                let index = LineIndex::new(&text);
                if let Err(large) = expression_limits::check(&text, engine::syntax()) {
                    return Err(IncludeError::ExpressionTooLarge {
                        line: index.position(&text, large.start).line,
                        path: display,
                    });
                }
                let source = SourceFile {
                    name: display,
                    text: text.clone(),
                    index,
                    kind: UserData::Unrecognized,
                    gzipped: false,
                };
                files.with(|list| {
                    list.push(File {
                        jinja: name.to_string(),
                        source: Arc::new(source),
                        offset: 0,
                    });
                });
                Ok(Some(text))
            });
            loader
        });
        let mut env = engine::environment(loader);
        let mut template = Template {
            files,
            budget: Budget::default(),
            body_start,
            env: engine::environment(None),
            main: main.clone(),
        };
        if let Err(large) = expression_limits::check(&body, engine::syntax()) {
            return Err(vec![expression_too_large(body_start, large)]);
        }
        if let Err(err) = env.add_template_owned(main, body) {
            return Err(vec![
                errors::finding(&template.files, template.body_start, &err, &[]).finding,
            ]);
        }
        template.env = env;
        Ok(template)
    }

    /// The template file.
    #[must_use]
    pub fn source(&self) -> Arc<SourceFile> {
        self.files.with(|list| Arc::clone(&list[0].source))
    }

    /// File `index` (0: the template; then included files).
    #[must_use]
    pub fn file(&self, index: usize) -> Option<Arc<SourceFile>> {
        self.files.file(index)
    }

    /// Every file: the template, then the included files loaded so far.
    #[must_use]
    pub fn files(&self) -> Vec<Arc<SourceFile>> {
        self.files.all()
    }

    /// Render with `context` (a map of variables); `known` are its names, for suggestions.
    /// Every render of this template draws on one budget (see `budget`): once a render hit a
    /// limit, or all of them together used [`INVENTORY_FUEL`] steps, the template renders no
    /// more.
    ///
    /// # Errors
    /// The first error of the render, as a finding at its template position.
    pub fn render(&self, context: &Value, known: &[&str]) -> Result<String, Box<Located>> {
        if let Some(stopped) = self.budget.stopped() {
            return Err(Box::new(stopped));
        }
        match engine::render_capped(&self.env, &self.main, context.clone()) {
            Ok((text, used)) => {
                if self.budget.charge(used) {
                    self.budget.stop(self.spent_finding());
                }
                Ok(text)
            }
            Err(err) => {
                let located = errors::finding(&self.files, self.body_start, &err, known);
                if engine::is_limit(&err) {
                    self.budget.charge(engine::FUEL);
                    let mut rest = located.clone();
                    rest.finding.message = format!(
                        "not rendered: the render for another node stopped here ({}); one budget \
                         covers the whole inventory, so the template renders for no more nodes",
                        located.finding.message
                    );
                    self.budget.stop(rest);
                }
                Err(Box::new(located))
            }
        }
    }

    /// The finding for the renders after the inventory's renders used up [`INVENTORY_FUEL`].
    fn spent_finding(&self) -> Located {
        let header = Span::new(0, self.body_start.saturating_sub(1));
        Located {
            file: 0,
            finding: rules::template_limits::RULE
                .at(
                    header,
                    format!(
                        "not rendered: the renders of this template used their budget of \
                         {INVENTORY_FUEL} steps for the whole inventory"
                    ),
                )
                .with_help(
                    "a render takes a few thousand steps; look for a loop over a large range or \
                     a large variable",
                ),
            included_at: None,
        }
    }

    /// The source map of the render with `context` (render it again, recording spans).
    /// `None` when the render fails, which it does not after [`Template::render`] succeeded.
    #[must_use]
    pub fn source_map(&self, context: &Value) -> Option<SourceMap> {
        let template = self.env.get_template(&self.main).ok()?;
        let (_, spans) = template.render_with_spans(context.clone()).ok()?;
        Some(SourceMap::new(&spans, |name| self.files.file_of(name)))
    }

    /// Point `findings` (about `rendered`, the output of a render with `context`) at the
    /// template text they came from.
    #[must_use]
    pub fn locate(&self, findings: Vec<Finding>, rendered: &str, context: &Value) -> Vec<Located> {
        if findings.is_empty() {
            return Vec::new();
        }
        let map = self.source_map(context).unwrap_or_default();
        let files = self.files();
        let text_of = |i: usize| files.get(i).map(|f| f.text.as_str());
        let header = Span::new(0, self.body_start.saturating_sub(1));
        findings
            .into_iter()
            .map(|mut finding| {
                let mapped = map.map(finding.span, rendered, text_of);
                let (file, rendered_value) = match mapped {
                    Some(m) => {
                        finding.span = m.span;
                        (m.file, m.rendered)
                    }
                    None => {
                        // Nothing in the template wrote this position (an empty render).
                        finding.span = header;
                        (0, None)
                    }
                };
                finding.related = finding
                    .related
                    .into_iter()
                    .filter_map(|mut r| {
                        let m = map.map(r.span, rendered, text_of)?;
                        (m.file == file).then(|| {
                            r.span = m.span;
                            r
                        })
                    })
                    .collect();
                finding.nodes = Some(Box::new(Nodes {
                    names: Vec::new(),
                    total: 1,
                    rendered: rendered_value,
                }));
                Located {
                    file,
                    finding,
                    included_at: None,
                }
            })
            .collect()
    }
}
