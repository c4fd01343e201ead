//! Arbitrary key file contents loaded with `Identity::load`.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

#[path = "../harness/key_file.rs"]
mod harness;

/// One scratch directory per fuzzing process, named after it
/// (`$TMPDIR/tazcom-fuzz-key_file-<pid>`); it holds one small file and is
/// left behind when the process ends.
static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = SCRATCH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tazcom-fuzz-key_file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the scratch directory");
        dir
    });
    harness::run(dir, data);
});
