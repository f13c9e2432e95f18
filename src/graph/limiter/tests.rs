//! The two budgets, the cost table and which budget a 429 names.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;

use super::*;
use crate::graph::permissions::Operation;

fn req(method: Method, path: &str) -> GraphRequest {
    GraphRequest {
        method,
        path: path.to_owned(),
        body: None,
        operation: Operation::ReadUser,
        secrets: Vec::new(),
    }
}

const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

#[test]
fn costs_follow_the_published_table() {
    let get = |p: &str| cost(&req(Method::GET, p));
    // One object: 1, and `$select` never takes it below 1.
    assert_eq!(get(&format!("/users/{ID}")), 1);
    assert_eq!(get(&format!("/users/{ID}?$select=id,accountEnabled")), 1);
    assert_eq!(get("/users/adele@contoso.com"), 1);
    assert_eq!(get("/domains/contoso.com"), 1);
    // Lists: 2, less with `$select` or a small `$top`, more with `$expand`.
    assert_eq!(get("/users"), 2);
    assert_eq!(get(&format!("/users/{ID}/transitiveMemberOf")), 2);
    assert_eq!(
        get(&format!("/users/{ID}/transitiveMemberOf?$select=id")),
        1
    );
    assert_eq!(get("/users?$top=5"), 1);
    assert_eq!(get("/users?$top=50"), 2);
    assert_eq!(get("/users?$expand=manager"), 3);
    assert_eq!(
        get("/roleManagement/directory/roleAssignments?$filter=principalId eq 'x'"),
        2
    );
    // Writes: 1 unit (and one write).
    assert_eq!(cost(&req(Method::PATCH, &format!("/users/{ID}"))), 1);
    assert_eq!(
        cost(&req(
            Method::POST,
            &format!("/users/{ID}/revokeSignInSessions")
        )),
        1
    );
    assert_eq!(Class::of(&req(Method::GET, "/users")), Class::Read);
    assert_eq!(Class::of(&req(Method::PATCH, "/users/x")), Class::Write);
    assert_eq!(Class::of(&req(Method::DELETE, "/users/x")), Class::Write);
}

#[tokio::test(start_paused = true)]
async fn writes_start_from_the_published_quota() {
    let l = Limiter::new(None);
    let start = Instant::now();
    // The whole window's worth goes at once...
    let mut sent = 0;
    while sent < 3000 {
        sent += l.reserve(Class::Write, 20).await;
        // (the units budget sees each write succeed, so its slow start
        // keeps up)
        for _ in 0..20 {
            l.on_success(Class::Write, 1, None, None);
        }
    }
    let burst = Instant::now() - start;
    assert!(burst < Duration::from_secs(2), "{burst:?}");
    // ...then 20 a second: 100 more writes take about 5 s.
    let t = Instant::now();
    let mut more = 0;
    while more < 100 {
        more += l.reserve(Class::Write, 1).await;
    }
    let took = (Instant::now() - t).as_secs_f64();
    assert!((4.0..=6.0).contains(&took), "{took}");
}

#[tokio::test(start_paused = true)]
async fn a_write_scoped_429_pauses_writes_and_not_reads() {
    let l = Arc::new(Limiter::new(None));
    let pause = l.on_throttled(
        Class::Write,
        Some(ThrottleScope::Write),
        Some(Duration::from_secs(30)),
    );
    assert_eq!(pause, Duration::from_secs(30));
    // A read goes at once.
    let t = Instant::now();
    l.reserve(Class::Read, 1).await;
    assert_eq!(Instant::now(), t);
    // A write waits for the pause.
    let w = tokio::spawn({
        let l = l.clone();
        async move {
            l.reserve(Class::Write, 1).await;
            Instant::now()
        }
    });
    assert!(w.await.unwrap() - t >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn an_unscoped_or_readwrite_429_pauses_everything() {
    for scope in [
        None,
        Some(ThrottleScope::ReadWrite),
        Some(ThrottleScope::Read),
    ] {
        let l = Arc::new(Limiter::new(None));
        l.on_throttled(Class::Write, scope, Some(Duration::from_secs(10)));
        let t = Instant::now();
        let (r, w) = tokio::join!(
            {
                let l = l.clone();
                async move {
                    l.reserve(Class::Read, 1).await;
                    Instant::now()
                }
            },
            {
                let l = l.clone();
                async move {
                    l.reserve(Class::Write, 1).await;
                    Instant::now()
                }
            }
        );
        assert!(r - t >= Duration::from_secs(10), "{scope:?}");
        assert!(w - t >= Duration::from_secs(10), "{scope:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_answers_resource_units_correct_the_estimate() {
    let l = Limiter::new(Some(10.0));
    // Drain what the bucket holds.
    let mut drained = 0;
    let t = Instant::now();
    while Instant::now() == t {
        drained += l.reserve(Class::Read, 1).await;
    }
    assert!(drained >= 1);
    // A call estimated at 1 that Graph says cost 5 owes 4 more: the next
    // unit waits about half a second at 10 a second.
    l.on_success(Class::Read, 1, Some(5.0), None);
    let t = Instant::now();
    l.reserve(Class::Read, 1).await;
    let waited = (Instant::now() - t).as_secs_f64();
    assert!(waited >= 0.4, "{waited}");
}
