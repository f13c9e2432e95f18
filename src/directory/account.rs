//! An account as a directory shows it, reduced to the properties remedy's
//! steps decide on and confirm with, and the typed value of one property
//! (what a plan records as "before → after").

use serde::{Deserialize, Serialize};

/// The properties remedy reads. Providers name them their own way
/// ([`crate::directory::Directory::label`]); the engine and the steps
/// speak of them only through this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    /// Whether the account may sign in.
    Enabled,
    /// When the password was last set (a time the directory sets).
    PasswordChanged,
    /// Sign-in sessions issued before this time are invalid (a time the
    /// directory sets when sessions are revoked).
    SessionsValidFrom,
    /// Whether the account is locked out now (too many bad passwords).
    Locked,
}

impl Property {
    /// Every property, in a fixed order (what a plan keeps per user is
    /// indexed by it).
    pub const ALL: [Property; 4] = [
        Property::Enabled,
        Property::PasswordChanged,
        Property::SessionsValidFrom,
        Property::Locked,
    ];

    /// This property's position in [`Property::ALL`].
    pub fn index(self) -> usize {
        match self {
            Property::Enabled => 0,
            Property::PasswordChanged => 1,
            Property::SessionsValidFrom => 2,
            Property::Locked => 3,
        }
    }
}

/// A 64-bit hash of a property's value (`None`: unknown), so that what a
/// plan saw can be compared with the account now without keeping the text
/// (FNV-1a over a type tag and the value; stable across processes).
pub fn value_hash(value: Option<&Value>) -> u64 {
    let (tag, text) = match value {
        None => (0u8, String::new()),
        Some(Value::Bool(b)) => (1, b.to_string()),
        Some(Value::Text(t)) => (2, t.clone()),
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::iter::once(tag).chain(text.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One property's value. Serialises as a plain JSON boolean or string, so
/// a plan's `"before": false` reads back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Text(String),
}

impl Value {
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Text(_) => None,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// `value`, or `unknown` when the directory did not say.
pub fn shown_value(value: Option<&Value>) -> String {
    value.map_or_else(|| "unknown".to_owned(), Value::to_string)
}

/// An account as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The directory's stable id of the account (Graph: the object id).
    pub id: String,
    /// The sign-in name, when the directory returned one.
    pub name: Option<String>,
    /// `None` only when the directory did not return it.
    pub enabled: Option<bool>,
    /// Mastered in another directory and synchronised here.
    pub synced: bool,
    pub password_changed: Option<String>,
    pub sessions_valid_from: Option<String>,
    /// Member, guest, …, as the directory calls it.
    pub kind: Option<String>,
    /// Locked out now; `None` when the directory does not say (Graph shows
    /// no lockout state).
    pub locked: Option<bool>,
    /// Whether the account signs in through another identity provider
    /// (Graph: its domain is federated), so that a password set here is
    /// not the one it signs in with. `None` until a step that needs to
    /// know has asked the directory.
    pub federated: Option<bool>,
}

impl Account {
    /// A guest (B2B) account: it signs in with its home directory.
    pub fn is_guest(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("guest"))
    }

    /// The value of `p`, `None` when unknown.
    pub fn get(&self, p: Property) -> Option<Value> {
        match p {
            Property::Enabled => self.enabled.map(Value::Bool),
            Property::PasswordChanged => self.password_changed.clone().map(Value::Text),
            Property::SessionsValidFrom => self.sessions_valid_from.clone().map(Value::Text),
            Property::Locked => self.locked.map(Value::Bool),
        }
    }

    /// Records that `p` now holds `v` (after a successful change).
    pub fn set(&mut self, p: Property, v: Value) {
        match (p, v) {
            (Property::Enabled, Value::Bool(b)) => self.enabled = Some(b),
            (Property::PasswordChanged, Value::Text(t)) => self.password_changed = Some(t),
            (Property::SessionsValidFrom, Value::Text(t)) => self.sessions_valid_from = Some(t),
            (Property::Locked, Value::Bool(b)) => self.locked = Some(b),
            // A value of the wrong type says nothing about the property.
            (Property::Enabled | Property::Locked, Value::Text(_))
            | (Property::PasswordChanged | Property::SessionsValidFrom, Value::Bool(_)) => {}
        }
    }
}

/// The property a desired-state step sets, before and after: what a plan
/// records and shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The provider's name of the property (`accountEnabled` on Graph).
    pub property: String,
    pub before: Option<Value>,
    pub after: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_serialise_as_plain_json() {
        let c = Change {
            property: "accountEnabled".into(),
            before: Some(Value::Bool(false)),
            after: Value::Bool(true),
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(
            text,
            r#"{"property":"accountEnabled","before":false,"after":true}"#
        );
        let unknown: Change =
            serde_json::from_str(r#"{"property":"p","before":null,"after":"t"}"#).unwrap();
        assert_eq!(unknown.before, None);
        assert_eq!(unknown.after, Value::Text("t".into()));
        assert_eq!(serde_json::from_str::<Change>(&text).unwrap(), c);
    }

    #[test]
    fn get_and_set_follow_the_property() {
        let mut a = Account {
            id: "1".into(),
            name: None,
            enabled: None,
            synced: false,
            password_changed: None,
            sessions_valid_from: Some("t0".into()),
            kind: None,
            locked: None,
            federated: None,
        };
        assert_eq!(a.get(Property::Enabled), None);
        a.set(Property::Enabled, Value::Bool(true));
        a.set(Property::Enabled, Value::Text("x".into()));
        assert_eq!(a.get(Property::Enabled), Some(Value::Bool(true)));
        assert_eq!(
            a.get(Property::SessionsValidFrom),
            Some(Value::Text("t0".into()))
        );
        assert_eq!(shown_value(None), "unknown");
    }

    #[test]
    fn value_hashes_tell_values_and_types_apart() {
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(
            value_hash(Some(&t("2026-01-01T00:00:00Z"))),
            value_hash(Some(&t("2026-01-01T00:00:00Z")))
        );
        assert_ne!(
            value_hash(Some(&t("2026-01-01T00:00:00Z"))),
            value_hash(Some(&t("2026-01-01T00:00:01Z")))
        );
        assert_ne!(
            value_hash(Some(&t("true"))),
            value_hash(Some(&Value::Bool(true)))
        );
        assert_ne!(value_hash(None), value_hash(Some(&t(""))));
        for (i, p) in Property::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
        }
    }
}
