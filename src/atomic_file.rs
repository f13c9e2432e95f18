//! Report files written without following links: each is written to a new
//! temporary file beside its target (created exclusively, `O_EXCL`, mode
//! 0600: reports name users) and renamed into place, so a symlink planted
//! at the target's name is replaced, never written through, and a reader
//! never sees half a file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file being written; it appears at its target only on [`commit`].
/// Dropped uncommitted, the temporary file is removed.
///
/// [`commit`]: AtomicFile::commit
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates a new temporary file beside `target`.
    ///
    /// # Errors
    ///
    /// When the directory does not take a new file.
    pub fn create(target: &Path) -> io::Result<Self> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_string_lossy()
            .into_owned();
        let mut last = None;
        for _ in 0..16 {
            let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            match opts.open(&tmp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        file,
                        tmp,
                        target: target.to_owned(),
                        committed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no temporary name was free")))
    }

    /// Flushes the file and renames it over the target (a link at the
    /// target is replaced, not followed).
    ///
    /// # Errors
    ///
    /// When the data cannot be written or the rename fails.
    pub fn commit(mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()?;
        std::fs::rename(&self.tmp, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `target` through an [`AtomicFile`].
///
/// # Errors
///
/// As [`AtomicFile::create`] and [`AtomicFile::commit`].
pub fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes)?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "keep me").unwrap();
        let target = dir.path().join("results.csv");
        std::os::unix::fs::symlink(&outside, &target).unwrap();
        write(&target, b"report").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file(), "the link was replaced");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "report");
        // Nothing is left behind: no temporary file, and an uncommitted
        // file never appears.
        let mut f = AtomicFile::create(&dir.path().join("junit.xml")).unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["outside.txt", "results.csv"]);
    }
}
