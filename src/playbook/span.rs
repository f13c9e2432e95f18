//! Turning byte ranges in a playbook's text into [`Location`]s.
//!
//! serde-saphyr reports byte spans; editors, GitHub annotations and SARIF
//! want 1-based lines and character columns, plus where the range ends.
//! Computing all of them from the text here keeps every renderer consistent.

use serde_saphyr::Spanned;

use crate::diag::Location;

/// The location of `len` bytes at `offset` in `text`. Out-of-range or
/// mid-character positions are clamped, never a panic.
pub fn locate(text: &str, offset: usize, len: usize) -> Location {
    let start = floor_char_boundary(text, offset.min(text.len()));
    let end = floor_char_boundary(text, start.saturating_add(len).min(text.len()));
    let (line, column) = line_col(text, start);
    // The end position names the last character covered, not the one after.
    let last = if end > start {
        text[..end]
            .char_indices()
            .next_back()
            .map_or(start, |(i, _)| i)
    } else {
        start
    };
    let (end_line, end_column) = line_col(text, last);
    Location {
        line,
        column,
        end_line,
        end_column,
        offset: start as u64,
        len: (end - start) as u64,
    }
}

/// The location of a spanned value, if serde-saphyr recorded one.
pub fn locate_spanned<T>(text: &str, value: &Spanned<T>) -> Option<Location> {
    locate_saphyr(text, &value.referenced)
}

/// The location of a serde-saphyr [`serde_saphyr::Location`].
pub fn locate_saphyr(text: &str, loc: &serde_saphyr::Location) -> Option<Location> {
    let span = loc.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(off), Some(len)) => Some(locate(text, off as usize, len as usize)),
        _ if loc.line() > 0 => {
            let offset = offset_of_line_col(text, loc.line(), loc.column());
            Some(locate(text, offset, 0))
        }
        _ => None,
    }
}

/// Byte offset of a 1-based line and character column.
pub fn offset_of_line_col(text: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1) as usize)
                .map_or(l.len(), |(b, _)| b);
            return offset + col;
        }
        offset += l.len();
    }
    text.len()
}

fn line_col(text: &str, offset: usize) -> (u64, u64) {
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() as u64 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() as u64 + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_character_columns() {
        let text = "a: 1\nnäme: x\n";
        let loc = locate(text, 12, 1);
        assert_eq!(
            (loc.line, loc.column, loc.end_line, loc.end_column),
            (2, 7, 2, 7)
        );
        let whole = locate(text, 0, text.len());
        assert_eq!((whole.end_line, whole.end_column), (2, 8));
    }

    #[test]
    fn clamps_out_of_range() {
        let loc = locate("ab", 10, 10);
        assert_eq!((loc.line, loc.column, loc.len), (1, 3, 0));
        let mid = locate("ä", 1, 1);
        assert_eq!((mid.offset, mid.column), (0, 1));
    }

    #[test]
    fn offset_from_line_col() {
        let text = "x: 1\ny: ä2\n";
        assert_eq!(offset_of_line_col(text, 2, 4), 8);
        assert_eq!(offset_of_line_col(text, 9, 1), text.len());
    }
}
