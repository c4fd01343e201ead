//! [`MdnsConfig`]: service type, mDNS port, interfaces and limits.

use std::time::Duration;

use crate::error::{DiscoveryError, ServiceTypeError};
use crate::wire;

/// The standard mDNS UDP port (RFC 6762 §3).
pub const DEFAULT_MDNS_PORT: u16 = mdns_sd::MDNS_PORT;

/// Default bound on [`MdnsDiscovery::shutdown`](crate::MdnsDiscovery) (3000 ms).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// Default capacity of the event channel (events).
pub const DEFAULT_EVENT_CAPACITY: usize = 256;

/// The longest service name after `_` (RFC 6763 §7.2).
pub const SERVICE_NAME_MAX_LEN: usize = 15;

const SERVICE_TYPE_SUFFIX: &str = "._tcp.local.";

/// Which network interfaces mDNS runs on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InterfaceSelection {
    /// Every interface that has an IP address, except loopback (the default).
    #[default]
    AllNonLoopback,
    /// Only the named interfaces, e.g. `["eth0"]` or `["lo"]` (loopback is
    /// allowed here, tests use it). Each must exist with an IP address when
    /// the source starts.
    Named(Vec<String>),
}

/// Settings of [`MdnsDiscovery`](crate::MdnsDiscovery).
///
/// Build with [`MdnsConfig::default`] and the `with_*` methods; the values
/// are checked by [`MdnsConfig::validate`], which
/// [`MdnsDiscovery::new`](crate::MdnsDiscovery::new) calls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MdnsConfig {
    /// DNS-SD service type to publish and browse, `_name._tcp.local.` (name
    /// as [`validate_service_type`] requires). Default [`wire::SERVICE_TYPE`]
    /// (`_tazcom._tcp.local.`).
    pub service_type: String,
    /// UDP port of mDNS, not 0. Default 5353 (RFC 6762). Other values only
    /// reach peers configured with the same port (tests, development).
    pub mdns_port: u16,
    /// Interfaces to publish and browse on; a named list must hold at least
    /// one non-blank name. Default: all non-loopback.
    pub interfaces: InterfaceSelection,
    /// Upper bound on `shutdown`, all steps together; > 0. Default 3000 ms.
    pub shutdown_timeout: Duration,
    /// Capacity of the event channel returned by `start`, events, ≥ 1.
    /// Default 256.
    pub event_capacity: usize,
    /// Report [`DiscoveryEvent::Probing`](crate::DiscoveryEvent::Probing)
    /// hints. Default `true`.
    ///
    /// A starting peer probes for its names three times, 250 ms apart
    /// (RFC 6762 §8.1), before it announces them, so `Discovered` comes
    /// about 1 s after it starts. Each probe already carries the records it
    /// proposes in its Authority section (RFC 6762 §8.2): SRV port, TXT `id`,
    /// A/AAAA. With this on, the source listens to the probes of its service
    /// type on a second UDP socket (IPv4 only, bound to 224.0.0.251 on
    /// [`mdns_port`](Self::mdns_port), joined on the selected interfaces'
    /// IPv4 addresses) and reports them as hints. RFC 6762 forbids caching
    /// proposed records as answers, and none are cached: a hint is
    /// unconfirmed, to be checked (greeted and verified) before use. If the
    /// socket cannot be set up, a warning is logged, counted in
    /// [`DiscoveryStats::probe_socket_errors`](crate::DiscoveryStats::probe_socket_errors),
    /// and discovery runs without hints. See docs/discovery.md, "Probe hints".
    pub probe_hints: bool,
}

impl Default for MdnsConfig {
    fn default() -> Self {
        MdnsConfig {
            service_type: wire::SERVICE_TYPE.to_string(),
            mdns_port: DEFAULT_MDNS_PORT,
            interfaces: InterfaceSelection::AllNonLoopback,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            probe_hints: true,
        }
    }
}

impl MdnsConfig {
    /// Sets the service type (checked by [`validate`](Self::validate)).
    pub fn with_service_type(mut self, service_type: impl Into<String>) -> Self {
        self.service_type = service_type.into();
        self
    }

    /// Sets the mDNS UDP port.
    pub fn with_mdns_port(mut self, port: u16) -> Self {
        self.mdns_port = port;
        self
    }

    /// Runs mDNS only on the named interfaces (e.g. `["lo"]`).
    pub fn with_interfaces<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interfaces = InterfaceSelection::Named(names.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the bound on `shutdown`.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets the capacity of the event channel (events).
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Turns [`probe_hints`](Self::probe_hints) on or off.
    pub fn with_probe_hints(mut self, on: bool) -> Self {
        self.probe_hints = on;
        self
    }

    /// Checks every field.
    ///
    /// Errors: [`DiscoveryError::InvalidServiceType`] (see
    /// [`validate_service_type`]); [`DiscoveryError::InvalidConfig`] for
    /// port 0, an empty interface list or name, a zero shutdown timeout or
    /// a zero event capacity. Whether named interfaces exist is checked at
    /// start, when it matters.
    pub fn validate(&self) -> Result<(), DiscoveryError> {
        validate_service_type(&self.service_type)?;
        let refuse = |field, reason: &str| {
            Err(DiscoveryError::InvalidConfig {
                field,
                reason: reason.to_string(),
            })
        };
        if self.mdns_port == 0 {
            return refuse(
                "mdns_port",
                "is 0; use 5353 (RFC 6762) or a fixed test port",
            );
        }
        if let InterfaceSelection::Named(names) = &self.interfaces {
            if names.is_empty() {
                return refuse(
                    "interfaces",
                    "is an empty list; name at least one interface or use AllNonLoopback",
                );
            }
            if names.iter().any(|n| n.trim().is_empty()) {
                return refuse("interfaces", "holds an empty interface name");
            }
        }
        if self.shutdown_timeout.is_zero() {
            return refuse(
                "shutdown_timeout",
                "is 0; the goodbye needs time to go out, use e.g. 3 s",
            );
        }
        if self.event_capacity == 0 {
            return refuse("event_capacity", "is 0; use at least 1 (default 256)");
        }
        Ok(())
    }
}

/// Checks that `service_type` is `_name._tcp.local.` with `name` of 1 to 15
/// lowercase letters, digits and hyphens, at least one letter, no hyphen at
/// either end nor two in a row (RFC 6763 §7 and §7.2).
///
/// Errors with [`DiscoveryError::InvalidServiceType`] carrying the
/// [`ServiceTypeError`] found first.
pub fn validate_service_type(service_type: &str) -> Result<(), DiscoveryError> {
    check_service_type(service_type).map_err(|source| DiscoveryError::InvalidServiceType {
        service_type: service_type.to_string(),
        source,
    })
}

fn check_service_type(service_type: &str) -> Result<(), ServiceTypeError> {
    let label = service_type
        .strip_suffix(SERVICE_TYPE_SUFFIX)
        .ok_or(ServiceTypeError::MissingSuffix)?;
    let name = label
        .strip_prefix('_')
        .ok_or(ServiceTypeError::MissingUnderscore)?;
    if name.is_empty() {
        return Err(ServiceTypeError::EmptyName);
    }
    if name.len() > SERVICE_NAME_MAX_LEN {
        return Err(ServiceTypeError::TooLong { len: name.len() });
    }
    if let Some(character) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(ServiceTypeError::InvalidChar { character });
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(ServiceTypeError::NoLetter);
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err(ServiceTypeError::BadHyphen);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_error(service_type: &str) -> ServiceTypeError {
        match validate_service_type(service_type) {
            Err(DiscoveryError::InvalidServiceType { source, .. }) => source,
            other => panic!("{service_type:?}: expected InvalidServiceType, got {other:?}"),
        }
    }

    #[test]
    fn accepts_well_formed_types() {
        for ok in [
            "_tazcom._tcp.local.",
            "_a._tcp.local.",
            "_tz01ab23cd._tcp.local.",
            "_abcdefghijklmno._tcp.local.",
            "_x-y._tcp.local.",
        ] {
            assert!(validate_service_type(ok).is_ok(), "{ok}");
        }
        assert!(MdnsConfig::default().validate().is_ok());
    }

    #[test]
    fn refuses_malformed_types_with_the_reason() {
        use ServiceTypeError::*;
        assert_eq!(type_error("_tazcom._tcp.local"), MissingSuffix);
        assert_eq!(type_error("_tazcom._udp.local."), MissingSuffix);
        assert_eq!(type_error("tazcom._tcp.local."), MissingUnderscore);
        assert_eq!(type_error("_._tcp.local."), EmptyName);
        assert_eq!(
            type_error("_abcdefghijklmnop._tcp.local."),
            TooLong { len: 16 }
        );
        assert_eq!(
            type_error("_TAZCOM._tcp.local."),
            InvalidChar { character: 'T' }
        );
        assert_eq!(
            type_error("_a.b._tcp.local."),
            InvalidChar { character: '.' }
        );
        assert_eq!(type_error("_1234._tcp.local."), NoLetter);
        assert_eq!(type_error("_-ab._tcp.local."), BadHyphen);
        assert_eq!(type_error("_a--b._tcp.local."), BadHyphen);
    }

    #[test]
    fn refuses_out_of_range_fields() {
        let field_of = |config: MdnsConfig| match config.validate() {
            Err(DiscoveryError::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        let base = MdnsConfig::default;
        assert_eq!(field_of(base().with_mdns_port(0)), "mdns_port");
        assert_eq!(
            field_of(base().with_interfaces(Vec::<String>::new())),
            "interfaces"
        );
        assert_eq!(field_of(base().with_interfaces([" "])), "interfaces");
        assert_eq!(
            field_of(base().with_shutdown_timeout(Duration::ZERO)),
            "shutdown_timeout"
        );
        assert_eq!(field_of(base().with_event_capacity(0)), "event_capacity");
        assert!(base().probe_hints, "probe hints are on by default");
        assert!(!base().with_probe_hints(false).probe_hints);
        assert!(base()
            .with_interfaces(["lo"])
            .with_mdns_port(5454)
            .validate()
            .is_ok());
    }
}
