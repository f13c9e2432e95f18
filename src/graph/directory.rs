//! Microsoft Graph behind the directory seam: [`GraphDirectory`] reads
//! and changes users and finds what makes them privileged through the
//! [`Dispatcher`] (alone or in `$batch` calls, under the shared
//! [`Limiter`]) and turns Graph's users, privileges and errors into the
//! neutral [`Account`], [`Privileges`] and [`DirError`].

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::directory::{
    Account, DirError, ErrorKind as DirKind, Op, OpKind, Privileges, Property, Target, Traffic,
};
use crate::graph::batch::MAX_BATCH;
use crate::graph::dispatch::Dispatcher;
use crate::graph::domains;
use crate::graph::limiter::Limiter;
use crate::graph::permissions::Operation;
use crate::graph::privilege::{self, RoleNames};
use crate::graph::users::{self, UserState};
use crate::graph::{ErrorKind, GraphClient, GraphError};

/// How requests are sent to Graph.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// HTTP requests in flight.
    pub concurrency: usize,
    /// Pack requests into `$batch` calls of up to 20.
    pub batch: bool,
    /// Ceiling of the shared rate, units (requests or batch items) per second.
    pub max_rate: Option<f64>,
}

/// Graph as a [`crate::directory::Directory`].
pub struct GraphDirectory {
    dispatch: Dispatcher,
    target: Target,
    users_in_flight: usize,
    /// Custom roles' names, read once per definition and run.
    role_names: RoleNames,
    /// Whether each domain seen is federated, read once per run (users
    /// asking at the same time wait for the one request).
    federated: Mutex<HashMap<String, Arc<OnceCell<bool>>>>,
    /// The privilege lists answered for a user whose check got no full
    /// answer yet, by lower-case object id: the engine's retry sends only
    /// the rest. Emptied for a user when its check completes.
    kept: Mutex<HashMap<String, privilege::Kept>>,
}

impl GraphDirectory {
    /// A directory over `client`, sending as `send` says; `target` is
    /// what the manifest records (endpoint, tenant, app id).
    pub fn new(client: GraphClient, send: SendOptions, target: Target) -> Self {
        let limiter = Arc::new(Limiter::new(send.max_rate));
        GraphDirectory {
            dispatch: Dispatcher::new(client, limiter, send.concurrency, send.batch),
            target,
            // With batching, enough users must be in flight to fill
            // `concurrency` batches of 20.
            users_in_flight: if send.batch {
                send.concurrency * MAX_BATCH
            } else {
                send.concurrency
            },
            role_names: RoleNames::default(),
            federated: Mutex::new(HashMap::new()),
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// The neutral target of a Graph run.
    pub fn target_of(
        client: &GraphClient,
        tenant: Option<String>,
        app_id: Option<String>,
    ) -> Target {
        Target {
            provider: "graph".to_owned(),
            endpoint: client.endpoints().graph.clone(),
            realm: tenant,
            principal: app_id,
            name: None,
        }
    }

    /// The account `key` (a UPN or an object id) names. An answer for
    /// another account, or with an id that is not a GUID, is an error.
    pub async fn read(&self, key: &str) -> Result<Account, DirError> {
        let resp = self
            .dispatch
            .send(users::get_user(key))
            .await
            .map_err(dir_error)?;
        users::parse_user_for(key, &resp)
            .map(account)
            .map_err(dir_error)
    }

    /// What makes the user privileged: its transitive memberships, owned
    /// objects, role assignments and PIM eligibility, read concurrently
    /// through the dispatcher; what Graph answered but cannot rule a
    /// cause out is in [`Privileges::unknown`]. An error only when a read
    /// got no definitive answer (worth retrying).
    pub async fn privileges(&self, id: &str) -> Result<Privileges, DirError> {
        object_id(id, Operation::ListMemberships)?;
        let prefix = self.dispatch.client().graph_url("");
        let send = |req| self.dispatch.send(req);
        let key = id.to_ascii_lowercase();
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
            .unwrap_or_default();
        let got = privilege::read_keeping(id, &prefix, &send, &self.role_names, &mut kept).await;
        if !kept.is_empty() {
            self.kept
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, kept);
        }
        got.map_err(dir_error)
    }

    /// Whether `account` signs in through a federated domain: the domain
    /// of its sign-in name, read once per run. A name without a domain
    /// remedy can send is an error (it cannot tell).
    pub async fn federated(&self, account: &Account) -> Result<bool, DirError> {
        let name = account.name.as_deref().unwrap_or_default();
        let Some(domain) = domains::domain_of(name) else {
            return Err(dir_error(GraphError::invalid_response(
                format!(
                    "not sent: the user principal name {:?} has no domain to look up",
                    name.chars().take(64).collect::<String>()
                ),
                None,
                Some(Operation::ReadDomain),
            )));
        };
        let cell = self
            .federated
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(domain.clone())
            .or_default()
            .clone();
        // An error is not kept: the next user asks again.
        cell.get_or_try_init(|| async {
            let resp = self
                .dispatch
                .send(domains::get_domain(&domain))
                .await
                .map_err(dir_error)?;
            domains::parse_federated(&domain, &resp).map_err(dir_error)
        })
        .await
        .copied()
    }

    pub async fn apply(&self, id: &str, op: &Op) -> Result<(), DirError> {
        let operation = match op {
            Op::ResetPassword { .. } => Operation::ResetPassword,
            Op::SetEnabled(_) => Operation::SetAccountEnabled,
            Op::RevokeSessions => Operation::RevokeSessions,
            // `validate` refuses the step on a Graph target; never sent.
            Op::Unlock => return Err(no_unlock()),
        };
        object_id(id, operation)?;
        let req = match op {
            Op::ResetPassword {
                password,
                force_change,
                with_mfa,
            } => users::reset_password(id, password, *force_change, *with_mfa),
            Op::SetEnabled(enabled) => users::set_account_enabled(id, *enabled),
            Op::RevokeSessions => users::revoke_sessions(id),
            Op::Unlock => return Err(no_unlock()),
        };
        self.dispatch.send(req).await.map(drop).map_err(dir_error)
    }

    /// Whether operations of kinds `a` and `b` travel as one request: a
    /// reset and sign-in are both properties of `PATCH /users/{id}`.
    pub fn folds(a: OpKind, b: OpKind) -> bool {
        matches!(
            (a, b),
            (OpKind::ResetPassword, OpKind::SetEnabled)
                | (OpKind::SetEnabled, OpKind::ResetPassword)
        )
    }

    /// Performs `ops` (kinds [`GraphDirectory::folds`] accepts) in one
    /// request, which Graph applies whole or not at all.
    pub async fn apply_together(&self, id: &str, ops: &[&Op]) -> Result<(), DirError> {
        let mut reset = None;
        let mut enabled = None;
        for op in ops {
            match op {
                Op::ResetPassword {
                    password,
                    force_change,
                    with_mfa,
                } if reset.is_none() => reset = Some((password, *force_change, *with_mfa)),
                Op::SetEnabled(e) if enabled.is_none() => enabled = Some(*e),
                _ => return Err(not_folded(ops)),
            }
        }
        let (Some((password, force_change, with_mfa)), Some(enabled)) = (reset, enabled) else {
            return Err(not_folded(ops));
        };
        object_id(id, Operation::ResetPassword)?;
        let req = users::reset_password_and_enable(id, password, force_change, with_mfa, enabled);
        self.dispatch.send(req).await.map(drop).map_err(dir_error)
    }

    /// Graph's property names.
    pub fn label(p: Property) -> &'static str {
        match p {
            Property::Enabled => "accountEnabled",
            Property::PasswordChanged => "lastPasswordChangeDateTime",
            Property::SessionsValidFrom => "signInSessionsValidFromDateTime",
            // Graph shows no lockout state; the name is for texts only.
            Property::Locked => "lockout",
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The shared rate per second and the pause every worker is in.
    pub fn pace(&self) -> (f64, Duration) {
        self.dispatch.limiter().status()
    }

    /// HTTP calls sent through the dispatcher, the requests and `$batch`
    /// items answered, the 429s among them, and the limiter's budget now.
    pub fn traffic(&self) -> Traffic {
        let stats = &self.dispatch.stats;
        Traffic {
            calls: stats.calls.load(Ordering::Relaxed),
            answered: stats.answered.load(Ordering::Relaxed),
            throttled: stats.throttled.load(Ordering::Relaxed),
            budget_per_second: Some(self.dispatch.limiter().status().0),
        }
    }

    pub fn users_in_flight(&self) -> usize {
        self.users_in_flight
    }
}

/// Operations that cannot share one request (never sent).
fn not_folded(ops: &[&Op]) -> DirError {
    let kinds: Vec<_> = ops.iter().map(|o| format!("{:?}", o.kind())).collect();
    dir_error(GraphError::invalid_response(
        format!(
            "not sent: {} cannot be sent as one request",
            kinds.join(" and ")
        ),
        None,
        Some(Operation::ResetPassword),
    ))
}

/// Refuses, before anything is sent, to address a user by an id that is
/// not an object id: an empty one would make `/users/` the target.
fn object_id(id: &str, operation: Operation) -> Result<(), DirError> {
    if users::is_object_id(id) {
        return Ok(());
    }
    Err(dir_error(GraphError::invalid_response(
        format!(
            "not sent: the user id {:?} is not a GUID",
            id.chars().take(64).collect::<String>()
        ),
        None,
        Some(operation),
    )))
}

/// A Graph user as a neutral account.
pub fn account(u: UserState) -> Account {
    Account {
        id: u.id,
        name: u.user_principal_name,
        enabled: u.account_enabled,
        synced: u.on_premises_sync_enabled,
        password_changed: u.last_password_change_date_time,
        sessions_valid_from: u.sign_in_sessions_valid_from_date_time,
        kind: u.user_type,
        locked: None,
        federated: None,
    }
}

/// A Graph error in neutral terms: its text, code (Graph's, else the HTTP
/// status), request id, `Retry-After` and hint are kept as they are.
pub fn dir_error(e: GraphError) -> DirError {
    let kind = match e.kind {
        ErrorKind::Throttled => DirKind::Throttled,
        ErrorKind::Server => DirKind::Unavailable,
        ErrorKind::Timeout => DirKind::Timeout,
        ErrorKind::Connection => DirKind::Connection,
        ErrorKind::NotFound => DirKind::NotFound,
        ErrorKind::BadRequest
        | ErrorKind::Unauthorized
        | ErrorKind::Forbidden
        | ErrorKind::Conflict
        | ErrorKind::FailedDependency
        | ErrorKind::Other
        | ErrorKind::InvalidResponse
        | ErrorKind::Auth => DirKind::Refused,
    };
    DirError {
        kind,
        code: e
            .code
            .clone()
            .or_else(|| e.status.map(|s| format!("HTTP {s}"))),
        message: e.to_string(),
        request_id: e.request_id.clone(),
        retry_after: e.retry_after,
        hint: e.hint(),
        fate_unknown: e.fate_unknown,
    }
}

/// Entra ID has no unlock call: a smart lockout ends by itself, and a
/// password reset ends it at once.
fn no_unlock() -> DirError {
    DirError {
        kind: crate::directory::ErrorKind::Refused,
        code: None,
        message: "Microsoft Entra ID has no unlock operation".to_owned(),
        request_id: None,
        retry_after: None,
        hint: Some(crate::steps::Unlocked::GRAPH_HINT.to_owned()),
        fate_unknown: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_keep_their_text_code_and_class() {
        let mut e = GraphError::invalid_response("broken".into(), Some("rid".into()), None);
        let d = dir_error(e.clone());
        assert_eq!(d.kind, DirKind::Refused);
        assert_eq!(d.message, e.to_string());
        assert_eq!(d.request_id.as_deref(), Some("rid"));
        e.kind = ErrorKind::Server;
        e.status = Some(503);
        e.retry_after = Some(Duration::from_secs(2));
        let d = dir_error(e.clone());
        assert!(d.is_retryable() && !d.fate_unknown());
        assert_eq!(d.code.as_deref(), Some("HTTP 503"));
        assert_eq!(d.retry_after, Some(Duration::from_secs(2)));
        // The provider decides: a gateway's 504 may follow the change, and
        // an unreadable success happened but is not worth resending.
        e.status = Some(504);
        e.fate_unknown = true;
        let d = dir_error(e);
        assert!(d.is_retryable() && d.fate_unknown());
        let d = dir_error(GraphError::unreadable_success("x".into(), None, None));
        assert!(!d.is_retryable() && d.fate_unknown());
    }

    #[test]
    fn no_request_addresses_a_user_by_an_id_that_is_not_a_guid() {
        for id in [
            "",
            " ",
            "user@contoso.com",
            "..",
            "0f8fad5b-d9cb-469f-a165-70867728950",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        ] {
            let e = object_id(id, Operation::ResetPassword).unwrap_err();
            assert_eq!(e.kind, DirKind::Refused, "{id:?}");
            assert!(!e.fate_unknown(), "{id:?}: nothing was sent");
            assert!(e.message.contains("not a GUID"), "{}", e.message);
        }
        assert!(
            object_id(
                "0f8fad5b-d9cb-469f-a165-70867728950e",
                Operation::ResetPassword
            )
            .is_ok()
        );
    }

    use crate::graph::fake;

    const USER: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const CUSTOM: &str = "3a5c1d2e-1111-4222-8333-944455556666";

    fn routes(
        eligibility: (u16, serde_json::Value),
    ) -> std::collections::HashMap<String, (u16, serde_json::Value)> {
        use serde_json::json;
        let decoded = |r: crate::graph::GraphRequest| fake::key(&r);
        [
            (
                decoded(privilege::memberships(USER)),
                (
                    200,
                    json!({"value": [
                        {"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "Tier0 Admins", "isAssignableToRole": true},
                        {"@odata.type": "#microsoft.graph.group", "id": "g2", "displayName": "Sales", "isAssignableToRole": false},
                    ]}),
                ),
            ),
            (
                decoded(privilege::owned_objects(USER)),
                (200, json!({"value": []})),
            ),
            (
                decoded(privilege::role_assignments(USER)),
                (
                    200,
                    json!({"value": [{"id": "a1", "principalId": USER, "roleDefinitionId": CUSTOM, "directoryScopeId": "/"}]}),
                ),
            ),
            (decoded(privilege::role_eligibility(USER)), eligibility),
            (
                decoded(privilege::role_definition(CUSTOM)),
                (
                    200,
                    json!({"id": CUSTOM, "displayName": "Helpdesk Tier 2", "isBuiltIn": false}),
                ),
            ),
        ]
        .into_iter()
        .collect()
    }

    async fn graph(fake: Arc<fake::Fake>, batch: bool) -> GraphDirectory {
        let client = fake::client(&fake::serve(fake).await, None);
        let target = GraphDirectory::target_of(&client, None, None);
        GraphDirectory::new(
            client,
            SendOptions {
                concurrency: 1,
                batch,
                max_rate: None,
            },
            target,
        )
    }

    #[tokio::test]
    async fn the_guards_reads_are_batched_through_the_dispatcher() {
        use std::sync::atomic::Ordering;
        let fake = Arc::new(fake::Fake {
            routes: routes((200, serde_json::json!({"value": []}))),
            counts: fake::Counts::default(),
        });
        let dir = graph(fake.clone(), true).await;
        for _ in 0..2 {
            let p = dir.privileges(USER).await.unwrap();
            assert_eq!(
                p.protection("a@b.c", true).unwrap(),
                "protected: holds the directory role Helpdesk Tier 2; member of the role-assignable group Tier0 Admins"
            );
        }
        let c = &fake.counts;
        // Two checks' four lists, each check's sent as one batch of four; the
        // custom role's name read once (a lone request goes without an
        // envelope).
        assert_eq!(c.envelopes.load(Ordering::Relaxed), 2);
        assert_eq!(c.items.load(Ordering::Relaxed), 8);
        assert_eq!(c.direct.load(Ordering::Relaxed), 1);
        let paths = c.paths.lock().unwrap();
        assert_eq!(
            paths
                .iter()
                .filter(|p| p.contains("/roleDefinitions/"))
                .count(),
            1
        );
        assert!(
            paths.iter().any(|p| p
                == &format!(
                    "/roleManagement/directory/roleAssignments?$filter=principalId eq '{USER}'"
                )),
            "{paths:?}"
        );
        assert!(
            paths.iter().all(|p| !p.contains("memberOf/")),
            "no OData cast: {paths:?}"
        );
        drop(paths);
        // Three HTTP calls (two envelopes, one alone) carried nine answered
        // requests.
        let t = dir.traffic();
        assert_eq!((t.calls, t.answered, t.throttled), (3, 9, 0), "{t:?}");
        assert!(t.budget_per_second.is_some_and(|b| b > 0.0), "{t:?}");
    }

    #[tokio::test]
    async fn a_429_item_is_counted_as_an_answer_and_as_throttled() {
        use serde_json::json;
        let busy = json!({"error": {"code": "TooManyRequests", "message": "slow down"}});
        let fake = Arc::new(fake::Fake {
            routes: routes((429, busy)),
            counts: fake::Counts::default(),
        });
        let dir = graph(fake.clone(), true).await;
        let e = dir.privileges(USER).await.unwrap_err();
        assert_eq!(e.kind, DirKind::Throttled, "{e}");
        let c = &fake.counts;
        let sent = c.envelopes.load(std::sync::atomic::Ordering::Relaxed)
            + c.direct.load(std::sync::atomic::Ordering::Relaxed);
        let requests = c.items.load(std::sync::atomic::Ordering::Relaxed)
            + c.direct.load(std::sync::atomic::Ordering::Relaxed);
        assert!(requests > sent, "the lists travelled in a batch");
        let t = dir.traffic();
        assert_eq!(t.calls, sent, "{t:?}");
        assert_eq!(t.answered, requests, "every request got an answer: {t:?}");
        assert_eq!(t.throttled, 1, "{t:?}");
    }

    #[tokio::test]
    async fn a_refusal_protects_and_no_answer_is_an_error_to_retry() {
        use serde_json::json;
        let licence = json!({"error": {"code": "AadPremiumLicenseRequired", "message": "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."}});
        let fake = Arc::new(fake::Fake {
            routes: routes((400, licence)),
            counts: fake::Counts::default(),
        });
        let dir = graph(fake, false).await;
        let p = dir.privileges(USER).await.unwrap();
        assert!(p.unknown.iter().all(|u| u.unlicensed) && p.unknown.len() == 1);
        assert!(
            p.protection("a@b.c", false)
                .unwrap()
                .starts_with("protected: holds the directory role Helpdesk Tier 2")
        );

        let mut r = routes((200, json!({"value": []})));
        r.insert(
            fake::decode(&privilege::owned_objects(USER).path).unwrap(),
            (
                503,
                json!({"error": {"code": "ServiceUnavailable", "message": "busy"}}),
            ),
        );
        let fake = Arc::new(fake::Fake {
            routes: r,
            counts: fake::Counts::default(),
        });
        let dir = graph(fake.clone(), false).await;
        let e = dir.privileges(USER).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        // The engine's retry sends only the list that had no answer.
        let sent = |fake: &fake::Fake| {
            fake.counts
                .direct
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        assert_eq!(sent(&fake), 4);
        let e = dir.privileges(USER).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert_eq!(sent(&fake), 5);
        // A 503 is an answer too.
        let t = dir.traffic();
        assert_eq!((t.calls, t.answered, t.throttled), (5, 5, 0), "{t:?}");
        // Not a GUID: nothing is sent.
        let e = dir.privileges("adele@contoso.com").await.unwrap_err();
        assert!(e.message.contains("not a GUID"));
    }
}
