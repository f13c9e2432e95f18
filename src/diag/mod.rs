//! Diagnostics: the one type every input problem becomes, and its renderers.
//!
//! Loaders and checkers (`playbook`, `input`) never print. They return
//! [`Diagnostic`] values that carry a stable code, a severity, a message, an
//! optional hint and a [`Location`] in a named [`Source`]. The `--format`
//! renderers (`human`, `json`, `github`, `sarif`) are the only consumers.

pub mod codes;
mod github;
mod human;
mod json;
mod sarif;
pub mod suggest;

use std::fmt;
use std::sync::Arc;

pub use github::render_github;
pub use human::render_human;
pub use json::render_json;
pub use sarif::render_sarif;

/// How bad a finding is. Errors fail validation; warnings fail it only
/// under `--deny-warnings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A region of a file. Lines and columns are 1-based and count Unicode
/// scalar values (as editors do); `offset`/`len` are byte positions in the
/// whole file and `end_*` is the position of the last character covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub line: u64,
    pub column: u64,
    pub end_line: u64,
    pub end_column: u64,
    pub offset: u64,
    pub len: u64,
}

impl Location {
    /// A location that covers `len` bytes of one line starting at `column`.
    pub fn on_line(line: u64, column: u64, offset: u64, len: u64, text_len_chars: u64) -> Self {
        Location {
            line,
            column,
            end_line: line,
            end_column: column + text_len_chars.saturating_sub(1),
            offset,
            len,
        }
    }
}

/// Text that a diagnostic can quote. A playbook keeps its whole file; a CSV
/// keeps only the lines of the offending record (`first_line`,
/// `base_offset` say where that excerpt sits in the file), so a
/// million-row file is never held in memory for the sake of an error.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
    pub first_line: u64,
    pub base_offset: u64,
}

impl Source {
    pub fn whole(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Source {
            name: name.into(),
            text: text.into(),
            first_line: 1,
            base_offset: 0,
        })
    }
}

/// One problem found in one input file.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Stable identifier, e.g. `playbook::unknown-action`. Listed in
    /// `docs/diagnostics.md`; tools may match on it.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// What to do about it, when we can say.
    pub hint: Option<String>,
    /// The file as the user named it.
    pub file: String,
    /// Where in `file`; `None` for whole-file problems (unreadable, empty).
    pub location: Option<Location>,
    /// Short text shown under the caret.
    pub label: Option<String>,
    /// Text to quote in human output.
    pub source: Option<Arc<Source>>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
            file: file.into(),
            location: None,
            label: None,
            source: None,
        }
    }

    pub fn warning(
        code: &'static str,
        file: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, message)
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_source(mut self, source: Arc<Source>) -> Self {
        self.source = Some(source);
        self
    }

    /// Sort key: file, then position, then code, so output is stable.
    pub fn sort_key(&self) -> (String, u64, u64, &'static str) {
        let (l, c) = self.location.map_or((0, 0), |l| (l.line, l.column));
        (self.file.clone(), l, c, self.code)
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: severity[code]: message`, the one-line form used in
    /// logs and error chains.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(loc) = self.location {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        write!(
            f,
            ": {}[{}]: {}",
            self.severity.as_str(),
            self.code,
            self.message
        )
    }
}

/// Everything found while checking a set of files.
#[derive(Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}
