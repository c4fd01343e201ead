//! The errors of this crate. [`DiscoveryError`] (a discovery source could
//! not be configured, started or shut down) is what a node sees, and is also
//! at the crate root; the typed causes it carries are only here:
//! [`ServiceTypeError`] (a DNS-SD service type is not of the form
//! `_name._tcp.local.`, RFC 6763 §7) and [`StaticPeerError`] (a static peer
//! entry is not `PEERID@IP:PORT`). Bad data received from the network is
//! never an error here: it becomes a
//! [`DiscoveryEvent::Rejected`](crate::DiscoveryEvent::Rejected) event with a
//! [`RejectReason`](crate::RejectReason).

use std::net::AddrParseError;

use tazcom_identity::PeerIdError;

/// A discovery source could not be configured, started or shut down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The configured DNS-SD service type is malformed.
    ///
    /// The expected form is `_name._tcp.local.` (RFC 6763 §7), e.g.
    /// `_tazcom._tcp.local.`.
    #[error("invalid DNS-SD service type {service_type:?}")]
    InvalidServiceType {
        /// The service type as configured.
        service_type: String,
        /// What is wrong with it.
        #[source]
        source: ServiceTypeError,
    },

    /// A configuration value is out of range.
    #[error("invalid discovery configuration: `{field}` {reason}")]
    InvalidConfig {
        /// The name of the configuration field.
        field: &'static str,
        /// Why the value is refused and what to use instead.
        reason: String,
    },

    /// A configured interface name does not exist or has no IP address.
    #[error(
        "network interface {name:?} was not found or has no IP address; \
         interfaces with an address: [{available}]"
    )]
    InterfaceNotFound {
        /// The configured interface name.
        name: String,
        /// Comma-separated names of the interfaces that have an address.
        available: String,
    },

    /// The operating system's interface list could not be read.
    #[error("cannot list the network interfaces")]
    InterfaceList(#[source] std::io::Error),

    /// The local service to publish is not acceptable (port 0, bad TXT entry).
    #[error("invalid local service: {reason}")]
    InvalidLocalService {
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The mDNS daemon could not be created.
    ///
    /// Check that no other process is bound to that port without
    /// `SO_REUSEPORT`, and that multicast is enabled on the selected
    /// interfaces.
    #[error("mDNS daemon failed to start on UDP port {port}")]
    DaemonStart {
        /// The mDNS UDP port that was requested.
        port: u16,
        /// The error reported by `mdns-sd`.
        #[source]
        source: mdns_sd::Error,
    },

    /// The running mDNS daemon refused a command.
    #[error("mDNS daemon refused to {operation}")]
    Daemon {
        /// What was being done, e.g. "register our service".
        operation: &'static str,
        /// The error reported by `mdns-sd`.
        #[source]
        source: mdns_sd::Error,
    },

    /// The mDNS daemon thread ended before answering.
    #[error(
        "mDNS daemon thread ended before it confirmed the {step} step; \
         the daemon may have crashed, see the earlier log lines"
    )]
    DaemonGone {
        /// The shutdown step that was waiting.
        step: &'static str,
    },

    /// `start` was called on a source that is already running.
    #[error("discovery source {source_name:?} is already started; call shutdown first")]
    AlreadyStarted {
        /// [`Discovery::name`](crate::Discovery::name) of the source.
        source_name: String,
    },

    /// A static peer entry could not be parsed.
    #[error("static peer entry #{index} {entry:?} is invalid")]
    StaticEntry {
        /// 0-based position of the entry in the list.
        index: usize,
        /// The entry as given.
        entry: String,
        /// What is wrong with it.
        #[source]
        source: StaticPeerError,
    },

    /// Shutdown did not complete within the configured timeout.
    #[error(
        "discovery shutdown timed out after {timeout_ms} ms while waiting for the {step} step; \
         the daemon was told to exit anyway"
    )]
    ShutdownTimeout {
        /// The step that did not complete: "goodbye", "browser task" or "daemon exit".
        step: &'static str,
        /// The configured shutdown timeout in milliseconds.
        timeout_ms: u64,
    },
}

/// Why a DNS-SD service type is malformed (RFC 6763 §7 and §7.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceTypeError {
    /// The type does not end with `._tcp.local.` (note the final dot).
    #[error("it must end with `._tcp.local.` (fully qualified, with the final dot)")]
    MissingSuffix,
    /// The service name label does not start with `_`.
    #[error("the service name must start with `_`")]
    MissingUnderscore,
    /// The service name (after `_`) is empty.
    #[error("the service name after `_` is empty")]
    EmptyName,
    /// The service name (after `_`) is longer than 15 characters (RFC 6763 §7.2).
    #[error("the service name is {len} characters long, at most 15 are allowed (RFC 6763 §7.2)")]
    TooLong {
        /// Length of the name after `_`, in bytes.
        len: usize,
    },
    /// The service name holds a character other than `a-z`, `0-9`, `-`.
    #[error(
        "the service name holds {character:?}; only lowercase letters, digits and `-` are \
         allowed (RFC 6763 §7.2; lowercase because mdns-sd matches browse types exactly)"
    )]
    InvalidChar {
        /// The first offending character.
        character: char,
    },
    /// The service name has no letter.
    #[error("the service name must contain at least one letter (RFC 6763 §7.2)")]
    NoLetter,
    /// The service name starts or ends with `-`, or has `--`.
    #[error("the service name must not start or end with `-` nor contain `--` (RFC 6763 §7.2)")]
    BadHyphen,
}

/// Why a static peer entry is not of the form `PEERID@IP:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaticPeerError {
    /// No `@` separates the peer id from the address.
    #[error(
        "expected PEERID@IP:PORT (e.g. <64 hex>@192.168.1.10:4000 or <64 hex>@[fe80::1%2]:4000), \
         found no `@`"
    )]
    MissingSeparator,
    /// The part before `@` is not a peer id.
    #[error("the peer id before `@` is invalid")]
    InvalidPeerId(#[source] PeerIdError),
    /// The part after `@` is not `IP:PORT` (an IPv6 address goes in
    /// brackets: `[::1]:4000`).
    #[error("the address {addr:?} after `@` is not IP:PORT")]
    InvalidAddress {
        /// The text after `@`.
        addr: String,
        /// The parser's error.
        #[source]
        source: AddrParseError,
    },
    /// The port is 0, which no peer can listen on.
    #[error("the port is 0; give the peer's TCP listener port")]
    ZeroPort,
}

/// Displays an error followed by its `source()` chain, `": "`-separated, for
/// log lines (messages do not repeat their source, see the Rust API
/// guidelines, C-GOOD-ERR).
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}
