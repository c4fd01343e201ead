//! Loading and creating the key file that holds an [`Identity`]'s secret seed.
//!
//! Format (`docs/identity.md`): the raw 32-byte seed, or 64 hex characters
//! optionally followed by one `"\n"` or `"\r\n"`. New files are written in the
//! raw form with mode 0600, through a temporary file that is hard-linked into
//! place, so the key file appears complete or not at all and an existing file
//! is never replaced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rand_core::{OsRng, RngCore};

use crate::error::KeyFileError;
use crate::identity::{Identity, SEED_LEN};

/// Length of the text form of the key file without line ending.
const HEX_LEN: usize = 2 * SEED_LEN;
/// Longest accepted file: the text form followed by `"\r\n"`.
const MAX_FILE_LEN: usize = HEX_LEN + 2;
/// How often [`Identity::load_or_generate`] retries when the file appears and
/// disappears under it (each round either loads, creates or sees it exist).
const MAX_ATTEMPTS: usize = 3;
/// How many temporary names to try before giving up (names are random, so a
/// collision already means something odd is going on).
const MAX_TEMP_NAMES: usize = 8;

impl Identity {
    /// Loads the identity stored in the key file at `path`.
    ///
    /// Accepts the raw 32-byte seed or 64 hex characters (either case)
    /// optionally followed by `"\n"` or `"\r\n"`. On Unix the file must be
    /// one this user alone controls, as OpenSSH requires of a private key:
    /// a regular file reached without a symbolic link at its last
    /// component, mode 0600 or stricter, owned by the process's effective
    /// user.
    ///
    /// # Errors
    ///
    /// [`KeyFileError::Symlink`], [`KeyFileError::TooOpen`] (mode & 0o077 ≠
    /// 0), [`KeyFileError::WrongOwner`] (each says how to fix it),
    /// [`KeyFileError::NotFound`], [`KeyFileError::IsDirectory`],
    /// [`KeyFileError::PermissionDenied`], [`KeyFileError::Io`] (other I/O
    /// failures, with the [`io::ErrorKind`]; kind `InvalidInput` for a named
    /// pipe, which is refused rather than opened, as opening it would wait
    /// for a writer), [`KeyFileError::WrongLength`],
    /// [`KeyFileError::BadHex`]. The file is never modified.
    pub fn load(path: impl AsRef<Path>) -> Result<Identity, KeyFileError> {
        let path = path.as_ref();
        let seed = read_seed(path)?;
        Ok(Identity::from_seed(seed))
    }

    /// Loads the key file at `path`, or creates it with a fresh identity if
    /// (and only if) it does not exist.
    ///
    /// Creation never clobbers: the seed is written and fsynced to a unique
    /// temporary file (mode 0600) in the same directory, hard-linked to `path`
    /// (which fails if `path` exists), the temporary name is removed and the
    /// directory fsynced. When several processes or threads start at once on
    /// one path, exactly one creates the file and all end with its identity.
    /// The parent directory is not created.
    ///
    /// # Errors
    ///
    /// Those of [`Identity::load`] except `NotFound`, plus
    /// [`KeyFileError::DirectoryNotFound`], [`KeyFileError::PermissionDenied`]
    /// / [`KeyFileError::Io`] while creating, and [`KeyFileError::Vanished`]
    /// when the name exists but never opens (dangling symlink). An existing
    /// file is never modified, even when it is invalid.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<Identity, KeyFileError> {
        let path = path.as_ref();
        for _ in 0..MAX_ATTEMPTS {
            match Identity::load(path) {
                Err(KeyFileError::NotFound { .. }) => {}
                loaded => return loaded,
            }
            let identity = Identity::generate();
            match create_no_clobber(path, identity.seed_bytes())? {
                Created::Yes => {
                    tracing::info!(
                        path = %path.display(),
                        peer_id = %identity.peer_id(),
                        "created new key file"
                    );
                    return Ok(identity);
                }
                // Another process won the race: loop to load its key.
                Created::AlreadyExists => {}
            }
        }
        Err(KeyFileError::Vanished {
            path: path.to_path_buf(),
        })
    }
}

/// Reads and parses the key file after checking it can be trusted: a
/// regular file, not a symlink, not a FIFO, mode 0600 or stricter, owned by
/// this process's user (`docs/security.md`, "Key file").
fn read_seed(path: &Path) -> Result<[u8; SEED_LEN], KeyFileError> {
    let reading = "reading the key file";
    refuse_special(path).map_err(|e| load_error(path, path, reading, e))?;
    let file = open_no_follow(path).map_err(|e| load_error(path, path, reading, e))?;
    let meta = file
        .metadata()
        .map_err(|e| load_error(path, path, reading, e))?;
    if meta.is_dir() {
        return Err(KeyFileError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    check_trusted(path, &meta)?;
    // Read one byte past the longest valid form so oversized files are
    // detected without reading them whole.
    let mut buf = Vec::with_capacity(MAX_FILE_LEN + 1);
    file.take(MAX_FILE_LEN as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| load_error(path, path, reading, e))?;
    let found = if buf.len() > MAX_FILE_LEN {
        meta.len().max(buf.len() as u64)
    } else {
        buf.len() as u64
    };
    parse_seed(&buf).map_err(|e| e.into_error(path, found))
}

/// Why the contents of a key file are rejected (the path is added later).
#[derive(Debug, PartialEq, Eq)]
enum ParseError {
    WrongLength,
    BadHex { position: usize, byte: u8 },
}

impl ParseError {
    fn into_error(self, path: &Path, found: u64) -> KeyFileError {
        let path = path.to_path_buf();
        match self {
            ParseError::WrongLength => KeyFileError::WrongLength { path, found },
            ParseError::BadHex { position, byte } => KeyFileError::BadHex {
                path,
                position,
                byte,
            },
        }
    }
}

/// Parses the raw (32 bytes) or text (64 hex + optional `\n` / `\r\n`) form.
fn parse_seed(contents: &[u8]) -> Result<[u8; SEED_LEN], ParseError> {
    if let Ok(seed) = <[u8; SEED_LEN]>::try_from(contents) {
        return Ok(seed);
    }
    let text = strip_line_ending(contents);
    if text.len() != HEX_LEN {
        return Err(ParseError::WrongLength);
    }
    if let Some(position) = text.iter().position(|b| !b.is_ascii_hexdigit()) {
        let byte = text.get(position).copied().unwrap_or_default();
        return Err(ParseError::BadHex { position, byte });
    }
    let mut seed = [0u8; SEED_LEN];
    hex::decode_to_slice(text, &mut seed).map_err(|_| ParseError::WrongLength)?;
    Ok(seed)
}

/// Removes one trailing `"\r\n"` or `"\n"`.
fn strip_line_ending(contents: &[u8]) -> &[u8] {
    contents
        .strip_suffix(b"\r\n")
        .or_else(|| contents.strip_suffix(b"\n"))
        .unwrap_or(contents)
}

/// Maps an I/O error met while loading; `NotFound` means the key file is absent.
fn load_error(path: &Path, op_path: &Path, action: &'static str, e: io::Error) -> KeyFileError {
    match e.kind() {
        io::ErrorKind::NotFound => KeyFileError::NotFound {
            path: path.to_path_buf(),
        },
        io::ErrorKind::IsADirectory => KeyFileError::IsDirectory {
            path: path.to_path_buf(),
        },
        // O_NOFOLLOW on a symlink (it appeared after the first check).
        _ if is_eloop(&e) => KeyFileError::Symlink {
            path: path.to_path_buf(),
        },
        _ => io_error(path, op_path, action, e),
    }
}

/// Maps an I/O error to `PermissionDenied` or `Io`.
fn io_error(path: &Path, op_path: &Path, action: &'static str, source: io::Error) -> KeyFileError {
    let (path, op_path) = (path.to_path_buf(), op_path.to_path_buf());
    match source.kind() {
        io::ErrorKind::PermissionDenied => KeyFileError::PermissionDenied {
            path,
            op_path,
            action,
            source,
        },
        kind => KeyFileError::Io {
            path,
            op_path,
            action,
            kind,
            source,
        },
    }
}

/// Fails with `InvalidInput` when `path` is a named pipe (opening one for
/// reading waits for a writer, which would hang startup), and with the
/// `ELOOP` error when it is a symbolic link (it is never followed). Missing
/// files and other stat errors are left for the open to report.
#[cfg(unix)]
fn refuse_special(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::from_raw_os_error(libc::ELOOP)),
        Ok(meta) if meta.file_type().is_fifo() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the key file is a named pipe (FIFO), not a regular file",
        )),
        _ => Ok(()),
    }
}

/// Elsewhere opening the key path does not wait for a writer; nothing to check.
#[cfg(not(unix))]
fn refuse_special(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Opens for reading without following a symlink at the last component
/// (closes the race between [`refuse_special`] and the open).
#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
fn is_eloop(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_eloop(_e: &io::Error) -> bool {
    false
}

/// Refuses a key file readable or writable by group or others, or owned by
/// another user (as OpenSSH refuses such a private key): either could have
/// read or replaced the secret.
#[cfg(unix)]
fn check_trusted(path: &Path, meta: &fs::Metadata) -> Result<(), KeyFileError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if meta.uid() != uid {
        return Err(KeyFileError::WrongOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            uid,
        });
    }
    Ok(())
}

/// Permissions are not mode bits here; nothing to check.
#[cfg(not(unix))]
fn check_trusted(_path: &Path, _meta: &fs::Metadata) -> Result<(), KeyFileError> {
    Ok(())
}

/// Outcome of [`create_no_clobber`].
enum Created {
    Yes,
    AlreadyExists,
}

/// Creates `path` holding `seed`, atomically and only if it does not exist.
fn create_no_clobber(path: &Path, seed: &[u8; SEED_LEN]) -> Result<Created, KeyFileError> {
    let dir = parent_dir(path);
    let temp = TempFile::create(path, &dir)?;
    temp.write_synced(path, seed)?;
    match fs::hard_link(&temp.path, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(Created::AlreadyExists),
        Err(e) => {
            return Err(io_error(
                path,
                path,
                "linking the new key file into place",
                e,
            ))
        }
    }
    drop(temp);
    sync_dir(path, &dir)?;
    Ok(Created::Yes)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A uniquely named temporary file next to the key file, removed on drop.
struct TempFile {
    path: PathBuf,
    file: File,
}

/// Distinguishes temporary names made by threads of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempFile {
    /// Creates a new empty temporary file (mode 0600 on Unix) in `dir`.
    fn create(key_path: &Path, dir: &Path) -> Result<TempFile, KeyFileError> {
        let base = key_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "key".to_owned());
        let mut last_err = None;
        for _ in 0..MAX_TEMP_NAMES {
            let name = format!(
                ".{base}.tmp.{}.{}.{:016x}",
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
                OsRng.next_u64()
            );
            let temp_path = dir.join(name);
            match open_new_private(&temp_path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path: temp_path,
                        file,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(KeyFileError::DirectoryNotFound {
                        path: key_path.to_path_buf(),
                        dir: dir.to_path_buf(),
                    })
                }
                Err(e) => {
                    return Err(io_error(key_path, &temp_path, CREATING_TEMP, e));
                }
            }
        }
        let e = last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists));
        Err(io_error(key_path, dir, CREATING_TEMP, e))
    }

    /// Writes the seed and flushes it to disk, so the linked file is complete.
    fn write_synced(&self, key_path: &Path, seed: &[u8; SEED_LEN]) -> Result<(), KeyFileError> {
        let action = "writing the temporary key file";
        let mut file = &self.file;
        file.write_all(seed)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(key_path, &self.path, action, e))
    }
}

const CREATING_TEMP: &str = "creating a temporary key file";

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!(
                path = %self.path.display(),
                error = %e,
                "cannot remove temporary key file; delete it by hand"
            );
        }
    }
}

/// Opens a new file that must not exist yet, readable by the owner only.
#[cfg(unix)]
fn open_new_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Opens a new file that must not exist yet (no mode bits on this platform;
/// the file inherits the directory's access control).
#[cfg(not(unix))]
fn open_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Flushes the directory entry of the new key file to disk, so it survives a
/// crash and the node does not come back with a different identity.
#[cfg(unix)]
fn sync_dir(key_path: &Path, dir: &Path) -> Result<(), KeyFileError> {
    let action = "syncing the key file's directory";
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(key_path, dir, action, e))
}

/// Directories cannot be opened for syncing here; the link is left to the OS.
#[cfg(not(unix))]
fn sync_dir(_key_path: &Path, _dir: &Path) -> Result<(), KeyFileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_raw_seed() {
        assert_eq!(parse_seed(&[7u8; 32]), Ok([7u8; 32]));
    }

    #[test]
    fn parses_hex_with_each_line_ending() {
        let hex = "0a".repeat(32);
        for suffix in ["", "\n", "\r\n"] {
            let text = format!("{hex}{suffix}");
            assert_eq!(parse_seed(text.as_bytes()), Ok([0x0a; 32]), "{suffix:?}");
        }
        assert_eq!(parse_seed("0A".repeat(32).as_bytes()), Ok([0x0a; 32]));
    }

    #[test]
    fn rejects_other_lengths_and_endings() {
        let hex = "0a".repeat(32);
        for bad in [
            String::new(),
            "0".repeat(31),
            "0".repeat(33),
            "0".repeat(63),
            "0".repeat(65),
            format!("{hex}\n\n"),
            format!("{hex}\r"),
            format!("{hex} "),
        ] {
            assert_eq!(
                parse_seed(bad.as_bytes()),
                Err(ParseError::WrongLength),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reports_first_bad_hex_position() {
        let mut text = "0".repeat(64).into_bytes();
        text[10] = b'g';
        text[20] = b'z';
        assert_eq!(
            parse_seed(&text),
            Err(ParseError::BadHex {
                position: 10,
                byte: b'g'
            })
        );
    }

    #[test]
    fn bare_file_name_lives_in_current_dir() {
        assert_eq!(parent_dir(Path::new("key")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("a/key")), PathBuf::from("a"));
    }

    #[test]
    fn create_never_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        fs::write(&path, b"existing").unwrap();
        let outcome = create_no_clobber(&path, &[1; SEED_LEN]).unwrap();
        assert!(matches!(outcome, Created::AlreadyExists));
        assert_eq!(fs::read(&path).unwrap(), b"existing");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left"
        );
    }

    #[test]
    fn create_writes_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let outcome = create_no_clobber(&path, &[9; SEED_LEN]).unwrap();
        assert!(matches!(outcome, Created::Yes));
        assert_eq!(fs::read(&path).unwrap(), [9; SEED_LEN]);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left"
        );
    }
}
