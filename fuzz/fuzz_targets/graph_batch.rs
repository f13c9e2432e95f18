//! Fuzz target: the parsers of 2xx Graph answers: a `$batch` response
//! (`remedy::graph::batch::parse_batch`) for three items with ids `1`, `2`,
//! `3`, then each item's answer, and the body itself, as a user
//! (`parse_user`) and as a page of directory roles (`parse_roles_page`).
//!
//! Input: the response body (seeds are plain JSON).

#![no_main]

use libfuzzer_sys::fuzz_target;
use remedy::graph::batch::{BatchItem, parse_batch};
use remedy::graph::client::GraphResponse;
use remedy::graph::users;

const PREFIX: &str = "https://graph.microsoft.com/v1.0";

fn read_as_user_and_roles(resp: &GraphResponse) {
    let _ = users::parse_user(resp);
    let mut roles = Vec::new();
    if let Ok(Some(next)) = users::parse_roles_page(resp, PREFIX, &mut roles) {
        assert!(next.starts_with('/'), "the next page stays on this Graph");
    }
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
