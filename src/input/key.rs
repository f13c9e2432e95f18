//! Recognising a user key: a user principal name (`alice@contoso.com`) or an
//! Entra object id (`0f8fad5b-d9cb-469f-a165-70867728950e`).
//!
//! These checks are deliberately syntactic: they catch cells that cannot
//! possibly name a user (blank, spaces, a display name in the key column,
//! a stray control character) without second-guessing the tenant's domains.

/// Characters that may not appear in the local part of a UPN. Entra accepts
/// letters, digits and most ASCII punctuation there (guest UPNs contain
/// `#EXT#`), but not these.
/// Far above Entra's own limit, but it keeps a runaway cell from passing.
const MAX_UPN_BYTES: usize = 1024;

const LOCAL_FORBIDDEN: &[char] = &['"', '(', ')', ',', ':', ';', '<', '>', '[', ']', '\\'];

/// Whether `s` looks like a user principal name: `local@domain.tld` with
/// exactly one `@`, no whitespace or invisible characters, a local part that
/// neither starts nor ends with a period, and a domain of at least two
/// dot-separated labels made of letters, digits and hyphens.
#[must_use]
pub fn is_upn(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if s.len() > MAX_UPN_BYTES || s.chars().any(|c| c.is_whitespace() || is_invisible(c)) {
        return false;
    }
    is_local_part(local) && is_domain(domain)
}

/// Control characters and the zero-width and direction marks that
/// copy-and-paste from web pages and chat tools leaves in a cell: a key
/// containing one looks right on screen but names no user.
pub(crate) fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

fn is_local_part(local: &str) -> bool {
    !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains(LOCAL_FORBIDDEN)
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(char::is_alphabetic))
}

/// Whether `s` is a DNS domain name as a tenant is named
/// (`contoso.onmicrosoft.com`): two or more ASCII labels of letters,
/// digits and inner hyphens, 63 characters at most each, 253 in all, and a
/// top-level label of letters. Shared by the playbook's tenant pin, the
/// credentials' tenant and the emulator's options.
#[must_use]
pub fn is_domain_name(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// Whether `s` is a GUID in the 8-4-4-4-12 hexadecimal form Graph uses for
/// object ids (no braces, either case).
#[must_use]
pub fn is_guid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A key as quoted in a message: control characters escaped, long keys cut.
pub(crate) fn shown(key: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = key.chars().take(MAX).flat_map(char::escape_debug).collect();
    if key.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{is_guid, is_upn};

    #[test]
    fn upn_table() {
        let cases = [
            ("alice@contoso.com", true),
            ("Alice.Smith@contoso.onmicrosoft.com", true),
            ("o'brien+ops@sub.contoso.co.uk", true),
            ("alice_fabrikam.com#EXT#@contoso.onmicrosoft.com", true),
            ("=cmd@contoso.com", true),
            ("josé@müller.de", true),
            ("a@b.c", true),
            ("", false),
            ("alice", false),
            ("alice@", false),
            ("@contoso.com", false),
            ("alice@contoso", false),
            ("alice@@contoso.com", false),
            ("alice@bob@contoso.com", false),
            ("alice smith@contoso.com", false),
            (" alice@contoso.com", false),
            ("alice@contoso.com ", false),
            ("alice\t@contoso.com", false),
            ("ali\u{7}ce@contoso.com", false),
            ("alice@contoso.com\u{0}", false),
            ("alice\u{200b}@contoso.com", false),
            ("alice@contoso.com\u{feff}", false),
            ("alice\u{a0}@contoso.com", false),
            (".alice@contoso.com", false),
            ("alice.@contoso.com", false),
            ("al..ice@contoso.com", false),
            ("alice@.contoso.com", false),
            ("alice@contoso..com", false),
            ("alice@contoso.com.", false),
            ("alice@-contoso.com", false),
            ("alice@contoso_x.com", false),
            ("alice@10.0.0.1", false),
            ("\"alice\"@contoso.com", false),
            ("Example: chris@contoso.com", false),
            ("0f8fad5b-d9cb-469f-a165-70867728950e", false),
        ];
        for (input, expected) in cases {
            assert_eq!(is_upn(input), expected, "is_upn({input:?})");
        }
    }

    #[test]
    fn guid_table() {
        let cases = [
            ("0f8fad5b-d9cb-469f-a165-70867728950e", true),
            ("0F8FAD5B-D9CB-469F-A165-70867728950E", true),
            ("00000000-0000-0000-0000-000000000000", true),
            ("", false),
            ("{0f8fad5b-d9cb-469f-a165-70867728950e}", false),
            ("0f8fad5bd9cb469fa16570867728950e", false),
            ("0f8fad5b-d9cb-469f-a165-70867728950", false),
            ("0f8fad5b-d9cb-469f-a165-70867728950e0", false),
            ("0f8fad5b_d9cb-469f-a165-70867728950e", false),
            ("0f8fad5g-d9cb-469f-a165-70867728950e", false),
            (" 0f8fad5b-d9cb-469f-a165-70867728950", false),
            ("alice@contoso.com", false),
        ];
        for (input, expected) in cases {
            assert_eq!(is_guid(input), expected, "is_guid({input:?})");
        }
    }
}
