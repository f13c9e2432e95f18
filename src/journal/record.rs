//! Journal records: one JSON object per line, tagged by `type`.

use serde::{Deserialize, Serialize};

use crate::directory::{Account, Property, Value};

/// The first line: what run this journal belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub run_id: String,
    pub playbook_sha256: String,
    pub csv_sha256: String,
    pub dry_run: bool,
    pub remedy_version: String,
}

impl Header {
    /// The header of a new run's journal, from its manifest.
    pub fn of(m: &crate::rundir::Manifest) -> Self {
        Header {
            format: crate::journal::FORMAT,
            run_id: m.run_id.clone(),
            playbook_sha256: m.inputs.playbook_sha256.clone(),
            csv_sha256: m.inputs.csv_sha256.clone(),
            dry_run: m.dry_run,
            remedy_version: m.remedy_version.clone(),
        }
    }
}

/// The account as read before an action, so a resumed run can tell
/// whether the action happened (the timestamp moved) or not. The field
/// names are the journal format's and do not change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Before {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_password_change: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_sessions_valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
}

impl Before {
    /// The properties of `account` a step's evidence may need.
    pub fn of(account: &Account) -> Self {
        Before {
            account_enabled: account.enabled,
            last_password_change: account.password_changed.clone(),
            sign_in_sessions_valid_from: account.sessions_valid_from.clone(),
            locked: account.locked,
        }
    }

    /// The value of `p` as journaled, `None` when unknown.
    pub fn get(&self, p: Property) -> Option<Value> {
        match p {
            Property::Enabled => self.account_enabled.map(Value::Bool),
            Property::PasswordChanged => self.last_password_change.clone().map(Value::Text),
            Property::SessionsValidFrom => {
                self.sign_in_sessions_valid_from.clone().map(Value::Text)
            }
            Property::Locked => self.locked.map(Value::Bool),
        }
    }
}

/// How a step ended, in Ansible's vocabulary (plus the dry run's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Already in the desired state.
    Ok,
    /// Changed by this run.
    Changed,
    /// Dry run: would be changed.
    WouldChange,
    Failed,
    /// Condition false, protected user, or an earlier step failed.
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Changed => "changed",
            StepStatus::WouldChange => "would_change",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// How a user ended overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Every step ok, changed, would change or skipped.
    Done,
    Failed,
    /// Not touched at all (protected, not found is `Failed`).
    Skipped,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    /// About to send the request that performs `step` for `user`.
    Intent {
        row: u64,
        user: String,
        step: String,
        user_id: String,
        before: Before,
        /// When the intent was recorded (RFC 3339, UTC): `remedy verify`
        /// checks that the action's timestamp moved past it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<String>,
    },
    /// `step` for `user` ended.
    Outcome {
        row: u64,
        user: String,
        step: String,
        status: StepStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        attempts: u32,
    },
    /// Every step of `user` has an outcome: a resumed run skips the user
    /// without reading anything else about it.
    UserDone {
        row: u64,
        user: String,
        status: UserStatus,
    },
}

impl Record {
    /// The JSON line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// A 64-bit hash of a case-folded user key: what a resumed run keeps per
/// finished user (8 bytes, not the key), so a million-user resume stays
/// small. FNV-1a: stable across processes and versions, unlike std's
/// randomly keyed hasher.
pub fn key_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_tagged_lines() {
        let r = Record::Outcome {
            row: 2,
            user: "a@b.com".into(),
            step: "reset".into(),
            status: StepStatus::Changed,
            reason: None,
            code: None,
            request_id: Some("rid".into()),
            attempts: 1,
        };
        let line = r.to_line();
        assert!(line.ends_with(b"\n"));
        let text = std::str::from_utf8(&line).unwrap();
        assert!(text.starts_with(r#"{"type":"outcome","row":2"#), "{text}");
        assert_eq!(serde_json::from_str::<Record>(text.trim()).unwrap(), r);
    }

    #[test]
    fn key_hash_ignores_case_and_is_stable() {
        assert_eq!(key_hash("Adele@Contoso.com"), key_hash("adele@contoso.com"));
        assert_ne!(key_hash("a@b.com"), key_hash("b@b.com"));
        assert_eq!(key_hash(""), 0xcbf2_9ce4_8422_2325);
    }
}
