//! LDAP search filters built from untrusted text: RFC 4515 value escaping
//! (`*`, `(`, `)`, `\`, NUL, every other control byte and every non-ASCII
//! byte become `\xx`), the binary `objectGUID` filter value, and the
//! account filter remedy finds users with.

use std::fmt::Write as _;

/// `value` escaped for use as an assertion value in a filter (RFC 4515
/// section 3): the characters the grammar reserves, NUL, control bytes and
/// every byte of a non-ASCII character are written as `\xx`.
pub fn escape(value: &str) -> String {
    escape_bytes(value.as_bytes(), false)
}

/// Every byte of `bytes` as `\xx` (a binary value such as an
/// `objectGUID`), or only the bytes [`escape`] escapes when `all` is false.
pub fn escape_bytes(bytes: &[u8], all: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        let reserved = matches!(b, b'*' | b'(' | b')' | b'\\' | 0) || !(0x20..0x7f).contains(&b);
        if all || reserved {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\{b:02x}");
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// A user account whose `attr` equals the already escaped `value`.
pub fn account(attr: &str, escaped_value: &str) -> String {
    format!("(&(objectCategory=person)(objectClass=user)({attr}={escaped_value}))")
}

/// The groups `dn` is a member of, directly or through nested groups
/// (`LDAP_MATCHING_RULE_IN_CHAIN`, `1.2.840.113556.1.4.1941`).
pub fn groups_of(dn: &str) -> String {
    format!(
        "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={}))",
        escape(dn)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_nul_and_non_ascii_are_escaped() {
        assert_eq!(escape("alice@corp.example"), "alice@corp.example");
        assert_eq!(escape("a*b"), "a\\2ab");
        assert_eq!(escape("(x)"), "\\28x\\29");
        assert_eq!(escape("a\\b"), "a\\5cb");
        assert_eq!(escape("a\0b"), "a\\00b");
        assert_eq!(escape("a\nb"), "a\\0ab");
        // UTF-8: each byte of the character.
        assert_eq!(escape("zoë"), "zo\\c3\\ab");
        assert_eq!(escape("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn binary_values_escape_every_byte() {
        assert_eq!(
            escape_bytes(&[0x5f, 0xdb, 0x00, b'a'], true),
            "\\5f\\db\\00\\61"
        );
        assert_eq!(escape_bytes(b"a(", false), "a\\28");
    }

    #[test]
    fn account_and_group_filters() {
        assert_eq!(
            account("sAMAccountName", &escape("bob*")),
            "(&(objectCategory=person)(objectClass=user)(sAMAccountName=bob\\2a))"
        );
        assert_eq!(
            groups_of("CN=Smith\\, J (ops),CN=Users,DC=corp,DC=example"),
            "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Smith\\5c, J \\28ops\\29,CN=Users,DC=corp,DC=example))"
        );
    }
}
