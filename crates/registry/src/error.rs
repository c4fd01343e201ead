//! Registry errors.

use thiserror::Error;

/// Why a registry operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistryError {
    /// A critical observer refused the change, so the commit was aborted:
    /// the registry is unchanged and every critical observer that had been
    /// sent the change was sent its rollback.
    #[error("commit aborted: critical observer '{observer}' failed: {reason}; the registry is unchanged")]
    Aborted {
        /// The observer's name.
        observer: String,
        /// What it said.
        reason: String,
    },
    /// A critical observer did not finish within its timeout, so the commit
    /// was aborted as for [`RegistryError::Aborted`].
    #[error("commit aborted: critical observer '{observer}' timed out after {timeout_ms} ms; the registry is unchanged (raise its timeout or make it faster)")]
    TimedOut {
        /// The observer's name.
        observer: String,
        /// The timeout that expired, in ms.
        timeout_ms: u64,
    },
    /// Registering one more observer would exceed
    /// [`ObserverRegistryConfig::max_observers`](crate::ObserverRegistryConfig::max_observers).
    #[error("observer limit reached ({limit}); unregister an observer or raise max_observers")]
    ObserverLimit {
        /// The configured limit.
        limit: usize,
    },
    /// The same observer object is already registered.
    #[error("observer '{observer}' is already registered; register each observer object once")]
    AlreadyRegistered {
        /// The observer's name.
        observer: String,
    },
    /// A newly registered observer failed to apply the replay of the current
    /// peers, so it was not registered.
    #[error(
        "observer '{observer}' failed the replay of current peers and was not registered: {reason}"
    )]
    ReplayFailed {
        /// The observer's name.
        observer: String,
        /// What it said, or that it timed out.
        reason: String,
    },
    /// A configuration field is out of its documented range.
    #[error("invalid observer registry config: {field} {rule}")]
    InvalidConfig {
        /// The field name.
        field: &'static str,
        /// The rule it breaks.
        rule: &'static str,
    },
}
