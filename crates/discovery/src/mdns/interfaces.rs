//! Checks an [`InterfaceSelection`] against the host's interfaces and
//! applies it to the `mdns-sd` daemon.

use std::net::IpAddr;

use mdns_sd::{IfKind, ServiceDaemon};
use tracing::{info, warn};

use super::config::InterfaceSelection;
use crate::error::DiscoveryError;

/// The addresses the selection covers right now.
///
/// Errors: [`DiscoveryError::InterfaceNotFound`] when a named interface is
/// missing or has no IP address; [`DiscoveryError::InterfaceList`] when the
/// OS list cannot be read. An empty `AllNonLoopback` result is only logged:
/// `mdns-sd` picks up addresses that appear later (it re-checks every 5 s).
pub(crate) fn selected_addresses(
    selection: &InterfaceSelection,
) -> Result<Vec<(String, IpAddr)>, DiscoveryError> {
    let all = if_addrs::get_if_addrs().map_err(DiscoveryError::InterfaceList)?;
    let selected: Vec<(String, IpAddr)> = match selection {
        InterfaceSelection::AllNonLoopback => all
            .iter()
            .filter(|i| !i.is_loopback())
            .map(|i| (i.name.clone(), i.ip()))
            .collect(),
        InterfaceSelection::Named(names) => {
            for name in names {
                if !all.iter().any(|i| &i.name == name) {
                    return Err(not_found(name, &all));
                }
            }
            all.iter()
                .filter(|i| names.contains(&i.name))
                .map(|i| (i.name.clone(), i.ip()))
                .collect()
        }
    };
    if selected.is_empty() {
        warn!("no non-loopback interface has an IP address yet; mDNS stays silent until one has");
    } else {
        info!(addresses = ?selected, "mDNS interfaces");
    }
    Ok(selected)
}

fn not_found(name: &str, all: &[if_addrs::Interface]) -> DiscoveryError {
    let mut names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    DiscoveryError::InterfaceNotFound {
        name: name.to_string(),
        available: names.join(", "),
    }
}

/// Tells the daemon which interfaces to use. `mdns-sd` enables every
/// interface, loopback included, by default.
pub(crate) fn apply(
    daemon: &ServiceDaemon,
    selection: &InterfaceSelection,
) -> Result<(), DiscoveryError> {
    let refused = |source| DiscoveryError::Daemon {
        operation: "select the network interfaces",
        source,
    };
    match selection {
        InterfaceSelection::AllNonLoopback => daemon
            .disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])
            .map_err(refused),
        InterfaceSelection::Named(names) => {
            daemon.disable_interface(IfKind::All).map_err(refused)?;
            let kinds: Vec<IfKind> = names.iter().map(|n| IfKind::Name(n.clone())).collect();
            daemon.enable_interface(kinds).map_err(refused)
        }
    }
}
