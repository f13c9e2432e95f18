//! Fuzz target: the parsers of 2xx Graph answers: a `$batch` response
//! (`remedy::graph::batch::parse_batch`) for three items with ids `1`, `2`,
//! `3`, then each item's answer, and the body itself, as a user
//! (`parse_user`), as a page of directory roles (`parse_roles_page`), and
//! as a page of each list the privileged-account guard reads
//! (`privilege::parse_page`), whose items then go through
//! `Findings::from_answers` and the protection reason.
//!
//! Input: the response body (seeds are plain JSON).

#![no_main]

use libfuzzer_sys::fuzz_target;
use remedy::graph::batch::{BatchItem, parse_batch};
use remedy::graph::client::GraphResponse;
use remedy::graph::permissions::Operation;
use remedy::graph::privilege::{self, Answers, DirObject, Findings, RoleGrant};
use remedy::graph::users;

const PREFIX: &str = "https://graph.microsoft.com/v1.0";

fn read_as_user_and_roles(resp: &GraphResponse) {
    let _ = users::parse_user(resp);
    let mut roles = Vec::new();
    if let Ok(Some(next)) = users::parse_roles_page(resp, PREFIX, &mut roles) {
        assert!(next.starts_with('/'), "the next page stays on this Graph");
    }
    read_as_privileges(resp);
}

fn read_as_privileges(resp: &GraphResponse) {
    let mut objects: Vec<DirObject> = Vec::new();
    if let Ok(Some(next)) =
        privilege::parse_page(resp, PREFIX, Operation::ListMemberships, &mut objects)
    {
        assert!(next.starts_with('/'), "the next page stays on this Graph");
    }
    let mut grants: Vec<RoleGrant> = Vec::new();
    let _ = privilege::parse_page(resp, PREFIX, Operation::ListRoleAssignments, &mut grants);
    let findings = Findings::from_answers(Answers {
        memberships: Ok(objects.clone()),
        owned: Ok(objects),
        assignments: Ok(grants.clone()),
        eligibility: Ok(grants),
    })
    .expect("every answer here is a definitive one");
    let _ = findings.names_to_read();
    let p = findings.finish(&Default::default());
    match p.protection("a@b.c", true) {
        Some(reason) => assert!(reason.starts_with("protected: "), "{reason}"),
        None => assert!(p.causes.is_empty() && p.unknown.is_empty()),
    }
    let _ = privilege::parse_role_definition(resp);
}

fuzz_target!(|data: &[u8]| {
    let items = [
        users::get_user("adele@contoso.com"),
        users::set_account_enabled("8a1c0000-0000-0000-0000-000000000001", true),
        users::revoke_sessions("8a1c0000-0000-0000-0000-000000000001"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, request)| BatchItem {
        id: (i + 1).to_string(),
        request,
        depends_on: None,
    })
    .collect::<Vec<_>>();
    let resp = GraphResponse {
        status: 200,
        request_id: Some("rid".into()),
        body: data.to_vec(),
        throttle_level: None,
        resource_units: None,
    };
    if let Ok(results) = parse_batch(&items, &resp) {
        assert_eq!(results.len(), items.len(), "one result per item");
        for result in &results {
            match result {
                Ok(item) => {
                    assert!((200..300).contains(&item.status));
                    read_as_user_and_roles(item);
                }
                Err(e) => {
                    let _ = e.hint();
                    let _ = e.to_string();
                }
            }
        }
    }
    read_as_user_and_roles(&resp);
});
