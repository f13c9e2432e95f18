//! The guard's requests and parsers against canned Graph answers.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::HeaderMap;
use std::future::Future as _;

use serde_json::json;

use super::*;

const USER: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const PREFIX: &str = "https://graph.example/v1.0";
const CUSTOM: &str = "3a5c1d2e-1111-4222-8333-944455556666";
const UNIT_ID: &str = "aaaaaaaa-1111-4222-8333-944455556666";

fn ok(body: serde_json::Value) -> Result<GraphResponse, GraphError> {
    Ok(GraphResponse {
        status: 200,
        request_id: Some("rid".into()),
        throttle_level: None,
        resource_units: None,
        body: serde_json::to_vec(&body).unwrap(),
    })
}

fn error(status: u16, code: &str, message: &str, op: Operation) -> GraphError {
    let body = json!({"error": {"code": code, "message": message, "innerError": {"request-id": "rid-err"}}});
    GraphError::from_status(
        status,
        &HeaderMap::new(),
        &serde_json::to_vec(&body).unwrap(),
        None,
        Some(op),
    )
}

fn list(items: serde_json::Value) -> serde_json::Value {
    json!({"@odata.context": "x", "value": items})
}

/// A Graph that answers by path from `routes` (an unknown path is a 404),
/// counting the requests it got.
struct Fake {
    routes: HashMap<String, Result<GraphResponse, GraphError>>,
    sent: Mutex<Vec<String>>,
}

impl Fake {
    fn new(routes: Vec<(String, Result<GraphResponse, GraphError>)>) -> Self {
        Fake {
            routes: routes.into_iter().collect(),
            sent: Mutex::new(Vec::new()),
        }
    }

    async fn send(&self, req: GraphRequest) -> Result<GraphResponse, GraphError> {
        self.sent.lock().unwrap().push(req.path.clone());
        self.routes.get(&req.path).cloned().unwrap_or_else(|| {
            Err(error(
                404,
                "Request_ResourceNotFound",
                "not found",
                req.operation,
            ))
        })
    }

    fn count(&self, prefix: &str) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.starts_with(prefix))
            .count()
    }
}

fn empty_reads() -> Vec<(String, Result<GraphResponse, GraphError>)> {
    vec![
        (memberships(USER).path, ok(list(json!([])))),
        (owned_objects(USER).path, ok(list(json!([])))),
        (role_assignments(USER).path, ok(list(json!([])))),
        (role_eligibility(USER).path, ok(list(json!([])))),
    ]
}

fn with(
    mut routes: Vec<(String, Result<GraphResponse, GraphError>)>,
    path: String,
    answer: Result<GraphResponse, GraphError>,
) -> Vec<(String, Result<GraphResponse, GraphError>)> {
    routes.retain(|(p, _)| *p != path);
    routes.push((path, answer));
    routes
}

async fn read_with(fake: &Fake, names: &RoleNames) -> Result<Privileges, GraphError> {
    let send = |req: GraphRequest| fake.send(req);
    read(USER, PREFIX, &send, names).await
}

fn answers() -> Answers {
    Answers {
        memberships: Ok(vec![]),
        owned: Ok(vec![]),
        assignments: Ok(vec![]),
        eligibility: Ok(vec![]),
    }
}

fn objects(v: serde_json::Value) -> Vec<DirObject> {
    serde_json::from_value(v).unwrap()
}

fn grants(v: serde_json::Value) -> Vec<RoleGrant> {
    serde_json::from_value(v).unwrap()
}

#[test]
fn requests_are_the_documented_paths() {
    assert_eq!(
        memberships(USER).path,
        format!(
            "/users/{USER}/transitiveMemberOf?$select=id,displayName,isAssignableToRole,isManagementRestricted,roleTemplateId&$top=999"
        )
    );
    assert_eq!(
        owned_objects(USER).path,
        format!("/users/{USER}/ownedObjects?$select=id,displayName,isAssignableToRole&$top=999")
    );
    assert_eq!(
        role_assignments(USER).path,
        format!("/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'{USER}'")
    );
    assert_eq!(
        role_eligibility(USER).path,
        format!(
            "/roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId%20eq%20'{USER}'"
        )
    );
    assert_eq!(
        role_definition(CUSTOM).path,
        format!("/roleManagement/directory/roleDefinitions/{CUSTOM}")
    );
    let ops: Vec<Operation> = [
        memberships(USER),
        owned_objects(USER),
        role_assignments(USER),
        role_eligibility(USER),
        role_definition(CUSTOM),
    ]
    .iter()
    .map(|r| {
        assert_eq!(r.method, Method::GET);
        assert!(r.body.is_none());
        r.operation
    })
    .collect();
    assert_eq!(
        ops,
        [
            Operation::ListMemberships,
            Operation::ListOwnedObjects,
            Operation::ListRoleAssignments,
            Operation::ListRoleEligibility,
            Operation::ReadRoleDefinition
        ]
    );
}

#[test]
fn every_membership_type_is_told_by_its_odata_type() {
    let items = objects(json!([
        {"@odata.type": "#microsoft.graph.directoryRole", "id": "r1", "displayName": "Global Administrator", "roleTemplateId": role_ids::GLOBAL_ADMINISTRATOR},
        {"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "Tier0 Admins", "isAssignableToRole": true},
        {"@odata.type": "#microsoft.graph.group", "id": "g2", "displayName": "Sales", "isAssignableToRole": false},
        // Graph answers null for a flag never set: an ordinary group.
        {"@odata.type": "#microsoft.graph.group", "id": "g3", "displayName": "Marketing", "isAssignableToRole": null},
        {"@odata.type": "#microsoft.graph.administrativeUnit", "id": "u1", "displayName": "Executives", "isManagementRestricted": true},
        {"@odata.type": "#microsoft.graph.administrativeUnit", "id": "u2", "displayName": "Paris", "isManagementRestricted": false},
        {"@odata.type": "#microsoft.graph.administrativeUnit", "id": "u3", "displayName": "Lyon"},
    ]));
    let f = Findings::from_answers(Answers {
        memberships: Ok(items),
        ..answers()
    })
    .unwrap();
    assert!(f.unknown.is_empty(), "{:?}", f.unknown);
    let p = f.finish(&HashMap::new());
    assert_eq!(
        p.causes,
        [
            Cause::Role {
                name: "Global Administrator".into(),
                scope: Scope::Directory
            },
            Cause::RoleGroupMember {
                group: "Tier0 Admins".into()
            },
            Cause::RestrictedUnit {
                unit: "Executives".into()
            },
        ]
    );
}

#[test]
fn ordinary_memberships_make_no_one_privileged() {
    let f = Findings::from_answers(Answers {
        memberships: Ok(objects(json!([
            {"@odata.type": "#microsoft.graph.group", "id": "g2", "displayName": "Sales", "isAssignableToRole": false},
            {"@odata.type": "#microsoft.graph.administrativeUnit", "id": "u2", "displayName": "Paris", "isManagementRestricted": false},
        ]))),
        owned: Ok(objects(json!([
            {"@odata.type": "#microsoft.graph.application", "id": "a1", "displayName": "App"},
            {"@odata.type": "#microsoft.graph.servicePrincipal", "id": "s1", "displayName": "SP"},
            {"@odata.type": "#microsoft.graph.group", "id": "g9", "displayName": "Owned", "isAssignableToRole": false},
        ]))),
        ..answers()
    })
    .unwrap();
    assert_eq!(f.finish(&HashMap::new()), Privileges::default());
}

#[test]
fn limited_information_cannot_rule_a_group_or_unit_out() {
    let f = Findings::from_answers(Answers {
        memberships: Ok(objects(json!([
            {"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": null, "isAssignableToRole": null},
            {"@odata.type": "#microsoft.graph.group", "id": "g2", "displayName": null, "isAssignableToRole": null},
            {"@odata.type": "#microsoft.graph.administrativeUnit", "id": "u1", "displayName": null, "isManagementRestricted": null},
            // A role is a cause whatever Graph leaves out.
            {"@odata.type": "#microsoft.graph.directoryRole", "id": "r1", "displayName": null, "roleTemplateId": null},
        ]))),
        owned: Ok(objects(json!([
            {"@odata.type": "#microsoft.graph.group", "id": "g7", "displayName": null, "isAssignableToRole": null},
        ]))),
        ..answers()
    })
    .unwrap();
    let p = f.finish(&HashMap::new());
    assert_eq!(
        p.causes,
        [Cause::Role {
            name: "a directory role (object id r1)".into(),
            scope: Scope::Directory
        }]
    );
    let whats: Vec<&str> = p.unknown.iter().map(|u| u.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            "whether the group(s) the user is in are role-assignable (g1, g2)",
            "whether the administrative unit(s) the user is in are restricted management units (u1)",
            "whether the group(s) the user owns are role-assignable (g7)",
        ]
    );
    assert!(p.unknown[0].why.contains("limited information"));
    assert!(p.unknown[0].why.contains("Directory.Read.All"));
    assert!(p.unknown.iter().all(|u| !u.unlicensed));
    let reason = p.protection("a@b.c", true).unwrap();
    assert!(
        reason.starts_with("protected: holds the directory role a directory role (object id r1); also could not read: whether the group(s)"),
        "{reason}"
    );
}

#[test]
fn items_without_odata_type_cannot_be_told() {
    let f = Findings::from_answers(Answers {
        memberships: Ok(objects(json!([{"id": "x1", "displayName": "Something"}]))),
        owned: Ok(objects(
            json!([{"id": "x2"}, {"id": "x3"}, {"id": "x4"}, {"id": "x5"}]),
        )),
        ..answers()
    })
    .unwrap();
    let p = f.finish(&HashMap::new());
    assert!(p.causes.is_empty());
    let whats: Vec<&str> = p.unknown.iter().map(|u| u.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            "what the objects x1 of transitiveMemberOf are",
            "what the objects x2, x3, x4 and 1 more of ownedObjects are",
        ]
    );
    assert!(
        p.protection("adele@contoso.com", true)
            .unwrap()
            .starts_with("protected: cannot tell whether adele@contoso.com is privileged: what the objects x1")
    );
}

#[test]
fn owners_of_role_assignable_groups_are_privileged() {
    let f = Findings::from_answers(Answers {
        owned: Ok(objects(json!([
            {"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "Tier0 Admins", "isAssignableToRole": true},
        ]))),
        ..answers()
    })
    .unwrap();
    assert_eq!(
        f.finish(&HashMap::new()).causes,
        [Cause::RoleGroupOwner {
            group: "Tier0 Admins".into()
        }]
    );
}

#[test]
fn assignments_and_eligibility_carry_their_scope() {
    let f = Findings::from_answers(Answers {
        memberships: Ok(objects(json!([
            {"@odata.type": "#microsoft.graph.directoryRole", "id": "r1", "displayName": "Global Administrator", "roleTemplateId": role_ids::GLOBAL_ADMINISTRATOR},
            {"@odata.type": "#microsoft.graph.administrativeUnit", "id": UNIT_ID, "displayName": "Executives", "isManagementRestricted": false},
        ]))),
        assignments: Ok(grants(json!([
            // The same role as the directoryRole membership: listed once.
            {"id": "a1", "principalId": USER, "roleDefinitionId": role_ids::GLOBAL_ADMINISTRATOR, "directoryScopeId": "/", "appScopeId": null},
            {"id": "a2", "principalId": USER, "roleDefinitionId": "729827e3-9c14-49f7-bb1b-9608f156bbb8", "directoryScopeId": format!("/administrativeUnits/{UNIT_ID}")},
            {"id": "a3", "principalId": USER, "roleDefinitionId": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "directoryScopeId": "/11111111-2222-4333-8444-555555555555"},
            {"id": "a4", "principalId": USER, "roleDefinitionId": CUSTOM, "directoryScopeId": "/administrativeUnits/bbbbbbbb-1111-4222-8333-944455556666"},
        ]))),
        eligibility: Ok(grants(json!([
            {"id": "e1", "principalId": USER, "roleDefinitionId": "194ae4cb-b126-40b2-bd5b-6091b380977d", "directoryScopeId": "/", "startDateTime": "2026-01-01T00:00:00Z", "endDateTime": null, "memberType": "Direct"},
        ]))),
        ..answers()
    })
    .unwrap();
    assert_eq!(f.names_to_read(), [CUSTOM]);
    let names = HashMap::from([(CUSTOM.to_owned(), "Helpdesk Tier 2".to_owned())]);
    let p = f.finish(&names);
    assert_eq!(
        p.causes,
        [
            Cause::Role {
                name: "Global Administrator".into(),
                scope: Scope::Directory
            },
            Cause::Role {
                name: "Helpdesk Administrator".into(),
                scope: Scope::Unit("Executives".into())
            },
            Cause::Role {
                name: "Application Administrator".into(),
                scope: Scope::Object("11111111-2222-4333-8444-555555555555".into())
            },
            Cause::Role {
                name: "Helpdesk Tier 2".into(),
                scope: Scope::Unit("bbbbbbbb-1111-4222-8333-944455556666".into())
            },
            Cause::EligibleRole {
                name: "Security Administrator".into(),
                scope: Scope::Directory
            },
        ]
    );
    // A name that could not be read is the definition's id.
    let f = Findings::from_answers(Answers {
        assignments: Ok(grants(json!([{"id": "a4", "roleDefinitionId": CUSTOM}]))),
        ..answers()
    })
    .unwrap();
    assert_eq!(
        f.finish(&HashMap::new()).causes,
        [Cause::Role {
            name: CUSTOM.into(),
            scope: Scope::Directory
        }]
    );
}

#[test]
fn a_refused_read_is_unknown_and_protects() {
    for (i, what) in [
        "the user's groups, roles and administrative units (transitiveMemberOf)",
        "the objects the user owns (ownedObjects)",
        "the user's role assignments (roleAssignments)",
        "the user's PIM eligibility (roleEligibilityScheduleInstances)",
    ]
    .into_iter()
    .enumerate()
    {
        let denied = |op| {
            error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
                op,
            )
        };
        let mut a = answers();
        match i {
            0 => a.memberships = Err(denied(Operation::ListMemberships)),
            1 => a.owned = Err(denied(Operation::ListOwnedObjects)),
            2 => a.assignments = Err(denied(Operation::ListRoleAssignments)),
            _ => a.eligibility = Err(denied(Operation::ListRoleEligibility)),
        }
        let p = Findings::from_answers(a).unwrap().finish(&HashMap::new());
        assert!(p.causes.is_empty());
        assert_eq!(p.unknown.len(), 1);
        assert_eq!(p.unknown[0].what, what);
        let why = &p.unknown[0].why;
        assert!(
            why.starts_with("Authorization_RequestDenied (HTTP 403): Insufficient privileges"),
            "{why}"
        );
        assert!(
            why.contains("rid-err") && why.contains("hint: grant the app"),
            "{why}"
        );
        let reason = p.protection("a@b.c", false).unwrap();
        assert!(
            reason.starts_with(&format!("protected: cannot tell whether a@b.c is privileged: {what}: Authorization_RequestDenied")),
            "{reason}"
        );
    }
    // PIM's hint names its own permission.
    let mut a = answers();
    a.eligibility = Err(error(
        403,
        "Authorization_RequestDenied",
        "x",
        Operation::ListRoleEligibility,
    ));
    let p = Findings::from_answers(a).unwrap().finish(&HashMap::new());
    assert!(
        p.unknown[0]
            .why
            .contains("RoleEligibilitySchedule.Read.Directory"),
        "{}",
        p.unknown[0].why
    );
}

#[test]
fn pims_licence_error_is_an_unlicensed_unknown() {
    let mut a = answers();
    a.eligibility = Err(error(
        400,
        "AadPremiumLicenseRequired",
        "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.",
        Operation::ListRoleEligibility,
    ));
    let p = Findings::from_answers(a).unwrap().finish(&HashMap::new());
    assert_eq!(p.unknown.len(), 1);
    assert!(p.unknown[0].unlicensed);
    assert!(p.unknown[0].why.contains("AadPremiumLicenseRequired"));
    assert!(p.protection("a@b.c", true).is_some());
    assert_eq!(p.protection("a@b.c", false), None);
    // Another 400 is a refusal, not a missing licence.
    let mut a = answers();
    a.eligibility = Err(error(
        400,
        "BadRequest",
        "Invalid filter clause",
        Operation::ListRoleEligibility,
    ));
    let p = Findings::from_answers(a).unwrap().finish(&HashMap::new());
    assert!(!p.unknown[0].unlicensed);
    assert!(p.protection("a@b.c", false).is_some());
}

#[test]
fn no_answer_is_an_error_for_the_engine_to_retry() {
    for e in [
        error(
            503,
            "ServiceUnavailable",
            "busy",
            Operation::ListOwnedObjects,
        ),
        error(
            429,
            "TooManyRequests",
            "slow down",
            Operation::ListOwnedObjects,
        ),
        GraphError::auth(
            &crate::graph::auth::AuthError::TokenUnusable("gone".into()),
            Some(Operation::ListOwnedObjects),
        ),
    ] {
        let mut a = answers();
        // A definitive refusal elsewhere does not hide it.
        a.memberships = Err(error(
            403,
            "Authorization_RequestDenied",
            "x",
            Operation::ListMemberships,
        ));
        a.owned = Err(e.clone());
        let got = Findings::from_answers(a).unwrap_err();
        assert_eq!(got.kind, e.kind);
    }
    // An unreadable answer is an answer that cannot rule anything out.
    let mut a = answers();
    a.owned = Err(GraphError::invalid_response(
        "garbage".into(),
        None,
        Some(Operation::ListOwnedObjects),
    ));
    let p = Findings::from_answers(a).unwrap().finish(&HashMap::new());
    assert_eq!(p.unknown.len(), 1);
}

#[test]
fn pages_are_followed_on_the_same_graph_only() {
    let next = format!("{PREFIX}/users/{USER}/transitiveMemberOf?$skiptoken=abc");
    let fake = Fake::new(vec![
        (
            memberships(USER).path,
            ok(
                json!({"value": [{"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "Sales", "isAssignableToRole": false}], "@odata.nextLink": next}),
            ),
        ),
        (
            format!("/users/{USER}/transitiveMemberOf?$skiptoken=abc"),
            ok(
                json!({"value": [{"@odata.type": "#microsoft.graph.group", "id": "g2", "displayName": "Tier0", "isAssignableToRole": true}]}),
            ),
        ),
    ]);
    let send = |req: GraphRequest| fake.send(req);
    let items: Vec<DirObject> =
        futures::executor::block_on(follow(memberships(USER), PREFIX, &send)).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].display_name.as_deref(), Some("Tier0"));
    assert_eq!(fake.count(&format!("/users/{USER}/transitiveMemberOf")), 2);

    // A nextLink elsewhere is not followed (the token would go there).
    let fake = Fake::new(vec![(
        memberships(USER).path,
        ok(json!({"value": [], "@odata.nextLink": "https://evil.example/v1.0/users"})),
    )]);
    let send = |req: GraphRequest| fake.send(req);
    let e =
        futures::executor::block_on(follow::<DirObject, _, _>(memberships(USER), PREFIX, &send))
            .unwrap_err();
    assert!(e.message.contains("points outside"), "{}", e.message);
    assert!(!no_answer(&e), "protects rather than fails");
    assert_eq!(fake.count("https://evil"), 0);

    // A list that never ends stops after MAX_PAGES.
    let fake = Fake::new(vec![(
        memberships(USER).path,
        ok(json!({"value": [], "@odata.nextLink": format!("{PREFIX}{}", memberships(USER).path)})),
    )]);
    let send = |req: GraphRequest| fake.send(req);
    let e =
        futures::executor::block_on(follow::<DirObject, _, _>(memberships(USER), PREFIX, &send))
            .unwrap_err();
    assert!(e.message.contains("more than 100 pages"), "{}", e.message);
    assert_eq!(fake.count("/users"), MAX_PAGES);

    // Not a list at all.
    let fake = Fake::new(vec![(memberships(USER).path, ok(json!({"value": 3})))]);
    let send = |req: GraphRequest| fake.send(req);
    let e =
        futures::executor::block_on(follow::<DirObject, _, _>(memberships(USER), PREFIX, &send))
            .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidResponse);
}

#[test]
fn read_sends_the_four_lists_and_names_custom_roles_once() {
    let routes = with(
        empty_reads(),
        role_assignments(USER).path,
        ok(list(
            json!([{"id": "a1", "principalId": USER, "roleDefinitionId": CUSTOM, "directoryScopeId": "/"}]),
        )),
    );
    let routes = with(
        routes,
        role_definition(CUSTOM).path,
        ok(
            json!({"id": CUSTOM, "displayName": "Helpdesk Tier 2", "isBuiltIn": false, "isEnabled": true, "templateId": CUSTOM}),
        ),
    );
    let fake = Fake::new(routes);
    let names = RoleNames::default();
    for _ in 0..3 {
        let p = futures::executor::block_on(read_with(&fake, &names)).unwrap();
        assert_eq!(
            p.protection("a@b.c", true).unwrap(),
            "protected: holds the directory role Helpdesk Tier 2"
        );
    }
    assert_eq!(
        fake.count("/roleManagement/directory/roleDefinitions/"),
        1,
        "once per run"
    );
    assert_eq!(fake.count(&format!("/users/{USER}/transitiveMemberOf")), 3);
    assert_eq!(fake.count("/roleManagement/directory/roleEligibility"), 3);

    // No one privileged: nothing but the four lists.
    let fake = Fake::new(empty_reads());
    let p = futures::executor::block_on(read_with(&fake, &RoleNames::default())).unwrap();
    assert_eq!(p, Privileges::default());
    assert_eq!(fake.sent.lock().unwrap().len(), 4);
}

#[test]
fn a_role_name_that_cannot_be_read_is_its_id_and_never_fails_protection() {
    // 404 (unknown definition): the id, and not asked again.
    let routes = with(
        empty_reads(),
        role_assignments(USER).path,
        ok(list(
            json!([{"id": "a1", "roleDefinitionId": CUSTOM, "directoryScopeId": "/"}]),
        )),
    );
    let fake = Fake::new(routes.clone());
    let names = RoleNames::default();
    for _ in 0..2 {
        let p = futures::executor::block_on(read_with(&fake, &names)).unwrap();
        assert_eq!(
            p.protection("a@b.c", true).unwrap(),
            format!("protected: holds the directory role {CUSTOM}")
        );
    }
    assert_eq!(fake.count("/roleManagement/directory/roleDefinitions/"), 1);

    // No answer: the id this time, asked again for the next user.
    let routes = with(
        routes,
        role_definition(CUSTOM).path,
        Err(error(
            503,
            "ServiceUnavailable",
            "busy",
            Operation::ReadRoleDefinition,
        )),
    );
    let fake = Fake::new(routes);
    let names = RoleNames::default();
    for _ in 0..2 {
        let p = futures::executor::block_on(read_with(&fake, &names)).unwrap();
        assert_eq!(p.causes.len(), 1);
    }
    assert_eq!(fake.count("/roleManagement/directory/roleDefinitions/"), 2);

    // An answer without a name.
    assert_eq!(
        parse_role_definition(&ok(json!({"id": CUSTOM, "displayName": " "})).unwrap()),
        None
    );
    assert_eq!(
        parse_role_definition(&ok(json!({"id": CUSTOM, "displayName": "X"})).unwrap()).as_deref(),
        Some("X")
    );
}

#[test]
fn built_in_names_come_from_the_table() {
    assert_eq!(
        built_in_role_name(role_ids::GLOBAL_ADMINISTRATOR),
        Some("Global Administrator")
    );
    assert_eq!(
        built_in_role_name(&role_ids::USER_ADMINISTRATOR.to_uppercase()),
        Some("User Administrator")
    );
    assert_eq!(built_in_role_name(CUSTOM), None);
    for (id, _) in BUILT_IN {
        assert!(is_object_id(id), "{id}");
    }
    let ids: HashSet<&str> = BUILT_IN.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), BUILT_IN.len(), "no id twice");
}

#[test]
fn the_licence_probe_tells_a_missing_licence_from_other_failures() {
    let probe = |answer: Result<GraphResponse, GraphError>| {
        let fake = Fake::new(vec![(role_eligibility(USER).path, answer)]);
        let send = |req: GraphRequest| fake.send(req);
        futures::executor::block_on(probe_licence(USER, &send))
    };
    assert!(matches!(probe(ok(list(json!([])))), Licence::Licensed));
    assert!(matches!(
        probe(Err(error(
            400,
            LICENCE_CODE,
            "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.",
            Operation::ListRoleEligibility
        ))),
        Licence::Missing(_)
    ));
    assert!(matches!(
        probe(Err(error(
            403,
            "Authorization_RequestDenied",
            "x",
            Operation::ListRoleEligibility
        ))),
        Licence::Unknown(_)
    ));
}

#[test]
fn the_apps_assignments_are_only_those_naming_it() {
    let other = "99999999-1111-4222-8333-944455556666";
    let fake = Fake::new(vec![(
        role_assignments(USER).path,
        ok(list(json!([
            {"id": "a1", "principalId": USER, "roleDefinitionId": role_ids::USER_ADMINISTRATOR, "directoryScopeId": "/"},
            {"id": "a2", "principalId": other, "roleDefinitionId": role_ids::GLOBAL_ADMINISTRATOR, "directoryScopeId": "/"},
        ]))),
    )]);
    let send = |req: GraphRequest| fake.send(req);
    let got = futures::executor::block_on(assignments_of(USER, PREFIX, &send)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id.as_deref(), Some("a1"));
}

#[test]
fn the_four_lists_are_read_concurrently() {
    // No answer comes until all four requests are out: after one poll,
    // reads made one after the other would have sent only the first.
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let send = |_req: GraphRequest| {
        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        futures::future::pending::<Result<GraphResponse, GraphError>>()
    };
    let names = RoleNames::default();
    let mut fut = std::pin::pin!(read(USER, PREFIX, &send, &names));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(sent.load(std::sync::atomic::Ordering::Relaxed), 4);
}

#[tokio::test]
async fn a_retry_sends_only_the_lists_that_had_no_answer() {
    // The owned objects get a 503 once; the other three lists answer.
    let fake = Fake::new(empty_reads());
    let failed_once = std::sync::atomic::AtomicBool::new(false);
    let send = |req: GraphRequest| {
        let fail = req.path == owned_objects(USER).path
            && !failed_once.swap(true, std::sync::atomic::Ordering::Relaxed);
        let answer = fake.send(req);
        async move {
            let got = answer.await;
            if fail {
                Err(error(
                    503,
                    "ServiceUnavailable",
                    "busy",
                    Operation::ListOwnedObjects,
                ))
            } else {
                got
            }
        }
    };
    let names = RoleNames::default();
    let mut kept = Kept::default();
    let e = read_keeping(USER, PREFIX, &send, &names, &mut kept)
        .await
        .unwrap_err();
    assert_eq!(e.status, Some(503));
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert_eq!(fake.sent.lock().unwrap().len(), 4);

    let p = read_keeping(USER, PREFIX, &send, &names, &mut kept)
        .await
        .unwrap();
    assert!(p.protection("a@b.c", true).is_none());
    assert!(kept.is_empty());
    // The second attempt sent the one list that had failed.
    let sent = fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 5, "{sent:?}");
    assert_eq!(sent[4], owned_objects(USER).path);
}

#[tokio::test]
async fn a_definitive_refusal_is_not_kept_for_later() {
    // A 403 is an answer: the check completes (protecting) and keeps nothing.
    let fake = Fake::new(with(
        empty_reads(),
        owned_objects(USER).path,
        Err(error(
            403,
            "Authorization_RequestDenied",
            "x",
            Operation::ListOwnedObjects,
        )),
    ));
    let send = |req: GraphRequest| fake.send(req);
    let mut kept = Kept::default();
    let p = read_keeping(USER, PREFIX, &send, &RoleNames::default(), &mut kept)
        .await
        .unwrap();
    assert!(p.protection("a@b.c", true).is_some());
    assert!(kept.is_empty());
}
