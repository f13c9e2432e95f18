//! A search result entry read from the server's BER without trusting its
//! shape (a malformed entry is `None`, never a panic), with
//! case-insensitive attribute names and typed getters.

use std::collections::HashMap;

use ldap3::asn1::{PL, StructureTag};

/// One entry of a search result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    /// Values by lower-cased attribute name.
    attrs: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    /// Parses a `SearchResultEntry` (`[APPLICATION 4] { dn, attributes }`).
    pub fn parse(tag: &StructureTag) -> Option<Entry> {
        if tag.id != 4 {
            return None;
        }
        let PL::C(parts) = &tag.payload else {
            return None;
        };
        let [dn, attributes] = parts.as_slice() else {
            return None;
        };
        let dn = String::from_utf8(primitive(dn)?.to_vec()).ok()?;
        let PL::C(list) = &attributes.payload else {
            return None;
        };
        let mut attrs: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for a in list {
            let PL::C(pair) = &a.payload else {
                return None;
            };
            let [name, values] = pair.as_slice() else {
                return None;
            };
            let name = String::from_utf8(primitive(name)?.to_vec()).ok()?;
            let PL::C(values) = &values.payload else {
                return None;
            };
            let values = values
                .iter()
                .map(|v| primitive(v).map(<[u8]>::to_vec))
                .collect::<Option<Vec<_>>>()?;
            // `name;range=0-1499` and other options name the same attribute.
            let base = name
                .split(';')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            attrs.entry(base).or_default().extend(values);
        }
        Some(Entry { dn, attrs })
    }

    /// An entry built in tests.
    #[cfg(test)]
    pub fn with(dn: &str, attrs: &[(&str, &[u8])]) -> Entry {
        let mut e = Entry {
            dn: dn.to_owned(),
            attrs: HashMap::new(),
        };
        for (k, v) in attrs {
            e.attrs
                .entry(k.to_ascii_lowercase())
                .or_default()
                .push(v.to_vec());
        }
        e
    }

    /// Whether the server returned `name` at all.
    pub fn has(&self, name: &str) -> bool {
        self.attrs.contains_key(&name.to_ascii_lowercase())
    }

    /// Every value of `name`.
    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attrs
            .get(&name.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The first value of `name`.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.values(name).first().map(Vec::as_slice)
    }

    /// The first value of `name` as UTF-8 text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.bytes(name).and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The first value of `name` as an integer (AD's INTEGER and
    /// LargeInteger syntaxes are decimal text).
    pub fn int(&self, name: &str) -> Option<i64> {
        self.text(name).and_then(|t| t.trim().parse().ok())
    }
}

fn primitive(t: &StructureTag) -> Option<&[u8]> {
    match &t.payload {
        PL::P(b) => Some(b),
        PL::C(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::TagClass;

    fn p(b: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(b.to_vec()),
        }
    }

    fn c(id: u64, class: TagClass, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class,
            id,
            payload: PL::C(inner),
        }
    }

    #[test]
    fn an_entry_parses_and_a_malformed_one_is_none() {
        let attr = |n: &[u8], vs: &[&[u8]]| {
            c(
                16,
                TagClass::Universal,
                vec![
                    p(n),
                    c(17, TagClass::Universal, vs.iter().map(|v| p(v)).collect()),
                ],
            )
        };
        let tag = c(
            4,
            TagClass::Application,
            vec![
                p(b"CN=a,DC=x"),
                c(
                    16,
                    TagClass::Universal,
                    vec![
                        attr(b"userAccountControl", &[b"514"]),
                        attr(b"objectGUID", &[&[0xff, 0x00]]),
                        attr(b"member;range=0-1", &[b"a", b"b"]),
                    ],
                ),
            ],
        );
        let e = Entry::parse(&tag).unwrap();
        assert_eq!(e.dn, "CN=a,DC=x");
        assert_eq!(e.int("useraccountcontrol"), Some(514));
        assert_eq!(e.bytes("OBJECTGUID"), Some(&[0xff, 0x00][..]));
        assert_eq!(e.text("objectGUID"), None);
        assert_eq!(e.values("member").len(), 2);
        assert!(!e.has("pwdLastSet"));
        // A primitive where a sequence belongs, a missing part, a wrong id.
        let bad = c(4, TagClass::Application, vec![p(b"CN=a"), p(b"x")]);
        assert_eq!(Entry::parse(&bad), None);
        let bad = c(4, TagClass::Application, vec![p(b"CN=a")]);
        assert_eq!(Entry::parse(&bad), None);
        let bad = c(5, TagClass::Application, vec![]);
        assert_eq!(Entry::parse(&bad), None);
        let bad = c(
            4,
            TagClass::Application,
            vec![p(&[0xff]), c(16, TagClass::Universal, vec![])],
        );
        assert_eq!(Entry::parse(&bad), None);
    }
}
