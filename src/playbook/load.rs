//! Reading a playbook file into a [`PlaybookDoc`], turning every failure into
//! a positioned [`Diagnostic`].
//!
//! serde-saphyr stops at the first syntax or type error, so this pass yields
//! at most one diagnostic; the semantic checks in `check/` collect all.

use std::path::Path;
use std::sync::Arc;

use crate::diag::suggest::did_you_mean;
use crate::diag::{Diagnostic, Source};
use crate::playbook::model::PlaybookDoc;
use crate::playbook::span::{locate, locate_saphyr};

/// Playbooks are small; anything bigger is a mistake or an attack, and is
/// refused before parsing.
pub const MAX_PLAYBOOK_BYTES: u64 = 1024 * 1024;

/// A playbook's text, named as the user named it.
pub struct PlaybookSource {
    pub name: String,
    pub text: Arc<Source>,
}

impl PlaybookSource {
    pub fn text(&self) -> &str {
        &self.text.text
    }
}

/// Reads `path`. Unreadable, oversized and non-UTF-8 files become a
/// diagnostic.
pub fn read(path: &Path, name: &str) -> Result<PlaybookSource, Diagnostic> {
    let unreadable = |e: std::io::Error| {
        Diagnostic::error(
            "playbook::unreadable",
            name,
            format!("cannot read playbook: {}", e.kind()),
        )
        .with_hint("check the path and the file's permissions")
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(Diagnostic::error(
            "playbook::unreadable",
            name,
            "cannot read playbook: it is a directory",
        )
        .with_hint("name the YAML files, e.g. `workflows/*.yaml`"));
    }
    if meta.len() > MAX_PLAYBOOK_BYTES {
        return Err(Diagnostic::error(
            "playbook::too-large",
            name,
            format!(
                "playbook is {} bytes; the limit is {} bytes",
                meta.len(),
                MAX_PLAYBOOK_BYTES
            ),
        )
        .with_hint("a playbook describes steps, not data: put the users in the CSV"));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    from_bytes(name, bytes)
}

/// Wraps already-read bytes; checks UTF-8.
pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<PlaybookSource, Diagnostic> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(PlaybookSource {
            name: name.to_owned(),
            text: Source::whole(name, text),
        }),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // Position the caret on the first bad byte, using the lossy text
            // (which is identical up to that point).
            let location = locate(&lossy, valid, 1);
            Err(Diagnostic::error(
                "playbook::not-utf8",
                name,
                format!("playbook is not valid UTF-8 (first bad byte at offset {valid})"),
            )
            .at(location)
            .with_label("invalid UTF-8 here")
            .with_hint("save the file as UTF-8")
            .with_source(Source::whole(name, lossy)))
        }
    }
}

/// Parses the text into the document model.
pub fn parse(src: &PlaybookSource) -> Result<PlaybookDoc, Diagnostic> {
    let text = src.text();
    if text.trim_start_matches('\u{feff}').trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(Diagnostic::error(
            "playbook::empty",
            &src.name,
            "playbook is empty",
        )
        .with_hint("a playbook needs at least `api_version`, `name`, `target` and `steps`; see `remedy schema`"));
    }
    let options = serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
    };
    serde_saphyr::from_str_with_options::<PlaybookDoc>(text, options)
        .map_err(|e| diagnose_parse_error(src, &e))
}

fn diagnose_parse_error(src: &PlaybookSource, err: &serde_saphyr::Error) -> Diagnostic {
    let full = err.to_string();
    let message = plain_words(strip_position(&full));
    let (code, hint) = classify(&message);
    let mut d = Diagnostic::error(code, &src.name, message.clone()).with_source(src.text.clone());
    if let Some(loc) = err.location().and_then(|l| locate_saphyr(src.text(), &l)) {
        d = d.at(loc);
    }
    if let Some(hint) = hint {
        d = d.with_hint(hint);
    } else if let Some(hint) = unknown_name_hint(&message) {
        d = d.with_hint(hint);
    }
    d
}

/// serde-saphyr appends " at line L, column C"; the location is rendered
/// separately, so drop it from the message.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => &msg[..i],
        _ => msg,
    }
}

/// Rewrites serde-saphyr's messages that speak of Rust or of its own API
/// into the playbook author's terms.
fn plain_words(msg: &str) -> String {
    if let Some(key) = msg.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return format!("duplicate key `{key}`");
    }
    if msg.starts_with("multiple YAML documents") {
        return "the file holds a second YAML document".to_owned();
    }
    if let Some(rest) = msg.strip_prefix("budget breached: ") {
        return format!("the document is too complex: {}", budget_words(rest));
    }
    let rewritten = match msg {
        "expected mapping start" => "expected a mapping (`key: value` lines)",
        "expected sequence start" => "expected a list",
        "expected string scalar" => "expected text",
        "invalid boolean (strict mode expects true/false)" => "expected `true` or `false`",
        m if m.starts_with("cannot deserialize null into string") => {
            "expected text, found an empty value"
        }
        m if m.starts_with("invalid u") || m.starts_with("invalid i") => "expected a whole number",
        m if m.starts_with("invalid f") => "expected a number",
        m => m,
    };
    rewritten.to_owned()
}

/// serde-saphyr's budget names (`Aliases { aliases: 50001 }`) in words.
/// The budgets are what keeps alias bombs and deep nesting from exhausting
/// memory; the user only needs to know which one was hit.
fn budget_words(breach: &str) -> String {
    let name = breach
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    match name {
        "Aliases" => "too many aliases (`*name`)".to_owned(),
        "Anchors" => "too many anchors (`&name`)".to_owned(),
        "AliasAnchorRatio" => "aliases repeat their anchors too often".to_owned(),
        "ScalarBytes" => "too much text once aliases are expanded".to_owned(),
        "Depth" => "values nest too deeply".to_owned(),
        "Events" | "Nodes" => "too many values".to_owned(),
        "Documents" => "too many YAML documents".to_owned(),
        "CommentBytes" => "too many comments".to_owned(),
        "MergeKeys" => "too many merge keys (`<<`)".to_owned(),
        other => format!("a parser limit was reached ({other})"),
    }
}

fn classify(msg: &str) -> (&'static str, Option<String>) {
    let hint = |s: &str| Some(s.to_owned());
    if msg.starts_with("unknown field") {
        ("playbook::unknown-field", None)
    } else if msg.starts_with("missing field") {
        (
            "playbook::missing-field",
            hint("add the field; `remedy schema` lists every field"),
        )
    } else if msg.starts_with("duplicate key") {
        (
            "playbook::duplicate-key",
            hint("each key may appear once per mapping; remove one of them"),
        )
    } else if msg.starts_with("the file holds a second YAML document") {
        (
            "playbook::multiple-documents",
            hint("one playbook per file: remove the `---` separator or split the file"),
        )
    } else if msg.contains("tabs disallowed") || msg.contains("found a tab") {
        (
            "playbook::tab-indentation",
            hint("YAML indents with spaces only; replace the tab"),
        )
    } else if msg.contains("unknown anchor") {
        (
            "playbook::yaml-syntax",
            hint("define the anchor (`&name`) before the alias (`*name`) that uses it"),
        )
    } else if msg.contains("recursion limit")
        || msg.starts_with("the document is too complex")
        || msg.contains("alias")
    {
        (
            "playbook::too-complex",
            hint("the document nests too deeply or expands aliases too much; write it out plainly"),
        )
    } else if msg.starts_with("invalid")
        || msg.starts_with("expected")
        || msg.starts_with("cannot deserialize")
        || msg.starts_with("unknown variant")
    {
        (
            "playbook::invalid-type",
            hint("see `remedy schema` for the expected type of each field"),
        )
    } else {
        (
            "playbook::yaml-syntax",
            hint("fix the YAML syntax at this position"),
        )
    }
}

/// For "unknown field `acton`, expected one of a, b": a did-you-mean.
fn unknown_name_hint(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest
        .split_once("expected one of ")
        .map(|(_, list)| list.split(", ").map(|s| s.trim_matches('`')).collect())
        .or_else(|| {
            rest.split_once("expected ")
                .map(|(_, one)| vec![one.trim_matches('`')])
        })
        .unwrap_or_default();
    match did_you_mean(name, expected.iter().copied()) {
        Some(s) => Some(format!("did you mean `{s}`?")),
        None => Some("`remedy schema` lists the fields allowed in each section".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(text: &str) -> Diagnostic {
        let src = from_bytes("p.yaml", text.as_bytes().to_vec()).unwrap();
        parse(&src).unwrap_err()
    }

    #[test]
    fn unknown_field_points_at_key_and_suggests() {
        let d = diag(
            "api_version: remedy/v1\nname: x\ntarget: {provider: graph}\nsteps: []\nstepz: 1\n",
        );
        assert_eq!(d.code, "playbook::unknown-field");
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.column), (5, 1));
        assert_eq!(d.hint.as_deref(), Some("did you mean `steps`?"));
        assert!(!d.message.contains("at line"));
    }

    #[test]
    fn second_document_is_an_error() {
        let d = diag(
            "api_version: remedy/v1\nname: x\ntarget: {provider: graph}\nsteps: []\n---\na: 1\n",
        );
        assert_eq!(d.code, "playbook::multiple-documents");
        assert_eq!(d.location.unwrap().line, 6);
    }

    #[test]
    fn empty_and_comment_only_files() {
        assert_eq!(diag("").code, "playbook::empty");
        assert_eq!(diag("# just a comment\n\n").code, "playbook::empty");
    }

    #[test]
    fn invalid_utf8_is_positioned() {
        let d = from_bytes("p.yaml", b"name: ok\nbad: \xff\n".to_vec())
            .err()
            .unwrap();
        assert_eq!(d.code, "playbook::not-utf8");
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.column), (2, 6));
    }

    /// Alias bombs made of strings (which strict types cannot stop) and
    /// aliases to anchors defined later; see docs/fuzzing.md.
    #[test]
    fn budget_breaches_and_unknown_anchors_are_explained() {
        let head = "api_version: remedy/v1\nname: x\ntarget: {provider: graph}\n";
        let steps = "steps:\n  - id: a\n    ensure: sign_in_allowed\n";
        let users = |alias: &str, n: usize| vec![alias; n].join(", ");
        let d = diag(&format!(
            "{head}description: &a a@contoso.com\nguards:\n  protect:\n    users: [{}]\n{steps}",
            users("*a", 60_000)
        ));
        assert_eq!(d.code, "playbook::too-complex");
        assert_eq!(
            d.message,
            "the document is too complex: too many aliases (`*name`)"
        );
        let d = diag(&format!(
            "{head}description: &a {}\nguards:\n  protect:\n    users: [{}]\n{steps}",
            "x".repeat(300_000),
            users("*a", 300)
        ));
        assert_eq!(d.code, "playbook::too-complex");
        assert_eq!(
            d.message,
            "the document is too complex: too much text once aliases are expanded"
        );
        let d = diag(&format!(
            "{head}description: *later\nname2: &later x\n{steps}"
        ));
        assert_eq!(d.code, "playbook::yaml-syntax");
        assert_eq!(d.location.unwrap().line, 4);
        assert!(d.hint.unwrap().contains("before the alias"));
    }

    #[test]
    fn tabs_have_their_own_code() {
        let d = diag("api_version: remedy/v1\nsteps:\n\t- id: a\n");
        assert_eq!(d.code, "playbook::tab-indentation");
        assert_eq!(d.location.unwrap().line, 3);
    }
}
