//! The neutral form of a failed directory call: enough for the engine to
//! decide whether to retry, wait or give up, and for reports to say what
//! happened and what to do, whatever the provider.

use std::fmt;
use std::time::Duration;

/// What went wrong, coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The service is throttling the app: every worker waits.
    Throttled,
    /// The service failed (a 5xx, a busy server); retry with backoff, or
    /// after the error's own `retry_after`.
    Unavailable,
    /// No answer in time: the call may or may not have taken effect.
    Timeout,
    /// The connection failed or broke: the call may or may not have
    /// taken effect.
    Connection,
    /// No such account.
    NotFound,
    /// Anything else: retrying the same call will not help.
    Refused,
}

/// A failed directory call.
#[derive(Debug, Clone)]
pub struct DirError {
    pub kind: ErrorKind,
    /// The service's code (Graph's `error.code`, else `HTTP 503`).
    pub code: Option<String>,
    /// One line, as the provider formats it (code, status, message,
    /// request id).
    pub message: String,
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
    /// What an admin should do about it, when the provider can tell.
    pub hint: Option<String>,
    /// Set by the provider: the call may have taken effect although no
    /// answer said so (no answer at all, a gateway error that may follow
    /// the change, an unreadable success, an answer that lost or repeated
    /// the request). A one-shot action is then confirmed by reading the
    /// account back, whether or not the error is worth retrying.
    pub fate_unknown: bool,
}

impl DirError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throttled
                | ErrorKind::Unavailable
                | ErrorKind::Timeout
                | ErrorKind::Connection
        )
    }

    /// Whether the call may have taken effect although no answer said so.
    pub fn fate_unknown(&self) -> bool {
        self.fate_unknown
    }
}

impl fmt::Display for DirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DirError {}
