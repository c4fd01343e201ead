//! The DNS-SD names and TXT keys a TAZCOM node publishes (docs/wire.md),
//! shared with the Python prototype (python-zeroconf), and
//! [`STATIC_INSTANCE_PREFIX`], the instance name
//! [`StaticDiscovery`](crate::StaticDiscovery) gives its peers in place of a
//! DNS-SD one (never published).

pub use crate::static_source::STATIC_INSTANCE_PREFIX;
use tazcom_identity::PeerId;

use crate::error::DiscoveryError;

/// The DNS-SD service type of TAZCOM nodes (docs/wire.md).
pub const SERVICE_TYPE: &str = "_tazcom._tcp.local.";

/// The instance label is this prefix followed by [`PeerId::short`]
/// (docs/wire.md), e.g. `TAZCOM Node 1a2b3c4d`.
pub const INSTANCE_NAME_PREFIX: &str = "TAZCOM Node ";

/// The TXT key holding the 64 lowercase hex peer id (docs/wire.md). Peers
/// without it are rejected.
pub const TXT_ID_KEY: &str = "id";

/// Longest TXT entry (`key=value`) in bytes: one length byte per string
/// (RFC 6763 §6.1).
pub const TXT_ENTRY_MAX_LEN: usize = 255;

/// The DNS-SD instance label for `peer_id`: `TAZCOM Node <first 8 hex>`.
pub fn instance_name(peer_id: &PeerId) -> String {
    format!("{INSTANCE_NAME_PREFIX}{}", peer_id.short())
}

/// The mDNS host name for `peer_id`: `<first 8 hex>.local.`, the name of our
/// A/AAAA records and the SRV target.
pub fn host_name(peer_id: &PeerId) -> String {
    format!("{}.local.", peer_id.short())
}

/// Builds the TXT entries we publish: `id=<peer id>` first, then `extra` in
/// key order.
///
/// Errors with [`DiscoveryError::InvalidLocalService`] when an extra key is
/// `id` (reserved), empty, not printable ASCII, holds `=` or repeats another
/// key in a different case (RFC 6763 §6.4), or when `key=value` exceeds 255
/// bytes (RFC 6763 §6.1).
pub(crate) fn txt_entries<'a>(
    peer_id: &PeerId,
    extra: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<(String, String)>, DiscoveryError> {
    let mut entries = vec![(TXT_ID_KEY.to_string(), peer_id.to_string())];
    for (key, value) in extra {
        check_txt_entry(key, value)?;
        if entries.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(DiscoveryError::InvalidLocalService {
                reason: format!(
                    "TXT key {key:?} is given twice (keys are case-insensitive, RFC 6763 §6.4)"
                ),
            });
        }
        entries.push((key.clone(), value.clone()));
    }
    Ok(entries)
}

fn check_txt_entry(key: &str, value: &str) -> Result<(), DiscoveryError> {
    let refuse = |why: &str| {
        Err(DiscoveryError::InvalidLocalService {
            reason: format!("TXT key {key:?}: {why}"),
        })
    };
    if key.eq_ignore_ascii_case(TXT_ID_KEY) {
        return refuse("`id` is reserved for the peer id and set from LocalService::peer_id");
    }
    if key.is_empty() {
        return refuse("keys must not be empty (RFC 6763 §6.4)");
    }
    if !key.bytes().all(|b| (0x20..=0x7e).contains(&b) && b != b'=') {
        return refuse("keys must be printable US-ASCII without `=` (RFC 6763 §6.4)");
    }
    let len = key.len() + 1 + value.len();
    if len > TXT_ENTRY_MAX_LEN {
        return refuse(&format!(
            "`key=value` is {len} bytes, at most {TXT_ENTRY_MAX_LEN} fit in a TXT string (RFC 6763 §6.1)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn id() -> PeerId {
        PeerId::from_bytes([0x1a; 32])
    }

    #[test]
    fn names_follow_the_wire_format() {
        assert_eq!(instance_name(&id()), "TAZCOM Node 1a1a1a1a");
        assert_eq!(host_name(&id()), "1a1a1a1a.local.");
    }

    #[test]
    fn txt_starts_with_the_id_then_extras_in_key_order() {
        let extra = BTreeMap::from([
            ("v".to_string(), "1".to_string()),
            ("caps".to_string(), "chat".to_string()),
        ]);
        let entries = txt_entries(&id(), &extra).unwrap();
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["id", "caps", "v"]);
        assert_eq!(entries[0].1, id().to_string());
    }

    #[test]
    fn txt_refuses_reserved_bad_and_oversized_keys() {
        for (key, value) in [
            ("ID", "x".to_string()),
            ("", "x".to_string()),
            ("a=b", "x".to_string()),
            ("caf\u{e9}", "x".to_string()),
            ("k", "x".repeat(254)),
        ] {
            let extra = BTreeMap::from([(key.to_string(), value)]);
            let err = txt_entries(&id(), &extra).unwrap_err();
            assert!(
                matches!(err, DiscoveryError::InvalidLocalService { .. }),
                "{key:?}: {err}"
            );
        }
        let twice = BTreeMap::from([
            ("v".to_string(), "1".to_string()),
            ("V".to_string(), "2".to_string()),
        ]);
        assert!(txt_entries(&id(), &twice).is_err());
        let fits = BTreeMap::from([("k".to_string(), "x".repeat(253))]);
        assert!(txt_entries(&id(), &fits).is_ok());
    }
}
