//! Transport security end to end: the emulator serving https on 127.0.0.1
//! with a certificate from a throwaway CA (made here with rcgen), and the
//! real `remedy` binary trusting it only through `--ca-file` /
//! `REMEDY_CA_FILE`, or through `--insecure-loopback-tls`, which is refused
//! for any host that is not loopback. The client secret never appears in
//! anything remedy prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::support::{EmulatorProcess, Run, remedy, run};

const SECRET: &str = "Tls-Test-Secret-93c1e0";
const USER: &str = "user0000001@contoso.onmicrosoft.com";

/// A CA and a server certificate it signed, as PEM files in a temp dir.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    /// A CA, and a server certificate for `names` (DNS names or IPs).
    fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "remedy test CA (throwaway)");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "remedy test emulator");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", ca_cert.pem()),
            cert: write("server.pem", server_cert.pem()),
            key: write("server.key", server_key.serialize_pem()),
            _dir: dir,
        }
    }

    /// An https emulator serving this certificate, checking [`SECRET`].
    fn emulator(&self) -> EmulatorProcess {
        let emu = EmulatorProcess::start_with_env(
            &[
                "--generate",
                "5",
                "--tls-cert",
                self.cert.to_str().unwrap(),
                "--tls-key",
                self.key.to_str().unwrap(),
            ],
            &[("REMEDY_EMULATOR_CLIENT_SECRET", SECRET)],
        );
        assert!(emu.url.starts_with("https://127.0.0.1:"), "{}", emu.url);
        emu
    }
}

/// `remedy ARGS` with the emulator's credentials in the environment and
/// `url` as both roots; no CA file unless `args` or `env` give one.
fn remedy_at(url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = remedy();
    cmd.args(args)
        .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("AZURE_CLIENT_ID", "tls-tests")
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("REMEDY_GRAPH_URL", url)
        .env("REMEDY_AUTHORITY_URL", url)
        .env_remove("REMEDY_CA_FILE")
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(120));
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// Neither a panic nor the client secret in anything remedy printed.
fn assert_clean(r: &Run) {
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(!all.contains(SECRET), "the client secret leaked:\n{all}");
    assert!(!all.contains("panicked"), "remedy panicked:\n{all}");
}

fn doctor(url: &str, extra: &[&str]) -> Run {
    let mut args = vec!["doctor", "--user", USER];
    args.extend_from_slice(extra);
    remedy_at(url, &args, &[])
}

#[test]
fn doctor_trusts_the_https_emulator_through_ca_file() {
    let pki = Pki::new(&["127.0.0.1", "localhost"]);
    let emu = pki.emulator();
    let r = doctor(&emu.url, &["--ca-file", pki.ca.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for needle in [
        "tls         system roots + 1 certificate from",
        "token acquired",
        "read user user0000001@contoso.onmicrosoft.com",
        "everything remedy needs works",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing `{needle}`:\n{}",
            r.stdout
        );
    }
    assert_clean(&r);
}

#[test]
fn an_untrusted_certificate_fails_with_a_hint_naming_ca_file() {
    let pki = Pki::new(&["127.0.0.1", "localhost"]);
    let emu = pki.emulator();
    let r = doctor(&emu.url, &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("FAIL token"), "{}", r.stdout);
    assert!(r.stdout.contains("TLS failure"), "{}", r.stdout);
    assert!(r.stdout.contains("hint:"), "{}", r.stdout);
    assert!(r.stdout.contains("--ca-file PEM"), "{}", r.stdout);
    assert_clean(&r);

    // A CA that did not sign the server's certificate is no better.
    let other = Pki::new(&["127.0.0.1"]);
    let r = doctor(&emu.url, &["--ca-file", other.ca.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("TLS failure"), "{}", r.stdout);
    assert_clean(&r);
}

#[test]
fn a_certificate_for_another_host_name_is_refused() {
    let pki = Pki::new(&["emulator.example.test"]);
    let emu = pki.emulator();
    let r = doctor(&emu.url, &["--ca-file", pki.ca.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("TLS failure"), "{}", r.stdout);
    assert!(
        r.stdout.contains("not issued for this host name"),
        "{}",
        r.stdout
    );
    assert_clean(&r);
}

#[test]
fn a_ca_file_without_certificates_is_refused_before_any_call() {
    let pki = Pki::new(&["127.0.0.1"]);
    let r = doctor(
        "https://127.0.0.1:9",
        &["--ca-file", pki.key.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout.contains("FAIL tls: cannot use --ca-file"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("no `BEGIN CERTIFICATE` block"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("token"),
        "no call was made:\n{}",
        r.stdout
    );
    assert_clean(&r);
}

#[test]
fn insecure_loopback_tls_is_for_loopback_only() {
    let pki = Pki::new(&["127.0.0.1", "localhost"]);
    let emu = pki.emulator();
    let r = doctor(&emu.url, &["--insecure-loopback-tls"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("certificates NOT verified"),
        "{}",
        r.stdout
    );
    assert_clean(&r);

    // Refused, before any network call, for the real Graph: with doctor,
    // with run, and when only the authority is remote.
    let refused = "--insecure-loopback-tls is refused for `https://graph.microsoft.com`";
    let r = doctor("https://graph.microsoft.com", &["--insecure-loopback-tls"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains(refused), "{}", r.stdout);
    assert!(r.stdout.contains("--ca-file"), "{}", r.stdout);
    assert_clean(&r);
    let r = remedy_at(
        &emu.url,
        &["doctor", "--insecure-loopback-tls"],
        &[("REMEDY_AUTHORITY_URL", "https://login.microsoftonline.com")],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("refused for `https://login.microsoftonline.com`"),
        "{}",
        r.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let r = remedy_at(
        "https://graph.microsoft.com",
        &[
            "run",
            "workflows/unlock-account.yaml",
            "--users",
            "examples/users.csv",
            "--yes",
            "--insecure-loopback-tls",
            "--state-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(refused), "{}", r.stderr);
    assert_clean(&r);
    assert!(
        is_empty_dir(dir.path()),
        "nothing was recorded for a refused run"
    );
}

#[test]
fn run_over_https_trusts_remedy_ca_file() {
    let pki = Pki::new(&["127.0.0.1"]);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("users.csv");
    std::fs::write(
        &csv,
        "userPrincipalName,displayName,compromised\n\
         user0000001@contoso.onmicrosoft.com,One,yes\n\
         user0000002@contoso.onmicrosoft.com,Two,no\n",
    )
    .unwrap();
    let emu = pki.emulator();
    let state = dir.path().join("state");
    let r = remedy_at(
        &emu.url,
        &[
            "run",
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--yes",
            "--progress",
            "none",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[("REMEDY_CA_FILE", pki.ca.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("changed"), "{}", r.stdout);
    assert_clean(&r);
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).unwrap().next().is_none()
}
