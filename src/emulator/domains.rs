//! `GET /domains/{name}`: the tenant's initial domain and every domain of
//! the seeded users' UPNs are `Managed`, the `--federated-domain`s
//! `Federated`; any other name is 404.

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::ctx::Ctx;
use super::query::Query;
use super::response::Reply;
use super::select;
use crate::graph::permissions::Operation;

const DOMAIN_KEYS: &[&str] = &[
    "id",
    "authenticationType",
    "isDefault",
    "isInitial",
    "isRoot",
    "isVerified",
    "supportedServices",
];

/// `GET /domains/{name}`.
pub(crate) fn read(ctx: &Ctx<'_>, name: &str, query: &Query) -> Reply {
    if !ctx.granted(Operation::ReadDomain) {
        return ctx.forbidden();
    }
    let objects = &ctx.state.directory.objects;
    let tenant = ctx.state.config.tenant_domain.to_lowercase();
    let id = name.trim().to_lowercase();
    let federated = objects.is_federated(&id);
    if id != tenant && !federated && !objects.has_domain(&id) {
        return ctx.not_found(name);
    }
    let mut known: Vec<String> = objects.domains().into_iter().map(str::to_owned).collect();
    known.push(tenant.clone());
    // A subdomain of another domain of the tenant is not a root domain.
    let is_root = !known.iter().any(|d| {
        id.len() > d.len() && id.ends_with(d.as_str()) && id[..id.len() - d.len()].ends_with('.')
    });
    let mut items = vec![match json!({
        "@odata.context": format!("{}/v1.0/$metadata#domains/$entity", ctx.base()),
        "id": id,
        "authenticationType": if federated { "Federated" } else { "Managed" },
        "isDefault": id == tenant,
        "isInitial": id == tenant,
        "isRoot": is_root,
        "isVerified": true,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"],
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }];
    if let Err(message) = select::pick(&mut items, query.select.as_deref(), DOMAIN_KEYS, "domain") {
        return ctx.bad_request(&message);
    }
    Reply::json(StatusCode::OK, Value::Object(items.remove(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::EmulatorConfig;
    use crate::emulator::testing::Harness;

    #[tokio::test]
    async fn managed_federated_and_unknown_domains() {
        let h = Harness::new(
            "userPrincipalName\na@contoso.com\nb@EU.Contoso.com\nc@fabrikam.com\nd_x.com#EXT#@contoso.onmicrosoft.com\n",
            EmulatorConfig {
                federated_domains: vec!["Fabrikam.com".to_owned(), "tailspin.com".to_owned()],
                ..EmulatorConfig::default()
            },
        );
        let get = |name: &str| format!("/domains/{name}");
        let a = h.call("GET", &get("contoso.onmicrosoft.com"), None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(
            a.body,
            json!({
                "@odata.context": "http://127.0.0.1/v1.0/$metadata#domains/$entity",
                "id": "contoso.onmicrosoft.com", "authenticationType": "Managed",
                "isDefault": true, "isInitial": true, "isRoot": true, "isVerified": true,
                "supportedServices": ["Email", "OfficeCommunicationsOnline"],
            })
        );
        let a = h.call("GET", &get("CONTOSO.com"), None).await;
        assert_eq!(
            (
                &a.body["id"],
                &a.body["authenticationType"],
                &a.body["isDefault"]
            ),
            (&json!("contoso.com"), &json!("Managed"), &json!(false))
        );
        assert_eq!(a.body["isRoot"], true);
        let a = h.call("GET", &get("eu.contoso.com"), None).await;
        assert_eq!(
            (a.status, &a.body["isRoot"]),
            (StatusCode::OK, &json!(false))
        );
        for federated in ["fabrikam.com", "TAILSPIN.com"] {
            let a = h.call("GET", &get(federated), None).await;
            assert_eq!(a.body["authenticationType"], "Federated", "{federated}");
        }
        let a = h
            .call(
                "GET",
                "/domains('fabrikam.com')?$select=authenticationType",
                None,
            )
            .await;
        assert_eq!(
            a.body,
            json!({"@odata.context": "http://127.0.0.1/v1.0/$metadata#domains/$entity", "authenticationType": "Federated"})
        );
        for unknown in ["x.com", "fabrikam.org", "com"] {
            let a = h.call("GET", &get(unknown), None).await;
            assert_eq!(
                (a.status, a.code()),
                (StatusCode::NOT_FOUND, "Request_ResourceNotFound")
            );
            assert_eq!(
                a.body["error"]["message"],
                format!(
                    "Resource '{unknown}' does not exist or one of its queried reference-property objects are not present."
                )
            );
        }
        let a = h
            .call_as(&["User.Read.All"], "GET", &get("contoso.com"), None)
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        let a = h
            .call_as(&["Domain.Read.All"], "GET", &get("contoso.com"), None)
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
}
