//! What the registry stores about one peer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tazcom_identity::PeerId;

/// Where the registry learned about a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A DNS-SD service instance seen over mDNS (RFC 6762/6763).
    Mdns,
    /// A statically configured address.
    Static,
    /// An inbound greeting (HELLO) on the TCP transport.
    Greeting,
}

impl Source {
    /// The lowercase name used in logs and JSON: `mdns`, `static`, `greeting`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Mdns => "mdns",
            Source::Static => "static",
            Source::Greeting => "greeting",
        }
    }
}

/// What a peer says it can do, from its TXT record (`caps=`, `v=`) or greeting.
///
/// The wire format of these fields is specified in `docs/wire.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// The peer takes part in the validator set (BFT quorum).
    pub validator: bool,
    /// TAZCOM protocol version the peer speaks; 0 when it did not say
    /// (the Python prototype publishes no version).
    pub protocol_version: u16,
    /// The peer accepts encrypted session upgrades (TXT `caps` token
    /// `session`, `docs/wire.md` §2 and §3.8).
    #[serde(default)]
    pub sessions: bool,
}

/// One known peer.
///
/// Entries are immutable once stored and shared as `Arc<PeerEntry>`:
/// a change stores a new entry, and events carry both the old and the new
/// one, so observers never see an entry change under their feet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerEntry {
    /// The peer id (its Ed25519 verifying key).
    pub peer_id: PeerId,
    /// Socket addresses the peer was seen at (TCP listener address(es)).
    pub addrs: Vec<SocketAddr>,
    /// DNS-SD instance name (e.g. `TAZCOM Node 1a2b3c4d`), when the peer was
    /// seen over DNS-SD. The registry indexes it for [`remove_by_instance`].
    ///
    /// [`remove_by_instance`]: crate::PeerRegistry::remove_by_instance
    pub instance_name: Option<Arc<str>>,
    /// Capabilities the peer announced.
    pub capabilities: Capabilities,
    /// Where the registry learned about the peer.
    pub source: Source,
    /// Whether the peer proved it holds the key behind `peer_id`
    /// (authenticated greeting). Unverified entries are claims.
    pub verified: bool,
    /// When the peer was first seen, unix time in ms. On update the registry
    /// keeps the stored value, whatever the new entry says.
    pub first_seen_ms: u64,
    /// When the peer was last seen, unix time in ms.
    pub last_seen_ms: u64,
}

impl PeerEntry {
    /// A new, unverified entry seen now, with no addresses, instance name or
    /// capabilities; fill the public fields as needed.
    pub fn new(peer_id: PeerId, source: Source) -> Self {
        let now = unix_ms();
        Self {
            peer_id,
            addrs: Vec::new(),
            instance_name: None,
            capabilities: Capabilities::default(),
            source,
            verified: false,
            first_seen_ms: now,
            last_seen_ms: now,
        }
    }
}

/// Current unix time in milliseconds (0 if the clock is before 1970).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
