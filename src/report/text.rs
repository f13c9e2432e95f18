//! Making untrusted text (user keys from the CSV, Graph error messages,
//! step titles) safe to show on one terminal line, in Markdown and in XML.
//!
//! A CSV cell can hold an ANSI escape sequence or a right-to-left override;
//! printed raw it could rewrite the operator's terminal or disguise a user
//! name, so every reporter passes foreign text through one of these.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as is: control characters (C0,
/// DEL, C1) and the bidirectional overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` on one line: line breaks and tabs become spaces, other control and
/// bidi characters become `\u{..}` escapes.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' | '\t' => out.push(' '),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` as the text of a Markdown table cell or list item: on one line,
/// with every character that Markdown or GitHub's HTML subset would
/// interpret (including `|`, which ends a cell) backslash-escaped.
pub fn markdown(s: &str) -> String {
    let flat = one_line(s);
    let mut out = String::with_capacity(flat.len() + 8);
    for c in flat.chars() {
        if matches!(
            c,
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '~' | '&' | '#' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether XML 1.0 allows `c` at all (the `Char` production).
fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` escaped for an XML attribute value in double quotes or for element
/// text: the five special characters become entities, tab and line breaks
/// become character references (so attribute normalisation keeps them), and
/// characters XML 1.0 forbids are dropped.
pub fn xml(s: &str) -> Cow<'_, str> {
    if s.chars()
        .all(|c| xml_allowed(c) && !matches!(c, '&' | '<' | '>' | '"' | '\'' | '\t' | '\n' | '\r'))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if xml_allowed(c) => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_flattens_and_neutralises_escapes() {
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(one_line("a\r\nb\nc\td"), "a b c d");
        assert_eq!(one_line("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(one_line("evil\u{202E}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(one_line("\u{9b}2J"), "\\u{9b}2J");
    }

    #[test]
    fn markdown_escapes_cell_breakers() {
        assert_eq!(markdown("a|b"), "a\\|b");
        assert_eq!(markdown("a\\|b"), "a\\\\\\|b");
        assert_eq!(markdown("line1\nline2"), "line1 line2");
        assert_eq!(markdown("<script>"), "\\<script\\>");
        assert_eq!(markdown("alice_s@contoso.com"), "alice\\_s@contoso.com");
        assert_eq!(markdown("[x](http://e)"), "\\[x\\](http://e)");
    }

    #[test]
    fn xml_escapes_specials_and_drops_illegal_characters() {
        assert_eq!(xml("plain"), "plain");
        assert_eq!(xml("<script>&\"'"), "&lt;script&gt;&amp;&quot;&apos;");
        assert_eq!(xml("a\u{0}b\u{1b}c\u{FFFE}d"), "abcd");
        assert_eq!(xml("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
        assert_eq!(xml("é😀"), "é😀");
    }
}
