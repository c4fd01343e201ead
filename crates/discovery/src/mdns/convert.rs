//! Turns `mdns-sd` records into [`PeerInfo`]: instance label, TXT `id`,
//! TXT map and socket addresses. The TXT and port checks are shared with
//! the probe hints (`probe.rs`), so both paths accept and refuse the same
//! records. Everything here is input from the network: nothing panics, bad
//! data becomes a [`RejectReason`].

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

/// What a TXT record says: the peer id (TXT `id`) and all entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TxtFields {
    pub(crate) peer_id: PeerId,
    /// All entries, keys lowercased; see [`PeerInfo::txt`].
    pub(crate) txt: BTreeMap<String, String>,
}

/// Reads the entries of one TXT record (RFC 6763 §6), each a key and, when
/// the entry holds `=`, the value bytes, whoever decoded the record
/// (`mdns-sd` for resolved services, `simple-dns` for probes). Keys are
/// case-insensitive and only the first entry of a key counts (RFC 6763
/// §6.4); the map holds the keys lowercased, a key without value as `""`,
/// and leaves out values that are not UTF-8.
///
/// Errors: [`RejectReason::MissingId`], [`RejectReason::NonUtf8Id`] or
/// [`RejectReason::InvalidId`] when the `id` entry is absent or not a
/// 64 lowercase hex peer id (docs/wire.md).
pub(crate) fn txt_fields<'a>(
    entries: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> Result<TxtFields, RejectReason> {
    let mut seen = HashSet::new();
    let mut id_value = None;
    let mut txt = BTreeMap::new();
    for (key, value) in entries {
        let key = key.to_ascii_lowercase();
        if !seen.insert(key.clone()) {
            continue;
        }
        if key == TXT_ID_KEY {
            id_value = Some(value.unwrap_or_default());
        }
        match value.map(std::str::from_utf8) {
            None => {
                txt.insert(key, String::new());
            }
            Some(Ok(value)) => {
                txt.insert(key, value.to_string());
            }
            Some(Err(_)) => debug!(key = %key, "TXT value is not UTF-8; left out"),
        }
    }
    let peer_id = parse_id(id_value.ok_or(RejectReason::MissingId)?)?;
    Ok(TxtFields { peer_id, txt })
}

/// The peer id in a TXT `id` value.
fn parse_id(value: &[u8]) -> Result<PeerId, RejectReason> {
    let value = std::str::from_utf8(value).map_err(|_| RejectReason::NonUtf8Id)?;
    value.parse().map_err(|source| RejectReason::InvalidId {
        value: value.to_string(),
        source,
    })
}

/// [`txt_fields`] of a TXT record decoded by `mdns-sd`.
pub(crate) fn txt_fields_of(txt: &TxtProperties) -> Result<TxtFields, RejectReason> {
    txt_fields(txt.iter().map(|p| (p.key(), p.val())))
}

/// The SRV port, refused when 0 (no TCP listener can be there).
pub(crate) fn check_port(port: u16) -> Result<u16, RejectReason> {
    if port == 0 {
        Err(RejectReason::ZeroPort)
    } else {
        Ok(port)
    }
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
    let TxtFields { peer_id, txt } = txt_fields_of(&resolved.txt_properties)?;
    let port = check_port(resolved.port)?;
    Ok(PeerInfo {
        peer_id,
        addrs: socket_addrs(&resolved.addresses, port),
        instance_name: instance_label(&resolved.fullname, service_type).to_string(),
        txt,
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
        assert_eq!(txt_fields_of(&txt), Err(RejectReason::NonUtf8Id));
    }

    #[test]
    fn txt_keys_are_case_insensitive_and_the_first_counts() {
        let id = "ab".repeat(32);
        let other = "cd".repeat(32);
        let entries = [
            ("ID", Some(id.as_bytes())),
            ("id", Some(other.as_bytes())),
            ("Flag", None),
            ("bin", Some(&b"\xff"[..])),
        ];
        let fields = txt_fields(entries).unwrap();
        assert_eq!(fields.peer_id.to_string(), id);
        assert_eq!(fields.txt.get("id"), Some(&id));
        assert_eq!(fields.txt.get("flag").map(String::as_str), Some(""));
        assert!(!fields.txt.contains_key("bin"), "non-UTF-8 value left out");
        assert_eq!(
            txt_fields([("id", None)]),
            Err(RejectReason::InvalidId {
                value: String::new(),
                source: "".parse::<PeerId>().unwrap_err()
            })
        );
    }
}
