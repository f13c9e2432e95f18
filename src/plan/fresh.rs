//! Whether a plan still applies: the playbook and CSV bytes it was made
//! from (SHA-256), the tenant of the credentials, and its age.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::plan::file::PlanHeader;
use crate::plan::index::PlanError;

/// How far in the future a plan's creation time may lie (clock skew
/// between machines) before it is refused.
const FUTURE_SKEW: Duration = Duration::from_secs(300);

/// What an `apply` found, to compare with what the plan is bound to.
#[derive(Debug, Clone)]
pub struct Binding<'a> {
    pub playbook_sha256: &'a str,
    pub csv_sha256: &'a str,
    /// The realm of the first target now (Graph: the token's tenant id,
    /// when the token says; Active Directory: the domain).
    pub tenant: Option<&'a str>,
    /// A hybrid playbook: the realms of the further targets now, in order.
    pub others: Vec<Option<&'a str>>,
    pub now: OffsetDateTime,
    pub max_age: Duration,
}

/// Refuses a plan whose inputs, tenant or age no longer hold. The tenant
/// is compared only when both sides know it, or refused when only one does.
pub fn refuse_stale(plan: &PlanHeader, found: &Binding<'_>) -> Result<(), PlanError> {
    if plan.inputs.playbook_sha256 != found.playbook_sha256 {
        return Err(PlanError::PlaybookChanged {
            planned: plan.inputs.playbook_sha256.clone(),
            found: found.playbook_sha256.to_owned(),
        });
    }
    if plan.inputs.csv_sha256 != found.csv_sha256 {
        return Err(PlanError::CsvChanged {
            planned: plan.inputs.csv_sha256.clone(),
            found: found.csv_sha256.to_owned(),
        });
    }
    let further = plan.targets.iter().skip(1).map(|t| t.realm.as_deref());
    let pairs = std::iter::once((plan.target.realm.as_deref(), found.tenant))
        .chain(further.zip(found.others.iter().copied()));
    for pair in pairs {
        match pair {
            (Some(p), Some(f)) if p.eq_ignore_ascii_case(f) => {}
            (None, None) => {}
            (p, f) => {
                return Err(PlanError::TenantDiffers {
                    planned: p.unwrap_or("(unknown)").to_owned(),
                    found: f
                        .unwrap_or("(unknown: the credentials do not name it)")
                        .to_owned(),
                });
            }
        }
    }
    let created = OffsetDateTime::parse(&plan.created, &Rfc3339)
        .map_err(|_| PlanError::BadTime(plan.created.clone()))?;
    let age = found.now - created;
    if age < -time::Duration::try_from(FUTURE_SKEW).unwrap_or(time::Duration::ZERO) {
        return Err(PlanError::BadTime(plan.created.clone()));
    }
    let age = Duration::try_from(age).unwrap_or(Duration::ZERO);
    if age > found.max_age {
        return Err(PlanError::Expired {
            age: human(age),
            max: human(found.max_age),
        });
    }
    Ok(())
}

/// Parses `--max-age`: a whole number with a unit, `s`, `m`, `h` or `d`
/// (`90m`, `24h`, `7d`).
pub fn parse_max_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{s}` has no unit; write e.g. 90m, 24h or 7d"))?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` does not start with a whole number"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use s, m, h or d")),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}` is too long"))
}

/// `1d 2h 3m 4s`, leading zero units left out.
fn human(d: Duration) -> String {
    let mut s = d.as_secs();
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s >= size || !parts.is_empty() {
            parts.push(format!("{}{unit}", s / size));
            s %= size;
        }
    }
    parts.push(format!("{s}s"));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(created: &str) -> PlanHeader {
        crate::plan::file::test_header(Some("T1"), created)
    }

    fn binding<'a>(now: &str, tenant: Option<&'a str>) -> Binding<'a> {
        Binding {
            others: Vec::new(),
            playbook_sha256: "aa",
            csv_sha256: "bb",
            tenant,
            now: OffsetDateTime::parse(now, &Rfc3339).unwrap(),
            max_age: Duration::from_secs(24 * 3600),
        }
    }

    #[test]
    fn each_binding_is_checked() {
        let h = header("2026-01-01T00:00:00Z");
        refuse_stale(&h, &binding("2026-01-01T23:59:00Z", Some("t1"))).unwrap();
        let mut b = binding("2026-01-01T01:00:00Z", Some("t1"));
        b.csv_sha256 = "cc";
        assert!(matches!(
            refuse_stale(&h, &b),
            Err(PlanError::CsvChanged { .. })
        ));
        b.playbook_sha256 = "cc";
        assert!(matches!(
            refuse_stale(&h, &b),
            Err(PlanError::PlaybookChanged { .. })
        ));
        for tenant in [Some("t2"), None] {
            let e = refuse_stale(&h, &binding("2026-01-01T01:00:00Z", tenant)).unwrap_err();
            assert!(
                matches!(e, PlanError::TenantDiffers { .. }) && e.is_stale(),
                "{e}"
            );
        }
        let e = refuse_stale(&h, &binding("2026-01-02T00:00:01Z", Some("t1"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the plan was made 1d 0h 0m 1s ago, more than --max-age 1d 0h 0m 0s allows"
        );
        assert!(matches!(
            refuse_stale(&h, &binding("2025-12-31T23:00:00Z", Some("t1"))),
            Err(PlanError::BadTime(_))
        ));
    }

    #[test]
    fn max_age_units() {
        assert_eq!(parse_max_age("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_max_age("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_max_age("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_max_age("1s"), Ok(Duration::from_secs(1)));
        assert!(parse_max_age("24").is_err());
        assert!(parse_max_age("h").is_err());
        assert!(parse_max_age("3w").is_err());
    }
}
