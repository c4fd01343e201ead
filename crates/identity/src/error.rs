//! Error types of this crate: one enum per concern.
//!
//! - [`PeerIdError`]: a peer id string or byte string is not acceptable.
//! - [`IdentityError`]: a signature does not verify.
//! - [`KeyFileError`]: the key file cannot be read, created or parsed.

use std::io;
use std::path::PathBuf;

/// A peer id could not be parsed from its wire form, or its bytes are not a
/// usable Ed25519 public key.
///
/// The wire form is exactly 64 lowercase hex characters (see
/// [`PeerId`](crate::PeerId) and `docs/identity.md`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerIdError {
    /// The string does not have exactly 64 characters.
    #[error(
        "peer id has {found} characters, expected exactly 64 lowercase hex characters \
         (32 bytes); check that the id was copied completely"
    )]
    WrongLength {
        /// Number of characters found (Unicode scalar values).
        found: usize,
    },
    /// A character is not a hex digit.
    #[error(
        "peer id has non-hex character {character:?} at position {position} (0-based); \
         a peer id is 64 lowercase hex characters [0-9a-f]"
    )]
    NonHex {
        /// 0-based character position of the first offending character.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// A hex digit is uppercase; only the lowercase form is canonical on the wire.
    #[error(
        "peer id has uppercase hex digit {character:?} at position {position} (0-based); \
         the canonical wire form is lowercase, convert the id to lowercase"
    )]
    Uppercase {
        /// 0-based character position of the first uppercase digit.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// The 32 bytes are not a valid Ed25519 public key (not a point on the curve).
    #[error(
        "peer id {peer} is not a valid Ed25519 public key (not a curve point); \
         the id is corrupted or was not produced by a TAZCOM identity"
    )]
    InvalidKey {
        /// The offending id as 64 lowercase hex characters.
        peer: String,
    },
}

/// A signature check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The peer id is not a usable public key, so nothing can verify against it.
    #[error(transparent)]
    InvalidPeerId(#[from] PeerIdError),
    /// The signature is not a valid signature of the message by this peer
    /// (wrong key, tampered message or signature, or a weak/non-canonical
    /// signature rejected by strict verification).
    #[error(
        "signature from peer {peer} does not verify: the message or signature was altered, \
         or it was signed by a different key; reject the message"
    )]
    BadSignature {
        /// The claimed signer as 64 lowercase hex characters.
        peer: String,
    },
}

/// The key file could not be loaded or created.
///
/// Every variant names the key file (and, where it differs, the path the
/// failing operation touched). On every error the key file is left untouched:
/// it is never overwritten or truncated. Key file format and creation protocol:
/// `docs/identity.md`.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The key file does not exist (only from [`Identity::load`](crate::Identity::load)).
    #[error(
        "key file {path} does not exist; check the path, or use \
         Identity::load_or_generate to create a new key there"
    )]
    NotFound {
        /// The key file path.
        path: PathBuf,
    },
    /// The directory that should contain the key file does not exist.
    #[error(
        "cannot create key file {path}: directory {dir} does not exist; create it \
         first (mode 0700 recommended) or choose another key file path"
    )]
    DirectoryNotFound {
        /// The key file path.
        path: PathBuf,
        /// Its parent directory.
        dir: PathBuf,
    },
    /// The key file path is a symbolic link: refused, never followed (as
    /// OpenSSH refuses a key it cannot trust), so the key cannot be swapped
    /// by whoever can write the link's directory or target.
    #[error(
        "key file {path} is a symbolic link; use the file it points to, or copy \
         the key to a regular file (mode 0600)"
    )]
    Symlink {
        /// The key file path.
        path: PathBuf,
    },
    /// The key file is readable or writable by group or others (Unix mode
    /// & 0o077 ≠ 0): refused, as OpenSSH refuses such a private key.
    #[error("key file {path} is accessible by others (mode {mode:04o}); run: chmod 600 {path}")]
    TooOpen {
        /// The key file path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file belongs to another user than the one running the
    /// process: refused (that user could replace the key).
    #[error(
        "key file {path} is owned by uid {owner}, not by this process's uid {uid}; \
         run: chown {uid} {path}"
    )]
    WrongOwner {
        /// The key file path.
        path: PathBuf,
        /// The file's owner.
        owner: u32,
        /// The process's effective uid.
        uid: u32,
    },
    /// The key file path is a directory.
    #[error(
        "key file {path} is a directory, not a file; remove the directory or choose \
         another key file path"
    )]
    IsDirectory {
        /// The key file path.
        path: PathBuf,
    },
    /// The process may not read the key file or create files in its directory.
    ///
    /// Run the node as the key's owner, or fix the owner/mode (key file 0600,
    /// directory writable by the owner).
    #[error("permission denied on {op_path} while {action} (key file {path})")]
    PermissionDenied {
        /// The key file path.
        path: PathBuf,
        /// The path the failing operation touched (the key file, its temporary
        /// file or its directory).
        op_path: PathBuf,
        /// What was being done, e.g. `"reading the key file"`.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Any other I/O failure while reading or creating the key file.
    #[error("I/O error on {op_path} while {action} (key file {path})")]
    Io {
        /// The key file path.
        path: PathBuf,
        /// The path the failing operation touched (the key file, its temporary
        /// file or its directory).
        op_path: PathBuf,
        /// What was being done, e.g. `"reading the key file"`.
        action: &'static str,
        /// The kind of the I/O error, for matching without the source.
        kind: io::ErrorKind,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The key file has neither of the two accepted lengths.
    #[error(
        "key file {path} has {found} bytes; expected either 32 bytes (the raw secret \
         seed) or 64 hex characters optionally followed by \"\\n\" or \"\\r\\n\"; \
         delete the file to generate a new key, or restore it from backup"
    )]
    WrongLength {
        /// The key file path.
        path: PathBuf,
        /// The file's length in bytes.
        found: u64,
    },
    /// The key file has the length of the hex form but contains a non-hex byte.
    #[error(
        "key file {path} has non-hex byte {byte:#04x} ({shown:?}) at offset {position}; \
         the text form is 64 hex characters [0-9a-fA-F]; delete the file to generate \
         a new key, or restore it from backup",
        shown = char::from(*.byte)
    )]
    BadHex {
        /// The key file path.
        path: PathBuf,
        /// 0-based byte offset of the first offending byte.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The key file name exists but keeps failing to open as a file: a dangling
    /// symbolic link, or another process deletes it while this one starts.
    #[error(
        "key file {path} exists but cannot be opened (a dangling symbolic link, or \
         another process keeps deleting it); remove the broken link or stop the \
         other process"
    )]
    Vanished {
        /// The key file path.
        path: PathBuf,
    },
}
