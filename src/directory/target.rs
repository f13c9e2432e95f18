//! Which directory a run addresses, recorded in the run manifest and the
//! plan header in provider-neutral terms.

use serde::{Deserialize, Serialize};

/// The directory a run, a plan or a verify pass talked to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `graph` (Microsoft Entra ID through Microsoft Graph).
    pub provider: String,
    /// The service root (Graph: `https://graph.microsoft.com`).
    pub endpoint: String,
    /// The tenant, domain or realm the credentials are for (Graph: the
    /// token's `tid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Who acts (Graph: the app id of the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The target's name in a hybrid playbook (`targets:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Target {
    /// `tenant T (https://graph…)`, `domain corp.example (ldaps://dc1…)`,
    /// and in a hybrid run the target's name first.
    pub fn describe(&self) -> String {
        let realm = if self.provider == "active_directory" {
            "domain"
        } else {
            "tenant"
        };
        let name = self
            .name
            .as_ref()
            .map_or_else(String::new, |n| format!("{n}: "));
        format!(
            "{name}{realm} {} ({})",
            self.realm.as_deref().unwrap_or("(unknown)"),
            self.endpoint
        )
    }
}

/// A [`Target`] in a manifest or a plan header (flattened into it):
/// written as a `target` object and, for Graph, also as the `tenant`,
/// `app_id` and `graph_url` fields that files had before it (so scripts
/// and older remedy versions that read them keep working); read from
/// `target`, or from those fields in files written before it, so older
/// runs still resume, list and verify, and older plans still apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded(pub Target);

impl std::ops::Deref for Recorded {
    type Target = Target;

    fn deref(&self) -> &Target {
        &self.0
    }
}

impl Serialize for Recorded {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            target: &'a Target,
            #[serde(skip_serializing_if = "Option::is_none")]
            tenant: Option<Option<&'a str>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            app_id: Option<Option<&'a str>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            graph_url: Option<&'a str>,
        }
        let t = &self.0;
        let graph = t.provider == "graph";
        Out {
            target: t,
            tenant: graph.then_some(t.realm.as_deref()),
            app_id: graph.then_some(t.principal.as_deref()),
            graph_url: graph.then_some(t.endpoint.as_str()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Recorded {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct In {
            #[serde(default)]
            target: Option<Target>,
            #[serde(default)]
            tenant: Option<String>,
            #[serde(default)]
            app_id: Option<String>,
            #[serde(default)]
            graph_url: Option<String>,
        }
        let raw = In::deserialize(d)?;
        Ok(Recorded(raw.target.unwrap_or_else(|| Target {
            provider: "graph".to_owned(),
            endpoint: raw.graph_url.unwrap_or_default(),
            realm: raw.tenant,
            principal: raw.app_id,
            name: None,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct File {
        id: u32,
        #[serde(flatten)]
        target: Recorded,
    }

    #[test]
    fn written_as_target_and_read_from_older_graph_fields() {
        let t = Target {
            provider: "graph".into(),
            endpoint: "https://graph.microsoft.com".into(),
            realm: Some("tid".into()),
            principal: Some("app".into()),
            name: None,
        };
        let f = File {
            id: 1,
            target: Recorded(t.clone()),
        };
        let text = serde_json::to_string(&f).unwrap();
        assert_eq!(
            text,
            r#"{"id":1,"target":{"provider":"graph","endpoint":"https://graph.microsoft.com","realm":"tid","principal":"app"},"tenant":"tid","app_id":"app","graph_url":"https://graph.microsoft.com"}"#
        );
        assert_eq!(serde_json::from_str::<File>(&text).unwrap(), f);
        let old =
            r#"{"id":1,"tenant":"tid","app_id":"app","graph_url":"https://graph.microsoft.com"}"#;
        assert_eq!(serde_json::from_str::<File>(old).unwrap(), f);
        let older = r#"{"id":1,"tenant":null,"graph_url":"http://127.0.0.1:1"}"#;
        let r = serde_json::from_str::<File>(older).unwrap().target;
        assert_eq!(
            (r.realm.as_deref(), r.endpoint.as_str()),
            (None, "http://127.0.0.1:1")
        );
    }
}
