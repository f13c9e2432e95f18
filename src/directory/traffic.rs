//! [`Traffic`]: what a run has sent to a directory so far and what came
//! back, in the same terms for every provider, for the progress display
//! and the run's record.

/// Counters since the directory was opened for the run, and the rate it
/// allows itself now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    /// Calls sent: HTTP calls (a `$batch` is one) or LDAP operations.
    pub calls: u64,
    /// Requests that got an answer, whatever its status: each `$batch`
    /// item counts (an answer to a whole `$batch` answers every item in
    /// it); a call that got none (timeout, broken connection) does not.
    pub answered: u64,
    /// Answers that said 429 (Too Many Requests), `$batch` items
    /// included. Zero for a provider that does not throttle.
    pub throttled: u64,
    /// The requests (or `$batch` items) per second the provider's budget
    /// allows now; `None` for a provider that keeps no budget.
    pub budget_per_second: Option<f64>,
}

impl Traffic {
    /// Both directories' traffic together (a hybrid run): counts and
    /// budgets add up.
    #[must_use]
    pub fn plus(self, other: Traffic) -> Traffic {
        Traffic {
            calls: self.calls.saturating_add(other.calls),
            answered: self.answered.saturating_add(other.answered),
            throttled: self.throttled.saturating_add(other.throttled),
            budget_per_second: match (self.budget_per_second, other.budget_per_second) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            },
        }
    }
}

impl std::iter::Sum for Traffic {
    fn sum<I: Iterator<Item = Traffic>>(iter: I) -> Traffic {
        iter.fold(Traffic::default(), Traffic::plus)
    }
}

#[cfg(test)]
mod tests {
    use super::Traffic;

    #[test]
    fn targets_traffic_adds_up_and_a_budget_only_where_kept() {
        let graph = Traffic {
            calls: 10,
            answered: 150,
            throttled: 3,
            budget_per_second: Some(200.0),
        };
        let ldap = Traffic {
            calls: 40,
            answered: 39,
            throttled: 0,
            budget_per_second: None,
        };
        let both: Traffic = [graph, ldap].into_iter().sum();
        assert_eq!(
            both,
            Traffic {
                calls: 50,
                answered: 189,
                throttled: 3,
                budget_per_second: Some(200.0),
            }
        );
        let two_tenants: Traffic = [graph, graph].into_iter().sum();
        assert_eq!(two_tenants.budget_per_second, Some(400.0));
        let none: Traffic = [ldap].into_iter().sum();
        assert_eq!(none.budget_per_second, None);
        assert_eq!(
            std::iter::empty::<Traffic>().sum::<Traffic>(),
            Traffic::default()
        );
    }
}
