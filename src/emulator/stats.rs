//! Counters behind `GET /_stats`: lock-free atomics bumped on the request
//! path, and the [`Stats`] snapshot they are read into.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::graph::permissions::Operation;

/// Requests per kind; field names match [`Operation::as_str`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByOperation {
    pub token: u64,
    pub read_user: u64,
    pub reset_password: u64,
    pub set_account_enabled: u64,
    pub revoke_sessions: u64,
    pub list_directory_roles: u64,
    pub list_memberships: u64,
    pub list_owned_objects: u64,
    pub list_role_assignments: u64,
    pub list_role_eligibility: u64,
    pub read_role_definition: u64,
    pub read_domain: u64,
    /// `$batch` requests (envelopes).
    pub batch: u64,
    /// Items inside them.
    pub batch_items: u64,
}

/// Injected faults that fired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    #[serde(rename = "500")]
    pub error_500: u64,
    #[serde(rename = "503")]
    pub error_503: u64,
    pub slow: u64,
    pub dropped_before_apply: u64,
    pub dropped_after_apply: u64,
    /// 504 Gateway Timeout answers, whether or not the change was applied.
    #[serde(rename = "504", default)]
    pub gateway_timeout: u64,
    /// Those of them answered after the change was applied.
    #[serde(rename = "504_after_apply", default)]
    pub gateway_timeout_after_apply: u64,
}

/// 429 answers by the `x-ms-throttle-scope` they named: `read` (a read
/// over the resource-unit limit), `readwrite` (a write over it), `write`
/// (a write over the write quota).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottledByScope {
    pub read: u64,
    pub write: u64,
    pub readwrite: u64,
}

/// What `GET /_stats` returns.
///
/// `requests` counts HTTP requests other than the `/_…` hooks (token,
/// Graph, `$batch` envelopes, unknown paths). `status` counts every answer
/// by status code: top-level responses and each `$batch` item alike, so a
/// batch of 20 GETs adds one `200` for the envelope and twenty for the
/// items. Operations count requests that reached them, including those
/// then throttled or faulted; a PATCH that both resets a password and
/// enables the account counts once under each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub requests: u64,
    pub by_operation: ByOperation,
    pub status: BTreeMap<String, u64>,
    /// 429 answers (requests and items).
    pub throttled: u64,
    /// The same by scope.
    #[serde(default)]
    pub throttled_by_scope: ThrottledByScope,
    /// Write requests (POST, PATCH, PUT, DELETE; `$batch` items included,
    /// envelopes not) that reached the throttle, as the write quota counts
    /// them: also those then throttled or faulted.
    #[serde(default)]
    pub writes: u64,
    /// Resource units charged: the sum of every metered answer's
    /// `x-ms-resource-unit`, refused requests included (they debit too).
    #[serde(default)]
    pub resource_units: u64,
    pub faults: FaultStats,
    /// The most Graph HTTP requests ever handled at once.
    pub max_in_flight: u64,
    pub in_flight: u64,
    pub users_reset_more_than_once: u64,
    pub users_revoked_more_than_once: u64,
    /// Password resets applied.
    pub resets: u64,
    /// Session revocations applied.
    pub revokes: u64,
    /// `accountEnabled` changes applied (setting the current value is not a change).
    pub enable_changes: u64,
}

/// Status codes are counted in a fixed array; 100–599 covers HTTP.
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;

#[derive(Debug)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub token: AtomicU64,
    ops: [AtomicU64; Operation::ALL.len()],
    pub batch: AtomicU64,
    pub batch_items: AtomicU64,
    status: Box<[AtomicU64]>,
    pub throttled: AtomicU64,
    pub throttled_read: AtomicU64,
    pub throttled_write: AtomicU64,
    pub throttled_readwrite: AtomicU64,
    pub writes: AtomicU64,
    pub resource_units: AtomicU64,
    pub gateway_timeout: AtomicU64,
    pub gateway_timeout_after_apply: AtomicU64,
    pub error_500: AtomicU64,
    pub error_503: AtomicU64,
    pub slow: AtomicU64,
    pub dropped_before_apply: AtomicU64,
    pub dropped_after_apply: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    pub users_reset_more_than_once: AtomicU64,
    pub users_revoked_more_than_once: AtomicU64,
    pub resets: AtomicU64,
    pub revokes: AtomicU64,
    pub enable_changes: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            requests: AtomicU64::new(0),
            token: AtomicU64::new(0),
            ops: Default::default(),
            batch: AtomicU64::new(0),
            batch_items: AtomicU64::new(0),
            status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            throttled: AtomicU64::new(0),
            throttled_read: AtomicU64::new(0),
            throttled_write: AtomicU64::new(0),
            throttled_readwrite: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            resource_units: AtomicU64::new(0),
            gateway_timeout: AtomicU64::new(0),
            gateway_timeout_after_apply: AtomicU64::new(0),
            error_500: AtomicU64::new(0),
            error_503: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            dropped_before_apply: AtomicU64::new(0),
            dropped_after_apply: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            users_reset_more_than_once: AtomicU64::new(0),
            users_revoked_more_than_once: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            revokes: AtomicU64::new(0),
            enable_changes: AtomicU64::new(0),
        }
    }
}

/// Counts a Graph request as in flight until dropped (also when the
/// connection is killed and the request's future with it).
pub(crate) struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn op(&self, op: Operation) {
        if let Some(i) = Operation::ALL.iter().position(|o| *o == op) {
            bump(&self.ops[i]);
        }
    }

    pub(crate) fn status(&self, status: u16) {
        if let Some(slot) = status
            .checked_sub(STATUS_MIN)
            .and_then(|i| self.status.get(usize::from(i)))
        {
            bump(slot);
        }
    }

    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    /// Zero every counter except `in_flight`, which tracks live requests.
    pub(crate) fn reset(&self) {
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        for c in self.all() {
            c.store(0, Ordering::Relaxed);
        }
        self.in_flight.store(in_flight, Ordering::Relaxed);
        self.max_in_flight.store(in_flight, Ordering::Relaxed);
    }

    fn all(&self) -> impl Iterator<Item = &AtomicU64> {
        [
            &self.requests,
            &self.token,
            &self.batch,
            &self.batch_items,
            &self.throttled,
            &self.throttled_read,
            &self.throttled_write,
            &self.throttled_readwrite,
            &self.writes,
            &self.resource_units,
            &self.gateway_timeout,
            &self.gateway_timeout_after_apply,
            &self.error_500,
            &self.error_503,
            &self.slow,
            &self.dropped_before_apply,
            &self.dropped_after_apply,
            &self.users_reset_more_than_once,
            &self.users_revoked_more_than_once,
            &self.resets,
            &self.revokes,
            &self.enable_changes,
        ]
        .into_iter()
        .chain(self.ops.iter())
        .chain(self.status.iter())
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let op = |o: Operation| {
            Operation::ALL
                .iter()
                .position(|x| *x == o)
                .map_or(0, |i| get(&self.ops[i]))
        };
        let status = self
            .status
            .iter()
            .zip(STATUS_MIN..)
            .filter_map(|(c, code)| {
                let n = get(c);
                (n > 0).then(|| (code.to_string(), n))
            })
            .collect();
        Stats {
            requests: get(&self.requests),
            by_operation: ByOperation {
                token: get(&self.token),
                read_user: op(Operation::ReadUser),
                reset_password: op(Operation::ResetPassword),
                set_account_enabled: op(Operation::SetAccountEnabled),
                revoke_sessions: op(Operation::RevokeSessions),
                list_directory_roles: op(Operation::ListDirectoryRoles),
                list_memberships: op(Operation::ListMemberships),
                list_owned_objects: op(Operation::ListOwnedObjects),
                list_role_assignments: op(Operation::ListRoleAssignments),
                list_role_eligibility: op(Operation::ListRoleEligibility),
                read_role_definition: op(Operation::ReadRoleDefinition),
                read_domain: op(Operation::ReadDomain),
                batch: get(&self.batch),
                batch_items: get(&self.batch_items),
            },
            status,
            throttled: get(&self.throttled),
            throttled_by_scope: ThrottledByScope {
                read: get(&self.throttled_read),
                write: get(&self.throttled_write),
                readwrite: get(&self.throttled_readwrite),
            },
            writes: get(&self.writes),
            resource_units: get(&self.resource_units),
            faults: FaultStats {
                error_500: get(&self.error_500),
                error_503: get(&self.error_503),
                slow: get(&self.slow),
                dropped_before_apply: get(&self.dropped_before_apply),
                dropped_after_apply: get(&self.dropped_after_apply),
                gateway_timeout: get(&self.gateway_timeout),
                gateway_timeout_after_apply: get(&self.gateway_timeout_after_apply),
            },
            max_in_flight: get(&self.max_in_flight),
            in_flight: get(&self.in_flight),
            users_reset_more_than_once: get(&self.users_reset_more_than_once),
            users_revoked_more_than_once: get(&self.users_revoked_more_than_once),
            resets: get(&self.resets),
            revokes: get(&self.revokes),
            enable_changes: get(&self.enable_changes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_match_the_permission_table() {
        let json = serde_json::to_value(ByOperation::default()).unwrap();
        for op in Operation::ALL {
            assert!(json.get(op.as_str()).is_some(), "{}", op.as_str());
        }
    }

    #[test]
    fn counts_and_resets() {
        let c = Counters::default();
        c.op(Operation::RevokeSessions);
        c.status(200);
        c.status(200);
        c.status(429);
        c.status(42);
        {
            let _a = c.in_flight();
            let _b = c.in_flight();
        }
        let s = c.snapshot();
        assert_eq!(s.by_operation.revoke_sessions, 1);
        assert_eq!(s.status.get("200"), Some(&2));
        assert_eq!(s.status.len(), 2);
        assert_eq!((s.in_flight, s.max_in_flight), (0, 2));
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["faults"].get("503").is_some());
        c.resource_units.fetch_add(3, Ordering::Relaxed);
        bump(&c.throttled_write);
        bump(&c.gateway_timeout);
        let json = serde_json::to_value(c.snapshot()).unwrap();
        assert_eq!(json["resource_units"], 3);
        assert_eq!(
            json["throttled_by_scope"],
            serde_json::json!({"read": 0, "write": 1, "readwrite": 0})
        );
        assert_eq!(json["faults"]["504"], 1);
        assert_eq!(json["faults"]["504_after_apply"], 0);
        assert_eq!(json["writes"], 0);
        c.reset();
        assert_eq!(c.snapshot(), Stats::default());
    }
}
