//! Secrets scrubbed out of text a server returned, before remedy keeps it
//! (journal, reports) or prints it: Graph's error codes and messages, the
//! excerpt of a body that is not a Graph error, a `$batch` item's answer,
//! the token endpoint's AADSTS description and trace id.
//!
//! A hostile or careless server (or a proxy in front of it) can quote the
//! request it got, and that request held a new password, the client
//! secret, a client assertion or the access token. [`Redactor`] knows the
//! secrets of one request and replaces each with [`REDACTED`], found as it
//! was sent, in any JSON-escaped spelling (`\"`, `\\`, `\/`, `\uXXXX` in
//! either case: serde, .NET and Python each escape differently), and
//! form-urlencoded (how the token request sends the client secret).

use std::borrow::Cow;

use zeroize::Zeroizing;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The secrets one request carried, and the forms a server could echo
/// them in. Every copy is zeroed on drop; `Debug` shows only the count.
#[derive(Default, Clone)]
pub struct Redactor {
    /// Each secret as characters, matched against the JSON-decoded text.
    chars: Vec<Zeroizing<Vec<char>>>,
    /// Literal spellings (as sent, form-urlencoded), longest first.
    literal: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.chars.len())
    }
}

impl Redactor {
    #[must_use]
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Adds `secret` (an empty one is ignored).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty()
            || self
                .chars
                .iter()
                .any(|c| c.iter().copied().eq(secret.chars()))
        {
            return;
        }
        self.chars.push(Zeroizing::new(secret.chars().collect()));
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in [secret.to_owned(), encoded] {
            let form = Zeroizing::new(form);
            if !self.literal.contains(&form) {
                self.literal.push(form);
            }
        }
        self.literal.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `self` with `secret` added.
    #[must_use]
    pub fn with(mut self, secret: &str) -> Self {
        self.add(secret);
        self
    }

    /// Whether no secret was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// `text` with every secret, in every spelling above, replaced. All
    /// matches are found in `text` as it came, then each stretch they
    /// cover (overlapping matches merged) becomes one [`REDACTED`].
    #[must_use]
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for needle in &self.literal {
            spans.extend(
                text.match_indices(needle.as_str())
                    .map(|(at, m)| (at, at + m.len())),
            );
        }
        if text.contains('\\') {
            let decoded = Zeroizing::new(json_decoded(text));
            for secret in &self.chars {
                spans.extend(find_all(&decoded, secret));
            }
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut result = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in merged {
            result.push_str(&text[at..start]);
            result.push_str(REDACTED);
            at = end;
        }
        result.push_str(&text[at..]);
        Cow::Owned(result)
    }

    /// Scrubs `text` in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.scrub(text) {
            let mut old = std::mem::replace(text, clean);
            zeroize::Zeroize::zeroize(&mut old);
        }
    }
}

/// `text` read as the inside of a JSON string: each character with the
/// byte span of its spelling in `text` (a `\"`, `\u00e9` or surrogate pair
/// is one character). A backslash that starts no valid escape stands for
/// itself.
fn json_decoded(text: &str) -> Vec<(char, usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\'
            && let Some((c2, len)) = escape_at(bytes, i)
        {
            out.push((c2, i, i + len));
            while chars.peek().is_some_and(|(j, _)| *j < i + len) {
                chars.next();
            }
            continue;
        }
        out.push((c, i, i + c.len_utf8()));
    }
    out
}

/// The character the escape at `bytes[i]` (a backslash) stands for, and
/// the escape's length in bytes.
fn escape_at(bytes: &[u8], i: usize) -> Option<(char, usize)> {
    let simple = match *bytes.get(i + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let hi = hex4(bytes, i + 2)?;
            if (0xD800..0xDC00).contains(&hi) {
                if bytes.get(i + 6) == Some(&b'\\') && bytes.get(i + 7) == Some(&b'u') {
                    let lo = hex4(bytes, i + 8)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        return char::from_u32(c).map(|c| (c, 12));
                    }
                }
                return None;
            }
            return char::from_u32(hi).map(|c| (c, 6));
        }
        _ => return None,
    };
    Some((simple, 2))
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// Byte spans (in the original text) of every non-overlapping occurrence
/// of `needle` in `hay` (Knuth–Morris–Pratt: linear in both, whatever a
/// server sends).
fn find_all(hay: &[(char, usize, usize)], needle: &[char]) -> Vec<(usize, usize)> {
    let m = needle.len();
    if m == 0 || hay.len() < m {
        return Vec::new();
    }
    let mut fail = vec![0usize; m];
    let mut k = 0;
    for q in 1..m {
        while k > 0 && needle[k] != needle[q] {
            k = fail[k - 1];
        }
        if needle[k] == needle[q] {
            k += 1;
        }
        fail[q] = k;
    }
    let mut found = Vec::new();
    let mut q = 0;
    for (i, &(c, _, _)) in hay.iter().enumerate() {
        while q > 0 && needle[q] != c {
            q = fail[q - 1];
        }
        if needle[q] == c {
            q += 1;
        }
        if q == m {
            found.push((hay[i + 1 - m].1, hay[i].2));
            q = 0;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "Pa\"ss\\w/rd<é>😀+1 x";

    /// The spellings a server may echo `PW` in.
    fn spellings() -> Vec<String> {
        let quoted = serde_json::to_string(PW).unwrap();
        let serde = quoted[1..quoted.len() - 1].to_owned();
        let escape_all = |upper: bool| {
            PW.encode_utf16()
                .map(|u| {
                    if upper {
                        format!("\\u{u:04X}")
                    } else {
                        format!("\\u{u:04x}")
                    }
                })
                .collect::<String>()
        };
        let dotnet: String = PW
            .chars()
            .map(|c| match c {
                '"' => "\\u0022".to_owned(),
                '\\' => "\\\\".to_owned(),
                '<' => "\\u003C".to_owned(),
                '>' => "\\u003E".to_owned(),
                '+' => "\\u002B".to_owned(),
                c if !c.is_ascii() => {
                    let mut b = [0u16; 2];
                    c.encode_utf16(&mut b)
                        .iter()
                        .map(|u| format!("\\u{u:04X}"))
                        .collect()
                }
                c => c.to_string(),
            })
            .collect();
        vec![
            PW.to_owned(),
            serde.clone(),
            serde.replace('/', "\\/"),
            escape_all(true),
            escape_all(false),
            dotnet,
            url::form_urlencoded::byte_serialize(PW.as_bytes()).collect(),
        ]
    }

    #[test]
    fn every_spelling_of_a_secret_is_redacted() {
        let r = Redactor::new().with(PW);
        for s in spellings() {
            let text = format!("The password '{s}' is weak; body: {{\"password\":\"{s}\"}}.");
            let clean = r.scrub(&text);
            assert_eq!(
                clean, "The password '[redacted]' is weak; body: {\"password\":\"[redacted]\"}.",
                "{s}"
            );
        }
    }

    #[test]
    fn other_text_and_other_escapes_are_kept() {
        let r = Redactor::new().with("hunter22");
        assert!(matches!(r.scrub("nothing here"), Cow::Borrowed(_)));
        assert_eq!(
            r.scrub(r#"a \"quote\" \u0041 \x and hunter22"#),
            r#"a \"quote\" \u0041 \x and [redacted]"#
        );
        assert_eq!(r.scrub("hunter2 hunter222"), "hunter2 [redacted]2");
        // Escapes cut short, lone surrogates, a trailing backslash.
        for odd in ["\\u12", "\\ud800x", "\\ud800\\u0041", "end\\"] {
            assert_eq!(r.scrub(odd), odd);
        }
        assert_eq!(Redactor::new().scrub("hunter22"), "hunter22");
        assert_eq!(Redactor::new().with("").scrub("x"), "x");
    }

    #[test]
    fn a_secret_ending_in_a_quote_or_holding_a_control_character() {
        let secret = "0\0 \"";
        let quoted = serde_json::to_string(secret).unwrap();
        let text = &quoted[1..quoted.len() - 1];
        assert_eq!(Redactor::new().with(secret).scrub(text), REDACTED, "{text}");
    }

    #[test]
    fn several_secrets_and_overlaps() {
        let r = Redactor::new().with("abcabd").with("secret-2").with("abc");
        assert_eq!(r.scrub("xabcabcabdx"), "x[redacted][redacted]x");
        assert_eq!(
            r.scrub(r#"s\u0065cret-2 and abcab\u0064"#),
            "[redacted] and [redacted]"
        );
        let mut s = String::from("secret-2!");
        r.scrub_in_place(&mut s);
        assert_eq!(s, "[redacted]!");
        assert_eq!(format!("{r:?}"), "Redactor(3 secrets)");
    }

    proptest::proptest! {
        /// Whatever surrounds it and however it is escaped, the secret is
        /// gone and nothing panics. (The secret starts with a digit, so it
        /// cannot overlap the `[redacted]` put in its place; the text
        /// before it does not end in a backslash, which would escape the
        /// escape.)
        #[test]
        fn arbitrary_text_never_keeps_the_secret(
            before in "(.{0,40}[^\\\\])?",
            after in ".{0,40}",
            secret in "[0-9][^\\\\]{3,23}",
            pick in 0usize..3,
        ) {
            let forms = [
                secret.clone(),
                {
                    let quoted = serde_json::to_string(&secret).unwrap();
                    quoted[1..quoted.len() - 1].to_owned()
                },
                secret.encode_utf16().map(|u| format!("\\u{u:04x}")).collect::<String>(),
            ];
            let text = format!("{before}{}{after}", forms[pick]);
            let clean = Redactor::new().with(&secret).scrub(&text).into_owned();
            proptest::prop_assert!(!clean.contains(&forms[pick]), "{clean:?}");
            proptest::prop_assert!(clean.contains(REDACTED), "{clean:?}");
        }
    }
}
