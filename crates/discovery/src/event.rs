//! What a discovery source reports: [`DiscoveryEvent`] and [`PeerInfo`].

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tazcom_identity::{PeerId, PeerIdError};

/// A peer as seen by a discovery source.
///
/// For mDNS the fields come from the peer's DNS-SD records (docs/wire.md):
/// the TXT `id` gives `peer_id`, the SRV port and the A/AAAA records give
/// `addrs`, and the other TXT keys are kept in `txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer id the peer claims (TXT `id`). Discovery does not prove it;
    /// the node's signed greeting does (docs/node.md, "What is verified").
    pub peer_id: PeerId,
    /// Where the peer's TCP listener can be reached, sorted (IPv4 before
    /// IPv6), never empty. IPv6 link-local addresses carry the interface
    /// index as scope id.
    pub addrs: Vec<SocketAddr>,
    /// The DNS-SD instance label, e.g. `TAZCOM Node 1a2b3c4d` (not the full
    /// name with the service type). Static peers use `static:<64 hex id>`.
    pub instance_name: String,
    /// All TXT entries, keys lowercased (RFC 6763 §6.4: keys are
    /// case-insensitive), including `id`. A key without `=` maps to `""`.
    /// Entries whose value is not UTF-8 are left out.
    pub txt: BTreeMap<String, String>,
}

/// A change in the set of known peers, as reported by a
/// [`Discovery`](crate::Discovery) source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryEvent {
    /// A peer was seen for the first time (under this instance name).
    Discovered(PeerInfo),
    /// A known peer's addresses, port or TXT entries changed. Carries the new
    /// complete state.
    Updated(PeerInfo),
    /// A peer went away: mDNS goodbye (TTL 0, RFC 6762 §10.1) or expiry of
    /// its records. `peer_id` is `Some` when the instance had been reported
    /// as `Discovered`, `None` when it had only been `Rejected`.
    Removed {
        /// The DNS-SD instance label that went away.
        instance_name: String,
        /// The peer id last seen under that instance, if any.
        peer_id: Option<PeerId>,
    },
    /// A service instance was seen but refused (e.g. bad TXT `id`). The
    /// source also counts it in [`DiscoveryStats::rejected`](crate::DiscoveryStats::rejected)
    /// and logs it with the instance name.
    Rejected {
        /// The DNS-SD instance label of the refused service.
        instance_name: String,
        /// Why it was refused.
        reason: RejectReason,
    },
    /// A peer is probing for its records (RFC 6762 §8.1): it is starting up
    /// (or re-registering) and will announce itself about 1 s later, when
    /// `Discovered` follows. Only the mDNS source reports it, and only when
    /// [`MdnsConfig::probe_hints`](crate::MdnsConfig::probe_hints) is on.
    ///
    /// The data are the *proposed* records of the probe's Authority section
    /// (RFC 6762 §8.2): TXT `id`, SRV port, A/AAAA addresses (the packet's
    /// source address when the probe has no A record). They are unconfirmed
    /// (the probe may lose a conflict and be renamed, RFC 6762 §9, e.g.
    /// `TAZCOM Node 1a2b3c4d (2)`), and the source keeps none of them: no
    /// `Removed` follows a hint, and `Discovered` still comes when the peer
    /// announces. Act on a hint only by checking it, e.g. by greeting the
    /// address and registering the peer once its signed reply proves the id
    /// (docs/node.md). The same probing is reported at most once per 2 s.
    Probing(PeerInfo),
}

impl DiscoveryEvent {
    /// The instance label the event is about.
    pub fn instance_name(&self) -> &str {
        match self {
            DiscoveryEvent::Discovered(info)
            | DiscoveryEvent::Updated(info)
            | DiscoveryEvent::Probing(info) => &info.instance_name,
            DiscoveryEvent::Removed { instance_name, .. }
            | DiscoveryEvent::Rejected { instance_name, .. } => instance_name,
        }
    }

    /// The peer id the event is about, when known (for `Probing`, the
    /// unconfirmed id the probe proposes).
    pub fn peer_id(&self) -> Option<PeerId> {
        match self {
            DiscoveryEvent::Discovered(info)
            | DiscoveryEvent::Updated(info)
            | DiscoveryEvent::Probing(info) => Some(info.peer_id),
            DiscoveryEvent::Removed { peer_id, .. } => *peer_id,
            DiscoveryEvent::Rejected { .. } => None,
        }
    }
}

/// Why a discovered service instance was refused.
///
/// Serde form: a JSON object tagged by `kind`, the snake_case name of
/// [`RejectReason::as_str`], e.g. `{"kind":"missing_id"}` or
/// `{"kind":"invalid_id","value":"zz"}`. The [`PeerIdError`] of `invalid_id`
/// is not written: it follows from `value` and is recomputed when
/// deserializing (a `value` that is a valid peer id is refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(into = "RejectReasonRepr", try_from = "RejectReasonRepr")]
#[non_exhaustive]
pub enum RejectReason {
    /// The TXT record has no `id` key.
    #[error("TXT record has no `id` key; docs/wire.md requires id=<64 lowercase hex peer id>")]
    MissingId,
    /// The TXT `id` value is not UTF-8.
    #[error("TXT `id` value is not UTF-8; expected 64 lowercase hex characters")]
    NonUtf8Id,
    /// The TXT `id` value is not a peer id.
    #[error("TXT `id` value {value:?} is not a peer id")]
    InvalidId {
        /// The value as received (at most 255 bytes, the TXT string limit).
        value: String,
        /// Why it does not parse.
        #[source]
        source: PeerIdError,
    },
    /// The SRV record gives port 0, where no TCP listener can be.
    #[error("SRV port is 0; the peer published no usable TCP port")]
    ZeroPort,
}

impl RejectReason {
    /// The reason's snake_case name, as in its serde `kind`: `missing_id`,
    /// `non_utf8_id`, `invalid_id` or `zero_port`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::MissingId => "missing_id",
            RejectReason::NonUtf8Id => "non_utf8_id",
            RejectReason::InvalidId { .. } => "invalid_id",
            RejectReason::ZeroPort => "zero_port",
        }
    }
}

/// The serde form of [`RejectReason`]: `InvalidId` without its source,
/// which follows from the value.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RejectReasonRepr {
    MissingId,
    NonUtf8Id,
    InvalidId { value: String },
    ZeroPort,
}

impl From<RejectReason> for RejectReasonRepr {
    fn from(reason: RejectReason) -> Self {
        match reason {
            RejectReason::MissingId => RejectReasonRepr::MissingId,
            RejectReason::NonUtf8Id => RejectReasonRepr::NonUtf8Id,
            RejectReason::InvalidId { value, .. } => RejectReasonRepr::InvalidId { value },
            RejectReason::ZeroPort => RejectReasonRepr::ZeroPort,
        }
    }
}

impl TryFrom<RejectReasonRepr> for RejectReason {
    type Error = &'static str;

    fn try_from(repr: RejectReasonRepr) -> Result<Self, Self::Error> {
        Ok(match repr {
            RejectReasonRepr::MissingId => RejectReason::MissingId,
            RejectReasonRepr::NonUtf8Id => RejectReason::NonUtf8Id,
            RejectReasonRepr::InvalidId { value } => match value.parse::<PeerId>() {
                Err(source) => RejectReason::InvalidId { value, source },
                Ok(_) => return Err("invalid_id value is a valid peer id"),
            },
            RejectReasonRepr::ZeroPort => RejectReason::ZeroPort,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons() -> Vec<RejectReason> {
        vec![
            RejectReason::MissingId,
            RejectReason::NonUtf8Id,
            RejectReason::InvalidId {
                value: "zz".to_string(),
                source: "zz".parse::<PeerId>().unwrap_err(),
            },
            RejectReason::InvalidId {
                value: "AB".repeat(32),
                source: "AB".repeat(32).parse::<PeerId>().unwrap_err(),
            },
            RejectReason::ZeroPort,
        ]
    }

    #[test]
    fn as_str_names_every_variant() {
        let mut names: Vec<_> = reasons().iter().map(RejectReason::as_str).collect();
        names.dedup();
        assert_eq!(
            names,
            ["missing_id", "non_utf8_id", "invalid_id", "zero_port"]
        );
    }

    #[test]
    fn json_is_kind_tagged_and_round_trips() {
        for reason in reasons() {
            let json = serde_json::to_value(&reason).unwrap();
            assert_eq!(json["kind"], reason.as_str(), "{json}");
            let back: RejectReason = serde_json::from_value(json).unwrap();
            assert_eq!(back, reason);
        }
        assert_eq!(
            serde_json::to_string(&RejectReason::MissingId).unwrap(),
            r#"{"kind":"missing_id"}"#
        );
        assert_eq!(
            serde_json::to_string(&reasons()[2]).unwrap(),
            r#"{"kind":"invalid_id","value":"zz"}"#
        );
        assert_eq!(
            serde_json::to_string(&RejectReason::ZeroPort).unwrap(),
            r#"{"kind":"zero_port"}"#
        );
    }

    #[test]
    fn deserializing_recomputes_the_source_and_refuses_valid_ids() {
        let back: RejectReason =
            serde_json::from_str(r#"{"kind":"invalid_id","value":"zz"}"#).unwrap();
        assert!(matches!(
            back,
            RejectReason::InvalidId {
                source: PeerIdError::WrongLength { found: 2 },
                ..
            }
        ));
        let valid = format!(r#"{{"kind":"invalid_id","value":"{}"}}"#, "ab".repeat(32));
        assert!(serde_json::from_str::<RejectReason>(&valid).is_err());
        assert!(serde_json::from_str::<RejectReason>(r#"{"kind":"MissingId"}"#).is_err());
        assert!(serde_json::from_str::<RejectReason>(r#""missing_id""#).is_err());
    }
}
