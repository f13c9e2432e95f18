//! `--format github`: GitHub Actions workflow commands
//! (`::error file=…,line=…,col=…::message`), which the Actions runner turns
//! into annotations on the pull request.

use super::{Diagnostic, Severity};

/// Renders one workflow command per diagnostic.
pub fn render_github(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!("file={}", escape_property(&d.file))];
        if let Some(l) = d.location {
            props.push(format!("line={}", l.line));
            props.push(format!("col={}", l.column));
            props.push(format!("endLine={}", l.end_line));
            props.push(format!("endColumn={}", l.end_column));
        }
        props.push(format!("title={}", escape_property(d.code)));
        let mut message = d.message.clone();
        if let Some(h) = &d.hint {
            message.push_str("\nhint: ");
            message.push_str(h);
        }
        out.push_str(&format!(
            "::{level} {}::{}\n",
            props.join(","),
            escape_data(&message)
        ));
    }
    out
}

/// Escaping for the message part, as the Actions toolkit does.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping for `key=value` properties: also `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Location;

    #[test]
    fn escapes_and_positions() {
        let d = Diagnostic::error("playbook::x", "w,1.yaml", "50% bad\nsecond")
            .at(Location::on_line(2, 3, 0, 1, 1))
            .with_hint("h");
        assert_eq!(
            render_github(&[d]),
            "::error file=w%2C1.yaml,line=2,col=3,endLine=2,endColumn=3,title=playbook%3A%3Ax::50%25 bad%0Asecond%0Ahint: h\n"
        );
    }
}
