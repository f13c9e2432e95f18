//! Active Directory's binary identifiers as text: `objectGUID` (16 bytes,
//! the first three groups little-endian, as Windows shows a GUID) and
//! `objectSid` (revision, authority, sub-authorities: `S-1-5-21-…`).

use std::fmt::Write as _;

/// An `objectGUID` value as canonical lower-case GUID text, `None` unless
/// it is exactly 16 bytes.
pub fn guid_text(bytes: &[u8]) -> Option<String> {
    let b: [u8; 16] = bytes.try_into().ok()?;
    Some(uuid::Uuid::from_bytes_le(b).hyphenated().to_string())
}

/// The `objectGUID` bytes of GUID text (`8-4-4-4-12` hex digits, either
/// case, optionally in braces), `None` when it is not one.
pub fn guid_bytes(text: &str) -> Option<[u8; 16]> {
    let t = text.trim();
    let t = t
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(t);
    let shaped = t.len() == 36
        && t.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    if !shaped {
        return None;
    }
    uuid::Uuid::parse_str(t).ok().map(|u| u.to_bytes_le())
}

/// A security identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sid {
    pub revision: u8,
    pub authority: u64,
    pub sub: Vec<u32>,
}

impl Sid {
    /// Parses an `objectSid` value; `None` when it is malformed.
    pub fn from_bytes(b: &[u8]) -> Option<Sid> {
        let (&revision, rest) = b.split_first()?;
        let (&count, rest) = rest.split_first()?;
        let count = usize::from(count);
        if rest.len() != 6 + 4 * count || count > 15 {
            return None;
        }
        let authority = rest[..6]
            .iter()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        let sub = rest[6..]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Some(Sid {
            revision,
            authority,
            sub,
        })
    }

    /// The relative id (the last sub-authority).
    pub fn rid(&self) -> Option<u32> {
        self.sub.last().copied()
    }

    /// This SID without its RID (an account's domain SID).
    pub fn domain(&self) -> Sid {
        let mut d = self.clone();
        d.sub.pop();
        d
    }

    /// A domain account or group: `S-1-5-21-x-y-z-RID`.
    pub fn is_domain_relative(&self) -> bool {
        self.authority == 5 && self.sub.len() == 5 && self.sub[0] == 21
    }
}

impl std::fmt::Display for Sid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = format!("S-{}-{}", self.revision, self.authority);
        for x in &self.sub {
            let _ = write!(s, "-{x}");
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn guids_use_windows_byte_order_both_ways() {
        // As a Samba DC returned it and as Windows shows it.
        let raw = b64("X9vLoCIsoUWKAWjjt5ndZg==");
        let text = guid_text(&raw).unwrap();
        assert_eq!(text, "a0cbdb5f-2c22-45a1-8a01-68e3b799dd66");
        assert_eq!(guid_bytes(&text).unwrap().as_slice(), raw.as_slice());
        assert_eq!(
            guid_bytes("{A0CBDB5F-2C22-45A1-8A01-68E3B799DD66}")
                .unwrap()
                .as_slice(),
            raw.as_slice()
        );
        assert_eq!(guid_text(&raw[..15]), None);
        for bad in [
            "",
            "alice@corp.example",
            "a0cbdb5f2c2245a18a0168e3b799dd66",
            "a0cbdb5f-2c22-45a1-8a01-68e3b799dd6",
            "g0cbdb5f-2c22-45a1-8a01-68e3b799dd66",
            "urn:uuid:a0cbdb5f-2c22-45a1-8a01-68e3b799dd66",
        ] {
            assert_eq!(guid_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sids_parse_to_text_and_rid() {
        let user = Sid::from_bytes(&b64("AQUAAAAAAAUVAAAAU29pQ7vcVXrHKXJbTgQAAA==")).unwrap();
        assert_eq!(
            user.to_string(),
            "S-1-5-21-1130983251-2052447419-1534208455-1102"
        );
        assert_eq!(user.rid(), Some(1102));
        assert!(user.is_domain_relative());
        assert_eq!(
            user.domain().to_string(),
            "S-1-5-21-1130983251-2052447419-1534208455"
        );
        let domain = Sid::from_bytes(&b64("AQQAAAAAAAUVAAAAU29pQ7vcVXrHKXJb")).unwrap();
        assert_eq!(domain, user.domain());
        assert!(!domain.is_domain_relative());
        let admins = Sid::from_bytes(&b64("AQIAAAAAAAUgAAAAIAIAAA==")).unwrap();
        assert_eq!(admins.to_string(), "S-1-5-32-544");
        assert!(!admins.is_domain_relative());
        // Truncated, too long, empty.
        assert_eq!(Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 1, 0]), None);
        assert_eq!(Sid::from_bytes(&[1, 0, 0, 0, 0, 0, 0, 5, 9]), None);
        assert_eq!(Sid::from_bytes(&[]), None);
    }
}
