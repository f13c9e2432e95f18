//! Fuzz target: the token endpoint's answer
//! (`remedy::graph::auth::parse_token_response`: a token, or an OAuth
//! error), and a pre-issued token (`AccessToken::pre_issued`, which decodes
//! the JWT's claims and derives the lifetime from `exp`).
//!
//! Input: a status line (a number; junk means 200), a blank line, the
//! body. The body is also tried as a pre-issued token.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remedy::graph::auth::{AccessToken, TokenClaims, parse_token_response};
use secrecy::SecretString;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (
            std::str::from_utf8(&data[..i])
                .ok()
                .and_then(|l| l.trim().parse::<u16>().ok())
                .unwrap_or(200),
            &data[i + 2..],
        ),
        None => (200, data),
    };
    match parse_token_response("https://login.example/t/oauth2/v2.0/token", status, body) {
        Ok(token) => {
            assert!((200..300).contains(&status));
            let _ = token.expires_in();
            let _ = format!("{token:?}");
        }
        Err(e) => {
            let _ = e.hint();
            let _ = e.to_string();
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        if let Some(claims) = TokenClaims::decode(text) {
            let _ = claims.app_id();
        }
        if let Ok(token) = AccessToken::pre_issued(SecretString::from(text.to_owned())) {
            let _ = token.expires_in();
        }
    }
});
