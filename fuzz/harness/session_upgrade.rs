//! Harness of the `session_upgrade` fuzz target, shared with the corpus
//! regression test `crates/transport/tests/fuzz_corpus.rs` (docs/fuzzing.md).
//!
//! The input, as lossy UTF-8, is a received upgrade line
//! (`docs/wire.md` §3.8.1) parsed with [`UpgradeRequest::parse`]. On `Ok`,
//! [`UpgradeRequest::encode`] is the 171-byte compact line, which parses
//! back to the same request, with and without its `\n`. On `Err`, a
//! `WrongType` names at most 64 characters of the type found.

use tazcom_transport::session::{UpgradeError, UpgradeRequest};

/// Runs one input; see the module docs.
pub(crate) fn run(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    match UpgradeRequest::parse(&line) {
        Ok(request) => {
            let encoded = request.encode();
            assert_eq!(encoded.len(), 171, "{encoded:?}");
            assert!(encoded.ends_with('\n'));
            assert_eq!(UpgradeRequest::parse(&encoded), Ok(request));
            assert_eq!(UpgradeRequest::parse(encoded.trim_end()), Ok(request));
            assert!(
                line.contains(&request.from.to_string()),
                "from not in the line"
            );
            assert!(line.contains(&request.to.to_string()), "to not in the line");
        }
        Err(UpgradeError::WrongType { found }) => {
            assert!(found.chars().count() <= 64, "{} characters", found.len());
            assert_ne!(found, "SESSION");
        }
        Err(_) => {}
    }
}
