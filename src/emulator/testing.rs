//! Unit-test helpers (test builds only): an emulator [`State`] seeded from
//! CSV text, and Graph requests (alone or as a `$batch`) run through the
//! same pipeline as the server's ([`routes::execute`], [`batch::run`]),
//! without a socket.

use std::io::Write as _;

use hyper::{Method, StatusCode};
use serde_json::Value;

use super::batch;
use super::config::{EmulatorConfig, UserSource};
use super::faults::Scope;
use super::jwt::{Principal, service_principal_id};
use super::routes::{self, Call, Outcome};
use super::state::State;
use crate::graph::permissions::REMEDY_PERMISSIONS;

/// One user of each kind (all in `contoso.com` but the last).
pub(crate) const FIXTURE: &str = "\
userPrincipalName,roles,customRoles,scopedRoles,eligibleRoles,roleGroups,ownedRoleGroups,groups,units,restrictedUnits,ownedApplications,onPremisesSyncEnabled
plain@contoso.com,,,,,,,Sales,,,,
admin@contoso.com,Global Administrator,,,,,,,,,,
custom@contoso.com,,Helpdesk Tier 2,,,,,,,,,
scoped@contoso.com,,,Helpdesk Administrator@Region West,,,,,,,,
eligible@contoso.com,,,,Privileged Authentication Administrator,,,,,,,
member@contoso.com,User Administrator,,,,Tier0 Admins=Global Administrator;Identity Operators,,Sales,Region West,,,
owner@contoso.com,,,,,,Tier0 Admins,,,,Payroll,
restricted@contoso.com,,,,,,,,Region West,Executives,,
synced@contoso.com,,,,,,,,,,,true
fed@fabrikam.com,,,,,,,,,,,
";

/// The client id every test request comes from.
pub(crate) const APP: &str = "unit-test-app";

/// A seeded emulator state and the CSV file it was seeded from.
pub(crate) struct Harness {
    pub state: State,
    _csv: tempfile::NamedTempFile,
}

/// A test request's answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub(crate) fn values(&self) -> &[Value] {
        self.body["value"].as_array().map_or(&[], Vec::as_slice)
    }
}

impl Harness {
    /// A state seeded from `csv`, with `config`'s other options, its
    /// throttling clock stopped at 0 s (nothing refills between requests).
    pub(crate) fn new(csv: &str, config: EmulatorConfig) -> Self {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(csv.as_bytes()).unwrap();
        let mut state = State::new(EmulatorConfig {
            users: UserSource::Csv(file.path().to_owned()),
            ..config
        })
        .unwrap();
        state.frozen_at = Some(0.0);
        Harness { state, _csv: file }
    }

    /// The calling app's service principal id (the token's `oid`).
    pub(crate) fn oid(&self) -> String {
        service_principal_id(&self.state.config.tenant_id, APP).to_string()
    }

    /// The object id of the user whose UPN is `upn`.
    pub(crate) fn id(&self, upn: &str) -> String {
        self.state.directory.find(upn).unwrap().id.to_string()
    }

    /// `method url` (below `/v1.0`, query included) with every permission
    /// remedy uses.
    pub(crate) async fn call(&self, method: &str, url: &str, body: Option<Value>) -> Answer {
        self.call_as(REMEDY_PERMISSIONS, method, url, body).await
    }

    /// The same with the token's permissions `roles`, counting a write
    /// attempt as the server does.
    pub(crate) async fn call_as(
        &self,
        roles: &[&str],
        method: &str,
        url: &str,
        body: Option<Value>,
    ) -> Answer {
        let principal = self.principal(roles);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (url, None),
        };
        routes::note_write_attempt(&self.state, &method, path);
        let call = Call {
            method: &method,
            path,
            query,
            body: body.map(Ok),
            ids: self.state.new_ids(None),
        };
        match routes::execute(&self.state, &principal, &call, Scope::Direct, None).await {
            Outcome::Reply(reply) => Answer {
                status: reply.status,
                headers: reply.headers,
                body: reply.body.unwrap_or(Value::Null),
            },
            Outcome::Dropped => panic!("{url}: dropped"),
        }
    }

    fn principal(&self, roles: &[&str]) -> Principal {
        Principal {
            app_id: APP.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            oid: self.oid(),
        }
    }

    /// A `$batch` of `requests` (its `requests` array) with every
    /// permission: the answered items and the envelope's level.
    pub(crate) async fn batch(&self, requests: Value) -> batch::Answered {
        let body = serde_json::json!({ "requests": requests }).to_string();
        let items = batch::parse(body.as_bytes()).unwrap();
        batch::run(&self.state, &self.principal(REMEDY_PERMISSIONS), &items)
            .await
            .unwrap()
    }
}
