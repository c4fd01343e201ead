//! Errors of the DHT crate.

use thiserror::Error;

/// Why a routing table could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DhtError {
    /// A [`DhtConfig`](crate::DhtConfig) field is out of its documented range.
    #[error("invalid DHT config: {field} {rule}")]
    InvalidConfig {
        /// The field name.
        field: &'static str,
        /// The rule it breaks.
        rule: &'static str,
    },
}
