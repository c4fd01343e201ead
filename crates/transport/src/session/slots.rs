//! [`SessionSlots`]: the cap on open sessions of one node, in total and
//! per source address of inbound sessions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::source_key;

/// Inbound sessions open per source key.
type Sources = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// At most `max` sessions at once (`TransportConfig::max_sessions`), and at
/// most `per_source` inbound ones from one source address (an IPv4 address
/// or an IPv6 /64; `TransportConfig::max_sessions_per_source`), so one host
/// minting ids cannot hold every slot. The server takes a slot before it
/// spends any work on an inbound handshake, the node before it dials
/// (outbound sessions count in the total only). Cheap to clone; every
/// clone is the same cap.
#[derive(Debug, Clone)]
pub struct SessionSlots {
    semaphore: Arc<Semaphore>,
    max: usize,
    per_source: usize,
    sources: Sources,
}

/// One place under the cap; given back when dropped.
#[derive(Debug)]
pub struct SessionSlot {
    _permit: OwnedSemaphorePermit,
    source: Option<(Sources, IpAddr)>,
}

fn lock(m: &Mutex<HashMap<IpAddr, usize>>) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SessionSlots {
    /// A cap of `max` sessions, `per_source` inbound ones per source.
    pub fn new(max: usize, per_source: usize) -> SessionSlots {
        SessionSlots {
            semaphore: Arc::new(Semaphore::new(max)),
            max,
            per_source,
            sources: Arc::default(),
        }
    }

    /// A slot for an outbound session, or `None` when `max` are open.
    pub fn try_acquire(&self) -> Option<SessionSlot> {
        let permit = Arc::clone(&self.semaphore).try_acquire_owned().ok()?;
        Some(SessionSlot {
            _permit: permit,
            source: None,
        })
    }

    /// A slot for an inbound session from `ip`, or `None` when `max` are
    /// open or `ip`'s source already has `per_source`.
    pub fn try_acquire_from(&self, ip: IpAddr) -> Option<SessionSlot> {
        let key = source_key(ip);
        let mut sources = lock(&self.sources);
        let count = sources.get(&key).copied().unwrap_or(0);
        if count >= self.per_source {
            return None;
        }
        let permit = Arc::clone(&self.semaphore).try_acquire_owned().ok()?;
        sources.insert(key, count + 1);
        Some(SessionSlot {
            _permit: permit,
            source: Some((Arc::clone(&self.sources), key)),
        })
    }

    /// Sessions open now (slots taken).
    pub fn in_use(&self) -> usize {
        self.max - self.semaphore.available_permits()
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        if let Some((sources, key)) = &self.source {
            let mut sources = lock(sources);
            if let Some(count) = sources.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    sources.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_and_per_source_caps() {
        let slots = SessionSlots::new(3, 2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = slots.try_acquire_from(a).expect("first from a");
        let a2 = slots.try_acquire_from(a).expect("second from a");
        assert!(slots.try_acquire_from(a).is_none(), "a is at its share");
        let b1 = slots.try_acquire_from(b).expect("b has its own share");
        assert!(slots.try_acquire().is_none(), "the total is reached");
        assert!(slots.try_acquire_from(b).is_none(), "the total is reached");
        drop(a1);
        assert_eq!(slots.in_use(), 2);
        assert!(slots.try_acquire_from(a).is_some(), "a's place came back");
        drop((a2, b1));
        assert!(lock(&slots.sources).values().all(|&n| n <= 1));
    }

    #[test]
    fn an_ipv6_64_is_one_source() {
        let slots = SessionSlots::new(10, 1);
        let _x = slots
            .try_acquire_from("2001:db8::1".parse().unwrap())
            .unwrap();
        assert!(slots
            .try_acquire_from("2001:db8::2".parse().unwrap())
            .is_none());
        assert!(slots
            .try_acquire_from("2001:db8:0:1::1".parse().unwrap())
            .is_some());
    }
}
