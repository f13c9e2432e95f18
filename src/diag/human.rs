//! `--format human`: rustc-style reports rendered by miette, with the
//! source line, a caret under the problem and the hint. Quoted text goes
//! through [`inert`] first: a file's control characters never reach the
//! terminal.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use super::{Diagnostic, Severity};

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
        let report = Report {
            diag: d,
            excerpt: Excerpt::of(d),
        };
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

/// Lines longer than this are cropped around the problem, so a 100 MB line
/// never reaches the terminal.
const MAX_QUOTED_LINE: usize = 160;

/// Adapts a [`Diagnostic`] to miette's trait.
struct Report<'a> {
    diag: &'a Diagnostic,
    excerpt: Option<Excerpt>,
}

/// The text quoted for one diagnostic: the lines around it, cropped when
/// long, with the file position of its first character.
struct Excerpt {
    name: String,
    text: String,
    /// 1-based line of the first line of `text`.
    first_line: u64,
    /// Characters cut from the start of the first line.
    first_column_offset: usize,
    /// The labelled range within `text`.
    start: usize,
    len: usize,
}

impl Excerpt {
    fn of(d: &Diagnostic) -> Option<Excerpt> {
        let loc = d.location?;
        let src = d.source.as_ref()?;
        let text = src.text.as_str();
        let start = usize::try_from(loc.offset.checked_sub(src.base_offset)?)
            .ok()?
            .min(text.len());
        let start = floor_boundary(text, start);
        let len = (loc.len as usize).min(text.len() - start);
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_no = src.first_line + text[..line_start].matches('\n').count() as u64;
        if line_end - line_start <= MAX_QUOTED_LINE {
            return Some(Excerpt {
                name: src.name.clone(),
                text: inert(text).into_owned(),
                first_line: src.first_line,
                first_column_offset: 0,
                start,
                len,
            });
        }
        // Keep a window of the long line around the start of the span.
        let from = floor_boundary(
            text,
            start.saturating_sub(MAX_QUOTED_LINE / 2).max(line_start),
        );
        let to = floor_boundary(text, (from + MAX_QUOTED_LINE).min(line_end));
        let window = &text[from..to];
        Some(Excerpt {
            name: src.name.clone(),
            text: inert(window).into_owned(),
            first_line: line_no,
            first_column_offset: text[line_start..from].chars().count(),
            start: start - from,
            len: len.min(to.saturating_sub(start)),
        })
    }
}

/// `text` with the characters a terminal would act on made visible: C0 and
/// C1 controls (ESC sequences can recolour, retitle or rewrite a terminal,
/// or set its clipboard) and the bidirectional overrides that reorder what
/// is shown. A CSV cell or a playbook is untrusted input and is quoted in
/// every diagnostic. Each character is replaced by one of the same UTF-8
/// length, so byte spans and columns stay right; line breaks and tabs stay.
pub(crate) fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    let dangerous = |c: char| {
        (c.is_control() && c != '\n' && c != '\t' && c != '\r')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    let lone_cr = text
        .match_indices('\r')
        .any(|(i, _)| !text[i + 1..].starts_with('\n'));
    if !lone_cr && !text.contains(dangerous) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let keep = match c {
            '\r' => chars.peek() == Some(&'\n'),
            c => !dangerous(c),
        };
        out.push(match (keep, c.len_utf8()) {
            (true, _) => c,
            (false, 1) => '?',
            (false, 2) => '\u{bf}',
            (false, _) => '\u{fffd}',
        });
    }
    std::borrow::Cow::Owned(out)
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diag;
        if self.excerpt.is_none() {
            // Without a snippet miette would not name the file.
            write!(f, "{}: ", inert(&d.file))?;
        }
        f.write_str(&inert(&d.message))
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diag.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag
            .hint
            .as_ref()
            .map(|h| Box::new(inert(h)) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.excerpt.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let ex = self.excerpt.as_ref()?;
        let label = LabeledSpan::new_primary_with_span(
            Some(
                self.diag
                    .label
                    .as_deref()
                    .map_or_else(|| "here".to_owned(), |l| inert(l).into_owned()),
            ),
            SourceSpan::new(ex.start.into(), ex.len),
        );
        Some(Box::new(std::iter::once(label)))
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        let column = if inner.line() == 0 {
            inner.column() + self.first_column_offset
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + (self.first_line as usize).saturating_sub(1),
            column,
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Location, Source};

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
    fn long_lines_are_cropped_around_the_problem() {
        let line = format!("steps: {}x{}", "[".repeat(5000), "]".repeat(5000));
        let offset = 7 + 5000;
        let src = Source::whole("d.yaml", format!("a: 1\n{line}\n"));
        let d = Diagnostic::error("t::x", "d.yaml", "too deep")
            .at(crate::playbook::span::locate(&src.text, 5 + offset, 1))
            .with_source(src);
        let out = render_human(&[d], false, 100);
        assert!(out.contains("[d.yaml:2:5008]"), "{out}");
        assert!(out.len() < 2000, "{out}");
    }

    /// A cell holding an OSC title sequence, colours, a bell, a C1 control
    /// and a bidi override is quoted without any of them, caret in place.
    #[test]
    fn control_characters_never_reach_the_terminal() {
        let line = "bad\u{1b}]0;pwned\u{7}\u{1b}[31m\u{9b}\u{202e}x@contoso.com,B\r\n";
        let src = Source::whole("u.csv", format!("userPrincipalName,displayName\r\n{line}"));
        let at = src.text.find('x').unwrap();
        let d = Diagnostic::error("csv::x", "u.csv", "row 2: `\u{1b}[2J` here")
            .at(crate::playbook::span::locate(&src.text, at, 1))
            .with_label("label \u{1b}[1m")
            .with_hint("hint \u{7}")
            .with_source(src);
        let out = render_human(&[d], false, 100);
        assert!(
            !out.contains(
                |c: char| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c)
            ),
            "{out:?}"
        );
        assert!(
            out.contains("bad?]0;pwned??[31m\u{bf}\u{fffd}x@contoso.com,B"),
            "{out}"
        );
        assert!(out.contains("[u.csv:2:"), "{out}");
        assert_eq!(inert("a\r\nb\tc"), "a\r\nb\tc");
        assert_eq!(inert("a\rb"), "a?b");
    }

    #[test]
    fn unpositioned_diagnostics_name_the_file() {
        let d = Diagnostic::error("t::x", "gone.yaml", "cannot read");
        let out = render_human(&[d], false, 80);
        assert!(out.contains("gone.yaml: cannot read"), "{out}");
    }
}
