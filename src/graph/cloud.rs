//! National clouds and endpoint roots: where tokens and Graph calls go.
//!
//! Both roots are scheme + host (+ port) without a path, e.g.
//! `https://graph.microsoft.com` and `https://login.microsoftonline.com`;
//! remedy adds `/v1.0/…` and `/{tenant}/oauth2/v2.0/token`. Plain `http://`
//! is accepted only for loopback hosts (the emulator), so a typo cannot send
//! credentials in clear text across a network.

use std::net::IpAddr;

use url::Url;

/// The Microsoft clouds, each with its own login and Graph hosts. Tokens do
/// not cross clouds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Cloud {
    /// Microsoft Entra ID global service (also GCC).
    #[default]
    Global,
    /// US Government L4 (GCC High).
    Usgov,
    /// US Government L5 (DoD).
    UsgovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    pub const ALL: [Cloud; 4] = [Cloud::Global, Cloud::Usgov, Cloud::UsgovDod, Cloud::China];

    /// `(login root, Graph root)`.
    pub fn roots(self) -> (&'static str, &'static str) {
        match self {
            Cloud::Global => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
            ),
            Cloud::Usgov => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
            ),
            Cloud::UsgovDod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
            ),
            Cloud::China => (
                "https://login.partner.microsoftonline.cn",
                "https://microsoftgraph.chinacloudapi.cn",
            ),
        }
    }
}

/// A refused endpoint root.
#[derive(Debug, thiserror::Error)]
#[error("{what} `{value}` {reason}")]
pub struct EndpointError {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

/// The two roots remedy talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Graph root, no trailing slash.
    pub graph: String,
    /// Authority (login) root, no trailing slash.
    pub authority: String,
}

impl Endpoints {
    /// The cloud's roots, each replaced by an override when given.
    pub fn resolve(
        cloud: Cloud,
        graph_url: Option<&str>,
        authority_url: Option<&str>,
    ) -> Result<Self, EndpointError> {
        let (login, graph) = cloud.roots();
        let endpoints = Endpoints {
            graph: root("--graph-url", graph_url.unwrap_or(graph))?,
            authority: root("--authority-url", authority_url.unwrap_or(login))?,
        };
        // Tokens do not cross clouds: a known login host of one cloud with
        // the known Graph host of another can only fail, or send a token
        // where it does not belong.
        let login_of = |url: &str| {
            Cloud::ALL
                .iter()
                .filter(|c| c.roots().0 == url)
                .copied()
                .collect::<Vec<_>>()
        };
        let graph_of = |url: &str| Cloud::ALL.iter().find(|c| c.roots().1 == url).copied();
        if let Some(g) = graph_of(&endpoints.graph) {
            let logins = login_of(&endpoints.authority);
            if !logins.is_empty() && !logins.contains(&g) {
                return Err(EndpointError {
                    what: "--authority-url (or AZURE_AUTHORITY_HOST)",
                    value: endpoints.authority.clone(),
                    reason: format!(
                        "is the login of another cloud than the Graph root {} ({g:?}); tokens do not cross clouds",
                        endpoints.graph
                    ),
                });
            }
        }
        Ok(endpoints)
    }

    /// `https://graph.microsoft.com/v1.0` + `path` (which starts with `/`).
    pub fn graph_v1(&self, path: &str) -> String {
        format!("{}/v1.0{path}", self.graph)
    }

    /// The OAuth 2.0 token endpoint of `tenant`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.authority)
    }

    /// The client-credentials scope: every permission granted to the app on
    /// this Graph.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.graph)
    }

    /// True when both roots are loopback addresses (the emulator).
    pub fn is_loopback(&self) -> bool {
        self.first_non_loopback().is_none()
    }

    /// The first root (Graph, then authority) that is not a loopback address.
    pub fn first_non_loopback(&self) -> Option<&str> {
        [&self.graph, &self.authority]
            .into_iter()
            .find(|u| !is_loopback_root(u))
            .map(String::as_str)
    }
}

/// Whether `root` (a URL) names a loopback host: `localhost`, 127.0.0.0/8
/// or `::1`, any scheme and port.
pub fn is_loopback_root(root: &str) -> bool {
    Url::parse(root).ok().as_ref().is_some_and(is_loopback_url)
}

/// Validates and normalises a root URL.
fn root(what: &'static str, value: &str) -> Result<String, EndpointError> {
    let err = |reason: &str| EndpointError {
        what,
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(value.trim()).map_err(|e| err(&format!("is not a URL ({e})")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(err(
            "must be a root without a path, e.g. `https://graph.microsoft.com`",
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_url(&url) => {}
        "http" => {
            return Err(err(
                "uses plain http to a non-loopback host; credentials and passwords would cross the network unencrypted: use https",
            ));
        }
        other => return Err(err(&format!("has unsupported scheme `{other}`"))),
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_have_matching_hosts() {
        let e = Endpoints::resolve(Cloud::UsgovDod, None, None).unwrap();
        assert_eq!(e.graph, "https://dod-graph.microsoft.us");
        assert_eq!(e.authority, "https://login.microsoftonline.us");
        assert_eq!(
            e.graph_v1("/users/a"),
            "https://dod-graph.microsoft.us/v1.0/users/a"
        );
        assert_eq!(
            e.token_url("contoso.com"),
            "https://login.microsoftonline.us/contoso.com/oauth2/v2.0/token"
        );
        assert_eq!(e.scope(), "https://dod-graph.microsoft.us/.default");
    }

    #[test]
    fn overrides_are_validated() {
        let e = Endpoints::resolve(
            Cloud::Global,
            Some("http://127.0.0.1:8080/"),
            Some("http://[::1]:9"),
        )
        .unwrap();
        assert_eq!(e.graph, "http://127.0.0.1:8080");
        assert!(e.is_loopback());
        for bad in [
            "http://graph.example.com",
            "http://10.0.0.5",
            "https://graph.microsoft.com/v1.0",
            "ftp://x",
            "https://user:pw@graph.microsoft.com",
            "not a url",
        ] {
            assert!(
                Endpoints::resolve(Cloud::Global, Some(bad), None).is_err(),
                "{bad}"
            );
        }
        let err = Endpoints::resolve(Cloud::Global, Some("http://graph.example.com"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("use https"), "{err}");
    }

    #[test]
    fn a_login_of_one_cloud_with_the_graph_of_another_is_refused() {
        let err = Endpoints::resolve(
            Cloud::Global,
            None,
            Some("https://login.partner.microsoftonline.cn"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("another cloud") && err.contains("AZURE_AUTHORITY_HOST"),
            "{err}"
        );
        // The two US government clouds share their login host.
        assert!(
            Endpoints::resolve(
                Cloud::UsgovDod,
                None,
                Some("https://login.microsoftonline.us")
            )
            .is_ok()
        );
        assert!(
            Endpoints::resolve(
                Cloud::Global,
                Some("https://dod-graph.microsoft.us"),
                Some("https://login.microsoftonline.us")
            )
            .is_ok()
        );
        // Unknown hosts (a proxy, the emulator) are the operator's choice.
        assert!(
            Endpoints::resolve(Cloud::Global, None, Some("https://login.proxy.example.com"))
                .is_ok()
        );
        assert!(Endpoints::resolve(Cloud::China, Some("http://127.0.0.1:9"), None).is_ok());
    }
}
