//! Harness of the `key_file` fuzz target, shared with the corpus regression
//! test `crates/identity/tests/fuzz_corpus.rs` (docs/fuzzing.md).
//!
//! The input is written as a key file and loaded with [`Identity::load`],
//! which must not panic, must leave the file byte-for-byte unchanged and must
//! agree with the format (docs/identity.md): 32 raw bytes, or 64 hex digits
//! (either case) optionally followed by `\n` or `\r\n`.

use std::path::Path;

use tazcom_identity::{Identity, KeyFileError};

/// What the format says about a file, decided independently of the crate.
#[derive(Debug)]
enum Expected {
    Seed([u8; 32]),
    WrongLength,
    /// Hex form with a non-hex byte at this offset.
    BadHex(usize),
}

/// Runs one input in `dir` (an existing, writable scratch directory).
pub(crate) fn run(dir: &Path, data: &[u8]) {
    let path = dir.join("fuzz.key");
    std::fs::write(&path, data).expect("writing the scratch key file");
    // A key file must be the user's alone (mode 0600), else it is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&path, private).expect("chmod 600 the scratch key file");
    }
    let loaded = Identity::load(&path);
    let after = std::fs::read(&path).expect("reading the scratch key file back");
    assert!(after == data, "Identity::load modified the key file");
    match (expected(data), loaded) {
        (Expected::Seed(seed), Ok(id)) => {
            assert_eq!(id.peer_id(), Identity::from_seed(seed).peer_id());
        }
        (Expected::WrongLength, Err(KeyFileError::WrongLength { found, .. })) => {
            assert_eq!(found, data.len() as u64);
        }
        (Expected::BadHex(at), Err(KeyFileError::BadHex { position, byte, .. })) => {
            assert_eq!((position, Some(&byte)), (at, data.get(at)));
        }
        (expected, loaded) => panic!("expected {expected:?}, got {loaded:?}"),
    }
}

fn expected(data: &[u8]) -> Expected {
    if let Ok(raw) = <[u8; 32]>::try_from(data) {
        return Expected::Seed(raw);
    }
    let text = data
        .strip_suffix(b"\r\n")
        .or_else(|| data.strip_suffix(b"\n"))
        .unwrap_or(data);
    if text.len() != 64 {
        return Expected::WrongLength;
    }
    let mut seed = [0u8; 32];
    for (i, out) in seed.iter_mut().enumerate() {
        let (hi, lo) = (hex_digit(text[2 * i]), hex_digit(text[2 * i + 1]));
        match (hi, lo) {
            (Some(hi), Some(lo)) => *out = hi << 4 | lo,
            (None, _) => return Expected::BadHex(2 * i),
            (Some(_), None) => return Expected::BadHex(2 * i + 1),
        }
    }
    Expected::Seed(seed)
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}
