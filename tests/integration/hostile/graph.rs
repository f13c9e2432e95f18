//! Hostile Graph and token endpoints: a raw TCP server on 127.0.0.1,
//! spawned per test, answers `remedy doctor` with huge, truncated, non-JSON
//! or wrongly typed bodies, with garbage instead of HTTP, or not at all.
//! Each must end in a clear FAIL line and exit 2 within bounded time and
//! memory (the client caps bodies at 8 MiB and has a whole-request timeout).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use super::{Measured, measure, remedy_cmd};
use crate::support::root;

/// What the server does with each request.
#[derive(Clone, Copy)]
enum Answer {
    /// Writes these bytes, then closes.
    Raw(&'static [u8]),
    /// A 200 whose body never ends (no Content-Length, close-delimited).
    Endless,
    /// A 200 announcing a 100 MB body and sending it.
    HugeContentLength,
    /// Reads the request and never answers.
    Silent,
}

/// Serves `answer` on 127.0.0.1 until the test process ends; returns the
/// root URL.
fn serve(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || handle(stream, answer));
        }
    });
    url
}

fn handle(mut stream: TcpStream, answer: Answer) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    read_request(&mut stream);
    let chunk = vec![b'a'; 64 * 1024];
    match answer {
        Answer::Raw(bytes) => {
            let _ = stream.write_all(bytes);
        }
        Answer::Endless => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            );
            // Bounded so a broken client cannot keep the thread forever.
            for _ in 0..16 * 1024 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
        Answer::HugeContentLength => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n");
            for _ in 0..1600 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
        Answer::Silent => std::thread::sleep(Duration::from_secs(120)),
    }
}

/// An HTTP/1.1 answer with a correct `Content-Length`.
fn http(status: &str, body: &[u8]) -> &'static [u8] {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out.leak()
}

/// Reads the request head and a `Content-Length` body, so closing the
/// socket does not reset it under the client.
fn read_request(stream: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    let _ = stream.read_exact(&mut body);
}

/// A JWT-shaped pre-issued token (payload only; doctor does not verify).
fn token() -> String {
    // {"tid":"0f8fad5b-d9cb-469f-a165-70867728950e","roles":["User.Read.All"],"exp":4102444800}
    "e30.eyJ0aWQiOiIwZjhmYWQ1Yi1kOWNiLTQ2OWYtYTE2NS03MDg2NzcyODk1MGUiLCJyb2xlcyI6WyJVc2VyLlJlYWQuQWxsIl0sImV4cCI6NDEwMjQ0NDgwMH0.c2ln".to_owned()
}

/// `remedy doctor --user …` with the token endpoint at `authority` and a
/// client secret, or (without `authority`) a pre-issued token; Graph at
/// `graph`.
fn doctor(graph: &str, authority: Option<&str>) -> Measured {
    doctor_with_token(graph, authority, &token())
}

fn doctor_with_token(graph: &str, authority: Option<&str>, token: &str) -> Measured {
    let mut cmd = remedy_cmd(
        &root(),
        &[
            "doctor",
            "--user",
            "adele@contoso.com",
            "--timeout",
            "3",
            "--graph-url",
            graph,
        ],
    );
    match authority {
        Some(url) => cmd
            .args(["--authority-url", url])
            .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
            .env("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
            .env("AZURE_CLIENT_SECRET", "hostile-test-secret"),
        None => cmd.env("AZURE_ACCESS_TOKEN", token),
    };
    measure(&mut cmd)
}

#[track_caller]
fn assert_fails_with(m: &Measured, needle: &str) {
    m.assert_bounded(2, 30, 256);
    assert!(
        m.stdout.contains(needle),
        "missing `{needle}`:\n{}",
        m.stdout
    );
    assert!(!m.stdout.contains("hostile-test-secret"), "{}", m.stdout);
}

#[test]
fn graph_body_larger_than_the_cap() {
    for answer in [Answer::Endless, Answer::HugeContentLength] {
        let m = doctor(&serve(answer), None);
        assert_fails_with(
            &m,
            "FAIL read user adele@contoso.com: the answer is larger than 8388608 bytes",
        );
    }
}

#[test]
fn token_body_larger_than_the_cap() {
    let unused = serve(Answer::Silent);
    for answer in [Answer::Endless, Answer::HugeContentLength] {
        let m = doctor(&unused, Some(&serve(answer)));
        assert_fails_with(&m, "answered more than 8388608 bytes");
        assert!(m.stdout.contains("FAIL token"), "{}", m.stdout);
    }
}

#[test]
fn servers_that_never_answer_time_out() {
    let silent = serve(Answer::Silent);
    let m = doctor(&silent, None);
    assert_fails_with(&m, "FAIL read user adele@contoso.com:");
    assert!(m.stdout.contains("timed out"), "{}", m.stdout);
    assert!(m.elapsed < Duration::from_secs(15), "{:?}", m.elapsed);
    let m = doctor(&silent, Some(&silent));
    assert_fails_with(&m, "FAIL token: cannot reach the token endpoint");
    assert!(m.stdout.contains("timed out"), "{}", m.stdout);
}

#[test]
fn truncated_and_garbled_graph_answers() {
    let cases: [(&'static [u8], &str); 7] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"id\":",
            "FAIL read user adele@contoso.com: connection failed",
        ),
        (
            http("200 OK", br#"{"id":"#),
            "the user could not be read from Graph's answer",
        ),
        (
            http("200 OK", br#"{"id":5,"accountEnabled":"yes","x":[1,2]}"#),
            "the user could not be read from Graph's answer",
        ),
        (
            http("200 OK", b"\xff\xfe\x00\x01\x02"),
            "the user could not be read from Graph's answer",
        ),
        (
            http("502 Bad Gateway", b"<html>upstream is down</html>\n"),
            "HTTP 502: <html>upstream is down</html>",
        ),
        (
            b"SSH-2.0-OpenSSH_9.6\r\n",
            "FAIL read user adele@contoso.com: connection failed",
        ),
        (b"", "FAIL read user adele@contoso.com: connection failed"),
    ];
    for (answer, needle) in cases {
        let m = doctor(&serve(Answer::Raw(answer)), None);
        assert_fails_with(&m, needle);
    }
}

#[test]
fn huge_response_headers() {
    let mut head = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
    head.resize(2 * 1024 * 1024, b'a');
    head.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\n{}");
    let m = doctor(&serve(Answer::Raw(head.leak())), None);
    assert_fails_with(&m, "FAIL read user adele@contoso.com: ");
}

#[test]
fn garbled_token_answers() {
    let graph = serve(Answer::Silent);
    let cases: [(&'static [u8], &str); 4] = [
        (
            http("200 OK", b"<html>captive portal</html>"),
            "answered HTTP 200 without a usable token",
        ),
        (
            http(
                "200 OK",
                br#"{"access_token":42,"expires_in":"a long time"}"#,
            ),
            "answered HTTP 200 without a usable token",
        ),
        (
            http(
                "400 Bad Request",
                br#"{"error":"invalid_scope","error_description":"AADSTS70011: bad scope"}"#,
            ),
            "the token request was refused: invalid_scope (HTTP 400)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"acc",
            "FAIL token: cannot reach the token endpoint",
        ),
    ];
    for (answer, needle) in cases {
        let m = doctor(&graph, Some(&serve(Answer::Raw(answer))));
        assert_fails_with(&m, needle);
    }
}

/// A pre-issued token whose `exp` is the largest or smallest integer used
/// to panic in the clock arithmetic before any request was made.
#[test]
fn pre_issued_token_with_extreme_exp() {
    let graph = serve(Answer::Raw(http(
        "404 Not Found",
        br#"{"error":{"code":"Request_ResourceNotFound","message":"gone"}}"#,
    )));
    // {"tid":"0f8fad5b-d9cb-469f-a165-70867728950e","exp":9223372036854775807}
    let far = "e30.eyJ0aWQiOiIwZjhmYWQ1Yi1kOWNiLTQ2OWYtYTE2NS03MDg2NzcyODk1MGUiLCJleHAiOjkyMjMzNzIwMzY4NTQ3NzU4MDd9.c2ln";
    let m = doctor_with_token(&graph, None, far);
    assert_fails_with(&m, "Request_ResourceNotFound");
    // Capped at 366 days (527,040 minutes), less the time doctor took.
    assert!(
        ["527039", "527040"].iter().any(|n| m
            .stdout
            .contains(&format!("token acquired (valid for {n} more minutes)"))),
        "{}",
        m.stdout
    );
    // {"exp":-9223372036854775808}
    let past = "e30.eyJleHAiOi05MjIzMzcyMDM2ODU0Nzc1ODA4fQ.c2ln";
    let m = doctor_with_token(&graph, None, past);
    assert_fails_with(&m, "FAIL token: the pre-issued access token has expired");
}
