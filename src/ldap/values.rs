//! The attribute values remedy writes and the evidence it reads back:
//! `unicodePwd` (UTF-16LE of the quoted password, zeroized when dropped),
//! the `userAccountControl` disable bit, and the `unicodePwd` entry of
//! `replPropertyMetaData`.
//!
//! # Why the password's evidence is the replication metadata
//!
//! `pwdLastSet` alone does not move on every reset: a reset that forces a
//! change at next sign-in sets it to `0`, so resetting an account already
//! at `0` leaves it unchanged. The `unicodePwd` entry of the binary
//! `replPropertyMetaData` (MS-DRSR `PROPERTY_META_DATA_EXT_VECTOR`) has a
//! version that every write of the password increments, on Windows and on
//! Samba (checked against Samba 4.17, which does not return the XML
//! `msDS-ReplAttributeMetaData`). The evidence text is `v<version>` and
//! `pwdLastSet`, so it moves on every reset.

use zeroize::Zeroizing;

/// `userAccountControl`'s ACCOUNTDISABLE bit.
pub const UAC_DISABLED: u32 = 0x2;
/// `msDS-User-Account-Control-Computed`'s LOCKOUT bit.
pub const UAC_LOCKED: u32 = 0x10;
/// The attribute id of `unicodePwd` in replication metadata.
pub const ATTID_UNICODE_PWD: u32 = 0x0009_005A;

/// The `unicodePwd` value for `password`: UTF-16LE of `"password"`. The
/// buffer is wiped when dropped.
pub fn unicode_pwd(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity((password.len() + 2) * 2));
    for unit in "\""
        .encode_utf16()
        .chain(password.encode_utf16())
        .chain("\"".encode_utf16())
    {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// `uac` with only the disable bit changed: set to block sign-in, cleared
/// to allow it.
pub fn with_enabled(uac: u32, enabled: bool) -> u32 {
    if enabled {
        uac & !UAC_DISABLED
    } else {
        uac | UAC_DISABLED
    }
}

/// One attribute's replication metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrMeta {
    pub attid: u32,
    pub version: u32,
    /// Seconds since 1601-01-01 UTC of the originating write.
    pub changed: u64,
}

/// The entries of a `replPropertyMetaData` blob (version 1: a 16-byte
/// header with the count, then 48-byte entries); `None` when malformed.
pub fn repl_meta(blob: &[u8]) -> Option<Vec<AttrMeta>> {
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    if u32_at(blob, 0)? != 1 {
        return None;
    }
    let count = usize::try_from(u32_at(blob, 8)?).ok()?;
    let body = blob.get(16..)?;
    if body.len() != count.checked_mul(48)? {
        return None;
    }
    body.chunks_exact(48)
        .map(|e| {
            Some(AttrMeta {
                attid: u32_at(e, 0)?,
                version: u32_at(e, 4)?,
                changed: u64::from_le_bytes(e.get(8..16)?.try_into().ok()?),
            })
        })
        .collect()
}

/// The password evidence: `v<version of unicodePwd>/<pwdLastSet>`, or
/// `pwdLastSet <n>` alone when the metadata is not readable.
pub fn password_evidence(meta: Option<&[u8]>, pwd_last_set: Option<i64>) -> Option<String> {
    let version = meta
        .and_then(repl_meta)
        .and_then(|m| m.into_iter().find(|a| a.attid == ATTID_UNICODE_PWD))
        .map(|a| a.version);
    match (version, pwd_last_set) {
        (Some(v), Some(p)) => Some(format!("v{v}/{p}")),
        (Some(v), None) => Some(format!("v{v}")),
        (None, Some(p)) => Some(format!("pwdLastSet {p}")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn the_password_is_quoted_utf16le() {
        assert_eq!(
            unicode_pwd("Ab1!").as_slice(),
            &[b'"', 0, b'A', 0, b'b', 0, b'1', 0, b'!', 0, b'"', 0]
        );
        // Outside the BMP: a surrogate pair.
        assert_eq!(
            unicode_pwd("é😀").as_slice(),
            &[b'"', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, b'"', 0]
        );
        assert_eq!(unicode_pwd("").as_slice(), &[b'"', 0, b'"', 0]);
    }

    #[test]
    fn the_disable_bit_flips_alone() {
        // NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD | PASSWORD_NOTREQD.
        let uac = 0x200 | 0x1_0000 | 0x20;
        assert_eq!(with_enabled(uac, false), uac | 2);
        assert_eq!(with_enabled(uac | 2, true), uac);
        assert_eq!(with_enabled(uac, true), uac);
        assert_eq!(with_enabled(uac | 2, false), uac | 2);
        assert_eq!(with_enabled(u32::MAX, true), u32::MAX - 2);
    }

    fn blob(entries: &[(u32, u32, u64)]) -> Vec<u8> {
        let mut b = Vec::new();
        for x in [1u32, 0, u32::try_from(entries.len()).unwrap(), 0] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        for &(attid, version, time) in entries {
            b.extend_from_slice(&attid.to_le_bytes());
            b.extend_from_slice(&version.to_le_bytes());
            b.extend_from_slice(&time.to_le_bytes());
            b.extend_from_slice(&[7; 16]);
            b.extend_from_slice(&9u64.to_le_bytes());
            b.extend_from_slice(&9u64.to_le_bytes());
        }
        b
    }

    #[test]
    fn replication_metadata_parses_and_gives_the_password_version() {
        let b = blob(&[(0x0000_0003, 1, 10), (ATTID_UNICODE_PWD, 4, 13_440_693_424)]);
        let m = repl_meta(&b).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[1],
            AttrMeta {
                attid: ATTID_UNICODE_PWD,
                version: 4,
                changed: 13_440_693_424
            }
        );
        assert_eq!(
            password_evidence(Some(&b), Some(0)).as_deref(),
            Some("v4/0")
        );
        let later = blob(&[(ATTID_UNICODE_PWD, 5, 13_440_693_500)]);
        assert_ne!(
            password_evidence(Some(&b), Some(0)),
            password_evidence(Some(&later), Some(0))
        );
        assert_eq!(
            password_evidence(None, Some(7)).as_deref(),
            Some("pwdLastSet 7")
        );
        assert_eq!(password_evidence(None, None), None);
        // Truncated, wrong version, count beyond the data.
        assert_eq!(repl_meta(&b[..b.len() - 1]), None);
        let mut wrong = b.clone();
        wrong[0] = 2;
        assert_eq!(repl_meta(&wrong), None);
        let mut count = b.clone();
        count[8] = 200;
        assert_eq!(repl_meta(&count), None);
        assert_eq!(repl_meta(&[]), None);
    }

    #[test]
    fn a_samba_blob_has_the_password_entry() {
        // Two entries of a blob a Samba 4.17 DC returned for a user whose
        // password had been set three times.
        let b = base64::engine::general_purpose::STANDARD.decode("AQAAAAAAAAACAAAAAAAAAAAAAAABAAAApbQgIQMAAAB/kVcVgepsQ4LaQZknnnC6Yg8AAAAAAABiDwAAAAAAAFoACQADAAAAsLQgIQMAAAB/kVcVgepsQ4LaQZknnnC6ZQ8AAAAAAABlDwAAAAAAAA==").unwrap();
        let m = repl_meta(&b).unwrap();
        assert_eq!(m[1].attid, ATTID_UNICODE_PWD);
        assert_eq!(m[1].version, 3);
    }
}
