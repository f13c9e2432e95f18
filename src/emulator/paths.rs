//! Graph paths below `/v1.0`: which [`Route`] a path leads to (users and
//! what hangs below them, role management, domains), percent-decoding and
//! the OData key forms (`/users/{key}`, `/users('key')`).

/// Where a Graph path (below `/v1.0`) leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Users,
    User {
        key: String,
        tail: Tail,
    },
    /// `/roleManagement/directory/roleAssignments`.
    RoleAssignments,
    /// `/roleManagement/directory/roleEligibilityScheduleInstances`.
    RoleEligibility,
    /// `/roleManagement/directory/roleDefinitions/{id}`.
    RoleDefinition {
        id: String,
    },
    /// `/domains/{name}`.
    Domain {
        name: String,
    },
    /// A segment the emulator does not know.
    Unknown {
        segment: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    Entity,
    Revoke,
    MemberOf { roles_only: bool },
    TransitiveMemberOf,
    OwnedObjects,
}

/// Decode `%XX` escapes; `None` if the result is not UTF-8 or an escape is
/// malformed.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `name/{key}` or `name('key')` as the first segments of a path: the
/// key, `Some("")` for `name` alone, `None` for another name.
fn keyed(first: &str, name: &str, next: &mut impl Iterator<Item = String>) -> Option<String> {
    if first == name {
        return Some(next.next().map(|k| unquote(&k)).unwrap_or_default());
    }
    first
        .strip_prefix(name)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
        .map(unquote)
}

/// Parse a path such as `/users/adele%40contoso.com/memberOf`, or the
/// key-in-parentheses form `/users('$x@contoso.com')`.
pub(crate) fn route(path: &str) -> Route {
    let mut segments = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .map(|s| percent_decode(s).unwrap_or_else(|| s.to_owned()));
    let unknown = |segment: String| Route::Unknown { segment };
    let Some(first) = segments.next() else {
        return unknown(String::new());
    };
    if first == "roleManagement" {
        return role_management_route(segments);
    }
    if let Some(name) = keyed(&first, "domains", &mut segments) {
        return match segments.next() {
            _ if name.is_empty() => unknown(first),
            None => Route::Domain { name },
            Some(extra) => unknown(extra),
        };
    }
    let key = if first == "users" {
        match segments.next() {
            None => return Route::Users,
            Some(key) => unquote(&key),
        }
    } else if let Some(inner) = first
        .strip_prefix("users(")
        .and_then(|r| r.strip_suffix(')'))
    {
        unquote(inner)
    } else {
        return unknown(first);
    };
    if key.is_empty() {
        return unknown(key);
    }
    let rest: Vec<String> = segments.collect();
    let tail = match TAILS
        .iter()
        .find(|(segments, _)| rest.iter().eq(segments.iter()))
    {
        Some((_, tail)) => *tail,
        None => {
            // Name the first segment that no known path continues with.
            let known = TAILS
                .iter()
                .map(|(segments, _)| {
                    rest.iter()
                        .zip(segments.iter())
                        .take_while(|(a, b)| a == b)
                        .count()
                })
                .max()
                .unwrap_or(0);
            let segment = rest.get(known).or(rest.last()).cloned().unwrap_or_default();
            return unknown(segment);
        }
    };
    Route::User { key, tail }
}

/// The rest of a `/roleManagement/...` path.
fn role_management_route(mut segments: impl Iterator<Item = String>) -> Route {
    let unknown = |segment: String| Route::Unknown { segment };
    match segments.next() {
        Some(d) if d == "directory" => {}
        other => return unknown(other.unwrap_or_else(|| "roleManagement".to_owned())),
    }
    let Some(collection) = segments.next() else {
        return unknown("directory".to_owned());
    };
    let route = match collection.as_str() {
        "roleAssignments" => Route::RoleAssignments,
        "roleEligibilityScheduleInstances" => Route::RoleEligibility,
        _ => match keyed(&collection, "roleDefinitions", &mut segments) {
            Some(id) if !id.is_empty() => Route::RoleDefinition { id },
            _ => return unknown(collection),
        },
    };
    match segments.next() {
        None => route,
        Some(extra) => unknown(extra),
    }
}

/// The paths below `/users/{key}` the emulator serves.
const TAILS: &[(&[&str], Tail)] = &[
    (&[], Tail::Entity),
    (&["revokeSignInSessions"], Tail::Revoke),
    (&["microsoft.graph.revokeSignInSessions"], Tail::Revoke),
    (&["memberOf"], Tail::MemberOf { roles_only: false }),
    (
        &["memberOf", "microsoft.graph.directoryRole"],
        Tail::MemberOf { roles_only: true },
    ),
    (&["transitiveMemberOf"], Tail::TransitiveMemberOf),
    (&["ownedObjects"], Tail::OwnedObjects),
];

/// `'x'` → `x` and `''` → `'` (the OData key syntax); unquoted keys as is.
fn unquote(s: &str) -> String {
    match s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(key: &str, tail: Tail) -> Route {
        Route::User {
            key: key.to_owned(),
            tail,
        }
    }

    #[test]
    fn routes() {
        assert_eq!(route("/users"), Route::Users);
        assert_eq!(route("/users/"), Route::Users);
        assert_eq!(route("/users/a%40b.com"), user("a@b.com", Tail::Entity));
        assert_eq!(route("users/a@b.com"), user("a@b.com", Tail::Entity));
        assert_eq!(route("/users('$x@y.com')"), user("$x@y.com", Tail::Entity));
        assert_eq!(
            route("/users(%27%24x@y.com%27)"),
            user("$x@y.com", Tail::Entity)
        );
        assert_eq!(
            route("/users('o''neil@y.com')"),
            user("o'neil@y.com", Tail::Entity)
        );
        assert_eq!(
            route("/users/alice_f.com%23EXT%23@c.com"),
            user("alice_f.com#EXT#@c.com", Tail::Entity)
        );
        assert_eq!(
            route("/users/x/revokeSignInSessions"),
            user("x", Tail::Revoke)
        );
        assert_eq!(
            route("/users/x/microsoft.graph.revokeSignInSessions"),
            user("x", Tail::Revoke)
        );
        assert_eq!(
            route("/users/x/memberOf/microsoft.graph.directoryRole"),
            user("x", Tail::MemberOf { roles_only: true })
        );
        assert_eq!(
            route("/users/x/memberOf"),
            user("x", Tail::MemberOf { roles_only: false })
        );
        let unknown = |s: &str| Route::Unknown {
            segment: s.to_owned(),
        };
        assert_eq!(route("/groups/x"), unknown("groups"));
        assert_eq!(route("/users/x/manager"), unknown("manager"));
        assert_eq!(
            route("/users/x/memberOf/microsoft.graph.group"),
            unknown("microsoft.graph.group")
        );
        assert_eq!(route("/users/x/a/b/c"), unknown("a"));
        assert_eq!(
            route("/users/x/memberOf/microsoft.graph.directoryRole/y"),
            unknown("y")
        );
        assert_eq!(route(""), unknown(""));
        assert_eq!(route("/users('')"), unknown(""));
    }

    #[test]
    fn privilege_routes() {
        assert_eq!(
            route("/users/x/transitiveMemberOf"),
            user("x", Tail::TransitiveMemberOf)
        );
        assert_eq!(
            route("/users/x/ownedObjects"),
            user("x", Tail::OwnedObjects)
        );
        assert_eq!(
            route("/roleManagement/directory/roleAssignments"),
            Route::RoleAssignments
        );
        assert_eq!(
            route("/roleManagement/directory/roleEligibilityScheduleInstances/"),
            Route::RoleEligibility
        );
        let def = |id: &str| Route::RoleDefinition { id: id.to_owned() };
        assert_eq!(
            route("/roleManagement/directory/roleDefinitions/abc"),
            def("abc")
        );
        assert_eq!(
            route("/roleManagement/directory/roleDefinitions('abc')"),
            def("abc")
        );
        let domain = |name: &str| Route::Domain {
            name: name.to_owned(),
        };
        assert_eq!(route("/domains/contoso.com"), domain("contoso.com"));
        assert_eq!(route("/domains('contoso.com')"), domain("contoso.com"));
        let unknown = |s: &str| Route::Unknown {
            segment: s.to_owned(),
        };
        assert_eq!(route("/domains"), unknown("domains"));
        assert_eq!(route("/domains/a.com/x"), unknown("x"));
        assert_eq!(route("/roleManagement"), unknown("roleManagement"));
        assert_eq!(
            route("/roleManagement/entitlement/x"),
            unknown("entitlement")
        );
        assert_eq!(route("/roleManagement/directory"), unknown("directory"));
        assert_eq!(
            route("/roleManagement/directory/roleDefinitions"),
            unknown("roleDefinitions")
        );
        assert_eq!(
            route("/roleManagement/directory/roleAssignments/x"),
            unknown("x")
        );
        assert_eq!(route("/users/x/transitiveMemberOf/y"), unknown("y"));
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("a%40b%2Fc").as_deref(), Some("a@b/c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("é%C3%A9").as_deref(), Some("éé"));
    }
}
