//! What can go wrong talking to Active Directory: [`LdapError`] for
//! setting up (configuration, TLS, connecting, binding, the domain pin),
//! and the mapping of a failed LDAP call to the neutral [`DirError`]:
//! result codes to kinds, AD's hex code (`0000052D`, `data 52e`) kept in
//! `code`, the server's text cleaned (secrets scrubbed, control
//! characters escaped, length bounded) and a hint for an admin.

use std::path::PathBuf;

use crate::directory::{DirError, ErrorKind};
use crate::graph::redact::Redactor;

/// The longest server text kept in a message.
const TEXT_CHARS: usize = 300;

/// A failure to set the provider up. Never holds the bind password.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("{name} is not set")]
    MissingEnv { name: &'static str },
    #[error("both REMEDY_LDAP_PASSWORD and REMEDY_LDAP_PASSWORD_FILE are set")]
    TwoPasswords,
    #[error("cannot use the password file {}: {reason}", path.display())]
    PasswordFile { path: PathBuf, reason: String },
    #[error("{0}")]
    CaFile(String),
    #[error("cannot set up TLS for {url}: {reason}")]
    Tls { url: String, reason: String },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the bind as {bind_dn} to {url} failed: {reason}")]
    Bind {
        url: String,
        bind_dn: String,
        /// The LDAP result code name and AD's `data` code.
        code: String,
        reason: String,
    },
    #[error("cannot read the domain at {url}: {reason}")]
    Domain { url: String, reason: String },
    #[error("the playbook pins the domain {pinned}, but {url} serves {dns} ({sid})")]
    DomainPin {
        url: String,
        pinned: String,
        dns: String,
        sid: String,
    },
}

impl LdapError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            LdapError::MissingEnv { name } if *name == "REMEDY_LDAP_BIND_DN" => {
                "set REMEDY_LDAP_BIND_DN to the DN (or user principal name) of the account remedy binds as, e.g. CN=svc-remedy,OU=Service,DC=corp,DC=example".into()
            }
            LdapError::MissingEnv { .. } => {
                "set REMEDY_LDAP_PASSWORD_FILE to a file (mode 0600) holding the bind password, or REMEDY_LDAP_PASSWORD".into()
            }
            LdapError::TwoPasswords => "set only one of them".into(),
            LdapError::PasswordFile { .. } => {
                "the file must be readable by its owner only (chmod 600), like an ssh key, and hold the password on its first line".into()
            }
            LdapError::CaFile(_) => {
                "give a PEM file holding one or more `BEGIN CERTIFICATE` blocks (the CA that signs the domain controller's certificate)".into()
            }
            LdapError::Tls { .. } | LdapError::Connect { .. } => {
                "check the url (ldaps://host:636, or ldap://host:389 for StartTLS), that the domain controller is reachable, and that its certificate is issued for that host name by a CA the system trusts or --ca-file names".into()
            }
            LdapError::Bind { code, .. } => bind_hint(code).into(),
            LdapError::Domain { .. } => {
                "check base_dn: it must be in the domain the domain controller serves, and the bind identity must be able to read the domain object".into()
            }
            LdapError::DomainPin { .. } => {
                "the url reaches another domain than the playbook's `domain` names: check both".into()
            }
        }
    }
}

fn bind_hint(code: &str) -> &'static str {
    if code.contains("data 775") {
        "the bind account is locked out: unlock it or wait for the lockout to end"
    } else if code.contains("data 532") || code.contains("data 773") {
        "the bind account's password has expired or must be changed: set a new one"
    } else if code.contains("data 533") {
        "the bind account is disabled"
    } else if code.starts_with("invalidCredentials") {
        "check REMEDY_LDAP_BIND_DN and the bind password"
    } else if code.starts_with("strongerAuthRequired")
        || code.starts_with("confidentialityRequired")
    {
        "the domain controller refuses simple binds without TLS: use ldaps:// or ldap:// (remedy always starts TLS)"
    } else {
        "check the bind identity and that the domain controller accepts simple binds over TLS"
    }
}

/// What a call was doing, for messages and hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Read,
    Privileges,
    ResetPassword,
    SetEnabled,
    Unlock,
}

impl Call {
    fn what(self) -> &'static str {
        match self {
            Call::Read => "reading the account",
            Call::Privileges => "reading the account's privileges",
            Call::ResetPassword => "resetting the password",
            Call::SetEnabled => "writing userAccountControl",
            Call::Unlock => "clearing lockoutTime",
        }
    }

    fn is_write(self) -> bool {
        matches!(self, Call::ResetPassword | Call::SetEnabled | Call::Unlock)
    }

    /// The right the bind identity needs for this call.
    fn right(self) -> &'static str {
        match self {
            Call::Read => {
                "Read on the user objects (userAccountControl, pwdLastSet, replPropertyMetaData)"
            }
            Call::Privileges => {
                "Read on the user and group objects (objectSid, adminCount, primaryGroupID, member)"
            }
            Call::ResetPassword => {
                "the Reset Password extended right (and Write pwdLastSet for a forced change)"
            }
            Call::SetEnabled => "Write userAccountControl",
            Call::Unlock => "Write lockoutTime",
        }
    }
}

/// An LDAP result code's name (RFC 4511 appendix A).
pub fn code_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        80 => "other",
        _ => "unknown",
    }
}

/// AD's own code in a result's text: the leading `0000052D:` of most
/// errors, and the `data 52e` of a bind's.
pub fn ad_code(text: &str) -> Option<String> {
    let mut parts = Vec::new();
    let head: String = text.chars().take(8).collect();
    if head.len() == 8 && head.chars().all(|c| c.is_ascii_hexdigit()) && text[8..].starts_with(':')
    {
        parts.push(head.to_ascii_uppercase());
    }
    if let Some(at) = text.find("data ") {
        let data: String = text[at + 5..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        if !data.is_empty() {
            parts.push(format!("data {data}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The code field of a result: its name and AD's code.
pub fn result_code(rc: u32, text: &str) -> String {
    match ad_code(text) {
        Some(ad) => format!("{} {ad}", code_name(rc)),
        None => code_name(rc).to_owned(),
    }
}

/// Server text fit to keep: secrets scrubbed, control characters escaped,
/// cut to [`TEXT_CHARS`].
pub fn clean(text: &str, secrets: &Redactor) -> String {
    let scrubbed = secrets.scrub(text);
    let mut out = String::new();
    for (i, c) in scrubbed
        .trim_end_matches(['\0', '\n', '\r', ' '])
        .chars()
        .enumerate()
    {
        if i == TEXT_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A failed LDAP call as a [`DirError`]. `secrets` holds what the request
/// carried (a new password), scrubbed from any text the server sent.
pub fn dir_error(e: &ldap3::LdapError, call: Call, secrets: &Redactor) -> DirError {
    match e {
        ldap3::LdapError::LdapResult { result } => {
            from_result(result.rc, &result.text, call, secrets)
        }
        ldap3::LdapError::Timeout { .. } => DirError {
            kind: ErrorKind::Timeout,
            code: Some("timeout".into()),
            message: format!("LDAP: no answer in time while {}", call.what()),
            request_id: None,
            retry_after: None,
            hint: Some("the domain controller is slow or unreachable; raise --timeout or lower --concurrency".into()),
            fate_unknown: call.is_write(),
        },
        other => connection(&clean(&other.to_string(), secrets), call),
    }
}

/// A broken or closed connection while making `call`.
pub fn connection(reason: &str, call: Call) -> DirError {
    DirError {
        kind: ErrorKind::Connection,
        code: Some("connection".into()),
        message: format!("LDAP: the connection failed while {}: {reason}", call.what()),
        request_id: None,
        retry_after: None,
        hint: Some("the domain controller closed or lost the connection; remedy reconnects on the next call".into()),
        fate_unknown: call.is_write(),
    }
}

/// A result code other than success as a [`DirError`].
pub fn from_result(rc: u32, text: &str, call: Call, secrets: &Redactor) -> DirError {
    let text = clean(text, secrets);
    let code = result_code(rc, &text);
    let password_call = call == Call::ResetPassword;
    let (kind, hint): (ErrorKind, Option<String>) = match rc {
        19 if password_call => (
            ErrorKind::Refused,
            Some("the domain's password policy refused the password: length, complexity, history or minimum age".into()),
        ),
        50 => (
            ErrorKind::Refused,
            Some(format!("the bind identity lacks {} on this account (delegate it on the OU, or check that the account is not protected by AdminSDHolder)", call.right())),
        ),
        53 if password_call => (
            ErrorKind::Refused,
            Some("Active Directory writes passwords only over an encrypted connection with a 128-bit key: use ldaps:// or StartTLS, and check the domain controller's TLS settings".into()),
        ),
        32 => (ErrorKind::NotFound, None),
        51 | 52 | 3 | 11 => (
            ErrorKind::Unavailable,
            Some("the domain controller is busy or unavailable; remedy retries".into()),
        ),
        _ => (ErrorKind::Refused, None),
    };
    DirError {
        kind,
        message: format!(
            "LDAP {} ({rc}) while {}: {text}",
            code_name(rc),
            call.what()
        ),
        code: Some(code),
        request_id: None,
        retry_after: None,
        hint,
        fate_unknown: false,
    }
}

/// A refusal made before anything was sent.
pub fn refused(message: String, hint: Option<String>) -> DirError {
    DirError {
        kind: ErrorKind::Refused,
        code: None,
        message,
        request_id: None,
        retry_after: None,
        hint,
        fate_unknown: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!";

    #[test]
    fn ad_codes_are_found_in_the_text() {
        assert_eq!(ad_code(POLICY).as_deref(), Some("0000052D"));
        assert_eq!(
            ad_code("80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563").as_deref(),
            Some("80090308 data 52e")
        );
        assert_eq!(ad_code("no such object"), None);
        assert_eq!(ad_code("ab"), None);
        assert_eq!(ad_code("ééééééééé: x"), None);
        assert_eq!(result_code(19, POLICY), "constraintViolation 0000052D");
    }

    #[test]
    fn result_codes_map_to_kinds_and_hints() {
        let none = Redactor::new();
        let e = from_result(19, POLICY, Call::ResetPassword, &none);
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains("too short"), "{}", e.message);
        assert!(e.hint.as_deref().unwrap().contains("password policy"));
        assert!(!e.is_retryable() && !e.fate_unknown());
        let e = from_result(50, "00002098: insufficient", Call::Unlock, &none);
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.hint.as_deref().unwrap().contains("Write lockoutTime"));
        let e = from_result(50, "", Call::ResetPassword, &none);
        assert!(e.hint.as_deref().unwrap().contains("Reset Password"));
        let e = from_result(50, "", Call::SetEnabled, &none);
        assert!(
            e.hint
                .as_deref()
                .unwrap()
                .contains("Write userAccountControl")
        );
        assert_eq!(
            from_result(32, "", Call::Read, &none).kind,
            ErrorKind::NotFound
        );
        for rc in [51, 52] {
            assert!(from_result(rc, "", Call::Read, &none).is_retryable());
        }
        let e = from_result(53, "0000001F: SvcErr", Call::ResetPassword, &none);
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.hint.as_deref().unwrap().contains("encrypted"));
        assert_eq!(e.code.as_deref(), Some("unwillingToPerform 0000001F"));
    }

    #[test]
    fn the_password_never_survives_in_a_message() {
        let secrets = Redactor::new().with("S3cret-Pa55!");
        let e = from_result(
            19,
            "0000052D: the password S3cret-Pa55! is in history\n\u{7}",
            Call::ResetPassword,
            &secrets,
        );
        assert!(!e.message.contains("S3cret"), "{}", e.message);
        assert!(e.message.contains("[redacted]"), "{}", e.message);
        assert!(!e.message.contains('\n') && !e.message.contains('\u{7}'));
        assert!(!format!("{e:?}").contains("S3cret"));
        let long = "x".repeat(5000);
        assert!(clean(&long, &secrets).chars().count() <= TEXT_CHARS + 1);
    }

    #[test]
    fn broken_connections_leave_a_write_in_doubt() {
        let io = ldap3::LdapError::Io {
            source: std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        };
        let none = Redactor::new();
        let w = dir_error(&io, Call::ResetPassword, &none);
        assert_eq!(w.kind, ErrorKind::Connection);
        assert!(w.fate_unknown() && w.is_retryable());
        let r = dir_error(&io, Call::Read, &none);
        assert!(!r.fate_unknown() && r.is_retryable());
    }

    #[test]
    fn bind_hints_follow_ads_data_code() {
        assert!(bind_hint("invalidCredentials 80090308 data 775").contains("locked"));
        assert!(bind_hint("invalidCredentials 80090308 data 52e").contains("password"));
        assert!(bind_hint("strongerAuthRequired").contains("TLS"));
    }
}
