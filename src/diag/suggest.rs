//! "Did you mean …?" suggestions for misspelt names.

/// Names longer than this are never compared.
const MAX_NAME_BYTES: usize = 256;

/// The candidate closest to `input`, if it is close enough to be a likely
/// typo (Jaro-Winkler similarity of at least 0.8, or a case-only difference).
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // A typo is short. Comparing a runaway name (a 100 MB CSV header cell)
    // would cost time and memory proportional to its length for nothing.
    if input.len() > MAX_NAME_BYTES {
        return None;
    }
    let lower = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| c.len() <= MAX_NAME_BYTES)
        .map(|c| {
            let score = if c.eq_ignore_ascii_case(input) {
                1.0
            } else {
                strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())
            };
            (c, score)
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let names = ["reset_password", "revoke_sessions"];
        assert_eq!(did_you_mean("reset_pasword", names), Some("reset_password"));
        assert_eq!(
            did_you_mean("revoke_session", names),
            Some("revoke_sessions")
        );
        assert_eq!(
            did_you_mean("Reset_Password", names),
            Some("reset_password")
        );
        assert_eq!(did_you_mean("delete_user", names), None);
        let long = "r".repeat(10_000);
        assert_eq!(did_you_mean(&long, names), None);
        assert_eq!(did_you_mean("reset_password", [long.as_str()]), None);
    }
}
