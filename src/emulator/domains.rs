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
