//! What the two HTTP callers, the Graph client and the token request,
//! share about the transport: response bodies read with a size bound, and
//! a failed connection described in words an admin can act on.

/// The largest response body remedy reads; Graph's answers for the calls it
/// makes are a few kilobytes, so anything far bigger is an error, not a
/// reason to run out of memory.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Why a body could not be read.
pub(crate) enum ReadError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads a whole body, refusing one larger than [`MAX_RESPONSE_BYTES`]
/// (counted after decompression) before holding it.
pub(crate) async fn read_bounded(mut resp: reqwest::Response) -> Result<Vec<u8>, ReadError> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// How [`transport_message`] starts for a failed TLS handshake.
const TLS_FAILURE: &str = "TLS failure (certificate not trusted or handshake refused)";

/// Whether a message from [`transport_message`] is about TLS.
pub fn is_tls_failure(message: &str) -> bool {
    message.starts_with(TLS_FAILURE)
}

/// A transport error in words an admin can act on, including TLS problems
/// (which reqwest nests several sources deep).
pub fn transport_message(e: &reqwest::Error) -> String {
    let mut chain = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !chain.contains(&s) {
            chain.push(s);
        }
        cur = err.source();
    }
    let all = chain.join(": ");
    let lower = all.to_ascii_lowercase();
    let what = if e.is_timeout() {
        "no answer before the timeout"
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        TLS_FAILURE
    } else if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service")
    {
        "host name could not be resolved"
    } else if lower.contains("refused") {
        "connection refused"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    // The URL is part of reqwest's text; it holds no secret (tokens travel
    // in headers, passwords in bodies).
    format!("{what} ({all})")
}
