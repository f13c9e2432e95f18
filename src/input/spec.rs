//! What a check is held to: the playbook's [`InputSpec`] (the key column
//! and the columns it uses), and [`MAX_DIAGNOSTICS`], how many problems one
//! file's check keeps. Shared by the checker, its rules and the duplicate
//! finder.

/// At most this many diagnostics are kept per file; the rest are counted
/// in one final `csv::too-many-problems`.
pub const MAX_DIAGNOSTICS: usize = 200;

/// What a playbook expects of its CSV: the key column and the columns it
/// uses (the key may be listed there too).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputSpec {
    pub key: String,
    pub columns: Vec<String>,
    /// What a key cell must look like.
    pub key_kind: KeyKind,
}

/// The form of the CSV's keys, as the playbook's targets find accounts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyKind {
    /// A user principal name or an object id (Graph; Active Directory's
    /// default `find_by: user_principal_name`, where a GUID key is looked
    /// up as an `objectGUID`).
    #[default]
    UpnOrId,
    /// A pre-Windows 2000 logon name (`find_by: sam_account_name`).
    SamAccountName,
    /// A GUID only (`find_by: object_guid`).
    Guid,
}

impl KeyKind {
    /// Whether `key` has this form.
    pub fn accepts(self, key: &str) -> bool {
        match self {
            KeyKind::UpnOrId => crate::input::is_upn(key) || crate::input::is_guid(key),
            KeyKind::Guid => crate::input::is_guid(key),
            KeyKind::SamAccountName => is_sam_account_name(key),
        }
    }

    /// What the key was expected to be, for the diagnostic.
    pub fn expected(self) -> (&'static str, &'static str) {
        match self {
            KeyKind::UpnOrId => (
                "a user principal name nor an object id",
                "expected a UPN such as `alice@contoso.com` or an object id such as",
            ),
            KeyKind::Guid => (
                "an objectGUID",
                "the playbook finds accounts by `object_guid`: expected a GUID such as",
            ),
            KeyKind::SamAccountName => (
                "a sAMAccountName",
                "the playbook finds accounts by `sam_account_name`: expected a logon name such as `alice` (at most 20 characters, none of \" / \\ [ ] : ; | = , + * ? < > @) rather than a UPN",
            ),
        }
    }
}

/// A user's `sAMAccountName`: 1–20 characters, no surrounding space, none
/// of the characters Active Directory refuses in it, and not only dots
/// or spaces.
pub fn is_sam_account_name(s: &str) -> bool {
    const BAD: &[char] = &[
        '"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@',
    ];
    let n = s.chars().count();
    (1..=20).contains(&n)
        && s == s.trim()
        && !s.chars().any(|c| BAD.contains(&c) || c.is_control())
        && !s.chars().all(|c| c == '.' || c == ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_kind_accepts_its_own_form() {
        let guid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert!(KeyKind::UpnOrId.accepts("alice@contoso.com"));
        assert!(KeyKind::UpnOrId.accepts(guid));
        assert!(!KeyKind::UpnOrId.accepts("alice"));
        assert!(KeyKind::Guid.accepts(guid));
        assert!(!KeyKind::Guid.accepts("alice@contoso.com"));
        assert!(KeyKind::SamAccountName.accepts("alice"));
        assert!(KeyKind::SamAccountName.accepts("bob.smith-2"));
        for bad in [
            "alice@contoso.com",
            "",
            " alice",
            "a,b",
            "a*",
            "...",
            "abcdefghijklmnopqrstu",
            "tab\there",
        ] {
            assert!(!KeyKind::SamAccountName.accepts(bad), "{bad:?}");
        }
        assert!(KeyKind::SamAccountName.accepts("abcdefghijklmnopqrst"));
    }
}
