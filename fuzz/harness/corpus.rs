//! Replays a fuzz target's committed corpus (`fuzz/corpus/<target>/`) in a
//! crate's normal test suite (docs/fuzzing.md).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Runs `run` on every file of `fuzz/corpus/<target>/`, found from the
/// calling crate's `CARGO_MANIFEST_DIR` (`crates/<name>`). Panics when the
/// directory is missing or empty, so the test cannot silently check
/// nothing, and names every file whose run panicked.
pub(crate) fn replay(manifest_dir: &str, target: &str, run: impl Fn(&[u8])) {
    let dir = Path::new(manifest_dir)
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} unreadable: {e}", dir.display()))
        .map(|entry| entry.expect("listing the corpus").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).expect("reading a corpus file");
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} inputs panicked: {failed:?}",
        failed.len()
    );
}
