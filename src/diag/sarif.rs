//! `--format sarif`: a SARIF 2.1.0 log, so code-scanning tools (GitHub code
//! scanning, Azure DevOps, IDEs) can ingest validation results.

use serde_json::{Value, json};

use super::{Diagnostic, Severity, codes};

/// Renders one SARIF log with one run.
pub fn render_sarif(diags: &[Diagnostic]) -> String {
    let mut rule_ids: Vec<&'static str> = diags.iter().map(|d| d.code).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "shortDescription": {"text": codes::describe(id).unwrap_or(id)},
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(h) = &d.hint {
                text.push_str("\nhint: ");
                text.push_str(h);
            }
            let mut physical = json!({"artifactLocation": {"uri": uri(&d.file)}});
            if let Some(l) = d.location {
                physical["region"] = json!({
                    "startLine": l.line,
                    "startColumn": l.column,
                    "endLine": l.end_line,
                    // SARIF end columns are exclusive.
                    "endColumn": l.end_column + 1,
                });
            }
            json!({
                "ruleId": d.code,
                "ruleIndex": rule_ids.binary_search(&d.code).unwrap_or(0),
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": text},
                "locations": [{"physicalLocation": physical}],
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "remedy",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&log).expect("plain data serializes");
    s.push('\n');
    s
}

/// A relative URI reference for a path as the user wrote it.
fn uri(path: &str) -> String {
    let p = path.replace('\\', "/");
    let mut out = String::new();
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if p.starts_with('/') {
        format!("file://{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Location;

    #[test]
    fn results_reference_rules() {
        let d = Diagnostic::error("playbook::unknown-action", "work flows/a.yaml", "m")
            .at(Location::on_line(2, 3, 0, 4, 4));
        let v: Value = serde_json::from_str(&render_sarif(&[d])).unwrap();
        let run = &v["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["id"],
            "playbook::unknown-action"
        );
        let r = &run["results"][0];
        assert_eq!(r["ruleIndex"], 0);
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["endColumn"], 7);
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "work%20flows/a.yaml"
        );
    }
}
