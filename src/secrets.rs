//! Generated passwords and the run's `secrets.csv`.
//!
//! A generated password exists in three places only: memory (zeroized on
//! drop), the request that sets it, and `secrets.csv`, which is created with
//! mode 0600 and `O_EXCL` (never overwritten), appended to, and fsynced
//! **before** the reset is sent, so after any crash the file holds the
//! password the service has. Nothing else remedy writes (journal, reports,
//! logs) ever contains a password.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use rand::RngExt;
use rand::seq::{IndexedRandom, SliceRandom};
use secrecy::{ExposeSecret, SecretString};

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
/// Symbols Entra ID accepts, without space, quotes and backslash (which
/// break shells and CSV tools when an admin hands the password on).
const SYMBOLS: &[u8] = b"!#$%&()*+,-./:;<=>?@[]^_{|}~";

/// Length of generated passwords: well above Entra's minimum of 8, and
/// enough entropy (about 120 bits) that no banned-word rule can match.
pub const GENERATED_LENGTH: usize = 20;

/// A new random password with every character class present by
/// construction, from the thread's CSPRNG (ChaCha12 seeded by the OS).
pub fn generate_password() -> SecretString {
    let mut rng = rand::rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS]
        .iter()
        .filter_map(|class| class.choose(&mut rng).copied())
        .collect();
    while chars.len() < GENERATED_LENGTH {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    let s: String = chars.iter().map(|&b| b as char).collect();
    zeroize::Zeroize::zeroize(&mut chars);
    SecretString::from(s)
}

/// `secrets.csv`: `user,password` rows, one per reset, append-only.
pub struct SecretsFile {
    file: File,
}

impl std::fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsFile")
    }
}

impl SecretsFile {
    /// Creates the file (mode 0600, failing if it exists) with its header.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(path)?;
        file.write_all(b"user,password\n")?;
        file.sync_all()?;
        Ok(SecretsFile { file })
    }

    /// Opens an existing file for appending (a resumed run), never
    /// through a symbolic link.
    pub fn open_append(path: &Path) -> io::Result<Self> {
        let file = open_nofollow(OpenOptions::new().append(true), path)?;
        Ok(SecretsFile { file })
    }

    /// Checks that an existing file is the one remedy created: a regular
    /// file, not a symbolic link (opened with `O_NOFOLLOW`), with mode
    /// 0600. A resume refuses the run otherwise, before touching it.
    ///
    /// # Errors
    ///
    /// `InvalidData` saying what is wrong, or the error opening it.
    pub fn check_private(path: &Path) -> io::Result<()> {
        let mut opts = OpenOptions::new();
        opts.read(true);
        // Non-blocking too, so that a FIFO planted here cannot hang the check.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut opts,
            libc::O_NOFOLLOW | libc::O_NONBLOCK,
        );
        let file = opts.open(path).map_err(|e| {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return io::Error::new(io::ErrorKind::InvalidData, "it is a symbolic link");
            }
            e
        })?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "it is not a regular file",
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            if mode != 0o600 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("its mode is {mode:04o}, not 0600"),
                ));
            }
        }
        Ok(())
    }

    /// Appends one row. Not durable until [`SecretsFile::sync`].
    pub fn append(&mut self, user: &str, password: &SecretString) -> io::Result<()> {
        // Quoting writes straight into the zeroized line: a quoted copy of
        // the password in a plain `String` would outlive it unzeroed. The
        // capacity covers the worst case (every character doubled, quotes),
        // so the line never reallocates and leaves no stale copy behind.
        let password = password.expose_secret();
        let mut line =
            zeroize::Zeroizing::new(String::with_capacity(2 * (user.len() + password.len()) + 8));
        push_csv_field(&mut line, user);
        line.push(',');
        push_csv_field(&mut line, password);
        line.push('\n');
        let file = &mut self.file;
        crate::crashpoint::write_or_crash(
            crate::crashpoint::Point::SecretsWrite,
            line.as_bytes(),
            |b| file.write_all(b),
        )
    }

    /// Cuts a torn last line (the process died while appending it) so that
    /// the next line starts on a line of its own. A torn line's reset was
    /// never sent: its intent is journaled only after this file is synced.
    /// Returns the bytes cut.
    pub fn cut_torn_tail(path: &Path) -> io::Result<u64> {
        // The file holds passwords: the copy read here is wiped on drop.
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        io::Read::read_to_end(
            &mut open_nofollow(OpenOptions::new().read(true), path)?,
            &mut bytes,
        )?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let cut = (bytes.len() - keep) as u64;
        if cut > 0 {
            let file = open_nofollow(OpenOptions::new().write(true), path)?;
            file.set_len(keep as u64)?;
            file.sync_all()?;
        }
        Ok(cut)
    }

    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// The last password written for each user (a resumed reset reuses it,
    /// so the file and the service never disagree). A torn last line from a
    /// crash is ignored: its reset was never sent.
    pub fn read_all(path: &Path) -> io::Result<HashMap<String, SecretString>> {
        Self::read_for(path, |_| true)
    }

    /// Like [`SecretsFile::read_all`], for the (lower-cased) users `wanted`
    /// accepts: a resume needs only the users whose reset may have been
    /// sent, not a million passwords in memory.
    pub fn read_for(
        path: &Path,
        wanted: impl Fn(&str) -> bool,
    ) -> io::Result<HashMap<String, SecretString>> {
        let file = open_nofollow(OpenOptions::new().read(true), path)?;
        let mut out = HashMap::new();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(io::BufReader::new(file));
        for rec in reader.records() {
            let Ok(rec) = rec else { continue };
            if let (Some(user), Some(pw)) = (rec.get(0), rec.get(1))
                && !pw.is_empty()
            {
                let user = user.to_ascii_lowercase();
                if wanted(&user) {
                    out.insert(user, SecretString::from(pw.to_owned()));
                }
            }
        }
        Ok(out)
    }
}

/// Opens `path` with `opts`, failing on a symbolic link (`O_NOFOLLOW`)
/// rather than opening what it points at.
fn open_nofollow(opts: &mut OpenOptions, path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(opts, libc::O_NOFOLLOW);
    opts.open(path)
}

/// Appends `s` to `line` as a CSV field, quoted when needed (generated
/// passwords may contain `,`).
fn push_csv_field(line: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        line.push('"');
        for c in s.chars() {
            if c == '"' {
                line.push('"');
            }
            line.push(c);
        }
        line.push('"');
    } else {
        line.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_meet_entra_rules() {
        for _ in 0..2000 {
            let p = generate_password();
            let s = p.expose_secret();
            assert_eq!(s.len(), GENERATED_LENGTH);
            assert!(s.bytes().any(|b| UPPER.contains(&b)));
            assert!(s.bytes().any(|b| LOWER.contains(&b)));
            assert!(s.bytes().any(|b| DIGITS.contains(&b)));
            assert!(s.bytes().any(|b| SYMBOLS.contains(&b)));
            assert!(!s.contains([' ', '"', '\'', '\\']));
        }
        assert_ne!(
            generate_password().expose_secret(),
            generate_password().expose_secret()
        );
    }

    #[test]
    fn secrets_file_is_private_exclusive_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.csv");
        let mut f = SecretsFile::create(&path).unwrap();
        f.append("a@b.com", &SecretString::from("p,1\"x".to_owned()))
            .unwrap();
        f.append("c@d.com", &SecretString::from("second".to_owned()))
            .unwrap();
        f.sync().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(SecretsFile::create(&path).is_err(), "never overwritten");
        let mut again = SecretsFile::open_append(&path).unwrap();
        again
            .append("A@B.com", &SecretString::from("third".to_owned()))
            .unwrap();
        drop(again);
        let all = SecretsFile::read_all(&path).unwrap();
        assert_eq!(all["a@b.com"].expose_secret(), "third");
        assert_eq!(all["c@d.com"].expose_secret(), "second");
        assert!(!format!("{f:?}").contains("second"));
    }

    #[test]
    fn a_torn_last_line_is_cut_and_the_next_starts_clean() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.csv");
        let mut f = SecretsFile::create(&path).unwrap();
        f.append("a@b.com", &SecretString::from("first".to_owned()))
            .unwrap();
        drop(f);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"c@d.com,sec")
            .unwrap();
        assert_eq!(SecretsFile::cut_torn_tail(&path).unwrap(), 11);
        assert_eq!(SecretsFile::cut_torn_tail(&path).unwrap(), 0);
        let mut again = SecretsFile::open_append(&path).unwrap();
        again
            .append("c@d.com", &SecretString::from("second".to_owned()))
            .unwrap();
        drop(again);
        let all = SecretsFile::read_all(&path).unwrap();
        assert_eq!(all["a@b.com"].expose_secret(), "first");
        assert_eq!(all["c@d.com"].expose_secret(), "second");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "user,password\na@b.com,first\nc@d.com,second\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn only_a_private_regular_file_passes_the_resume_check() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.csv");
        drop(SecretsFile::create(&path).unwrap());
        SecretsFile::check_private(&path).unwrap();

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SecretsFile::check_private(&path).unwrap_err();
        assert_eq!(e.to_string(), "its mode is 0644, not 0600");

        let outside = dir.path().join("outside.csv");
        std::fs::write(&outside, "user,password\n").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("linked.csv");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let e = SecretsFile::check_private(&link).unwrap_err();
        assert_eq!(e.to_string(), "it is a symbolic link");
        // Every other way in refuses the link too, and the target is untouched.
        assert!(SecretsFile::open_append(&link).is_err());
        assert!(SecretsFile::read_all(&link).is_err());
        assert!(SecretsFile::cut_torn_tail(&link).is_err());
        assert_eq!(
            std::fs::read_to_string(&outside).unwrap(),
            "user,password\n"
        );

        let sub = dir.path().join("a-directory");
        std::fs::create_dir(&sub).unwrap();
        let e = SecretsFile::check_private(&sub).unwrap_err();
        assert_eq!(e.to_string(), "it is not a regular file");
    }
}
