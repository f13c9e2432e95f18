//! How a tenant's domains sign in: `GET /domains/{name}` and its
//! `authenticationType`. A federated domain's users sign in at the
//! domain's identity provider (AD FS, another IdP), so a password set in
//! Entra ID is not the one they sign in with: a reset must skip them.

use serde::Deserialize;

use crate::graph::client::{GraphRequest, GraphResponse};
use crate::graph::error::GraphError;
use crate::graph::permissions::Operation;

/// The domain part of a sign-in name (after the last `@`), lower-cased;
/// `None` when there is none or it is not a domain name (nothing is sent
/// for it, so nothing odd is ever put in a path).
pub fn domain_of(upn: &str) -> Option<String> {
    let (_, domain) = upn.rsplit_once('@')?;
    let domain = domain.to_ascii_lowercase();
    crate::input::is_domain_name(&domain).then_some(domain)
}

/// `GET /domains/{name}?$select=id,authenticationType`; `name` is a domain
/// name as [`domain_of`] returns it (letters, digits, `-` and `.`).
pub fn get_domain(name: &str) -> GraphRequest {
    GraphRequest {
        method: reqwest::Method::GET,
        path: format!("/domains/{name}?$select=id,authenticationType"),
        body: None,
        operation: Operation::ReadDomain,
        secrets: Vec::new(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Domain {
    id: Option<String>,
    authentication_type: Option<String>,
}

/// Whether the answer for domain `name` says it is federated. An answer
/// for another domain, or without a known `authenticationType`, is
/// invalid: remedy cannot tell, and does not guess.
pub fn parse_federated(name: &str, resp: &GraphResponse) -> Result<bool, GraphError> {
    let invalid = |what: String| {
        GraphError::invalid_response(what, resp.request_id.clone(), Some(Operation::ReadDomain))
    };
    let d: Domain = serde_json::from_slice(&resp.body).map_err(|e| {
        invalid(format!(
            "the domain could not be read from Graph's answer ({e})"
        ))
    })?;
    if !d
        .id
        .as_deref()
        .is_some_and(|id| id.eq_ignore_ascii_case(name))
    {
        return Err(invalid(format!(
            "Graph answered for the domain {:?}, not {name:?}",
            d.id.unwrap_or_default()
                .chars()
                .take(64)
                .collect::<String>()
        )));
    }
    match d.authentication_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("Federated") => Ok(true),
        Some(t) if t.eq_ignore_ascii_case("Managed") => Ok(false),
        other => Err(invalid(format!(
            "the domain {name}'s authenticationType is {}, neither Managed nor Federated",
            other.map_or_else(
                || "missing".to_owned(),
                |t| format!("{:?}", t.chars().take(32).collect::<String>())
            )
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> GraphResponse {
        GraphResponse {
            status: 200,
            request_id: Some("rid".into()),
            body: body.as_bytes().to_vec(),
            throttle_level: None,
            resource_units: None,
        }
    }

    #[test]
    fn the_domain_of_a_sign_in_name_is_checked_before_it_is_sent() {
        assert_eq!(domain_of("a@Contoso.COM").as_deref(), Some("contoso.com"));
        assert_eq!(
            domain_of("x_y.com#EXT#@t.onmicrosoft.com").as_deref(),
            Some("t.onmicrosoft.com")
        );
        for bad in [
            "nodomain",
            "a@",
            "a@../users",
            "a@x/y.com",
            "a@x y.com",
            "a@x.com?$top=1",
        ] {
            assert_eq!(domain_of(bad), None, "{bad}");
        }
        assert_eq!(
            get_domain("contoso.com").path,
            "/domains/contoso.com?$select=id,authenticationType"
        );
    }

    #[test]
    fn managed_and_federated_are_told_apart_and_anything_else_is_refused() {
        let ok = |t: &str| {
            parse_federated(
                "contoso.com",
                &answer(&format!(
                    r#"{{"id":"Contoso.com","authenticationType":"{t}"}}"#
                )),
            )
        };
        assert!(ok("Federated").unwrap());
        assert!(!ok("Managed").unwrap());
        assert!(ok("Unknown").is_err());
        for body in [
            r#"{"id":"contoso.com"}"#,
            r#"{"id":"other.com","authenticationType":"Managed"}"#,
            r#"{"authenticationType":"Managed"}"#,
            "not json",
        ] {
            let e = parse_federated("contoso.com", &answer(body)).unwrap_err();
            assert_eq!(e.kind, crate::graph::ErrorKind::InvalidResponse, "{body}");
            assert_eq!(e.request_id.as_deref(), Some("rid"));
        }
    }
}
