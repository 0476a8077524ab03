//! The files of one template: the template itself (index 0) and the files it included so
//! far, each with the name minijinja knows it by and where its rendered text starts; and a
//! finding located in one of them ([`Located`]). Shared by the parser, the error mapping and
//! the source map; it knows nothing of rendering.

use std::sync::{Arc, Mutex, PoisonError};

use crate::diagnostic::{Finding, Span};
use crate::source::SourceFile;

/// A finding in one of a template's files.
#[derive(Debug, Clone)]
pub struct Located {
    /// Index of the file: 0 is the template, then included files in the order they loaded.
    pub file: usize,
    /// The finding, its spans in that file.
    pub finding: Finding,
    /// For a finding in an included file: the `{% include %}` in the template that led there.
    pub included_at: Option<Span>,
}

#[derive(Debug)]
pub(super) struct File {
    /// The name minijinja knows the file by.
    pub(super) jinja: String,
    /// The file.
    pub(super) source: Arc<SourceFile>,
    /// Where the rendered text starts in the file (after the header of the template).
    pub(super) offset: usize,
}

/// The template and the files it included so far (included files register as minijinja
/// loads them, once per template).
#[derive(Debug, Default)]
pub(super) struct Files {
    list: Mutex<Vec<File>>,
}

impl Files {
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut Vec<File>) -> R) -> R {
        // A panic elsewhere cannot leave the list half-updated (pushes are atomic), so a
        // poisoned lock is still safe to read.
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut list)
    }

    /// File `index` (0: the template; then included files).
    pub(super) fn file(&self, index: usize) -> Option<Arc<SourceFile>> {
        self.with(|list| list.get(index).map(|f| Arc::clone(&f.source)))
    }

    /// Every file: the template, then the included files loaded so far.
    pub(super) fn all(&self) -> Vec<Arc<SourceFile>> {
        self.with(|list| list.iter().map(|f| Arc::clone(&f.source)).collect())
    }

    /// The file index and rendered-text offset of the template minijinja calls `name`.
    pub(super) fn file_of(&self, name: &str) -> Option<(usize, usize)> {
        self.with(|list| {
            list.iter()
                .position(|f| f.jinja == name)
                .map(|i| (i, list[i].offset))
        })
    }
}
