//! [`StaticDiscovery`]: a fixed list of peers for networks without multicast.
//!
//! Each entry is `PEERID@IP:PORT` ([`StaticPeer`]). The peer id is required
//! even though only the address is needed to connect: the node's registry is
//! keyed by peer id. An authenticated greeting (not yet implemented: the
//! plain HELLO/ACK proves nothing) is what will catch a wrong or stale entry.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use tazcom_identity::PeerId;
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::error::{DiscoveryError, StaticPeerError};
use crate::event::{DiscoveryEvent, PeerInfo};
use crate::source::{Discovery, LocalService};
use crate::stats::{DiscoveryStats, StatsCounter};

/// The prefix of the instance name given to static peers:
/// `static:<64 hex peer id>`.
pub const STATIC_INSTANCE_PREFIX: &str = "static:";

/// One static peer: a peer id and the address of its TCP listener.
///
/// Text form: `PEERID@IP:PORT`, with the peer id as 64 lowercase hex and
/// IPv6 addresses in brackets, e.g. `…@192.168.1.10:4000` or
/// `…@[fe80::1%2]:4000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StaticPeer {
    /// The id the peer is expected to have (a claim until a greeting proves it).
    pub peer_id: PeerId,
    /// Its TCP listener address (port not 0).
    pub addr: SocketAddr,
}

/// Parses `PEERID@IP:PORT`; surrounding whitespace is ignored.
///
/// Errors: [`StaticPeerError::MissingSeparator`] without `@`,
/// [`StaticPeerError::InvalidPeerId`] if the id is not 64 lowercase hex,
/// [`StaticPeerError::InvalidAddress`] if the rest is not `IP:PORT`,
/// [`StaticPeerError::ZeroPort`] for port 0.
impl FromStr for StaticPeer {
    type Err = StaticPeerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, addr) = s
            .trim()
            .split_once('@')
            .ok_or(StaticPeerError::MissingSeparator)?;
        let peer_id = id.parse().map_err(StaticPeerError::InvalidPeerId)?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|source| StaticPeerError::InvalidAddress {
                addr: addr.to_string(),
                source,
            })?;
        if addr.port() == 0 {
            return Err(StaticPeerError::ZeroPort);
        }
        Ok(StaticPeer { peer_id, addr })
    }
}

/// Prints the text form `PEERID@IP:PORT`.
impl fmt::Display for StaticPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.peer_id, self.addr)
    }
}

/// A [`Discovery`] source that reports a fixed list of peers.
///
/// On `start` it emits one [`DiscoveryEvent::Discovered`] per distinct peer
/// id, in order of first appearance, with all of that id's addresses (an id
/// listed twice gets both addresses). Entries with our own id are skipped
/// and counted as `self_ignored`. The event stream stays open until
/// `shutdown`; static peers are never `Removed`.
#[derive(Debug)]
pub struct StaticDiscovery {
    peers: Vec<StaticPeer>,
    stats: Arc<StatsCounter>,
    // Kept so the stream stays open until shutdown.
    sender: Option<mpsc::Sender<DiscoveryEvent>>,
}

impl StaticDiscovery {
    /// A source for `peers`.
    pub fn new(peers: impl IntoIterator<Item = StaticPeer>) -> Self {
        StaticDiscovery {
            peers: peers.into_iter().collect(),
            stats: Arc::default(),
            sender: None,
        }
    }

    /// Parses each entry as `PEERID@IP:PORT` (see [`StaticPeer`]).
    ///
    /// Errors with [`DiscoveryError::StaticEntry`] naming the first bad
    /// entry and its 0-based index.
    pub fn from_entries<I, S>(entries: I) -> Result<Self, DiscoveryError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let peers = entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                let entry = entry.as_ref();
                entry.parse().map_err(|source| DiscoveryError::StaticEntry {
                    index,
                    entry: entry.to_string(),
                    source,
                })
            })
            .collect::<Result<Vec<StaticPeer>, _>>()?;
        Ok(Self::new(peers))
    }

    /// The configured peers, as given.
    pub fn peers(&self) -> &[StaticPeer] {
        &self.peers
    }

    /// Groups the entries by peer id, skipping our own id.
    fn peer_infos(&self, own_id: &PeerId) -> Vec<PeerInfo> {
        let mut infos: Vec<PeerInfo> = Vec::new();
        for peer in &self.peers {
            if peer.peer_id == *own_id {
                debug!(addr = %peer.addr, "static peer list holds our own id; skipped");
                self.stats.count_self_ignored();
                continue;
            }
            match infos.iter_mut().find(|i| i.peer_id == peer.peer_id) {
                Some(info) if info.addrs.contains(&peer.addr) => {}
                Some(info) => info.addrs.push(peer.addr),
                None => infos.push(PeerInfo {
                    peer_id: peer.peer_id,
                    addrs: vec![peer.addr],
                    instance_name: format!("{STATIC_INSTANCE_PREFIX}{}", peer.peer_id),
                    txt: Default::default(),
                }),
            }
        }
        for info in &mut infos {
            info.addrs.sort();
        }
        infos
    }
}

#[async_trait]
impl Discovery for StaticDiscovery {
    fn name(&self) -> &str {
        "static"
    }

    /// Emits the peers at once. `local.port` and `local.txt_extra` are not
    /// used (nothing is published); only `local.peer_id` is, to skip ourself.
    async fn start(
        &mut self,
        local: LocalService,
    ) -> Result<mpsc::Receiver<DiscoveryEvent>, DiscoveryError> {
        if self.sender.is_some() {
            return Err(DiscoveryError::AlreadyStarted {
                source_name: self.name().to_string(),
            });
        }
        let infos = self.peer_infos(&local.peer_id);
        let (tx, rx) = mpsc::channel(infos.len().max(1));
        for info in infos {
            info!(peer = %info.peer_id.short(), addrs = ?info.addrs, "static peer");
            let event = DiscoveryEvent::Discovered(info);
            self.stats.count(&event);
            // Cannot be full: the capacity is the number of events.
            if tx.try_send(event).is_err() {
                debug!("static discovery: event channel unexpectedly full or closed");
            }
        }
        self.sender = Some(tx);
        Ok(rx)
    }

    async fn shutdown(&mut self) -> Result<(), DiscoveryError> {
        self.sender = None;
        Ok(())
    }

    fn stats(&self) -> DiscoveryStats {
        self.stats.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tazcom_identity::PeerIdError;

    fn id(byte: u8) -> PeerId {
        PeerId::from_bytes([byte; 32])
    }

    fn entry(byte: u8, addr: &str) -> String {
        format!("{}@{addr}", id(byte))
    }

    #[test]
    fn parses_ipv4_and_ipv6_entries_and_prints_them_back() {
        let v4: StaticPeer = entry(1, "192.168.1.10:4000").parse().unwrap();
        assert_eq!(v4.peer_id, id(1));
        assert_eq!(v4.addr, "192.168.1.10:4000".parse().unwrap());
        assert_eq!(v4.to_string(), entry(1, "192.168.1.10:4000"));

        let v6: StaticPeer = format!("  {}  ", entry(2, "[fe80::1%2]:4000"))
            .parse()
            .unwrap();
        assert_eq!(v6.addr, "[fe80::1%2]:4000".parse().unwrap());
    }

    #[test]
    fn parse_errors_are_typed() {
        let no_at = "192.168.1.10:4000".parse::<StaticPeer>();
        assert_eq!(no_at, Err(StaticPeerError::MissingSeparator));

        let short_id = "abcd@192.168.1.10:4000".parse::<StaticPeer>();
        assert_eq!(
            short_id,
            Err(StaticPeerError::InvalidPeerId(PeerIdError::WrongLength {
                found: 4
            }))
        );

        let upper = entry(0xab, "10.0.0.1:1")
            .to_uppercase()
            .parse::<StaticPeer>();
        assert!(matches!(
            upper,
            Err(StaticPeerError::InvalidPeerId(
                PeerIdError::Uppercase { .. }
            ))
        ));

        for addr in ["10.0.0.1", "host.local:4000", "::1:4000", "10.0.0.1:99999"] {
            let err = entry(1, addr).parse::<StaticPeer>();
            assert!(
                matches!(err, Err(StaticPeerError::InvalidAddress { .. })),
                "{addr}: {err:?}"
            );
        }

        assert_eq!(
            entry(1, "10.0.0.1:0").parse::<StaticPeer>(),
            Err(StaticPeerError::ZeroPort)
        );
    }

    #[test]
    fn from_entries_names_the_bad_entry() {
        let entries = [entry(1, "10.0.0.1:4000"), "garbage".to_string()];
        let err = StaticDiscovery::from_entries(&entries).unwrap_err();
        match err {
            DiscoveryError::StaticEntry {
                index,
                entry,
                source,
            } => {
                assert_eq!(index, 1);
                assert_eq!(entry, "garbage");
                assert_eq!(source, StaticPeerError::MissingSeparator);
            }
            other => panic!("unexpected error {other}"),
        }
    }

    #[tokio::test]
    async fn start_emits_each_peer_once_grouped_by_id_without_ourself() {
        let mut source = StaticDiscovery::from_entries([
            entry(2, "10.0.0.2:4000"),
            entry(1, "10.0.0.9:4000"),
            entry(3, "10.0.0.3:4000"),
            entry(2, "10.0.0.1:4001"),
            entry(2, "10.0.0.2:4000"),
        ])
        .unwrap();
        let mut rx = source.start(LocalService::new(id(1), 4000)).await.unwrap();

        let first = rx.recv().await.unwrap();
        let DiscoveryEvent::Discovered(info) = first else {
            panic!("expected Discovered, got {first:?}");
        };
        assert_eq!(info.peer_id, id(2));
        assert_eq!(
            info.addrs,
            vec![
                "10.0.0.1:4001".parse().unwrap(),
                "10.0.0.2:4000".parse().unwrap()
            ]
        );
        assert_eq!(info.instance_name, format!("static:{}", id(2)));

        let second = rx.recv().await.unwrap();
        assert_eq!(second.peer_id(), Some(id(3)));
        assert!(rx.try_recv().is_err(), "only two peers expected");

        let stats = source.stats();
        assert_eq!((stats.discovered, stats.self_ignored), (2, 1));

        let again = source.start(LocalService::new(id(1), 4000)).await;
        assert!(matches!(again, Err(DiscoveryError::AlreadyStarted { .. })));

        source.shutdown().await.unwrap();
        assert_eq!(rx.recv().await, None, "stream ends after shutdown");
    }
}
