//! Reaching the directories a playbook acts on: for a Graph target, a
//! client from the connection options or the in-process emulator seeded
//! from the CSV, the access token, and the tenant pin checked against the
//! token's tenant; then a [`Directory`] per target.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::directory::{Directory, Target};
use crate::graph::auth::{AccessToken, Credential};
use crate::graph::client::ClientOptions;
use crate::graph::cloud::{Cloud, Endpoints};
use crate::graph::{GraphClient, GraphDirectory, SendOptions};
use crate::input;
use crate::ldap::{LdapConfig, LdapDirectory};
use crate::playbook::Playbook;
use crate::playbook::checked::LdapSpec;
use crate::playbook::checked::Provider;
use crate::session::config::{Connection, LdapOptions};
use crate::session::error::SessionError;
use crate::session::ui::{Notice, Ui};

/// A Graph client and its token.
pub(super) struct GraphLink {
    pub client: GraphClient,
    pub token: Arc<AccessToken>,
}

/// What a session is connected to: Graph when a target is Graph (the
/// emulator behind it when emulated).
pub(super) struct Connected {
    pub graph: Option<GraphLink>,
    /// The Active Directory target's pool of bound connections.
    pub ldap: Option<Arc<LdapDirectory>>,
    pub emulator: Option<crate::emulator::RunningEmulator>,
}

impl Connected {
    /// The Graph token's tenant id.
    pub fn tenant(&self) -> Option<String> {
        self.graph
            .as_ref()
            .and_then(|g| g.token.claims.as_ref())
            .and_then(|c| c.tid.clone())
    }

    /// The Graph token's application id.
    pub fn app_id(&self) -> Option<String> {
        self.graph
            .as_ref()
            .and_then(|g| g.token.claims.as_ref())
            .and_then(|c| c.app_id().map(str::to_owned))
    }

    /// What each of the playbook's targets is, in its order: what the
    /// manifest, the plan header and a resume compare.
    pub fn targets(&self, playbook: &Playbook) -> Vec<Target> {
        playbook
            .targets
            .iter()
            .map(|spec| {
                let mut t = match (spec.provider, &self.graph, &self.ldap) {
                    (Provider::Graph, Some(g), _) => {
                        GraphDirectory::target_of(&g.client, self.tenant(), self.app_id())
                    }
                    (Provider::ActiveDirectory, _, Some(l)) => l.target().clone(),
                    (provider, _, _) => Target {
                        provider: provider.as_str().to_owned(),
                        ..Target::default()
                    },
                };
                if playbook.is_hybrid() {
                    t.name = Some(spec.name.clone());
                }
                t
            })
            .collect()
    }

    /// A directory per playbook target, in its order, sending as `send`
    /// says.
    pub fn directories(&self, playbook: &Playbook, send: SendOptions) -> Vec<Directory> {
        let targets = self.targets(playbook);
        playbook
            .targets
            .iter()
            .zip(targets)
            .filter_map(
                |(spec, target)| match (spec.provider, &self.graph, &self.ldap) {
                    (Provider::Graph, Some(g), _) => Some(Directory::Graph(GraphDirectory::new(
                        g.client.clone(),
                        send,
                        target,
                    ))),
                    (Provider::ActiveDirectory, _, Some(l)) => Some(Directory::Ldap(l.clone())),
                    _ => None,
                },
            )
            .collect()
    }
}

/// Connects to every directory `playbook` acts on: Graph as `connection`
/// says (token, tenant pin), Active Directory as the playbook and the
/// environment say (bind, domain pin).
pub(super) async fn connect(
    connection: &Connection,
    ldap: &LdapOptions,
    concurrency: usize,
    users: &Path,
    playbook: &Playbook,
    ui: &dyn Ui,
) -> Result<Connected, SessionError> {
    let has_graph = playbook
        .targets
        .iter()
        .any(|t| t.provider == Provider::Graph);
    if !has_graph && matches!(connection, Connection::Emulate) {
        return Err(SessionError::EmulateWithoutGraph);
    }
    let ldap = match playbook.targets.iter().find_map(|t| t.ldap.as_ref()) {
        Some(spec) => Some(Arc::new(connect_ldap(spec, ldap, concurrency).await?)),
        None => None,
    };
    let graph = match playbook
        .targets
        .iter()
        .find(|t| t.provider == Provider::Graph)
    {
        Some(t) => Some(connect_graph(connection, users, t.tenant.as_deref(), ui).await?),
        None => None,
    };
    let (graph, emulator) = match graph {
        Some((g, emu)) => (Some(g), emu),
        None => (None, None),
    };
    Ok(Connected {
        graph,
        ldap,
        emulator,
    })
}

/// Binds to the Active Directory target with the identity the
/// environment names; checks the domain pin.
pub async fn connect_ldap(
    spec: &LdapSpec,
    options: &LdapOptions,
    concurrency: usize,
) -> Result<LdapDirectory, SessionError> {
    let mut config = LdapConfig::from_env(
        spec.clone(),
        |k| std::env::var(k).ok(),
        options.ca_file.clone(),
        concurrency,
    )?;
    if let Some(t) = options.timeout {
        config.timeout = t;
    }
    Ok(LdapDirectory::connect(config).await?)
}

/// A Graph client (or the emulator) and its token; the tenant pin holds.
async fn connect_graph(
    connection: &Connection,
    users: &Path,
    pin: Option<&str>,
    ui: &dyn Ui,
) -> Result<(GraphLink, Option<crate::emulator::RunningEmulator>), SessionError> {
    let (client, emulator) = match connection {
        Connection::Emulate => {
            let (emu, client) = start_emulator(users)
                .await
                .map_err(SessionError::Emulator)?;
            ui.notice(Notice::Emulator {
                url: emu.url(),
                tenant: emu.tenant_domain().to_owned(),
            });
            (client, Some(emu))
        }
        Connection::Graph(options) => (options.connect()?, None),
    };
    let token = client.tokens().token().await.map_err(SessionError::Token)?;
    if let Some(pin) = pin {
        let tid = token.claims.as_ref().and_then(|c| c.tid.clone());
        check_tenant(
            &client,
            pin,
            tid.as_deref(),
            emulator.as_ref().map(|e| e.tenant_domain()),
        )
        .await
        .map_err(|message| SessionError::TenantPin {
            message,
            pin: pin.to_owned(),
        })?;
    }
    Ok((GraphLink { client, token }, emulator))
}

/// Starts the in-process emulator seeded from the CSV, and a client for it.
async fn start_emulator(
    users: &Path,
) -> Result<(crate::emulator::RunningEmulator, GraphClient), String> {
    let config = crate::emulator::EmulatorConfig {
        users: crate::emulator::UserSource::Csv(users.to_owned()),
        ..crate::emulator::EmulatorConfig::default()
    };
    let emu = crate::emulator::start(config)
        .await
        .map_err(|e| e.to_string())?;
    let endpoints = Endpoints::resolve(Cloud::Global, Some(&emu.url()), Some(&emu.url()))
        .map_err(|e| e.to_string())?;
    let credential = Credential::ClientSecret {
        tenant: emu.tenant_id().to_owned(),
        client_id: "remedy-emulate".to_owned(),
        // Any secret will do; a random one never collides with text the
        // redactor would then hide ("emulator" would).
        secret: SecretString::from(format!("emulate-{}", uuid::Uuid::new_v4())),
    };
    let client = GraphClient::build(&ClientOptions::default(), endpoints, credential)
        .map_err(|e| e.to_string())?;
    Ok((emu, client))
}

/// The tenant pin holds when the token's tenant is the pinned GUID, or the
/// pinned domain resolves (OpenID metadata) to the token's tenant.
async fn check_tenant(
    client: &GraphClient,
    pin: &str,
    tid: Option<&str>,
    emulated_domain: Option<&str>,
) -> Result<(), String> {
    let Some(tid) = tid else {
        return Err(
            "the access token does not name its tenant, so the tenant pin cannot be checked".into(),
        );
    };
    if pin.eq_ignore_ascii_case(tid) || emulated_domain.is_some_and(|d| d.eq_ignore_ascii_case(pin))
    {
        return Ok(());
    }
    if input::is_guid(pin) {
        return Err(format!(
            "the credentials are for tenant {tid}, not the pinned {pin}"
        ));
    }
    let url = format!(
        "{}/{pin}/v2.0/.well-known/openid-configuration",
        client.endpoints().authority
    );
    // The authority's own client: the same TLS trust (`--ca-file`) and
    // proxy rule as the token request.
    let issuer = async {
        let v: serde_json::Value = client
            .tokens()
            .http()
            .get(&url)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?
            .json()
            .await
            .ok()?;
        v.get("issuer")?.as_str().map(str::to_owned)
    }
    .await
    .ok_or_else(|| format!("cannot resolve the pinned tenant domain {pin} ({url})"))?;
    // The authority chose this text: no secret it was sent may come back.
    let issuer = client.tokens().redactor().scrub(&issuer).into_owned();
    if issuer_names_tenant(&issuer, tid) {
        Ok(())
    } else {
        Err(format!(
            "the credentials are for tenant {tid}, but {pin} belongs to another tenant ({issuer})"
        ))
    }
}

/// Whether an OpenID issuer (`https://login.microsoftonline.com/{tid}/v2.0`)
/// names tenant `tid`: the first segment of its path is the tenant GUID,
/// compared exactly (case aside), never found anywhere in the text.
fn issuer_names_tenant(issuer: &str, tid: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    let first = url
        .path_segments()
        .and_then(|mut s| s.find(|seg| !seg.is_empty()));
    first.is_some_and(|seg| input::is_guid(seg) && seg.eq_ignore_ascii_case(tid))
}

#[cfg(test)]
mod tests {
    use super::issuer_names_tenant;

    const TID: &str = "0f0f0f0f-1111-4222-8333-944445555666";

    #[test]
    fn the_issuer_names_the_tenant_by_its_path_not_by_a_substring() {
        let ok = format!("https://login.microsoftonline.com/{TID}/v2.0");
        assert!(issuer_names_tenant(&ok, TID));
        assert!(issuer_names_tenant(
            &ok.to_ascii_uppercase().replace(
                "HTTPS://LOGIN.MICROSOFTONLINE.COM",
                "https://login.microsoftonline.com"
            ),
            TID
        ));
        // Another tenant whose issuer merely contains the GUID elsewhere.
        for other in [
            format!(
                "https://login.microsoftonline.com/aaaaaaaa-1111-4222-8333-944445555666/v2.0?x={TID}"
            ),
            format!(
                "https://login.microsoftonline.com/aaaaaaaa-1111-4222-8333-944445555666/{TID}/v2.0"
            ),
            format!("https://{TID}.example.com/aaaaaaaa-1111-4222-8333-944445555666/v2.0"),
            format!("https://login.microsoftonline.com/{TID}x/v2.0"),
            format!("https://login.microsoftonline.com/x{TID}/v2.0"),
            format!("not a url {TID}"),
        ] {
            assert!(!issuer_names_tenant(&other, TID), "{other}");
        }
        // A tid that is only part of a GUID is not that GUID.
        assert!(!issuer_names_tenant(&ok, "0f0f0f0f"));
    }
}
