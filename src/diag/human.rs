//! `--format human`: rustc-style reports rendered by miette, with the
//! source line, a caret under the problem and the hint.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use super::{Diagnostic, Severity, Source};

/// Renders every diagnostic, each followed by a blank line.
pub fn render_human(diags: &[Diagnostic], color: bool, width: usize) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    for d in diags {
        let report = Report(d);
        if handler.render_report(&mut out, &report).is_err() {
            // The renderer only fails on a bad span; fall back to the
            // one-line form rather than lose the diagnostic.
            out.push_str(&d.to_string());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Adapts a [`Diagnostic`] to miette's trait.
struct Report<'a>(&'a Diagnostic);

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.location.is_none() || d.source.is_none() {
            // Without a snippet miette would not name the file.
            write!(f, "{}: ", d.file)?;
        }
        f.write_str(&d.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.0.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.0.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.location?;
        self.0.source.as_deref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let loc = self.0.location?;
        let src = self.0.source.as_ref()?;
        let start = loc.offset.checked_sub(src.base_offset)? as usize;
        let start = start.min(src.text.len());
        let len = (loc.len as usize).min(src.text.len() - start);
        let label = LabeledSpan::new_primary_with_span(
            Some(self.0.label.clone().unwrap_or_else(|| "here".to_owned())),
            SourceSpan::new(start.into(), len),
        );
        Some(Box::new(std::iter::once(label)))
    }
}

impl SourceCode for Source {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + (self.first_line as usize).saturating_sub(1),
            inner.column(),
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Location;

    #[test]
    fn quotes_the_line_with_file_line_col() {
        let src = Source::whole("w.yaml", "a: 1\nbad: x\n");
        let d = Diagnostic::error("t::x", "w.yaml", "wrong")
            .at(Location::on_line(2, 6, 10, 1, 1))
            .with_hint("fix it")
            .with_source(src);
        let out = render_human(&[d], false, 80);
        assert!(out.contains("[w.yaml:2:6]"), "{out}");
        assert!(out.contains("bad: x"), "{out}");
        assert!(out.contains("fix it"), "{out}");
        assert!(out.contains("t::x"), "{out}");
    }

    #[test]
    fn excerpt_sources_keep_file_line_numbers() {
        let src = std::sync::Arc::new(Source {
            name: "u.csv".into(),
            text: "x@y.com,,extra\n".into(),
            first_line: 41,
            base_offset: 1000,
        });
        let d = Diagnostic::error("csv::x", "u.csv", "row 41: bad")
            .at(Location::on_line(41, 1, 1000, 7, 7))
            .with_source(src);
        let out = render_human(&[d], false, 80);
        assert!(out.contains("[u.csv:41:1]"), "{out}");
    }

    #[test]
    fn unpositioned_diagnostics_name_the_file() {
        let d = Diagnostic::error("t::x", "gone.yaml", "cannot read");
        let out = render_human(&[d], false, 80);
        assert!(out.contains("gone.yaml: cannot read"), "{out}");
    }
}
