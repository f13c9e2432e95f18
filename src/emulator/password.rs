//! Entra's password rules for a reset: 8 to 256 characters; only ASCII
//! letters, digits, space and the symbols in `SYMBOLS`; at least three of
//! the four classes lower case, upper case, digit and symbol (space counts
//! as a symbol); and a banned-password check, here simplified.
//!
//! Entra's banned check normalises the password (lower case, `0→o 1→l $→s
//! @→a`), finds banned terms (a global list, plus a tenant's own) up to one
//! edit away and the user's names and the tenant's name as substrings, and
//! wants at least 5 points: one per banned term found plus one per other
//! character. The emulator, normalising the same way, rejects a password
//! that contains `password`, the tenant's name, or the user's given name,
//! surname or mail nickname (terms of at least 4 characters).

/// The message Graph returns for every rejected password.
pub(crate) const COMPLEXITY_MESSAGE: &str = "The specified password does not comply with password complexity requirements. Please provide a different password.";

/// Symbols Entra accepts besides letters, digits and space.
const SYMBOLS: &str = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<>";

/// Banned in every tenant (a stand-in for the global list).
const GLOBAL_BANNED: &[&str] = &["password", "contoso"];

/// Which rule a password broke (all map to [`COMPLEXITY_MESSAGE`]; the
/// distinction is for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    Length,
    Character,
    Classes,
    Banned,
}

/// Check `password` for a user; `personal` holds the terms that may not
/// appear in it (names, nickname, tenant name).
pub(crate) fn check(password: &str, personal: &[&str]) -> Result<(), Problem> {
    let chars = password.chars().count();
    if !(8..=256).contains(&chars) {
        return Err(Problem::Length);
    }
    let mut classes = [false; 4];
    for c in password.chars() {
        let class = if c.is_ascii_lowercase() {
            0
        } else if c.is_ascii_uppercase() {
            1
        } else if c.is_ascii_digit() {
            2
        } else if c == ' ' || SYMBOLS.contains(c) {
            3
        } else {
            return Err(Problem::Character);
        };
        classes[class] = true;
    }
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err(Problem::Classes);
    }
    let normal = normalise(password);
    let banned = GLOBAL_BANNED
        .iter()
        .copied()
        .chain(personal.iter().copied())
        .map(normalise)
        .filter(|term| term.chars().count() >= 4)
        .any(|term| normal.contains(&term));
    if banned {
        return Err(Problem::Banned);
    }
    Ok(())
}

fn normalise(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'l',
            '$' => 's',
            '@' => 'a',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Problem, check};

    #[test]
    fn rules() {
        let cases: &[(&str, Result<(), Problem>)] = &[
            ("Xk7#pQ2m", Ok(())),
            ("xk7#pq2m", Ok(())),
            ("Xk7pQ2mZ", Ok(())),
            ("Xk7 pQ2m", Ok(())),
            ("Xk7#pQ2", Err(Problem::Length)),
            ("xkzpqwmn", Err(Problem::Classes)),
            ("xkzpq2mn", Err(Problem::Classes)),
            ("Xk7#pQ2mé", Err(Problem::Character)),
            ("Xk7#pQ2m\t", Err(Problem::Character)),
            ("P@ssw0rd!", Err(Problem::Banned)),
            ("My-Pa$$w0rd-9", Err(Problem::Banned)),
            ("C0nt0so!2026", Err(Problem::Banned)),
            ("Adele#2026x", Err(Problem::Banned)),
            ("V@nce#2026x", Err(Problem::Banned)),
            ("Zoe#2026xQ", Ok(())),
        ];
        for (password, expected) in cases {
            assert_eq!(
                check(password, &["Adele", "Vance", "Zoe"]),
                *expected,
                "{password}"
            );
        }
        assert_eq!(check(&"Aa1".repeat(86), &[]), Err(Problem::Length));
        assert_eq!(check(&format!("{}x", "Aa1".repeat(85)), &[]), Ok(()));
    }
}
