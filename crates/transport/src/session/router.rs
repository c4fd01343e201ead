//! The receiving side of the message layer: a [`Router`] maps protocol
//! names to bounded queues ([`Inbox`]), one per served protocol, shared by
//! every session of a node.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tazcom_identity::PeerId;
use tokio::sync::mpsc;

use super::codec::{valid_protocol, ReceiptStatus};
use super::link::Responder;

/// A message received on a session, as its protocol's [`Inbox`] yields it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Incoming {
    /// The sender, proven by the session's handshake.
    pub peer: PeerId,
    /// The protocol it was sent on.
    pub protocol: String,
    /// The whole message (at most the session's `max_message_bytes`).
    pub body: Vec<u8>,
    /// For a request: answer it with [`Responder::respond`] (dropping it
    /// unanswered tells the requester so). `None` for a plain message.
    pub responder: Option<Responder>,
}

/// Why [`Inbox::recv`] returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The queue was full when `refused` messages arrived: each was refused
    /// with a `Busy` receipt (its sender's `send` failed with
    /// [`SendError::Refused`](super::SendError::Refused)); nothing was
    /// dropped silently. The next call yields the next message.
    #[error("consumer fell behind: {refused} messages refused")]
    Lagged {
        /// Messages refused since the last report.
        refused: u64,
    },
    /// The router is gone (the node stopped).
    #[error("inbox closed")]
    Closed,
}

/// Why [`Router::serve`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The name is not 1–255 bytes of printable ASCII (`docs/wire.md` §3.9).
    #[error("invalid protocol name {0:?}")]
    InvalidName(String),
    /// Another [`Inbox`] serves this protocol.
    #[error("protocol {0:?} is already served")]
    AlreadyServed(String),
    /// `capacity` is 0.
    #[error("inbox capacity must be at least 1")]
    ZeroCapacity,
}

struct Queue {
    tx: mpsc::Sender<Incoming>,
    refused: Arc<AtomicU64>,
    serial: u64,
}

#[derive(Default)]
struct Table {
    queues: HashMap<String, Queue>,
    next_serial: u64,
}

/// Protocol name → queue. Cheap to clone; every clone is the same table.
#[derive(Clone, Default)]
pub struct Router {
    table: Arc<RwLock<Table>>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = read(&self.table);
        f.debug_struct("Router")
            .field("protocols", &table.queues.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn read(table: &RwLock<Table>) -> RwLockReadGuard<'_, Table> {
    table.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(table: &RwLock<Table>) -> RwLockWriteGuard<'_, Table> {
    table.write().unwrap_or_else(PoisonError::into_inner)
}

impl Router {
    /// An empty table: every message is refused with `NoProtocol`.
    pub fn new() -> Router {
        Router::default()
    }

    /// Serves `protocol`: its messages queue in the returned [`Inbox`] (at
    /// most `capacity` waiting; beyond, they are refused with `Busy` and
    /// the inbox reports [`InboxError::Lagged`]). Dropping the inbox stops
    /// serving the protocol.
    ///
    /// # Errors
    ///
    /// [`ServeError`]: an invalid name, a protocol already served, a
    /// capacity of 0.
    pub fn serve(&self, protocol: &str, capacity: usize) -> Result<Inbox, ServeError> {
        if !valid_protocol(protocol) {
            return Err(ServeError::InvalidName(protocol.to_owned()));
        }
        if capacity == 0 {
            return Err(ServeError::ZeroCapacity);
        }
        let mut table = write(&self.table);
        if table.queues.contains_key(protocol) {
            return Err(ServeError::AlreadyServed(protocol.to_owned()));
        }
        let (tx, rx) = mpsc::channel(capacity);
        let refused = Arc::new(AtomicU64::new(0));
        let serial = table.next_serial;
        table.next_serial += 1;
        table.queues.insert(
            protocol.to_owned(),
            Queue {
                tx,
                refused: Arc::clone(&refused),
                serial,
            },
        );
        Ok(Inbox {
            rx,
            refused,
            protocol: protocol.to_owned(),
            serial,
            table: Arc::downgrade(&self.table),
        })
    }

    /// Whether `protocol` is served now.
    pub fn serves(&self, protocol: &str) -> bool {
        read(&self.table).queues.contains_key(protocol)
    }

    /// Offers a message to its protocol's queue without waiting, and says
    /// what its receipt reports.
    pub(crate) fn deliver(&self, incoming: Incoming) -> ReceiptStatus {
        let table = read(&self.table);
        let Some(queue) = table.queues.get(&incoming.protocol) else {
            return ReceiptStatus::NoProtocol;
        };
        match queue.tx.try_send(incoming) {
            Ok(()) => ReceiptStatus::Delivered,
            Err(mpsc::error::TrySendError::Full(refused)) => {
                queue.refused.fetch_add(1, Ordering::Relaxed);
                // Not answered: the requester learns from the receipt.
                if let Some(responder) = refused.responder {
                    responder.forget();
                }
                ReceiptStatus::Busy
            }
            Err(mpsc::error::TrySendError::Closed(_)) => ReceiptStatus::NoProtocol,
        }
    }
}

/// The queue of one served protocol ([`Router::serve`]).
pub struct Inbox {
    rx: mpsc::Receiver<Incoming>,
    refused: Arc<AtomicU64>,
    protocol: String,
    serial: u64,
    table: std::sync::Weak<RwLock<Table>>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("protocol", &self.protocol)
            .field("queued", &self.rx.len())
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// The protocol served.
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// The next message, in arrival order per session.
    ///
    /// # Errors
    ///
    /// [`InboxError::Lagged`] once after messages were refused because the
    /// queue was full; [`InboxError::Closed`] when no session can deliver
    /// any more (the router is gone).
    pub async fn recv(&mut self) -> Result<Incoming, InboxError> {
        let refused = self.refused.swap(0, Ordering::Relaxed);
        if refused > 0 {
            return Err(InboxError::Lagged { refused });
        }
        self.rx.recv().await.ok_or(InboxError::Closed)
    }
}

impl Drop for Inbox {
    /// Stops serving the protocol (if this inbox still serves it).
    fn drop(&mut self) {
        if let Some(table) = self.table.upgrade() {
            let mut table = write(&table);
            if table
                .queues
                .get(&self.protocol)
                .is_some_and(|q| q.serial == self.serial)
            {
                table.queues.remove(&self.protocol);
            }
        }
    }
}
