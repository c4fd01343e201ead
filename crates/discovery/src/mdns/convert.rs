//! Turns `mdns-sd` records into [`PeerInfo`]: instance label, TXT `id`,
//! TXT map and socket addresses. Everything here is input from the network:
//! nothing panics, bad data becomes a [`RejectReason`].

use std::collections::{BTreeMap, HashSet};
use std::net::{SocketAddr, SocketAddrV6};

use mdns_sd::{ResolvedService, ScopedIp, TxtProperties};
use tazcom_identity::PeerId;
use tracing::debug;

use crate::event::{PeerInfo, RejectReason};
use crate::wire::TXT_ID_KEY;

/// The instance label of `fullname` (`<instance>.<service_type>`), compared
/// case-insensitively (DNS names are). Labels arrive unescaped from the
/// wire, so a label may itself contain dots. Falls back to the whole name
/// when it does not end with the service type.
pub(crate) fn instance_label<'a>(fullname: &'a str, service_type: &str) -> &'a str {
    let cut = fullname.len().saturating_sub(service_type.len() + 1);
    let label = fullname.get(..cut).filter(|_| cut > 0);
    let rest = fullname.get(cut..);
    match (label, rest) {
        (Some(label), Some(rest))
            if rest.starts_with('.') && rest[1..].eq_ignore_ascii_case(service_type) =>
        {
            label
        }
        _ => fullname,
    }
}

/// The peer id from the TXT `id` key (key case-insensitive, RFC 6763 §6.4).
pub(crate) fn peer_id_from_txt(txt: &TxtProperties) -> Result<PeerId, RejectReason> {
    let value = txt
        .get_property_val(TXT_ID_KEY)
        .ok_or(RejectReason::MissingId)?
        .unwrap_or_default();
    let value = std::str::from_utf8(value).map_err(|_| RejectReason::NonUtf8Id)?;
    value.parse().map_err(|source| RejectReason::InvalidId {
        value: value.to_string(),
        source,
    })
}

/// All TXT entries with lowercased keys; a key without value maps to `""`,
/// non-UTF-8 values are left out.
pub(crate) fn txt_map(txt: &TxtProperties) -> BTreeMap<String, String> {
    txt.iter()
        .filter_map(|p| {
            let value = match p.val() {
                None => String::new(),
                Some(bytes) => match std::str::from_utf8(bytes) {
                    Ok(s) => s.to_string(),
                    Err(_) => {
                        debug!(key = p.key(), "TXT value is not UTF-8; left out");
                        return None;
                    }
                },
            };
            Some((p.key().to_ascii_lowercase(), value))
        })
        .collect()
}

/// One socket address per IP, sorted; IPv6 link-local addresses get the
/// interface index as scope id so they can be connected to.
pub(crate) fn socket_addrs(addresses: &HashSet<ScopedIp>, port: u16) -> Vec<SocketAddr> {
    let mut addrs: Vec<SocketAddr> = addresses
        .iter()
        .filter_map(|ip| match ip {
            ScopedIp::V4(v4) => Some(SocketAddr::from((*v4.addr(), port))),
            ScopedIp::V6(v6) => {
                let scope = if v6.addr().is_unicast_link_local() {
                    v6.scope_id().index
                } else {
                    0
                };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    *v6.addr(),
                    port,
                    0,
                    scope,
                )))
            }
            _ => None,
        })
        .collect();
    addrs.sort();
    addrs.dedup();
    addrs
}

/// Builds the [`PeerInfo`] of a resolved service, or says why it is refused.
pub(crate) fn peer_info(
    resolved: &ResolvedService,
    service_type: &str,
) -> Result<PeerInfo, RejectReason> {
    let peer_id = peer_id_from_txt(&resolved.txt_properties)?;
    if resolved.port == 0 {
        return Err(RejectReason::ZeroPort);
    }
    Ok(PeerInfo {
        peer_id,
        addrs: socket_addrs(&resolved.addresses, resolved.port),
        instance_name: instance_label(&resolved.fullname, service_type).to_string(),
        txt: txt_map(&resolved.txt_properties),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdns_sd::ServiceInfo;
    use tazcom_identity::PeerIdError;

    const TY: &str = "_tazcom._tcp.local.";

    fn resolved(instance: &str, port: u16, txt: &[(&str, &str)]) -> ResolvedService {
        ServiceInfo::new(TY, instance, "h.local.", "10.0.0.2,10.0.0.1", port, txt)
            .unwrap()
            .as_resolved_service()
    }

    #[test]
    fn instance_label_strips_the_service_type() {
        assert_eq!(
            instance_label("TAZCOM Node 1a2b3c4d._tazcom._tcp.local.", TY),
            "TAZCOM Node 1a2b3c4d"
        );
        assert_eq!(instance_label("a.b._TAZCOM._tcp.local.", TY), "a.b");
        assert_eq!(
            instance_label("._tazcom._tcp.local.", TY),
            "._tazcom._tcp.local."
        );
        assert_eq!(
            instance_label("x._other._tcp.local.", TY),
            "x._other._tcp.local."
        );
        assert_eq!(instance_label("é", TY), "é");
    }

    #[test]
    fn a_valid_service_becomes_a_peer_info() {
        let id = PeerId::from_bytes([0xab; 32]);
        let id_hex = id.to_string();
        let info = peer_info(
            &resolved("TAZCOM Node abababab", 4000, &[("ID", &id_hex), ("v", "1")]),
            TY,
        )
        .unwrap();
        assert_eq!(info.peer_id, id);
        assert_eq!(info.instance_name, "TAZCOM Node abababab");
        assert_eq!(
            info.addrs,
            vec![
                "10.0.0.1:4000".parse().unwrap(),
                "10.0.0.2:4000".parse().unwrap()
            ]
        );
        assert_eq!(info.txt.get("id"), Some(&id_hex));
        assert_eq!(info.txt.get("v").map(String::as_str), Some("1"));
    }

    #[test]
    fn bad_services_are_rejected_with_the_reason() {
        let missing = peer_info(&resolved("x", 4000, &[("v", "1")]), TY);
        assert_eq!(missing, Err(RejectReason::MissingId));

        let upper = "AB".repeat(32);
        let bad = peer_info(&resolved("x", 4000, &[("id", &upper)]), TY);
        assert!(matches!(
            bad,
            Err(RejectReason::InvalidId { ref value, source: PeerIdError::Uppercase { .. } }) if *value == upper
        ));

        let short = peer_info(&resolved("x", 4000, &[("id", "1a2b")]), TY);
        assert!(matches!(
            short,
            Err(RejectReason::InvalidId {
                source: PeerIdError::WrongLength { found: 4 },
                ..
            })
        ));

        let zero = peer_info(&resolved("x", 0, &[("id", &"ab".repeat(32))]), TY);
        assert_eq!(zero, Err(RejectReason::ZeroPort));
    }

    #[test]
    fn non_utf8_id_is_rejected() {
        let txt = TxtProperties::from(&b"\x05id=\xff\xfe"[..]);
        assert_eq!(peer_id_from_txt(&txt), Err(RejectReason::NonUtf8Id));
        assert!(txt_map(&txt).is_empty());
    }
}
