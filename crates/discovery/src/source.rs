//! The [`Discovery`] trait that every peer source implements, and the
//! [`LocalService`] it is started with.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tazcom_identity::PeerId;
use tokio::sync::mpsc;

use crate::error::DiscoveryError;
use crate::event::DiscoveryEvent;
use crate::stats::DiscoveryStats;
use crate::wire;

/// What this node offers: its peer id, its TCP listener port and optional
/// extra TXT entries (e.g. `v=1`, `caps=…`; peers must not require them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalService {
    /// Our peer id, published as TXT `id` and used to ignore our own
    /// announcements.
    pub peer_id: PeerId,
    /// The TCP port our transport listens on (the SRV port). Must not be 0.
    pub port: u16,
    /// Extra TXT entries, published after `id` in key order. Keys must be
    /// printable ASCII without `=`, not `id`, distinct ignoring case, and
    /// `key=value` at most 255 bytes (RFC 6763 §6).
    pub txt_extra: BTreeMap<String, String>,
}

impl LocalService {
    /// A service with no extra TXT entries.
    pub fn new(peer_id: PeerId, port: u16) -> Self {
        LocalService {
            peer_id,
            port,
            txt_extra: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) one extra TXT entry. Checked when the source starts.
    pub fn with_txt(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.txt_extra.insert(key.into(), value.into());
        self
    }

    /// The TXT entries to publish: `id=<64 hex>` first, then the extras.
    ///
    /// Errors with [`DiscoveryError::InvalidLocalService`] when `port` is 0
    /// or an extra entry breaks the rules above.
    pub fn txt_entries(&self) -> Result<Vec<(String, String)>, DiscoveryError> {
        if self.port == 0 {
            return Err(DiscoveryError::InvalidLocalService {
                reason: "port is 0; give the port the TCP listener is bound to".to_string(),
            });
        }
        wire::txt_entries(&self.peer_id, &self.txt_extra)
    }
}

/// A source of peers: mDNS ([`MdnsDiscovery`](crate::MdnsDiscovery)), a
/// static list ([`StaticDiscovery`](crate::StaticDiscovery)), or anything
/// else a node plugs in.
///
/// Life cycle: `start` once, read events from the returned receiver, then
/// `shutdown`. After `shutdown` the receiver yields `None` once drained, and
/// the source may be started again. A source never reports our own peer id.
#[async_trait]
pub trait Discovery: Send {
    /// A short name for logs and errors, e.g. `"mdns"` or `"static"`.
    fn name(&self) -> &str;

    /// Starts publishing `local` (where the source publishes anything) and
    /// looking for peers. Events arrive on the returned bounded channel; a
    /// source waits (it does not drop events) while the channel is full.
    ///
    /// Errors: [`DiscoveryError::AlreadyStarted`] if running, and
    /// source-specific configuration or start-up errors.
    async fn start(
        &mut self,
        local: LocalService,
    ) -> Result<mpsc::Receiver<DiscoveryEvent>, DiscoveryError>;

    /// Stops the source, withdrawing what it published. Does nothing and
    /// returns `Ok` if it is not running. Bounded in time by the source.
    async fn shutdown(&mut self) -> Result<(), DiscoveryError>;

    /// The source's counters since it was created.
    fn stats(&self) -> DiscoveryStats;
}
