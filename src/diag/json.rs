//! `--format json`: one JSON object per diagnostic, one per line (JSON
//! Lines), with 1-based positions. Stable field names; absent values are
//! `null`.

use serde::Serialize;

use super::Diagnostic;

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: &'a str,
    line: Option<u64>,
    column: Option<u64>,
    end_line: Option<u64>,
    end_column: Option<u64>,
    severity: &'static str,
    code: &'static str,
    message: &'a str,
    hint: Option<&'a str>,
}

/// Renders the diagnostics as JSON Lines.
pub fn render_json(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let j = JsonDiagnostic {
            file: &d.file,
            line: d.location.map(|l| l.line),
            column: d.location.map(|l| l.column),
            end_line: d.location.map(|l| l.end_line),
            end_column: d.location.map(|l| l.end_column),
            severity: d.severity.as_str(),
            code: d.code,
            message: &d.message,
            hint: d.hint.as_deref(),
        };
        out.push_str(&serde_json::to_string(&j).expect("plain data serializes"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Location;

    #[test]
    fn one_object_per_line() {
        let a =
            Diagnostic::error("a::b", "f.yaml", "m \"q\"").at(Location::on_line(3, 4, 20, 2, 2));
        let b = Diagnostic::warning("c::d", "g.csv", "w").with_hint("h");
        let out = render_json(&[a, b]);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["line"], 3);
        assert_eq!(lines[0]["end_column"], 5);
        assert_eq!(lines[0]["message"], "m \"q\"");
        assert_eq!(lines[1]["severity"], "warning");
        assert_eq!(lines[1]["line"], serde_json::Value::Null);
        assert_eq!(lines[1]["hint"], "h");
    }
}
