//! Fuzz target: `GraphError::from_status`, the parser of every non-2xx
//! Graph answer (a whole response or one `$batch` item), and what is built
//! from it (hint, description, retry classification).
//!
//! Input, HTTP-like so seeds are readable: a status line (a number; junk
//! means 400), then `name: value` header lines, a blank line, the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remedy::graph::GraphError;
use remedy::graph::error::MAX_RETRY_AFTER;
use remedy::graph::permissions::Operation;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let status = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse::<u16>().ok())
        .unwrap_or(400);
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    for op in [
        None,
        Some(Operation::ResetPassword),
        Some(Operation::ReadUser),
    ] {
        let e = GraphError::from_status(status, &headers, body, Some("crid"), op);
        assert_eq!(e.status, Some(status));
        assert!(e.retry_after.is_none_or(|d| d <= MAX_RETRY_AFTER));
        let _ = e.is_retryable();
        let _ = e.hint();
        let _ = e.describe("user@contoso.com", "step");
        let _ = e.to_string();
    }
});
