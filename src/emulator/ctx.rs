//! What every Graph handler shares: [`Ctx`] (the request's state, caller
//! and ids, permission checks, Graph's common errors, the user lookup) and
//! [`Page`] (`$top`, an opaque `$skiptoken` and `@odata.nextLink`).

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::directory::User;
use super::jwt::Principal;
use super::query::Query;
use super::response::{Ids, Reply, graph_error};
use super::state::State;
use crate::graph::permissions::Operation;

/// What every handler needs.
pub(crate) struct Ctx<'a> {
    pub state: &'a State,
    pub principal: &'a Principal,
    pub ids: &'a Ids,
}

impl Ctx<'_> {
    pub(crate) fn granted(&self, op: Operation) -> bool {
        op.granted_by(&self.principal.roles)
    }

    pub(crate) fn forbidden(&self) -> Reply {
        graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            self.ids,
        )
    }

    pub(crate) fn bad_request(&self, message: &str) -> Reply {
        graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            message,
            self.ids,
        )
    }

    pub(crate) fn not_found(&self, key: &str) -> Reply {
        graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
            self.ids,
        )
    }

    pub(crate) fn find(&self, key: &str) -> Result<&User, Reply> {
        self.state
            .directory
            .find(key)
            .ok_or_else(|| self.not_found(key))
    }

    /// A Graph error with this request's ids.
    pub(crate) fn error(&self, status: StatusCode, code: &str, message: &str) -> Reply {
        graph_error(status, code, message, self.ids)
    }

    /// Whether the token carries any one of `permissions`.
    pub(crate) fn holds_any(&self, permissions: &[&str]) -> bool {
        permissions
            .iter()
            .any(|p| self.principal.roles.iter().any(|r| r == p))
    }

    pub(crate) fn base(&self) -> &str {
        self.state.base_url()
    }
}

/// One page of a collection: `$top` and an opaque `$skiptoken`.
pub(crate) struct Page {
    pub start: usize,
    pub end: usize,
    top: usize,
    total: usize,
}

impl Page {
    pub(crate) fn new(ctx: &Ctx<'_>, query: &Query, total: usize) -> Result<Self, Reply> {
        let top = match query.top.as_deref() {
            None => ctx.state.config.page_size as usize,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n @ 1..=999) => n,
                _ => {
                    return Err(graph_error(
                        StatusCode::BAD_REQUEST,
                        "Request_BadRequest",
                        &format!(
                            "Invalid page size specified: '{text}'. Must be between 1 and 999 inclusive."
                        ),
                        ctx.ids,
                    ));
                }
            },
        };
        let start = match query.skiptoken.as_deref() {
            None => 0,
            Some(token) => decode_skiptoken(token).filter(|s| *s <= total).ok_or_else(|| {
                graph_error(
                    StatusCode::BAD_REQUEST,
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                    ctx.ids,
                )
            })?,
        };
        Ok(Page {
            start,
            end: start.saturating_add(top).min(total),
            top,
            total,
        })
    }

    pub(crate) fn reply(
        self,
        context: String,
        items: Vec<Value>,
        next: &str,
        query: &Query,
    ) -> Reply {
        let mut body = Map::new();
        body.insert("@odata.context".to_owned(), json!(context));
        body.insert("value".to_owned(), Value::Array(items));
        if self.end < self.total {
            // `next` may carry a query of its own (a `$filter`).
            let mut link = format!("{next}{}", if next.contains('?') { '&' } else { '?' });
            if let Some(select) = query.select.as_deref() {
                link.push_str("$select=");
                link.extend(url::form_urlencoded::byte_serialize(select.as_bytes()));
                link.push('&');
            }
            let _ = write!(
                link,
                "$top={}&$skiptoken={}",
                self.top,
                encode_skiptoken(self.end)
            );
            body.insert("@odata.nextLink".to_owned(), json!(link));
        }
        Reply::json(StatusCode::OK, Value::Object(body))
    }
}

const SKIPTOKEN_PREFIX: &str = "remedy-emulator:";

fn encode_skiptoken(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{SKIPTOKEN_PREFIX}{offset}"))
}

fn decode_skiptoken(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim().trim_end_matches('='))
        .ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix(SKIPTOKEN_PREFIX)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(42)), Some(42));
        assert_eq!(decode_skiptoken("garbage!"), None);
        assert_eq!(decode_skiptoken(""), None);
    }
}
