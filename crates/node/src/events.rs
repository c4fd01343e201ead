//! The event stream: every subscriber, whenever it subscribes, first gets
//! the node's retained history (the last `event_capacity` events since
//! start, `Ready` first while it fits), then live events.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use tokio::sync::broadcast;
pub use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::event::NodeEvent;

/// Sends events to subscribers and keeps the recent history.
pub(crate) struct Emitter {
    history: Mutex<History>,
    live: broadcast::Sender<NodeEvent>,
}

struct History {
    events: VecDeque<NodeEvent>,
    capacity: usize,
    /// Events that fell out of the history since start.
    dropped: u64,
}

impl Emitter {
    /// `capacity` ≥ 1: events kept for late subscribers, and events a
    /// subscriber may fall behind by before it loses the oldest.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            history: Mutex::new(History {
                events: VecDeque::with_capacity(capacity.min(64)),
                capacity,
                dropped: 0,
            }),
            live: broadcast::channel(capacity).0,
        }
    }

    /// Sends `event` to every subscriber (none listening is fine).
    pub(crate) fn emit(&self, event: NodeEvent) {
        let mut h = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        if h.events.len() == h.capacity {
            h.events.pop_front();
            h.dropped += 1;
        }
        h.events.push_back(event.clone());
        // Under the history lock, so a new subscriber sees each event once:
        // in its copy of the history or live, never both or neither.
        let _ = self.live.send(event);
    }

    /// A new subscriber.
    pub(crate) fn subscribe(&self) -> Events {
        let h = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        Events {
            lagged: h.dropped,
            backlog: h.events.clone(),
            live: self.live.subscribe(),
        }
    }
}

/// A stream of [`NodeEvent`]s from [`Node::events`](crate::Node::events).
///
/// It starts with the events the node retained (the last
/// [`event_capacity`](crate::NodeBuilder::event_capacity) since it started;
/// if older ones were dropped, the first call returns
/// [`RecvError::Lagged`] with how many) and continues with live events. A
/// subscriber that falls more than the capacity behind loses the oldest
/// (`RecvError::Lagged(n)`, then the stream goes on); after
/// [`NodeEvent::Stopped`] and the last handle is dropped,
/// `RecvError::Closed`.
#[derive(Debug)]
pub struct Events {
    lagged: u64,
    backlog: VecDeque<NodeEvent>,
    live: broadcast::Receiver<NodeEvent>,
}

impl Events {
    /// The next event, waiting for it.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] when events were lost (see [`Events`]);
    /// [`RecvError::Closed`] when the node is gone.
    pub async fn recv(&mut self) -> Result<NodeEvent, RecvError> {
        if let Some(event) = self.pending()? {
            return Ok(event);
        }
        self.live.recv().await
    }

    /// The next event if one is waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when none is waiting; `Lagged` and `Closed`
    /// as for [`recv`](Self::recv).
    pub fn try_recv(&mut self) -> Result<NodeEvent, TryRecvError> {
        match self.pending() {
            Ok(Some(event)) => Ok(event),
            Ok(None) => self.live.try_recv(),
            Err(RecvError::Lagged(n)) => Err(TryRecvError::Lagged(n)),
            Err(RecvError::Closed) => Err(TryRecvError::Closed),
        }
    }

    fn pending(&mut self) -> Result<Option<NodeEvent>, RecvError> {
        if self.lagged > 0 {
            return Err(RecvError::Lagged(std::mem::take(&mut self.lagged)));
        }
        Ok(self.backlog.pop_front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_gets_the_history_then_live_events() {
        let emitter = Emitter::new(2);
        emitter.emit(NodeEvent::Stopped);
        let mut early = emitter.subscribe();
        emitter.emit(NodeEvent::Stopped);
        let mut late = emitter.subscribe();
        for events in [&mut early, &mut late] {
            assert_eq!(events.recv().await, Ok(NodeEvent::Stopped));
            assert_eq!(events.recv().await, Ok(NodeEvent::Stopped));
            assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
        }
    }

    #[tokio::test]
    async fn a_subscriber_is_told_how_many_events_fell_out_of_the_history() {
        let emitter = Emitter::new(1);
        emitter.emit(NodeEvent::Stopped);
        emitter.emit(NodeEvent::Stopped);
        emitter.emit(NodeEvent::Stopped);
        let mut events = emitter.subscribe();
        assert_eq!(events.recv().await, Err(RecvError::Lagged(2)));
        assert_eq!(events.recv().await, Ok(NodeEvent::Stopped));
        assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
    }
}
